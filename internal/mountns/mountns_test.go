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

package mountns

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	probeOnce sync.Once
	probeBin  string
	probeErr  error
)

// requireRoot skips without the privileges a namespace needs, or fails under CI=true.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("mount namespaces need root, and CI must run these tests")
		}
		t.Skip("mount namespaces need root")
	}
}

// fakeRoot makes a root holding only the static probe, an /etc with a multipath.conf and an
// unrelated file, a /run with a file of the "host's", and etc/multipath when withDir.
func fakeRoot(t *testing.T, withDir bool) string {
	t.Helper()
	probeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mountns-probe-")
		if err != nil {
			probeErr = err
			return
		}
		probeBin = filepath.Join(dir, "probe")
		cmd := exec.Command("go", "build", "-o", probeBin, "./testdata/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = errors.New(string(out))
		}
	})
	if probeErr != nil {
		t.Fatalf("building the probe: %v", probeErr)
	}
	root := t.TempDir()
	for _, d := range []string{"bin", "etc", "run"} {
		must(t, os.Mkdir(filepath.Join(root, d), 0o755))
	}
	b, err := os.ReadFile(probeBin)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(root, "bin", "probe"), b, 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc", "multipath.conf"), []byte("defaults { verbosity 2 }\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc", "other.conf"), []byte("other"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "run", "hosts-own"), nil, 0o644))
	if withDir {
		must(t, os.MkdirAll(filepath.Join(root, "etc", "multipath", "conf.d"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, "etc", "multipath", "wwids"), []byte("# host\n"), 0o644))
	}
	return root
}

func standIn(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "conf.d"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "conf.d", "99-candidate.conf"), nil, 0o644))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every path under root with its content, to prove nothing changed.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	must(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b.WriteString(rel + " " + fi.Mode().String())
		if fi.Mode().IsRegular() && !strings.HasPrefix(rel, "bin") {
			c, _ := os.ReadFile(p)
			b.WriteString(" " + string(c))
		}
		b.WriteString("\n")
		return nil
	}))
	return b.String()
}

func runProbe(t *testing.T, v View) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("/bin/probe")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := v.Run(cmd); err != nil {
		t.Fatalf("running the probe: %v\n%s", err, out.String())
	}
	return out.String()
}

func TestViewShowsTheStandInWhetherOrNotTheRootHasEtcMultipath(t *testing.T) {
	requireRoot(t)
	for _, withDir := range []bool{false, true} {
		t.Run(map[bool]string{false: "missing", true: "present"}[withDir], func(t *testing.T) {
			root := fakeRoot(t, withDir)
			before := snapshot(t, root)
			in := standIn(t)
			got := runProbe(t, View{Root: root, EtcMultipath: in})
			for _, want := range []string{
				"/etc/multipath: [conf.d]\n", // the stand-in, not the host's wwids
				"/run: []\n",                 // a private /run
				"/etc/multipath.conf: \"defaults { verbosity 2 }\\n\"", // the host's file takes part
				"/etc/other.conf: \"other\"",                           // the rest of /etc is the root's
			} {
				if !strings.Contains(got, want) {
					t.Errorf("probe output lacks %q:\n%s", want, got)
				}
			}
			if strings.Contains(got, "write") {
				t.Errorf("the probe could not write in the view:\n%s", got)
			}
			if after := snapshot(t, root); after != before {
				t.Errorf("the root changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			// The stand-in is the one place a write lands: it is the caller's directory.
			if _, err := os.Stat(filepath.Join(in, "written-inside")); err != nil {
				t.Errorf("a write to /etc/multipath did not reach the stand-in: %v", err)
			}
		})
	}
}

func TestViewHidesMultipathConf(t *testing.T) {
	requireRoot(t)
	root := fakeRoot(t, false)
	got := runProbe(t, View{Root: root, EtcMultipath: standIn(t), HideMultipathConf: true})
	if !strings.Contains(got, "/etc/multipath.conf: \"\"") {
		t.Errorf("multipath.conf is not hidden:\n%s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc", "multipath.conf")); string(b) != "defaults { verbosity 2 }\n" {
		t.Errorf("the root's multipath.conf changed: %q", b)
	}
}

func TestViewRefusesWhatItCannotMount(t *testing.T) {
	requireRoot(t)
	root := fakeRoot(t, false)
	must(t, os.WriteFile(filepath.Join(root, "etc", "multipath"), nil, 0o644))
	for name, tc := range map[string]struct {
		v    View
		want string
	}{
		"etc/multipath is a file": {View{Root: root, EtcMultipath: standIn(t)}, "exists and is not a directory"},
		"relative root":           {View{Root: "rel", EtcMultipath: standIn(t)}, "not an absolute path"},
		"comma in root":           {View{Root: "/a,b", EtcMultipath: standIn(t)}, "mount option cannot carry"},
		"no stand-in":             {View{Root: root, EtcMultipath: filepath.Join(root, "nope")}, "is not a directory"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.v.Run(exec.Command("/bin/probe"))
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrUnsupported with %q", err, tc.want)
			}
		})
	}
}

// The thread that made a namespace goes back to the process's own before it is let go: on the
// main thread, which the runtime never ends, the namespace would otherwise live on with a copy
// of every host mount (an unmounted filesystem's device stays open; the e2e's scenario 11 saw it).
func TestThreadReturnsToItsNamespaces(t *testing.T) {
	requireRoot(t)
	root := fakeRoot(t, false)
	done := make(chan [3]string, 1)
	go func() {
		runtime.LockOSThread() // ended with the goroutine, as in Start
		v := View{Root: root, EtcMultipath: standIn(t), PrivateNetwork: true}
		link := func() string {
			a, _ := os.Readlink("/proc/thread-self/ns/mnt")
			b, _ := os.Readlink("/proc/thread-self/ns/net")
			return a + " " + b
		}
		before := link()
		back, err := v.saveNamespaces()
		if err != nil {
			done <- [3]string{before, "", err.Error()}
			return
		}
		scratch := t.TempDir()
		if err := v.enter(scratch); err != nil {
			done <- [3]string{before, "", err.Error()}
			return
		}
		inside := link()
		if err := back(); err != nil {
			done <- [3]string{before, inside, err.Error()}
			return
		}
		if inside == before {
			done <- [3]string{before, inside, "enter did not change the namespaces"}
			return
		}
		done <- [3]string{before, link(), ""}
	}()
	r := <-done
	if r[2] != "" {
		t.Fatal(r[2])
	}
	if r[0] != r[1] {
		t.Fatalf("the thread is left in %s, it came from %s", r[1], r[0])
	}
}
