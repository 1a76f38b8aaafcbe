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
// The namespace is package mountns's, the one the agent validates with, so it works on a
// machine without /etc/multipath (a fresh Debian install has none) and never writes to /etc.
//
// It needs multipath-tools and root (a private mount namespace). Where either is missing, Parse skips the test,
// except when CI=true, where it fails it: CI must run the real parser.
//
// Its own small reader of multipath -t's output is deliberately independent of
// internal/multipathconf's parser, so that the two check each other.
package mptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
// the test instead of hanging it.
const runTimeout = 30 * time.Second

var (
	availableOnce sync.Once
	availableErr  error
	multipathBin  string
)

// Available returns nil when the real parser can run here, else why not.
func Available() error {
	availableOnce.Do(func() {
		for _, p := range []string{"multipath", "/usr/sbin/multipath", "/sbin/multipath"} {
			if path, err := exec.LookPath(p); err == nil {
				multipathBin = path
				break
			}
		}
		if multipathBin == "" {
			availableErr = errors.New("multipath-tools is not installed (no multipath binary)")
			return
		}
		if os.Geteuid() != 0 {
			availableErr = errors.New("a private mount namespace needs root")
		}
	})
	return availableErr
}

// Parse runs multipath -t over files (name -> content, each placed in /etc/multipath/conf.d)
// and returns the parsed output. It fails the test on any stderr line, naming the files.
func Parse(t testing.TB, files map[string]string) *Config {
	t.Helper()
	RequireAvailable(t)
	cfg, stderr, err := Run(files)
	if err != nil {
		t.Fatalf("multipath -t: %v", err)
	}
	if len(stderr) > 0 {
		t.Fatalf("multipath -t complained:\n%s\nabout these files:\n%s", strings.Join(stderr, "\n"), dump(files))
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

// Run runs multipath -t over files and returns the parsed output and the stderr lines, with
// multipath's timestamps stripped. The error is for failures to run it at all.
func Run(files map[string]string) (*Config, []string, error) {
	if err := Available(); err != nil {
		return nil, nil, err
	}
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
	cmd := exec.CommandContext(ctx, multipathBin, "-t")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	view := mountns.View{Root: "/", EtcMultipath: filepath.Join(dir, "etc-multipath"), HideMultipathConf: true}
	if err := view.Run(cmd); err != nil {
		return nil, nil, fmt.Errorf("%v (after %v at most): %s", err, runTimeout, stderr.String())
	}
	var complaints []string
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line == "" {
			continue
		}
		// "602.024244 | message": drop the uptime stamp.
		if _, msg, ok := strings.Cut(line, " | "); ok {
			line = msg
		}
		complaints = append(complaints, line)
	}
	cfg, err := ParseOutput(stdout.String())
	return cfg, complaints, err
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
