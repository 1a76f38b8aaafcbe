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
	"errors"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

const (
	foreignDropIn = ConfDir + "/50-storage-team.conf"
	multipathConf = "etc/multipath.conf"
)

// handMadeHost has files kube-multipath must never touch: /etc/multipath.conf, another
// drop-in, and a wwids file listing the boot LUN.
func handMadeHost(th *testHost) {
	withFile(multipathConf, "defaults {\n\tpolling_interval 10\n}\n")(th)
	withFile(foreignDropIn, "devices {\n}\n")(th)
	bootFromSAN(th)
}

func mustApply(t *testing.T, th *testHost, r *multipathconf.Rendered) Result {
	t.Helper()
	res, err := th.Apply(context.Background(), r)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

func TestApplyWritesTheRenderedFilesAndReconfigures(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	r := render(t, wwidA, wwidB)
	res := mustApply(t, th, r)

	baseline, _ := r.File(baselineName)
	if got := th.read(t, ConfDir+"/"+baselineName); got != baseline {
		t.Errorf("baseline on disk differs from the rendered one:\n%s", got)
	}
	if got := th.read(t, ConfDir+"/"+overridesName); got != "<absent>" {
		t.Errorf("overrides written without overrides: %q", got)
	}
	wantWWIDs := WWIDsHeader + "/" + bootWWID + "/\n/" + wwidA + "/\n/" + wwidB + "/\n"
	if got := th.read(t, WWIDsPath); got != wantWWIDs {
		t.Errorf("wwids:\n%s\nwant:\n%s", got, wantWWIDs)
	}
	if got := th.read(t, OwnedWWIDsPath); !strings.HasSuffix(got, wwidA+"\n"+wwidB+"\n") || strings.Contains(got, bootWWID) {
		t.Errorf("owned-wwids:\n%s", got)
	}
	if th.read(t, multipathConf) != "defaults {\n\tpolling_interval 10\n}\n" || th.read(t, foreignDropIn) != "devices {\n}\n" {
		t.Error("a file kube-multipath does not own changed")
	}
	if pending, _ := th.Pending(); pending {
		t.Error("pending marker left after a successful apply")
	}
	applied, err := th.Applied()
	if err != nil || applied == nil || applied.Hash != r.Hash || applied.Name != r.ConfigMapName() {
		t.Errorf("applied record = %+v, %v", applied, err)
	}
	if !res.Reconfigured || th.reconfigures() != 1 {
		t.Errorf("reconfigured = %v, daemon saw %d reconfigures, want 1", res.Reconfigured, th.reconfigures())
	}
	if want := []string{"/" + ConfDir + "/" + baselineName, "/" + WWIDsPath}; !slices.Equal(res.Changed, want) {
		t.Errorf("changed = %v, want %v", res.Changed, want)
	}
	if !slices.Equal(res.Added, []string{wwidA, wwidB}) {
		t.Errorf("added = %v", res.Added)
	}
	th.assertCommands(t)
}

func TestApplyOfTheSameConfigWritesNothingAndDoesNotReconfigure(t *testing.T) {
	t.Parallel()
	th := newHost(t, bootFromSAN)
	r := render(t, wwidA)
	mustApply(t, th, r)
	before := th.files(t)
	stat := func() os.FileInfo {
		fi, err := os.Stat(th.path(ConfDir + "/" + baselineName))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	fi := stat()
	commands := len(th.daemon.Commands())

	res := mustApply(t, th, r)
	if res.Reconfigured || len(res.Changed) > 0 {
		t.Errorf("second apply: %+v", res)
	}
	if got := th.daemon.Commands()[commands:]; len(got) > 0 {
		t.Errorf("second apply sent %v to multipathd, want nothing", got)
	}
	if !maps.Equal(before, th.files(t)) {
		t.Error("second apply changed files")
	}
	if !os.SameFile(fi, stat()) || !fi.ModTime().Equal(stat().ModTime()) {
		t.Error("second apply rewrote the baseline")
	}
}

func TestApplyRollsBackByteForByteWhenReconfigureFails(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	mustApply(t, th, render(t, wwidA))
	before := th.files(t)

	// The apply's reconfigure fails; the rollback's succeeds.
	th.daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.Fail})
	th.hooks.afterReconfigure = func() {
		th.daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.OK})
	}
	res, err := th.Apply(context.Background(), render(t, wwidB))
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Step != StepReconfigure || !ae.RolledBack || ae.RollbackErr != nil {
		t.Fatalf("Apply error = %v, want a rolled back reconfigure failure", err)
	}
	if !errors.Is(err, multipathd.ErrFailReply) {
		t.Errorf("error %v does not wrap the daemon's reply", err)
	}
	if after := th.files(t); !maps.Equal(before, after) {
		t.Errorf("files after the rollback differ:\nbefore %v\nafter  %v", before, after)
	}
	if got := th.reconfigures(); got != 3 {
		t.Errorf("daemon saw %d reconfigures, want 3 (apply, failed apply, rollback)", got)
	}
	if len(res.Changed) > 0 {
		t.Errorf("result reports changed files after a rollback: %v", res.Changed)
	}
}

func TestApplyWritesNothingWhenMultipathdCannotBeUsed(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		setup func(th *testHost)
		is    error
	}{
		"multipathd not running": {
			setup: func(th *testHost) { _ = th.daemon.Close() },
			is:    multipathd.ErrDaemonUnavailable,
		},
		"multipathd answers garbage": {
			setup: func(th *testHost) {
				th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: "{\"maps\": [ {"})
			},
			is: multipathd.ErrMalformedJSON,
		},
		"multipathd hangs": {
			setup: func(th *testHost) {
				th.hooks.Client = &multipathd.SocketClient{Address: th.daemon.Address(), Timeout: 100 * time.Millisecond}
				th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Fault: multipathdtest.Hang})
			},
			is: context.DeadlineExceeded,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			th := newHost(t, handMadeHost)
			before := th.files(t)
			tc.setup(th)
			_, err := th.Apply(context.Background(), render(t, wwidA))
			var ae *ApplyError
			if !errors.As(err, &ae) || ae.Step != StepPreflight || ae.RolledBack {
				t.Fatalf("Apply error = %v, want a pre-flight failure with nothing written", err)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if after := th.files(t); !maps.Equal(before, after) {
				t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestApplyRollsBackWhenAMapIsGoneAfterReconfigure(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	mustApply(t, th, render(t, wwidA))
	before := th.files(t)

	// The boot LUN's map and wwidA's are up; after the reconfigure the boot LUN's is gone.
	th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(
		testMap{wwid: bootWWID, name: bootWWID, paths: 2}, testMap{wwid: wwidA, name: "data-6f41", paths: 2})})
	var applying bool
	th.hooks.afterReconfigure = func() {
		if !applying {
			return
		}
		applying = false
		th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(testMap{wwid: wwidA, name: "data-6f41", paths: 2})})
	}
	applying = true
	_, err := th.Apply(context.Background(), render(t, wwidA, wwidB))
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Step != StepPostCheck || !ae.RolledBack || !errors.Is(err, ErrPostCheck) {
		t.Fatalf("Apply error = %v, want a rolled back post-check failure", err)
	}
	if !strings.Contains(err.Error(), bootWWID) {
		t.Errorf("error %q does not name the lost map", err)
	}
	if after := th.files(t); !maps.Equal(before, after) {
		t.Errorf("files after the rollback differ:\nbefore %v\nafter  %v", before, after)
	}
}

func TestPostCheckLetsGoOnlyOfMapsTheApplyRemovesOrThatHadNoPath(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	mustApply(t, th, render(t, wwidA, wwidB))
	// wwidA is dropped from the allow-list: its map may go. wwidB's map has no usable path:
	// nothing is lost if it goes.
	th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(
		testMap{wwid: bootWWID, name: bootWWID, paths: 2}, testMap{wwid: wwidA, name: "data-6f41", paths: 2}, testMap{wwid: wwidB, name: "data-6f42"})})
	th.hooks.afterReconfigure = func() {
		th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(testMap{wwid: bootWWID, name: bootWWID, paths: 2})})
	}
	res := mustApply(t, th, render(t, wwidB))
	if !slices.Equal(res.Removed, []string{wwidA}) {
		t.Errorf("removed = %v, want [%s]", res.Removed, wwidA)
	}
}

func TestPostCheckWaitsForMapsToComeBack(t *testing.T) {
	t.Parallel()
	th := newHost(t)
	th.PostCheckTimeout, th.PostCheckInterval = 5*time.Second, 20*time.Millisecond
	up := mapsJSON(testMap{wwid: wwidA, name: "data-6f41", paths: 2})
	th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: up})
	th.hooks.afterReconfigure = func() {
		th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: multipathdtest.EmptyMapsJSON})
		time.AfterFunc(100*time.Millisecond, func() {
			th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: up})
		})
	}
	mustApply(t, th, render(t, wwidA))
}

// The post-check does not look at the maps while multipathd says it is reconfiguring, or has a
// reconfigure pending: maps read then are the old ones.
func TestPostCheckWaitsForTheDaemonToSettle(t *testing.T) {
	t.Parallel()
	th := newHost(t)
	th.PostCheckInterval = 20 * time.Millisecond
	// Before: the map is named after its WWID (an unmanaged map); the render names it data-6f41.
	th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(testMap{wwid: wwidA, name: wwidA, paths: 2})})
	th.daemon.SetReply(multipathd.CmdShowDaemon, multipathdtest.Reply{Body: "pid 7 idle\n"})
	var sawBusy atomic.Bool
	th.hooks.afterReconfigure = func() {
		th.daemon.SetReply(multipathd.CmdShowDaemon, multipathdtest.Reply{Body: "pid 7 running (pending reconfigure)\n"})
		time.AfterFunc(50*time.Millisecond, func() {
			sawBusy.Store(slices.Contains(th.daemon.Commands(), multipathd.CmdShowDaemon))
			th.daemon.SetReply(multipathd.CmdShowDaemon, multipathdtest.Reply{Body: "pid 7 configure\n"})
			time.AfterFunc(50*time.Millisecond, func() {
				th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(testMap{wwid: wwidA, name: "data-6f41", paths: 2})})
				th.daemon.SetReply(multipathd.CmdShowDaemon, multipathdtest.Reply{Body: "pid 7 idle\n"})
			})
		})
	}
	// PostCheckTimeout 0: one look at the maps, which is right only after the daemon settled.
	mustApply(t, th, render(t, wwidA))
	if !sawBusy.Load() {
		t.Error("the post-check never asked show daemon while the daemon was busy")
	}
}

// A map the operator does not manage that reconfigure renames (the host's user_friendly_names
// now applies to it) fails the post-check, and the apply is rolled back; so does a managed map
// left without its rendered name.
func TestPostCheckCatchesRenames(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		after []testMap
		want  string
	}{
		"an unmanaged map renamed": {
			after: []testMap{{wwid: bootWWID, name: "mpatha", paths: 2}, {wwid: wwidA, name: "data-6f41", paths: 2}},
			want:  bootWWID + " is named mpatha, want " + bootWWID,
		},
		"a managed map without its rendered name": {
			after: []testMap{{wwid: bootWWID, name: bootWWID, paths: 2}, {wwid: wwidA, name: "mpathb", paths: 2}},
			want:  wwidA + " is named mpathb, want data-6f41",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			th := newHost(t)
			before := th.files(t)
			th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(
				testMap{wwid: bootWWID, name: bootWWID, paths: 2}, testMap{wwid: wwidA, name: wwidA, paths: 2})})
			th.hooks.afterReconfigure = func() {
				th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(tc.after...)})
			}
			_, err := th.Apply(t.Context(), render(t, wwidA))
			var ae *ApplyError
			if !errors.As(err, &ae) || ae.Step != StepPostCheck || !ae.RolledBack || !errors.Is(err, ErrPostCheck) ||
				!strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply: %v, want a rolled-back post-check failure saying %q", err, tc.want)
			}
			// The wwids file the apply created stays, with multipath-tools' header and no entry:
			// removing it could orphan a multipath-tools writer waiting for its lock.
			want := maps.Clone(before)
			want[WWIDsPath] = WWIDsHeader
			if after := th.files(t); !maps.Equal(after, want) {
				t.Errorf("files after the rollback differ: %v, want %v", after, want)
			}
		})
	}
}

// Boot-from-SAN and hand-made WWIDs survive an add, a removal and a teardown, and the
// teardown leaves exactly the host's own files.
func TestForeignWWIDsAndFilesSurviveAddRemoveAndTeardown(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	pristine := th.files(t)
	check := func(stage string) {
		t.Helper()
		if !slices.Contains(ParseWWIDs([]byte(th.read(t, WWIDsPath))), bootWWID) {
			t.Errorf("%s: the boot WWID is gone", stage)
		}
		if strings.Contains(th.read(t, OwnedWWIDsPath), bootWWID) {
			t.Errorf("%s: the boot WWID is recorded as owned", stage)
		}
		if th.read(t, multipathConf) != pristine[multipathConf] || th.read(t, foreignDropIn) != pristine[foreignDropIn] {
			t.Errorf("%s: a host file changed", stage)
		}
	}
	mustApply(t, th, render(t, wwidA, bootWWID)) // the boot LUN is allow-listed too
	check("add")
	mustApply(t, th, render(t, wwidB)) // and then no longer
	check("remove")
	if got := ParseWWIDs([]byte(th.read(t, WWIDsPath))); !slices.Equal(got, []string{bootWWID, wwidB}) {
		t.Errorf("wwids after remove = %v, want [%s %s]", got, bootWWID, wwidB)
	}
	res := mustApply(t, th, emptyConfig(t))
	check("teardown")
	if !res.Reconfigured {
		t.Error("teardown did not reconfigure")
	}
	after := th.files(t)
	delete(after, AppliedPath)
	if !maps.Equal(pristine, after) {
		t.Errorf("teardown left:\n%v\nwant the host as it was:\n%v", after, pristine)
	}
	if th.read(t, ConfDir+"/"+baselineName) != "<absent>" {
		t.Error("teardown left the baseline drop-in")
	}
}

func TestEmptyConfigOnAnUnmanagedHostChangesNothing(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	before := th.files(t)
	res := mustApply(t, th, emptyConfig(t))
	if res.Reconfigured || len(th.daemon.Commands()) > 0 {
		t.Errorf("empty config on an unmanaged host: %+v, commands %v", res, th.daemon.Commands())
	}
	after := th.files(t)
	delete(after, AppliedPath)
	if !maps.Equal(before, after) {
		t.Error("files changed")
	}
}

// An agent killed between the write and the reconfigure leaves the pending marker; the next
// agent rolls back to the files as they were, reconfigures, and can then apply.
func TestRestartMidApplyRollsBackFromThePendingMarker(t *testing.T) {
	t.Parallel()
	th, before, restarted := killedMidApply(t)
	reconfigures := th.reconfigures()
	recovered, err := restarted.Recover(context.Background())
	if err != nil || !recovered {
		t.Fatalf("Recover = %v, %v", recovered, err)
	}
	if after := th.files(t); !maps.Equal(before, after) {
		t.Errorf("files after recovery differ:\nbefore %v\nafter  %v", before, after)
	}
	if th.reconfigures() != reconfigures+1 {
		t.Error("recovery did not reconfigure")
	}
	if res, err := restarted.Apply(context.Background(), render(t, wwidA, wwidB)); err != nil || res.Recovered || !res.Reconfigured {
		t.Errorf("apply after recovery = %+v, %v", res, err)
	}
}

func TestPendingMarkerStaysWhileMultipathdIsDown(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	before := th.files(t)
	th.daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.Fail})
	// The reconfigure fails, and so does the one of the rollback: the files are restored but
	// the marker stays, and every later apply finishes the rollback first.
	_, err := th.Apply(context.Background(), render(t, wwidA))
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.RolledBack || ae.RollbackErr == nil {
		t.Fatalf("Apply error = %v, want an unfinished rollback", err)
	}
	if pending, _ := th.Pending(); !pending {
		t.Fatal("marker removed although multipathd never took the restored files")
	}
	after := th.files(t)
	maps.DeleteFunc(after, func(path, _ string) bool { return isJournal(path) })
	if !maps.Equal(before, after) {
		t.Errorf("files not restored:\nbefore %v\nafter  %v", before, after)
	}
	th.daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.OK})
	res, err := th.Apply(context.Background(), render(t, wwidA))
	if err != nil || !res.Recovered {
		t.Fatalf("apply once multipathd is back = %+v, %v", res, err)
	}
	if pending, _ := th.Pending(); pending {
		t.Error("marker still there")
	}
}

func TestDriftOfOwnedFilesIsDetectedAndReasserted(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	r := render(t, wwidA)
	mustApply(t, th, r)

	if drift, err := th.CheckDrift(r); err != nil || drift != nil {
		t.Fatalf("drift right after the apply: %v, %v", drift, err)
	}
	// Host files that are not ours change: not drift.
	_ = os.WriteFile(th.path(foreignDropIn), []byte("devices {\n}\n# edited\n"), 0o644)
	_ = os.WriteFile(th.path(WWIDsPath), []byte(th.read(t, WWIDsPath)+"/36001405handmade/\n"), 0o644)
	if drift, err := th.CheckDrift(r); err != nil || drift != nil {
		t.Fatalf("foreign changes reported as drift: %v, %v", drift, err)
	}
	want := th.files(t)
	// Ours change: the baseline edited, our WWID deleted.
	_ = os.WriteFile(th.path(ConfDir+"/"+baselineName), []byte("# edited by hand\n"), 0o644)
	_ = os.WriteFile(th.path(WWIDsPath), []byte(strings.ReplaceAll(th.read(t, WWIDsPath), "/"+wwidA+"/\n", "")), 0o644)
	wantDrift := []string{"/" + ConfDir + "/" + baselineName, "/" + WWIDsPath}
	if drift, err := th.CheckDrift(r); err != nil || !slices.Equal(drift, wantDrift) {
		t.Fatalf("CheckDrift = %v, %v, want %v", drift, err, wantDrift)
	}
	reconfigures := th.reconfigures()
	drift, res, err := th.Reassert(context.Background(), r)
	if err != nil || !slices.Equal(drift, wantDrift) || !res.Reconfigured {
		t.Fatalf("Reassert = %v, %+v, %v", drift, res, err)
	}
	// The handmade WWID appended by hand stays; our entry is back, at the end.
	got := th.files(t)
	if got[ConfDir+"/"+baselineName] != want[ConfDir+"/"+baselineName] {
		t.Error("baseline not re-asserted")
	}
	if w := ParseWWIDs([]byte(got[WWIDsPath])); !slices.Equal(w, []string{bootWWID, "36001405handmade", wwidA}) {
		t.Errorf("wwids after re-assert = %v", w)
	}
	if th.reconfigures() != reconfigures+1 {
		t.Error("re-assert did not reconfigure")
	}
	if drift, _, err := th.Reassert(context.Background(), r); err != nil || drift != nil {
		t.Errorf("second Reassert = %v, %v, want no drift", drift, err)
	}
}

// A drift check that found the files holding the config reads nothing the next time while no
// file's stamp moved; any change to one (its mode alone included), or another config, is read.
func TestDriftCheckReadsOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	th := newHost(t)
	r := render(t, wwidA)
	mustApply(t, th, r)
	reassert := func(wantChecks int, wantDrift ...string) {
		t.Helper()
		before := th.fullChecks
		drift, _, err := th.Reassert(context.Background(), r)
		if err != nil || !slices.Equal(drift, wantDrift) {
			t.Fatalf("Reassert = %v, %v, want drift %v", drift, err, wantDrift)
		}
		if got := th.fullChecks - before; got != wantChecks {
			t.Fatalf("Reassert read the files %d times, want %d", got, wantChecks)
		}
	}
	// Just written: the stamps are racy, so the files are read every time.
	reassert(1)
	reassert(1)
	th.racyWindow = time.Nanosecond
	reassert(1) // read, found as wanted: stamps recorded
	reassert(0)
	reassert(0)

	baseline := th.path(ConfDir + "/" + baselineName)
	if err := os.Chmod(baseline, 0o600); err != nil {
		t.Fatal(err)
	}
	reassert(1) // a mode change moves the stamp: read (the mode alone is not drift)
	reassert(0)
	// The same size, other bytes.
	content, err := os.ReadFile(baseline)
	if err != nil {
		t.Fatal(err)
	}
	content[0] ^= 0x20
	if err := os.WriteFile(baseline, content, 0o644); err != nil {
		t.Fatal(err)
	}
	reassert(1, "/"+ConfDir+"/"+baselineName)
	reassert(1)
	// Another config: read, whatever the stamps.
	other := render(t, wwidA, wwidB)
	if _, _, err := th.Reassert(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	before := th.fullChecks
	mustApply(t, th, r) // back, through Apply: forgets what it checked
	reassert(1)
	if th.fullChecks-before != 1 {
		t.Errorf("read %d times after an apply, want 1", th.fullChecks-before)
	}
}

func TestApplyRefusesAConfigItCannotWriteSafely(t *testing.T) {
	t.Parallel()
	th := newHost(t)
	good := render(t, wwidA)
	tests := map[string]*multipathconf.Rendered{
		"a file the agent does not own":          {Hash: good.Hash, Files: []multipathconf.File{{Name: "../multipath.conf", Content: "x"}}},
		"a WWID that would break the wwids file": {Hash: good.Hash, WWIDs: []string{"a/b"}},
		"a hash that is not a sha256":            {Hash: "abc"},
	}
	for name, r := range tests {
		_, err := th.Apply(context.Background(), r)
		var ae *ApplyError
		if !errors.As(err, &ae) || ae.Step != StepPlan {
			t.Errorf("%s: Apply error = %v, want a plan failure", name, err)
		}
	}
	if len(th.daemon.Commands()) > 0 || th.read(t, WWIDsPath) != "<absent>" {
		t.Error("a refused config reached the host")
	}
}

// The names of the baseline an apply replaces come from the config this Host wrote when the
// disk still holds its baseline byte for byte, and from the file itself when anything differs.
func TestPreviousNamesAreTheWrittenConfigsWhileTheDiskHoldsIt(t *testing.T) {
	t.Parallel()
	th := newHost(t)
	r := render(t, wwidA)
	mustApply(t, th, r)
	st, err := th.readState()
	if err != nil {
		t.Fatal(err)
	}
	if got := th.previousNames(st); reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(r.Names).UnsafePointer() {
		t.Errorf("previous names = %v, want the written config's own map %v", got, r.Names)
	}
	baseline := ConfDir + "/" + baselineName
	edited := strings.ReplaceAll(th.read(t, baseline), `alias "data-6f41"`, `alias "by-hand"`)
	if err := os.WriteFile(th.path(baseline), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err = th.readState(); err != nil {
		t.Fatal(err)
	}
	if got := th.previousNames(st); !maps.Equal(got, map[string]string{wwidA: "by-hand"}) {
		t.Errorf("previous names of an edited baseline = %v, want the file's", got)
	}
}

// The drift check right after an apply, when the files' stamps are too fresh to trust, reads
// the files and, finding them byte for byte as the apply left them, does not plan them; any
// other content (ours edited, or a foreign wwids entry) is planned as before.
func TestDriftCheckAfterAnApplyPlansOnlyWhatDiffers(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	th.racyWindow = time.Hour // no stamp is trusted: every check reads
	r := render(t, wwidA)
	mustApply(t, th, r)
	check := func(wantPlanned int, wantDrift ...string) {
		t.Helper()
		before := th.plannedChecks
		drift, _, err := th.Reassert(context.Background(), r)
		if err != nil || !slices.Equal(drift, wantDrift) {
			t.Fatalf("Reassert = %v, %v, want drift %v", drift, err, wantDrift)
		}
		if got := th.plannedChecks - before; got != wantPlanned {
			t.Errorf("Reassert planned the files %d times, want %d", got, wantPlanned)
		}
	}
	check(0)
	check(0)
	// A foreign entry in wwids: not drift, but not what the apply left either.
	if err := os.WriteFile(th.path(WWIDsPath), []byte(th.read(t, WWIDsPath)+"/36001405handmade/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(1)
	// An edited baseline is drift: planned and re-asserted, after which the files are again
	// what an apply left.
	if err := os.WriteFile(th.path(ConfDir+"/"+baselineName), []byte("# edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(1, "/"+ConfDir+"/"+baselineName)
	check(0)
}
