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

package multipathd_test

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// releaseFile returns one file of a release's source tarball in hack/multipath-tools/src.
func releaseFile(t *testing.T, tarball, name string) string {
	t.Helper()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s holds no %s", tarball, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, "/"+name) {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

var (
	showDaemonFormat = regexp.MustCompile(`(?s)\nshow_daemon \(.*?"(pid %d %s[^"]*)\\n"`)
	stateNames       = regexp.MustCompile(`\[DAEMON_([A-Z]+)\] = "([a-z]+)"|case DAEMON_([A-Z]+):\s+return "([a-z]+)"`)
)

// TestParseDaemonStateOfEveryRelease prints "show daemon" as each tested release's own
// show_daemon and daemon_status do (read from its tarball), for every state it can print, with
// and without a pending reconfigure where it prints one, and parses it back.
func TestParseDaemonStateOfEveryRelease(t *testing.T) {
	tarballs, err := filepath.Glob("../../hack/multipath-tools/src/multipath-tools-*.tar.gz")
	if err != nil || len(tarballs) == 0 {
		t.Fatalf("no release tarballs: %v", err)
	}
	for _, tarball := range tarballs {
		version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(tarball), "multipath-tools-"), ".tar.gz")
		t.Run(version, func(t *testing.T) {
			m := showDaemonFormat.FindStringSubmatch(releaseFile(t, tarball, "multipathd/cli_handlers.c"))
			if m == nil {
				t.Fatal("no show_daemon format")
			}
			format := m[1] // "pid %d %s" or "pid %d %s%s"
			var states []string
			for _, s := range stateNames.FindAllStringSubmatch(releaseFile(t, tarball, "multipathd/main.c"), -1) {
				states = append(states, s[2]+s[4])
			}
			if len(states) < 5 {
				t.Fatalf("found states %q", states)
			}
			pendings := []string{""}
			if strings.HasSuffix(format, "%s%s") {
				pendings = append(pendings, " (pending reconfigure)")
			}
			for _, state := range states {
				for _, pending := range pendings {
					var reply string
					if len(pendings) == 2 {
						reply = fmt.Sprintf(format+"\n", 4242, state, pending)
					} else {
						reply = fmt.Sprintf(format+"\n", 4242, state)
					}
					got, err := multipathd.ParseDaemonState([]byte(reply))
					want := multipathd.DaemonState{PID: 4242, State: state, PendingReconfigure: pending != ""}
					if err != nil || got != want {
						t.Errorf("%q: got %+v, %v; want %+v", reply, got, err, want)
					}
					if settled := state == "idle" && pending == ""; got.Settled() != settled {
						t.Errorf("%q: settled = %v", reply, got.Settled())
					}
				}
			}
		})
	}
}

func TestParseDaemonStateRefusesOtherReplies(t *testing.T) {
	for _, reply := range []string{"", "ok\n", "pid x idle\n", "pid 12 dozing\n", "pid 12\n", "fail\n", "pid 12 idle\npid 13 idle\n"} {
		if _, err := multipathd.ParseDaemonState([]byte(reply)); !errors.Is(err, multipathd.ErrUnexpectedReply) {
			t.Errorf("%q: err = %v, want ErrUnexpectedReply", reply, err)
		}
	}
}
