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

package hostfs

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

// Test WWIDs: two the operator manages, one the host booted from (already in the wwids file).
const (
	wwidA    = "3600a098038303053453f463045736f41"
	wwidB    = "3600a098038303053453f463045736f42"
	bootWWID = "36001405boot0000000000000000000001"
)

// render renders a config allow-listing wwids, with an alias each.
func render(t testing.TB, wwids ...string) *multipathconf.Rendered {
	t.Helper()
	objs := make([]mpv1alpha1.MultipathWWID, len(wwids))
	for i, w := range wwids {
		objs[i] = mpv1alpha1.MultipathWWID{
			ObjectMeta: metav1.ObjectMeta{Name: "lun-" + w[len(w)-4:]},
			Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: w, Alias: "data-" + w[len(w)-4:]},
		}
	}
	r, err := multipathconf.Render(nil, objs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// emptyConfig is the "nothing to manage" config.
func emptyConfig(testing.TB) *multipathconf.Rendered { return multipathconf.Empty() }

// testHost is a host root in a temp dir with a fake multipathd.
type testHost struct {
	*Host
	daemon *multipathdtest.FakeDaemon
	hooks  *hookClient
}

type hostOption func(*testHost)

func newHost(t testing.TB, opts ...hostOption) *testHost {
	t.Helper()
	d, err := multipathdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	hooks := &hookClient{Client: &multipathd.SocketClient{Address: d.Address(), Timeout: 5 * time.Second}}
	th := &testHost{Host: &Host{Root: t.TempDir(), Client: hooks, TempDir: t.TempDir(), Usable: mapstatus.Usable}, daemon: d, hooks: hooks}
	if err := os.MkdirAll(th.path(ConfDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(th)
	}
	return th
}

// withFile writes a host file before the test starts.
func withFile(rel, content string) hostOption {
	return func(th *testHost) {
		if err := os.MkdirAll(filepath.Dir(th.path(rel)), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(th.path(rel), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
}

// bootFromSAN is a wwids file written by multipath-tools on a host that boots from SAN.
var bootFromSAN = withFile(WWIDsPath, WWIDsHeader+"/"+bootWWID+"/\n")

// hookClient runs hooks around the real socket client's reconfigure.
type hookClient struct {
	multipathd.Client
	beforeReconfigure func()
	afterReconfigure  func()
}

func (c *hookClient) Reconfigure(ctx context.Context) error {
	if c.beforeReconfigure != nil {
		c.beforeReconfigure()
	}
	err := c.Client.Reconfigure(ctx)
	if c.afterReconfigure != nil {
		c.afterReconfigure()
	}
	return err
}

// read returns a host file's content, "<absent>" when there is none.
func (th *testHost) read(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(th.path(rel))
	if os.IsNotExist(err) {
		return "<absent>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// files returns every file under the root except the lock, path to content.
func (th *testHost) files(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(th.Root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(th.Root, p)
		if rel == LockPath {
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// isJournal tells the files of an apply's journal (the pending marker and its backup), which
// stay on disk as long as the marker does.
func isJournal(path string) bool {
	return path == PendingPath || path == BackupPath
}

func (th *testHost) reconfigures() int {
	n := 0
	for _, c := range th.daemon.Commands() {
		if c == multipathd.CmdReconfigure {
			n++
		}
	}
	return n
}

// assertCommands checks that only allow-listed commands reached the daemon, never
// "reconfigure all".
func (th *testHost) assertCommands(t testing.TB) {
	t.Helper()
	for _, c := range th.daemon.Commands() {
		if !slices.Contains(multipathd.AllowedCommands(), c) {
			t.Errorf("daemon received %q", c)
		}
	}
}

// testMap is a map for a fake "show maps json".
type testMap struct {
	wwid, name string
	// paths is the number of active ready paths; 0 makes a map without a usable path.
	paths int
}

// mapsJSON is a "show maps json" reply in multipathd 0.9.4's layout.
func mapsJSON(maps ...testMap) string {
	out := make([]multipathdtest.Map, 0, len(maps))
	for _, m := range maps {
		out = append(out, multipathdtest.HealthyMap(m.wwid, m.name, m.paths))
	}
	return multipathdtest.MapsJSON(out)
}

// Recover rolls back an apply that an earlier agent left unfinished (its pending marker) as a
// restarted agent's first Apply does, and reports whether there was one. Test-only: production
// recovers inside Apply.
func (h *Host) Recover(ctx context.Context) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	unlock, err := h.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	return h.recover(ctx)
}

// CheckDrift returns the owned configuration files (host paths) that differ from r, changing
// nothing: the comparison Reassert makes before it applies. Test-only.
func (h *Host) CheckDrift(r *multipathconf.Rendered) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.readState()
	if err != nil {
		return nil, err
	}
	p, err := planFor(st, r)
	if err != nil {
		return nil, err
	}
	return hostPaths(p.changed), nil
}

// killedMidApply applies wwidA, then kills an apply of wwidA and wwidB after its writes and
// before its reconfigure. It returns the files before the killed apply (journal excluded) and
// a restarted agent's Host.
func killedMidApply(t *testing.T) (*testHost, map[string]string, *Host) {
	t.Helper()
	th := newHost(t, handMadeHost)
	mustApply(t, th, render(t, wwidA))
	before := th.files(t)
	th.hooks.beforeReconfigure = func() { runtime.Goexit() }
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = th.Apply(context.Background(), render(t, wwidA, wwidB))
	}()
	<-done
	th.hooks.beforeReconfigure = nil
	if pending, _ := th.Pending(); !pending {
		t.Fatal("no pending marker after a kill mid-apply")
	}
	if !slices.Contains(ParseWWIDs([]byte(th.read(t, WWIDsPath))), wwidB) {
		t.Fatal("the killed apply had not edited the wwids file; the test proves nothing")
	}
	return th, before, &Host{Root: th.Root, Client: &multipathd.SocketClient{Address: th.daemon.Address()}}
}
