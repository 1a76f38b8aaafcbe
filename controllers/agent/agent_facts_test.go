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

package agent_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/mapusers"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// The fixture's maps' WWIDs.
const (
	mpathaWWID = "368caaaaaaaaae2069fb9e3e1000001c4"
	mpathbWWID = "368cbbbbbbbbe2069fb9e3e1000001bb"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeKernel is a host's sysfs and procfs for the fixture's maps, mpatha (dm-6) and mpathb
// (dm-7), with mpatha mounted on /srv/a, and open counts the test sets.
type fakeKernel struct {
	root  string
	count atomic.Int32 // mpatha's open count
}

func newFakeKernel(t *testing.T) *fakeKernel {
	k := &fakeKernel{root: t.TempDir()}
	for _, m := range []int{6, 7} {
		writeFile(t, filepath.Join(k.root, fmt.Sprintf("sys/block/dm-%d/dev", m)), fmt.Sprintf("253:%d\n", m))
	}
	k.mount(t, true)
	writeFile(t, filepath.Join(k.root, "proc/swaps"), "Filename\tType\tSize\tUsed\tPriority\n")
	k.count.Store(1)
	return k
}

func (k *fakeKernel) mount(t *testing.T, mounted bool) {
	table := "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n"
	if mounted {
		table += "90 22 253:6 / /srv/a rw - xfs /dev/mapper/mpatha rw\n"
	}
	writeFile(t, filepath.Join(k.root, "proc/1/mountinfo"), table)
}

func (k *fakeKernel) reader() *mapusers.Reader {
	return &mapusers.Reader{Root: k.root, OpenCount: func(dev uint64) (int32, error) {
		if dev&0xff == 6 {
			return k.count.Load(), nil
		}
		return 0, nil
	}}
}

func mapByWWID(st *mpv1alpha1.MultipathNodeState, wwid string) *mpv1alpha1.MapStatus {
	for i := range st.Status.Maps {
		if st.Status.Maps[i].WWID == wwid {
			return &st.Status.Maps[i]
		}
	}
	return nil
}

// The agent reports what holds each map, and follows a change no uevent announces (an
// unmount) on its periodic refresh.
func TestAgentReportsMapUsersAndFollowsThemWithoutUevents(t *testing.T) {
	name := "node-users"
	k := newFakeKernel(t)
	startAgent(t, name, func(n *node) { n.mapUsers = k.reader() })
	// A config that renames neither map: managing mpatha under its WWID would be refused while
	// it is mounted (TestAgentRefusesToAdoptAnOpenMapAndReportsItUntilTheMapIsClosed), and the
	// retries would write the status as its users change.
	_, ref := publish(t, wwidA)
	createState(t, name, &ref)

	want := func(count int32, users ...mpv1alpha1.MapUser) func() error {
		return func() error {
			st := getState(t, name)
			a, b := mapByWWID(st, mpathaWWID), mapByWWID(st, mpathbWWID)
			if a == nil || b == nil {
				return fmt.Errorf("maps not reported: %+v", st.Status.Maps)
			}
			if a.OpenCount != count || !reflect.DeepEqual(a.Users, users) {
				return fmt.Errorf("mpatha: open count %d, users %+v; want %d, %+v", a.OpenCount, a.Users, count, users)
			}
			if b.OpenCount != 0 || b.Users != nil {
				return fmt.Errorf("mpathb, held by nothing: open count %d, users %+v", b.OpenCount, b.Users)
			}
			return nil
		}
	}
	eventually(t, want(1, mpv1alpha1.MapUser{Kind: mpv1alpha1.MapUserMount, Name: "/srv/a"}))

	// Unmounted, but a process keeps it open: no uevent, no multipathd change.
	k.mount(t, false)
	eventually(t, want(1, mpv1alpha1.MapUser{Kind: mpv1alpha1.MapUserOpen}))
	k.count.Store(0)
	eventually(t, want(0))

	// Nothing changes: nothing is written (five refresh intervals).
	rv := getState(t, name).ResourceVersion
	time.Sleep(1500 * time.Millisecond)
	if got := getState(t, name).ResourceVersion; got != rv {
		t.Errorf("status written with nothing changed: resourceVersion %s -> %s", rv, got)
	}
}

// Where the maps' open count cannot be read (an unprivileged container: the device cgroup
// refuses /dev/mapper/control), the agent says so once, with an Event on its node, and still
// reports the mounts.
func TestAgentSaysOnceWhenTheOpenCountIsUnreadable(t *testing.T) {
	name := "node-no-control"
	k := newFakeKernel(t)
	r := k.reader()
	r.OpenCount = func(uint64) (int32, error) {
		return 0, errors.New("open /host/dev/mapper/control: operation not permitted")
	}
	startAgent(t, name, func(n *node) { n.mapUsers = r })
	_, ref := publish(t, wwidA)
	createState(t, name, &ref)
	eventually(t, func() error {
		a := mapByWWID(getState(t, name), mpathaWWID)
		if a == nil || a.OpenCount != 0 || !reflect.DeepEqual(a.Users, []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv/a"}}) {
			return fmt.Errorf("mpatha reported as %+v, want mounted at /srv/a with no open count", a)
		}
		if !slices.Contains(events(t, name), mpv1alpha1.OpenCountUnavailableReason) {
			return fmt.Errorf("no %s Event: %v", mpv1alpha1.OpenCountUnavailableReason, events(t, name))
		}
		return nil
	})
	list := &eventsv1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == mpv1alpha1.OpenCountUnavailableReason {
			n++
			if e.DeprecatedCount > 1 || e.Series != nil {
				t.Errorf("the Event repeats: %+v", e)
			}
			if !strings.Contains(e.Note, "operation not permitted") || !strings.Contains(e.Note, "config/agent-privileged") {
				t.Errorf("the Event does not say why and what to do: %s", e.Note)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d %s Events, want 1", n, mpv1alpha1.OpenCountUnavailableReason)
	}
}

// The agent reports the host's own configuration where it contradicts the desired config, as
// status.hostConflicts and a HostConfigConflict condition naming file and line, and clears
// both when the host's file is fixed by hand.
func TestAgentReportsHostConflictsAndClearsThemWhenTheHostIsFixed(t *testing.T) {
	name := "node-host-conflicts"
	n := startAgent(t, name, func(n *node) {
		writeFile(t, filepath.Join(n.root, "etc/multipath.conf"),
			"defaults {\n\tuser_friendly_names yes\n}\nmultipaths {\n\tmultipath {\n\t\twwid "+wwidA+"\n\t\talias legacy_ora\n\t}\n}\nblacklist {\n\twwid \"^3600a0980.*42$\"\n}\n")
	})
	_, ref := publish(t, wwidA, wwidB)
	createState(t, name, &ref)

	eventually(t, func() error {
		st := getState(t, name)
		want := []mpv1alpha1.HostConflict{
			{Type: mpv1alpha1.HostConflictAliasDiffers, WWID: wwidA, Alias: "legacy_ora", File: "/etc/multipath.conf", Line: 7},
			{Type: mpv1alpha1.HostConflictBlacklisted, WWID: wwidB, File: "/etc/multipath.conf", Line: 11},
		}
		got := make([]mpv1alpha1.HostConflict, len(st.Status.HostConflicts))
		for i, c := range st.Status.HostConflicts {
			c.Message = ""
			got[i] = c
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("hostConflicts %+v, want %+v", got, want)
		}
		c := conditions.Get(st, mpv1alpha1.HostConfigConflictCondition)
		if c == nil || c.Status != "True" || c.Reason != mpv1alpha1.HostConfigConflictReason ||
			!strings.Contains(c.Message, "/etc/multipath.conf:7 names managed WWID "+wwidA+` "legacy_ora"`) ||
			!strings.Contains(c.Message, "/etc/multipath.conf:11 blacklists managed WWID "+wwidB) {
			return fmt.Errorf("HostConfigConflict condition: %+v", c)
		}
		return nil
	})

	// The admin fixes the host's file; the file watcher (or the next refresh) sees it.
	writeFile(t, filepath.Join(n.root, "etc/multipath.conf"), "defaults {\n\tuser_friendly_names yes\n}\n")
	eventually(t, func() error {
		st := getState(t, name)
		if len(st.Status.HostConflicts) != 0 {
			return fmt.Errorf("hostConflicts still %+v", st.Status.HostConflicts)
		}
		if c := conditions.Get(st, mpv1alpha1.HostConfigConflictCondition); c != nil {
			return fmt.Errorf("HostConfigConflict still present: %+v", c)
		}
		return nil
	})
}

// The adoption case of issue 16: the host has mpatha mounted, and the desired config manages
// its WWID under another name (the WWID). The agent refuses the apply before writing anything
// and reports a WouldRename host conflict naming the map, the new name, what holds it and the
// fix. The conflict stays once the manager leaves the LUN out of the config (it would be
// rendered and refused again otherwise), and clears once the map is closed.
func TestAgentRefusesToAdoptAnOpenMapAndReportsItUntilTheMapIsClosed(t *testing.T) {
	name := "node-adopt"
	k := newFakeKernel(t)
	n := startAgent(t, name, func(n *node) { n.mapUsers = k.reader() })
	_, adopt := publish(t, mpathaWWID)
	createState(t, name, &adopt)

	wouldRename := func(st *mpv1alpha1.MultipathNodeState) *mpv1alpha1.HostConflict {
		for i, c := range st.Status.HostConflicts {
			if c.Type == mpv1alpha1.HostConflictWouldRename {
				return &st.Status.HostConflicts[i]
			}
		}
		return nil
	}
	eventually(t, func() error {
		st := getState(t, name)
		c := wouldRename(st)
		if c == nil {
			return fmt.Errorf("no WouldRename conflict: %+v", st.Status.HostConflicts)
		}
		if c.WWID != mpathaWWID || c.Alias != "mpatha" {
			return fmt.Errorf("WouldRename conflict %+v, want WWID %s, alias mpatha", c, mpathaWWID)
		}
		for _, part := range []string{"its map mpatha", "in use (mounted at /srv/a)", "to " + mpathaWWID, "unmount it"} {
			if !strings.Contains(c.Message, part) {
				return fmt.Errorf("the message lacks %q: %s", part, c.Message)
			}
		}
		if d := conditions.Get(st, mpv1alpha1.DegradedCondition); d == nil || d.Reason != mpv1alpha1.ApplyFailedReason || !strings.Contains(d.Message, "would become") {
			return fmt.Errorf("Degraded: %+v", d)
		}
		return nil
	})
	if got := n.reconfigures(); got != 0 {
		t.Errorf("multipathd reconfigured %d times although the apply was refused", got)
	}
	if got := n.read(t, "etc/multipath/conf.d/"+multipathconf.BaselineFileName); got != "<absent>" {
		t.Errorf("the baseline was written although the apply was refused: %s", got)
	}

	// The manager leaves the LUN out: that config applies, and the conflict stays while mpatha
	// is mounted (several refresh intervals).
	_, held := publish(t, wwidA) // a LUN without a map here: nothing to rename
	setDesired(t, name, held)
	eventually(t, func() error {
		st := getState(t, name)
		if st.Status.AppliedConfig == nil || st.Status.AppliedConfig.Hash != held.Hash {
			return fmt.Errorf("applied %+v, want %s (Degraded %+v)", st.Status.AppliedConfig, held.Name, conditions.Get(st, mpv1alpha1.DegradedCondition))
		}
		return nil
	})
	for range 5 {
		if c := wouldRename(getState(t, name)); c == nil || c.WWID != mpathaWWID {
			t.Fatalf("the WouldRename conflict went away while mpatha is still mounted: %+v", getState(t, name).Status.HostConflicts)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// Unmounted and closed: the conflict clears, so the manager renders the LUN again.
	k.mount(t, false)
	k.count.Store(0)
	eventually(t, func() error {
		if st := getState(t, name); wouldRename(st) != nil {
			return fmt.Errorf("WouldRename still reported: %+v", st.Status.HostConflicts)
		}
		return nil
	})
}
