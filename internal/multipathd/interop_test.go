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
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

const interopChildEnv = "KUBE_MULTIPATH_INTEROP_CHILD"

// TestRealMultipathdClientAgainstFake checks the framing and the socket address against
// multipath-tools itself: the installed `multipathd` binary, in client mode, talks to the fake
// daemon listening on multipathd.DefaultAddress. This proves that Go's spelling of the abstract
// name binds the address libmpathcmd connects to, that the fake parses requests framed by
// libmpathcmd, and that libmpathcmd accepts the replies the fake frames.
//
// Binding the real daemon's address would intercept a real multipathd, so the test re-runs
// itself in a private network namespace (`unshare --net`, which needs root). It skips where
// multipathd, unshare or root is missing, except under CI=true, where it fails: CI installs
// multipath-tools and runs as root, so a skip there would hide a missing install step.
func TestRealMultipathdClientAgainstFake(t *testing.T) {
	if os.Getenv(interopChildEnv) == "1" {
		interopChild(t)
		return
	}
	mpd, err := exec.LookPath("multipathd")
	if err != nil {
		skipUnlessCI(t, "multipathd (multipath-tools) is not installed")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		skipUnlessCI(t, "needs unshare and root for a private network namespace")
	}
	cmd := exec.CommandContext(t.Context(), unshare, "--net", os.Args[0],
		"-test.run=^TestRealMultipathdClientAgainstFake$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), interopChildEnv+"=1", "MULTIPATHD_BIN="+mpd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "unshare failed") {
			skipUnlessCI(t, "no private network namespace here: "+string(out))
		}
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestRealMultipathdClientAgainstFake") {
		t.Fatalf("child did not pass:\n%s", out)
	}
	t.Logf("child:\n%s", out)
}

// skipUnlessCI skips the test for a missing prerequisite, or fails it when CI=true.
func skipUnlessCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required on CI: %s", why)
	}
	t.Skip(why)
}

func interopChild(t *testing.T) {
	mpd := os.Getenv("MULTIPATHD_BIN")
	d, err := multipathdtest.Listen(multipathd.DefaultAddress)
	if err != nil {
		t.Fatalf("listening on %s in the private namespace: %v", multipathd.DefaultAddress, err)
	}
	defer d.Close()
	maps := readTestdata(t, "maps-json-proxmox-san-fenced-huawei-16paths-healthy.json")
	d.SetReply("show maps json", multipathdtest.Reply{Body: maps})

	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := contextWithTimeout(t, 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, mpd, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("multipathd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	if out := run("show", "maps", "json"); strings.TrimSpace(out) != strings.TrimSpace(maps) {
		t.Errorf("multipathd show maps json printed %d bytes, want the %d-byte reply the fake sent", len(out), len(maps))
	}
	if out := run("reconfigure"); strings.TrimSpace(out) != "ok" {
		t.Errorf("multipathd reconfigure printed %q, want ok", out)
	}
	if out := run("show", "version"); !strings.Contains(out, "multipath-tools v0.9.4") {
		t.Errorf("multipathd show version printed %q", out)
	}
	// The 0.9.4 command-line client joins its arguments with a space after each and ends the
	// line with a newline; the daemon splits words, so this is the same command.
	want := []string{"show maps json \n", "reconfigure \n", "show version \n"}
	if got := d.Commands(); !slices.Equal(got, want) {
		t.Errorf("fake received %q from the real client, want %q", got, want)
	}
	if v := d.Violations(); len(v) != 0 {
		t.Errorf("the real client's requests broke the fake's framing: %q", v)
	}

	// The zero-value SocketClient goes to the same address.
	var c multipathd.SocketClient
	got, err := c.ShowMapsJSON(t.Context())
	if err != nil || string(got) != maps {
		t.Errorf("SocketClient{} on the default address: %d bytes, %v", len(got), err)
	}
	if v, err := c.Version(t.Context()); err != nil || v != "0.9.4" {
		t.Errorf("Version = %q, %v", v, err)
	}
}
