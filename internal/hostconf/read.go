/*
Copyright 2026 The kube-multipath Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package hostconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Host paths multipath-tools reads by default.
const (
	ConfigFile          = "/etc/multipath.conf"
	DefaultConfigDir    = "/etc/multipath/conf.d"
	DefaultBindingsFile = "/etc/multipath/bindings"
)

// Options says where and how to read.
type Options struct {
	// Root is the host's root as the agent sees it ("/" on the node itself).
	Root string
	// Own reports whether a drop-in (a file name in the config dir) is the operator's own;
	// those are not host facts.
	Own func(name string) bool
	// Version is the node's multipath-tools version ("0.9.4"), "" when unknown. It decides
	// whether config_dir (honoured before 0.9.0) and bindings_file (honoured before 0.9.5:
	// 0.9.4 warns and uses it, 0.9.7 ignores it) count, and whether a leading `!` inverts a
	// blacklist regex (0.8.5 on; 0.8.4 reads a quoted value starting with `!` or `#` as empty,
	// see words). Unknown means the newest behaviour, except that both paths
	// are honoured: reading a file that might not count only ever adds facts to check.
	Version string
}

// Config is the host's own configuration, merged over its files in multipath-tools' order.
type Config struct {
	// Files are the host paths read, in order.
	Files      []string
	Blacklist  Filter
	Exceptions Filter
	Multipaths []Multipath
	Bindings   []Binding
	// ConfigDir and BindingsFile are the host paths used.
	ConfigDir, BindingsFile string
	// Problems are what multipath-tools would complain about, and files that could not be
	// read; each names the file (and line).
	Problems []string
	// invert tells whether a leading `!` inverts a regex (0.8.5 on).
	invert bool
	// old selects 0.8.4's reading of a comment character right after a quote.
	old bool
}

// Read reads the host's configuration under opts.Root. A missing file is not an error (a node
// without /etc/multipath.conf is common); an unreadable one is a Problem, so that one bad file
// never hides the facts of the others.
func Read(opts Options) (*Config, error) {
	if opts.Root == "" {
		return nil, errors.New("hostconf: Options.Root is empty")
	}
	c := &Config{ConfigDir: DefaultConfigDir, BindingsFile: DefaultBindingsFile, invert: !older(opts.Version, "0.8.5"), old: older(opts.Version, "0.8.5")}
	honourConfigDir := opts.Version == "" || older(opts.Version, "0.9.0")
	honourBindings := opts.Version == "" || older(opts.Version, "0.9.5")

	if p := c.readConf(opts.Root, ConfigFile); p != nil {
		if s := p.configDir; s != nil && honourConfigDir {
			if path.IsAbs(s.Value) {
				c.ConfigDir = path.Clean(s.Value)
			} else {
				c.Problems = append(c.Problems, fmt.Sprintf("%s: config_dir %q is not an absolute path; %s is read", s.Pos, s.Value, DefaultConfigDir))
			}
		}
		if s := p.bindingsFile; s != nil && honourBindings {
			c.BindingsFile = path.Clean(s.Value)
		}
	}
	entries, err := os.ReadDir(hostPath(opts.Root, c.ConfigDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.Problems = append(c.Problems, fmt.Sprintf("%s: %v", c.ConfigDir, unwrapPath(err)))
	}
	// read_config_dir: every regular *.conf file, in alphasort order (ReadDir sorts by name).
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".conf") || (opts.Own != nil && opts.Own(name)) {
			continue
		}
		if info, err := os.Stat(hostPath(opts.Root, path.Join(c.ConfigDir, name))); err != nil || !info.Mode().IsRegular() {
			continue
		}
		if p := c.readConf(opts.Root, path.Join(c.ConfigDir, name)); p != nil && p.bindingsFile != nil && honourBindings {
			c.BindingsFile = path.Clean(p.bindingsFile.Value)
		}
	}
	c.readBindings(opts.Root)
	return c, nil
}

// readConf reads and merges one file; nil when it does not exist or cannot be read.
func (c *Config) readConf(root, file string) *parsed {
	data, err := os.ReadFile(hostPath(root, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("%s: %v", file, unwrapPath(err)))
		return nil
	}
	c.Files = append(c.Files, file)
	p := parse(file, data, c.old)
	c.Blacklist = merge(c.Blacklist, p.blacklist)
	c.Exceptions = merge(c.Exceptions, p.exceptions)
	c.Multipaths = append(c.Multipaths, p.multipaths...)
	c.Problems = append(c.Problems, p.problems...)
	return p
}

func merge(a, b Filter) Filter {
	return Filter{
		WWID: append(a.WWID, b.WWID...), Devnode: append(a.Devnode, b.Devnode...),
		Property: append(a.Property, b.Property...), Protocol: append(a.Protocol, b.Protocol...),
		Device: append(a.Device, b.Device...),
	}
}

// readBindings reads the bindings file as lookup_binding does: `#` to the end of the line is a
// comment, the first word is the alias, the second the WWID; a line without a WWID is skipped.
func (c *Config) readBindings(root string) {
	data, err := os.ReadFile(hostPath(root, c.BindingsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("%s: %v", c.BindingsFile, unwrapPath(err)))
		return
	}
	c.Files = append(c.Files, c.BindingsFile)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		c.Bindings = append(c.Bindings, Binding{Pos: Pos{File: c.BindingsFile, Line: n}, Alias: f[0], WWID: f[1]})
	}
}

// hostPath is the path under root of a host path.
func hostPath(root, p string) string { return filepath.Join(root, filepath.FromSlash(p)) }

// unwrapPath drops the agent-side path of an fs error, which the Problem names as a host path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// older reports whether version v is older than w; an unparsable v is not older.
func older(v, w string) bool {
	if v == "" {
		return false
	}
	parse := func(s string) []int {
		var out []int
		for _, p := range strings.Split(s, ".") {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil
			}
			out = append(out, n)
		}
		return out
	}
	a, b := parse(v), parse(w)
	if a == nil {
		return false
	}
	return slices.Compare(a, b) < 0
}
