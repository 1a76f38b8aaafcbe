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

// Package mptest runs the real multipath-tools parser on rendered files, for tests: `multipath
// -t` in a private mount namespace whose /etc/multipath/conf.d holds the files, and whose /run
// and /etc/multipath.conf are empty, so the host's configuration plays no part. multipath -t
// always exits 0; every complaint is a line on stderr, so any stderr line is a failure.
//
// Nodes run multipath-tools 0.8.4 to 0.14.x, and each version parses differently, so the tests
// run every version of the matrix (Parsers, ForEach): the installed package (Debian's), and
// each version hack/multipath-tools.sh builds from the release tarballs in
// hack/multipath-tools/src, run with its own libraries and with its own plugins seen at the
// compiled-in /lib/multipath. A build missing from bin/multipath-tools is built on first use
// (about a minute for all, then cached per user). MPTEST_VERSIONS=installed,0.8.4 narrows the
// set while working on one version.
//
// The namespace is package mountns's, the one the agent validates with, so it works on a
// machine without /etc/multipath (a fresh Debian install has none) and never writes to /etc.
//
// It needs multipath-tools and root (a private mount namespace); the builds need the -dev
// packages of hack/multipath-tools-deps.sh. Where any is missing, the test (or the version)
// is skipped, except when CI=true, where it fails: CI must run every real parser.
//
// Its own small reader of multipath -t's output is deliberately independent of
// internal/multipathconf's parser, so that the two check each other.
package mptest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/mountns"
)

// Config is the merged configuration multipath -t prints.
type Config struct {
	// Raw is multipath -t's output.
	Raw string
	// Sections maps a top-level section (defaults, blacklist, blacklist_exceptions, overrides)
	// to its keywords.
	Sections map[string]Values
	// Subsections maps "section/subsection" (devices/device, multipaths/multipath,
	// overrides/protocol, blacklist/device, ...) to each subsection's keywords, in order.
	Subsections map[string][]Values
	// Multipaths maps the wwid of each multipaths/multipath subsection to its keywords.
	Multipaths map[string]Values
}

// Values maps a keyword to its values, unquoted, in order (blacklist keywords repeat).
type Values map[string][]string

// Get returns the last value of keyword, or "" when it is not set.
func (v Values) Get(keyword string) string {
	if vals := v[keyword]; len(vals) > 0 {
		return vals[len(vals)-1]
	}
	return ""
}

// Has reports whether keyword is set.
func (v Values) Has(keyword string) bool { return len(v[keyword]) > 0 }

// runTimeout bounds one multipath -t run, which takes tens of milliseconds: a stuck run fails
// the test instead of hanging it (0.11.x and later spin forever on some out-of-range integers).
const runTimeout = 30 * time.Second

// Parser is one version's multipath -t.
type Parser struct {
	// Version is the multipath-tools version, e.g. "0.9.4".
	Version string
	// Name names it in subtest names: "installed-0.9.4" for the package installed here, else
	// the version.
	Name string
	// Installed is true for the package installed on this machine.
	Installed bool

	bin, dir string // dir is the build's install folder; "" for the installed package
}

// Built reports whether this is a build of hack/multipath-tools.sh (not the installed package).
func (p *Parser) Built() bool { return p.dir != "" }

var (
	availableOnce sync.Once
	availableErr  error
	installed     *Parser
)

// Available returns nil when the installed real parser can run here, else why not.
func Available() error {
	availableOnce.Do(func() {
		var bin string
		for _, p := range []string{"multipath", "/usr/sbin/multipath", "/sbin/multipath"} {
			if path, err := exec.LookPath(p); err == nil {
				bin = path
				break
			}
		}
		if bin == "" {
			availableErr = errors.New("multipath-tools is not installed (no multipath binary)")
			return
		}
		if os.Geteuid() != 0 {
			availableErr = errors.New("a private mount namespace needs root")
			return
		}
		version, err := versionOf(bin, nil)
		if err != nil {
			availableErr = err
			return
		}
		installed = &Parser{Version: version, Name: "installed-" + version, Installed: true, bin: bin}
	})
	return availableErr
}

// versionRE finds the version in the first line `multipath -h` prints, "multipath-tools v0.9.4 (12/19, 2022)".
var versionRE = regexp.MustCompile(`multipath-tools v(\d+\.\d+\.\d+)`)

func versionOf(bin string, env []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-h")
	cmd.Env = env
	out, _ := cmd.CombinedOutput() // exits 1 after the usage
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s -h does not say its version: %.200q", bin, out)
	}
	return string(m[1]), nil
}

// Matrix returns the versions hack/multipath-tools.sh builds (one per tarball in
// hack/multipath-tools/src), oldest first.
func Matrix() ([]string, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(root, "hack", "multipath-tools", "src", "multipath-tools-*.tar.gz"))
	if err != nil {
		return nil, err
	}
	var versions []string
	for _, n := range names {
		versions = append(versions, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "multipath-tools-"), ".tar.gz"))
	}
	slices.SortFunc(versions, CompareVersions)
	return versions, nil
}

// CompareVersions orders dotted versions numerically ("0.9.4" < "0.11.1").
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return 0
}

// repoRoot is the module's root, found upwards from the test's working directory (its package).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "multipath-tools.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no hack/multipath-tools.sh above the working directory")
		}
		dir = parent
	}
}

var (
	buildsOnce sync.Once
	builds     map[string]*Parser
	buildsErr  map[string]error
	buildsAll  error
)

// loadBuilds finds (building what is missing) every version of the matrix, once per process.
func loadBuilds() {
	builds, buildsErr = map[string]*Parser{}, map[string]error{}
	versions, err := Matrix()
	if err != nil {
		buildsAll = err
		return
	}
	root, _ := repoRoot()
	var missing []string
	for _, v := range versions {
		if _, err := os.Stat(filepath.Join(root, "bin", "multipath-tools", v, "sbin", "multipath")); err != nil {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		// Only what is missing: a link left by an earlier build is trusted (make test and
		// make multipath-tools refresh the links when an input changed).
		cmd := exec.Command(filepath.Join(root, "hack", "multipath-tools.sh"), missing...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			buildsAll = fmt.Errorf("hack/multipath-tools.sh %s: %v\n%s", strings.Join(missing, " "), err, lastLines(stderr.String(), 30))
		}
	}
	for _, v := range versions {
		dir, err := filepath.EvalSymlinks(filepath.Join(root, "bin", "multipath-tools", v))
		if err == nil {
			p := &Parser{Version: v, Name: v, bin: filepath.Join(dir, "sbin", "multipath"), dir: dir}
			var got string
			if got, err = versionOf(p.bin, p.env()); err == nil && got != v {
				err = fmt.Errorf("bin/multipath-tools/%s says it is %s", v, got)
			}
			if err == nil {
				builds[v] = p
				continue
			}
		}
		if buildsAll != nil {
			err = buildsAll
		}
		buildsErr[v] = fmt.Errorf("multipath-tools %s is not built: %v", v, err)
	}
}

// selected reports whether MPTEST_VERSIONS (comma separated versions, "installed" for the
// installed package) lets name run; unset lets every version run.
func selected(p *Parser) bool {
	env := os.Getenv("MPTEST_VERSIONS")
	if env == "" {
		return true
	}
	for _, s := range strings.Split(env, ",") {
		if s = strings.TrimSpace(s); s == p.Version && !p.Installed || s == "installed" && p.Installed {
			return true
		}
	}
	return false
}

// Parsers returns the installed parser and every build of the matrix, oldest first, the
// installed one before the build of its version. What cannot run is skipped (with a log line),
// or fails the test when CI=true.
func Parsers(t testing.TB) []*Parser {
	t.Helper()
	RequireAvailable(t)
	buildsOnce.Do(loadBuilds)
	var out []*Parser
	if selected(installed) {
		out = append(out, installed)
	}
	versions, err := Matrix()
	if err != nil {
		t.Fatalf("multipath-tools matrix: %v", err)
	}
	for _, v := range versions {
		p := builds[v]
		if p == nil {
			p = &Parser{Version: v, Name: v}
		}
		if !selected(p) {
			continue
		}
		if builds[v] == nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("real multipath parser required on CI: %v", buildsErr[v])
			}
			t.Logf("skipping multipath-tools %s: %v", v, buildsErr[v])
			continue
		}
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b *Parser) int { return CompareVersions(a.Version, b.Version) })
	return out
}

// ForEach runs f as a subtest for every parser of Parsers, named after it.
func ForEach(t *testing.T, f func(t *testing.T, p *Parser)) {
	t.Helper()
	for _, p := range Parsers(t) {
		t.Run(p.Name, func(t *testing.T) { f(t, p) })
	}
}

// Default returns the installed parser (skipping or failing the test as Parsers does).
func Default(t testing.TB) *Parser {
	t.Helper()
	RequireAvailable(t)
	return installed
}

// Parse runs the installed multipath -t over files (name -> content, each placed in
// /etc/multipath/conf.d) and returns the parsed output. It fails the test on any stderr line,
// naming the files.
func Parse(t testing.TB, files map[string]string) *Config {
	t.Helper()
	return Default(t).Parse(t, files)
}

// Parse is the package-level Parse for this version.
func (p *Parser) Parse(t testing.TB, files map[string]string) *Config {
	t.Helper()
	cfg, stderr, err := p.Run(files)
	if err != nil {
		t.Fatalf("multipath-tools %s: multipath -t: %v", p.Version, err)
	}
	if len(stderr) > 0 {
		t.Fatalf("multipath-tools %s: multipath -t complained:\n%s\nabout these files:\n%s", p.Version, strings.Join(stderr, "\n"), dump(files))
	}
	return cfg
}

// RequireAvailable skips the test when the real parser cannot run, or fails it when CI=true.
func RequireAvailable(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real multipath parser required on CI: %v", err)
		}
		t.Skipf("real multipath parser unavailable: %v", err)
	}
}

// Run runs the installed multipath -t over files; see Parser.Run.
func Run(files map[string]string) (*Config, []string, error) {
	if err := Available(); err != nil {
		return nil, nil, err
	}
	return installed.Run(files)
}

// env is the environment a build runs with: its own libraries before the system's.
func (p *Parser) env() []string {
	if p.dir == "" {
		return nil
	}
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LD_LIBRARY_PATH=" + filepath.Join(p.dir, "lib")}
}

// pluginsDir is where every version looks for its checker and prioritizer plugins (built with
// LIB=lib, as Debian's package is).
const pluginsDir = "/lib/multipath"

// command is the multipath -t command for this version. A build runs through a shell that,
// inside the private namespace, first mounts the build's plugins over /lib/multipath, so that
// no other version's plugin can be loaded into it (multipath -t loads none today; a future one
// might). A machine without /lib/multipath has nothing to mount over, and nothing to mix up.
func (p *Parser) command(ctx context.Context) *exec.Cmd {
	if p.dir == "" {
		return exec.CommandContext(ctx, p.bin, "-t")
	}
	script := `if [ -d "$1" ]; then mount --bind "$2" "$1" || exit 125; fi; exec "$3" -t`
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script, "mptest", pluginsDir, filepath.Join(p.dir, "lib", "multipath"), p.bin)
	cmd.Env = p.env()
	return cmd
}

// Run runs this version's multipath -t over files and returns the parsed output and the stderr
// lines, with multipath's timestamps stripped. The error is for failures to run it at all.
func (p *Parser) Run(files map[string]string) (*Config, []string, error) {
	dir, err := os.MkdirTemp("", "mptest-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	confd := filepath.Join(dir, "etc-multipath", "conf.d")
	if err := os.MkdirAll(confd, 0o755); err != nil {
		return nil, nil, err
	}
	for name, content := range files {
		if strings.ContainsRune(name, '/') {
			return nil, nil, fmt.Errorf("file name %q must not contain /", name)
		}
		if err := os.WriteFile(filepath.Join(confd, name), []byte(content), 0o644); err != nil {
			return nil, nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := p.command(ctx)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	view := mountns.View{Root: "/", EtcMultipath: filepath.Join(dir, "etc-multipath"), HideMultipathConf: true}
	if err := view.Run(cmd); err != nil {
		return nil, nil, fmt.Errorf("multipath-tools %s: %v (after %v at most): %s", p.Version, err, runTimeout, stderr.String())
	}
	var complaints []string
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line == "" {
			continue
		}
		// "602.024244 | message" (0.8.7 on), "Dec 05 15:06:49 | message" (0.8.4): drop the stamp.
		if _, msg, ok := strings.Cut(line, " | "); ok {
			line = msg
		}
		complaints = append(complaints, line)
	}
	cfg, err := ParseOutput(stdout.String())
	return cfg, complaints, err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ParseOutput reads multipath -t's output.
func ParseOutput(out string) (*Config, error) {
	cfg := &Config{Raw: out, Sections: map[string]Values{}, Subsections: map[string][]Values{}, Multipaths: map[string]Values{}}
	var path []string
	var open []Values // the keywords of each open (sub)section
	for n, line := range strings.Split(out, "\n") {
		toks, err := tokens(line)
		if err != nil {
			return nil, fmt.Errorf("output line %d %q: %v", n+1, line, err)
		}
		switch {
		case len(toks) == 0:
		case len(toks) == 2 && toks[1] == bareOpen:
			path = append(path, toks[0])
			open = append(open, Values{})
		case len(toks) == 1 && toks[0] == bareClose:
			if len(path) == 0 {
				return nil, fmt.Errorf("output line %d: unbalanced }", n+1)
			}
			v := open[len(open)-1]
			switch len(path) {
			case 1:
				if len(v) > 0 {
					cfg.Sections[path[0]] = v
				}
			case 2:
				key := path[0] + "/" + path[1]
				cfg.Subsections[key] = append(cfg.Subsections[key], v)
				if key == "multipaths/multipath" {
					cfg.Multipaths[v.Get("wwid")] = v
				}
			}
			path, open = path[:len(path)-1], open[:len(open)-1]
		case len(toks) == 2 && len(path) > 0:
			v := open[len(open)-1]
			v[toks[0]] = append(v[toks[0]], toks[1])
		case len(toks) > 2 && len(path) > 0 && !strings.Contains(line, `"`):
			// multipath-tools 0.9.4 prints uid_attrs unquoted, blanks and all.
			v := open[len(open)-1]
			v[toks[0]] = append(v[toks[0]], strings.Join(toks[1:], " "))
		default:
			return nil, fmt.Errorf("output line %d: unexpected %q", n+1, line)
		}
	}
	if len(path) != 0 {
		return nil, fmt.Errorf("output ends inside %s", strings.Join(path, "/"))
	}
	return cfg, nil
}

// Braces outside quotes are returned as these markers, which no value can equal (multipath -t
// prints no control characters), so that a quoted "{" stays a value.
const (
	bareOpen  = "\x00{"
	bareClose = "\x00}"
)

// tokens splits an output line into words, braces and unquoted strings.
func tokens(line string) ([]string, error) {
	var toks []string
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '#' || c == '!':
			return toks, nil
		case c == '{':
			toks = append(toks, bareOpen)
			i++
		case c == '}':
			toks = append(toks, bareClose)
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(line) {
					return nil, errors.New("unterminated quote")
				}
				if line[j] == '"' {
					if j+1 < len(line) && line[j+1] == '"' {
						b.WriteByte('"')
						j++
						continue
					}
					break
				}
				b.WriteByte(line[j])
			}
			toks = append(toks, b.String())
			i = j + 1
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t\"#!{}", rune(line[j])) {
				j++
			}
			toks = append(toks, line[i:j])
			i = j
		}
	}
	return toks, nil
}

func dump(files map[string]string) string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		content := files[name]
		if len(content) > 4000 {
			content = content[:4000] + "\n... (truncated)"
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", name, content)
	}
	return b.String()
}
