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

package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/kubeclient"
)

// statusServer is an API server that answers every request with a MultipathNodeState, and
// counts the status writes.
func statusServer(t *testing.T) (*kubeclient.Client, *atomic.Int32) {
	t.Helper()
	var patches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPatch && strings.HasSuffix(req.URL.Path, "/status") {
			patches.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"multipath.kube-multipath.io/v1alpha1","kind":"MultipathNodeState","metadata":{"name":"n"}}`))
	}))
	t.Cleanup(srv.Close)
	kube, err := kubeclient.New(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return kube, &patches
}

// reasonRecorder records the reasons of the Events it is given.
type reasonRecorder struct{ reasons []string }

func (f *reasonRecorder) Eventf(_, _ runtime.Object, _, reason, _, _ string, _ ...any) {
	f.reasons = append(f.reasons, reason)
}

// The report of a config the rollout wave asked for waits for the spec (one status write per
// node per rollout), but not past its hold, and never holds back a change of the maps or a
// failure. Its Applied Event waits with it: it is recorded when the hold ends.
func TestTheWavesReportWaitsOnlyForTheSpec(t *testing.T) {
	kube, patches := statusServer(t)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := clocktesting.NewFakePassiveClock(now)
	events := &reasonRecorder{}
	r := &Reconciler{Kube: kube, Clock: clock, RefreshInterval: 10 * time.Second, Recorder: events}
	old := mpv1alpha1.RenderedConfigRef{Name: "old", Hash: "1111"}
	next := mpv1alpha1.RenderedConfigRef{Name: "next", Hash: "2222"}
	healthy := []mpv1alpha1.MapStatus{{WWID: "w", State: mpv1alpha1.MapOptimal, ActivePaths: 2, TotalPaths: 2}}
	failed := []mpv1alpha1.MapStatus{{WWID: "w", State: mpv1alpha1.MapDegraded, ActivePaths: 1, TotalPaths: 2}}
	// What the node reported before the wave: the old config and a healthy map.
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n", Generation: 1}, Spec: mpv1alpha1.MultipathNodeStateSpec{DesiredConfig: &old}}
	setStatus(st, statusInput{applied: &old, maps: &mapsReport{mapCount: 1, maps: healthy}})
	written := st.Status

	// pass runs the end of a pass over the wave's config: the hold, then the status.
	pass := func(fromWave, appliedNow bool, maps []mpv1alpha1.MapStatus, applyErr error) (time.Duration, int32) {
		t.Helper()
		before := patches.Load()
		state := st.DeepCopy()
		if fromWave {
			state.Spec.DesiredConfig = &next
		} else {
			state.Generation, state.Spec.DesiredConfig = 2, &next
		}
		s := &scope{state: state, written: written, applied: &next, fromWave: fromWave, appliedNow: appliedNow, applyErr: applyErr,
			maps: &mapsReport{mapCount: 1, maps: maps}}
		if s.appliedNow {
			s.appliedNote = "Applied config next"
		}
		hold, err := r.finishReport(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		written = s.written
		return hold, patches.Load() - before
	}
	applied := func() int {
		n := 0
		for _, reason := range events.reasons {
			if reason == mpv1alpha1.AppliedReason {
				n++
			}
		}
		return n
	}

	if hold, writes := pass(true, true, healthy, nil); hold != 30*time.Second || writes != 0 || applied() != 0 {
		t.Errorf("the pass that applied the wave's config: hold %s, %d writes, %d Applied Events; want 30s, none and none (the Lease confirms)", hold, writes, applied())
	}
	clock.SetTime(now.Add(10 * time.Second))
	if hold, writes := pass(true, false, healthy, nil); hold != 20*time.Second || writes != 0 {
		t.Errorf("a refresh during the hold: hold %s, %d writes; want 20s and none", hold, writes)
	}
	if _, writes := pass(true, false, failed, nil); writes != 1 {
		t.Errorf("a path failure during the hold: %d writes, want 1 at once", writes)
	}
	if written.AppliedConfig == nil || *written.AppliedConfig != next {
		t.Errorf("the failure's report says the node runs %+v, want %s", written.AppliedConfig, next.Name)
	}
	if applied() != 0 {
		t.Errorf("%d Applied Events during the hold, want none", applied())
	}
	// A failure ends the hold, and the Event goes out (in a real pass, before the failure's own).
	if _, writes := pass(true, false, failed, errors.New("apply failed")); writes != 1 || applied() != 1 {
		t.Errorf("an apply failure during the hold: %d writes, %d Applied Events; want 1 at once and 1", writes, applied())
	}
	if hold, writes := pass(false, false, failed, nil); hold != 0 || writes != 1 || applied() != 1 {
		t.Errorf("the spec records the config: hold %s, %d writes, %d Applied Events; want none, 1 (the new observedGeneration) and 1", hold, writes, applied())
	}

	// Nothing records the spec: the report and the Event go out when the hold ends.
	written = st.Status
	clock.SetTime(now)
	pass(true, true, healthy, nil)
	clock.SetTime(now.Add(30 * time.Second))
	if hold, writes := pass(true, false, healthy, nil); hold != 0 || writes != 1 || applied() != 2 {
		t.Errorf("after the hold: hold %s, %d writes, %d Applied Events in all; want none, 1 and 2", hold, writes, applied())
	}
	if pass(true, false, healthy, nil); applied() != 2 {
		t.Errorf("%d Applied Events after one more pass, want 2: each is recorded once", applied())
	}

	// A second wave applied while the first's report is held: the first's Event is not lost.
	clock.SetTime(now.Add(time.Minute))
	pass(true, true, healthy, nil)
	pass(true, true, healthy, nil)
	if got := applied(); got != 3 {
		t.Errorf("two applies in a row, each held: %d Applied Events in all, want 3 (the first's recorded when the second began its hold)", got)
	}
}

// A slow apply shows as Reconciling=True while it runs, unless the rollout wave asked for it.
func TestASlowApplyOfTheWaveIsNotReportedWhileItRuns(t *testing.T) {
	kube, patches := statusServer(t)
	r := &Reconciler{Kube: kube, SlowApply: time.Millisecond}
	desired := &mpv1alpha1.RenderedConfigRef{Name: "next", Hash: "2222"}
	for _, fromWave := range []bool{true, false} {
		before := patches.Load()
		st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: mpv1alpha1.MultipathNodeStateSpec{DesiredConfig: desired}}
		done := r.reportSlowApply(context.Background(), &scope{state: st, fromWave: fromWave}, desired)
		time.Sleep(100 * time.Millisecond) // the apply runs 100 times SlowApply
		done()
		if got, want := patches.Load()-before, map[bool]int32{true: 0, false: 1}[fromWave]; got != want {
			t.Errorf("a slow apply (wave: %t) wrote the status %d times while it ran, want %d", fromWave, got, want)
		}
	}
}

// An Event recorded while the wave's Applied Event is held goes out after it: the node's
// Events keep the order of what they tell.
func TestAHeldAppliedEventGoesOutBeforeTheNextEvent(t *testing.T) {
	events := &reasonRecorder{}
	r := &Reconciler{Recorder: events}
	r.waveReport = waveReport{hash: "2222", event: "Applied config next"}
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	r.eventf(st, "Warning", mpv1alpha1.DriftCorrectedReason, "Reassert", "files changed by hand")
	r.eventf(st, "Warning", mpv1alpha1.DriftCorrectedReason, "Reassert", "again")
	want := []string{mpv1alpha1.AppliedReason, mpv1alpha1.DriftCorrectedReason, mpv1alpha1.DriftCorrectedReason}
	if !slices.Equal(events.reasons, want) {
		t.Errorf("Events %v, want %v", events.reasons, want)
	}
}
