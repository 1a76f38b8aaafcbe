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
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/agent"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

const (
	wwidA = "3600a098038303053453f463045736f41"
	wwidB = "3600a098038303053453f463045736f42"
)

var (
	baselinePath = filepath.Join(hostfs.ConfDir, multipathconf.BaselineFileName)
	wwidsPath    = hostfs.WWIDsPath
)

// applied waits until the node reports ref as applied and Ready.
func applied(t *testing.T, name string, ref mpv1alpha1.RenderedConfigRef) *mpv1alpha1.MultipathNodeState {
	t.Helper()
	var st *mpv1alpha1.MultipathNodeState
	eventually(t, func() error {
		st = getState(t, name)
		if st.Status.AppliedConfig == nil || *st.Status.AppliedConfig != ref || !conditions.IsTrue(st, mpv1alpha1.ReadyCondition) || st.Status.MapCount == 0 {
			return fmt.Errorf("status = %+v", st.Status)
		}
		return nil
	})
	return st
}

func TestAgentAppliesTheDesiredConfigAndReportsMaps(t *testing.T) {
	name := "node-apply"
	n := startAgent(t, name, nil)
	r, ref := publish(t, wwidA, wwidB)
	createState(t, name, &ref)
	st := applied(t, name, ref)

	baseline, _ := r.File(multipathconf.BaselineFileName)
	if got := n.read(t, baselinePath); got != baseline {
		t.Errorf("baseline on disk differs from the rendered one:\n%s", got)
	}
	if got := hostfs.ParseWWIDs([]byte(n.read(t, wwidsPath))); !slices.Equal(got, []string{wwidA, wwidB}) {
		t.Errorf("wwids on disk = %v", got)
	}
	if n.reconfigures() != 1 {
		t.Errorf("%d reconfigures, want 1", n.reconfigures())
	}
	for _, cmd := range n.daemon.Commands() {
		// The allow-list, and the paths listing ShowPaths sends (not a keyword command).
		if !slices.Contains(multipathd.ClientCommands(), cmd) {
			t.Errorf("multipathd received %q", cmd)
		}
	}

	s := st.Status
	if s.MultipathToolsVersion != "0.9.4" || s.MapCount != 2 || len(s.Maps) != 2 {
		t.Fatalf("status: version %q, mapCount %d, %d maps", s.MultipathToolsVersion, s.MapCount, len(s.Maps))
	}
	if s.Maps[0].Name != "mpatha" || s.Maps[0].State != mpv1alpha1.MapOptimal || s.Maps[0].ActivePaths != 16 ||
		s.Maps[1].Name != "mpathb" || s.Maps[1].State != mpv1alpha1.MapFailed || s.Maps[1].TotalPaths != 16 {
		t.Errorf("maps = %+v", s.Maps)
	}
	// An optimal map is reported without its paths and groups (activePaths = totalPaths); the
	// failed one with them, as multipathd printed them, through the API server.
	if len(s.Maps[0].Paths) != 0 || len(s.Maps[0].PathGroups) != 0 || s.Maps[0].TotalPaths != 16 {
		t.Errorf("mpatha (optimal): %d paths and %d groups listed of %d, want none", len(s.Maps[0].Paths), len(s.Maps[0].PathGroups), s.Maps[0].TotalPaths)
	}
	if g := s.Maps[1].PathGroups; len(g) != 2 || g[0] != (mpv1alpha1.PathGroupStatus{Group: 1, Selector: "round-robin 0", Priority: 0, State: "active"}) ||
		g[1] != (mpv1alpha1.PathGroupStatus{Group: 2, Selector: "round-robin 0", Priority: 0, State: "enabled"}) {
		t.Errorf("mpathb path groups = %+v", g)
	}
	if len(s.Maps[1].Paths) != 16 {
		t.Errorf("mpathb: %d paths listed, want 16", len(s.Maps[1].Paths))
	}
	for _, p := range s.Maps[1].Paths {
		group, prio := int32(2), int32(10)
		if p.Device == "sdy" || p.Device == "sdag" {
			group, prio = 1, 50
		}
		if p.Group != group || p.Priority != prio || p.DMState != "failed" {
			t.Errorf("mpathb path %s: group %d priority %d dm state %q, want %d, %d and failed", p.Device, p.Group, p.Priority, p.DMState, group, prio)
		}
	}
	if s.ObservedGeneration != st.Generation || conditions.Get(st, mpv1alpha1.DegradedCondition) != nil || conditions.Get(st, mpv1alpha1.ReconcilingCondition) != nil {
		t.Errorf("conditions = %+v, observedGeneration %d", s.Conditions, s.ObservedGeneration)
	}
	for _, f := range st.ManagedFields {
		if f.Manager == agent.FieldOwner && f.Subresource != "status" {
			t.Errorf("the agent owns fields outside the status: %+v", f)
		}
	}

	var l *coordinationv1.Lease
	eventually(t, func() error {
		var err error
		// Written before the status (the confirmation, not renewed: the maps are read after
		// it), renewed right after the status write.
		if l, err = lease(t, name); err == nil && l.Spec.RenewTime == nil {
			return fmt.Errorf("the Lease is not renewed yet: %+v", l.Spec)
		}
		return err
	})
	if got := health.LeaseApplied(l, st.UID); got == nil || *got != ref {
		t.Errorf("the Lease confirms %+v, want %s", got, ref.Name)
	}
	if *l.Spec.HolderIdentity != name || *l.Spec.LeaseDurationSeconds != 1 || l.Spec.RenewTime == nil ||
		len(l.OwnerReferences) != 1 || l.OwnerReferences[0].UID != st.UID {
		t.Errorf("Lease = %+v %+v", l.Spec, l.OwnerReferences)
	}
	eventually(t, func() error {
		if got := events(t, name); !slices.Contains(got, mpv1alpha1.AppliedReason) {
			return fmt.Errorf("events %v", got)
		}
		return nil
	})
}

// watchStates records every version of the node's MultipathNodeState the API server sends
// from now on. The returned func waits until the watch has delivered resourceVersion rv (a GET
// can return a version before the watch sends it), then stops the watch and returns them.
func watchStates(t *testing.T, name string) func(rv string) []*mpv1alpha1.MultipathNodeState {
	t.Helper()
	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(context.Background(), &mpv1alpha1.MultipathNodeStateList{}, client.MatchingFields{"metadata.name": name})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen []*mpv1alpha1.MultipathNodeState
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if st, ok := ev.Object.(*mpv1alpha1.MultipathNodeState); ok {
				mu.Lock()
				seen = append(seen, st)
				mu.Unlock()
			}
		}
	}()
	return func(rv string) []*mpv1alpha1.MultipathNodeState {
		t.Helper()
		eventually(t, func() error {
			mu.Lock()
			defer mu.Unlock()
			for _, st := range seen {
				if st.ResourceVersion == rv {
					return nil
				}
			}
			return fmt.Errorf("the watch has not delivered resourceVersion %s yet (%d versions seen)", rv, len(seen))
		})
		w.Stop()
		<-done
		return seen
	}
}

func TestAgentReportsASlowApplyWhileItRuns(t *testing.T) {
	name := "node-slow"
	n := startAgent(t, name, func(n *node) { n.slowApply = 100 * time.Millisecond })
	n.daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.OK, Delay: 1500 * time.Millisecond})
	_, ref := publish(t, wwidA)
	createState(t, name, &ref)
	eventually(t, func() error {
		st := getState(t, name)
		rec := conditions.Get(st, mpv1alpha1.ReconcilingCondition)
		if rec == nil || rec.Status != metav1.ConditionTrue || rec.Reason != mpv1alpha1.ApplyingReason || st.Status.AppliedConfig != nil {
			return fmt.Errorf("not reported as applying: %+v", st.Status.Conditions)
		}
		return nil
	})
	// The apply's own status, written after the Applying one, wins.
	st := applied(t, name, ref)
	if conditions.Get(st, mpv1alpha1.ReconcilingCondition) != nil {
		t.Errorf("Reconciling stays after the apply: %+v", conditions.Get(st, mpv1alpha1.ReconcilingCondition))
	}
}

func TestAgentReportsAQuickApplyWithOneStatusWrite(t *testing.T) {
	name := "node-quick"
	stop := watchStates(t, name)
	startAgent(t, name, func(n *node) { n.slowApply = time.Minute })
	_, ref := publish(t, wwidA)
	createState(t, name, &ref)
	st := applied(t, name, ref)
	seen := stop(st.ResourceVersion)
	statuses := 0
	for _, st := range seen {
		if conditions.Get(st, mpv1alpha1.ReconcilingCondition) != nil {
			t.Errorf("a quick apply was reported as applying: %+v", st.Status.Conditions)
		}
		if st.Status.AppliedConfig != nil || len(st.Status.Conditions) > 0 {
			statuses++
		}
	}
	// The spec write, then one status write that carries the applied config and the maps.
	if statuses != 1 {
		t.Errorf("%d versions with a status, want 1 (of %d seen)", statuses, len(seen))
	}
}

func TestAgentReportsAFailedReconfigureAsDegradedAndRestoresTheFiles(t *testing.T) {
	name := "node-fail"
	n := startAgent(t, name, nil)
	_, ref1 := publish(t, wwidA)
	createState(t, name, &ref1)
	applied(t, name, ref1)
	before := map[string]string{baselinePath: n.read(t, baselinePath), wwidsPath: n.read(t, wwidsPath)}

	n.daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.Fail})
	_, ref2 := publish(t, wwidA, wwidB)
	setDesired(t, name, ref2)
	var st *mpv1alpha1.MultipathNodeState
	eventually(t, func() error {
		st = getState(t, name)
		if !conditions.IsTrue(st, mpv1alpha1.DegradedCondition) {
			return fmt.Errorf("not Degraded: %+v", st.Status.Conditions)
		}
		return nil
	})
	deg := conditions.Get(st, mpv1alpha1.DegradedCondition)
	if deg.Reason != mpv1alpha1.ApplyFailedReason || deg.ObservedGeneration != st.Generation || !strings.Contains(deg.Message, "reconfigure") {
		t.Errorf("Degraded = %+v, generation %d", deg, st.Generation)
	}
	if !conditions.IsFalse(st, mpv1alpha1.ReadyCondition) {
		t.Errorf("Ready is not False: %+v", conditions.Get(st, mpv1alpha1.ReadyCondition))
	}
	if st.Status.AppliedConfig == nil || *st.Status.AppliedConfig != ref1 {
		t.Errorf("appliedConfig = %+v, want the previous config %s", st.Status.AppliedConfig, ref1.Name)
	}
	for path, content := range before {
		if got := n.read(t, path); got != content {
			t.Errorf("%s not restored:\n%s", path, got)
		}
	}
	eventually(t, func() error {
		if got := events(t, name); !slices.Contains(got, mpv1alpha1.ApplyFailedReason) {
			return fmt.Errorf("events %v", got)
		}
		return nil
	})

	// multipathd accepts reconfigure again: the retry (with backoff) applies the config.
	n.daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.OK})
	st = applied(t, name, ref2)
	if conditions.Get(st, mpv1alpha1.DegradedCondition) != nil {
		t.Errorf("Degraded stays after a successful apply: %+v", conditions.Get(st, mpv1alpha1.DegradedCondition))
	}
	if got := hostfs.ParseWWIDs([]byte(n.read(t, wwidsPath))); !slices.Equal(got, []string{wwidA, wwidB}) {
		t.Errorf("wwids after the retry = %v", got)
	}
}

func TestAgentWritesNothingAndDoesNotReconfigureInSteadyState(t *testing.T) {
	name := "node-steady"
	n := startAgent(t, name, nil)
	_, ref := publish(t, wwidA)
	createState(t, name, &ref)
	applied(t, name, ref)
	// Let the pass after the apply settle, then watch several refresh intervals.
	time.Sleep(700 * time.Millisecond)
	rv := getState(t, name).ResourceVersion
	reconfigures, commands := n.reconfigures(), len(n.daemon.Commands())
	l, _ := lease(t, name)
	renewed := l.Spec.RenewTime.Time

	time.Sleep(1500 * time.Millisecond) // five refresh intervals
	if got := getState(t, name).ResourceVersion; got != rv {
		t.Errorf("status written in steady state: resourceVersion %s -> %s", rv, got)
	}
	if n.reconfigures() != reconfigures {
		t.Errorf("reconfigured in steady state")
	}
	if len(n.daemon.Commands()) <= commands {
		t.Error("multipathd was not polled")
	}
	if l, _ := lease(t, name); !l.Spec.RenewTime.After(renewed) {
		t.Error("the Lease was not renewed")
	}
}

func TestAgentReassertsOwnedFilesEditedByHand(t *testing.T) {
	name := "node-drift"
	n := startAgent(t, name, nil)
	_, ref := publish(t, wwidA)
	createState(t, name, &ref)
	applied(t, name, ref)
	want := n.read(t, baselinePath)

	if err := os.WriteFile(filepath.Join(n.root, baselinePath), []byte("# edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, func() error {
		if got := n.read(t, baselinePath); got != want {
			return fmt.Errorf("baseline still %q", got)
		}
		return nil
	})
	t.Logf("drift re-asserted %s after the edit", time.Since(start).Round(time.Millisecond))
	// The transaction writes the baseline before it reconfigures: the file can be seen back
	// before the reconfigure is sent.
	eventually(t, func() error {
		if n.reconfigures() != 2 {
			return fmt.Errorf("%d reconfigures, want 2 (apply and re-assert)", n.reconfigures())
		}
		return nil
	})
	eventually(t, func() error {
		if got := events(t, name); !slices.Contains(got, mpv1alpha1.DriftCorrectedReason) {
			return fmt.Errorf("events %v", got)
		}
		return nil
	})
}

func TestAgentReportsMultipathdDownAsAConditionAndStopsItsHeartbeat(t *testing.T) {
	name := "node-nodaemon"
	startAgent(t, name, func(n *node) { _ = n.daemon.Close() })
	_, ref := publish(t, wwidA)
	createState(t, name, &ref)
	eventually(t, func() error {
		st := getState(t, name)
		deg := conditions.Get(st, mpv1alpha1.DegradedCondition)
		if deg == nil || deg.Status != metav1.ConditionTrue || deg.ObservedGeneration != st.Generation || !strings.Contains(deg.Message, "not reachable") {
			return fmt.Errorf("Degraded = %+v", deg)
		}
		if ready := conditions.Get(st, mpv1alpha1.ReadyCondition); ready == nil || ready.Status != metav1.ConditionFalse {
			return fmt.Errorf("Ready = %+v", ready)
		}
		if st.Status.AppliedConfig != nil {
			return fmt.Errorf("appliedConfig = %+v without multipathd", st.Status.AppliedConfig)
		}
		return nil
	})
	// The Lease says which config fails (the rollout reads it), but is never renewed.
	eventually(t, func() error {
		l, err := lease(t, name)
		if err != nil {
			return err
		}
		if got := health.LeaseFailed(l, getState(t, name).UID); got != ref.Hash {
			return fmt.Errorf("the Lease names %q as failing, want %s", got, ref.Hash)
		}
		return nil
	})
	if l, err := lease(t, name); err != nil || l.Spec.RenewTime != nil {
		t.Errorf("Lease renewed while multipathd cannot be read: %+v, %v", l, err)
	}
}

// The agent's cache holds no map report (agent.TrimOwnState): an agent started while multipathd
// is down keeps its predecessor's report, read from the API server, while it says the maps
// cannot be read; and the report it writes once the maps are read replaces it.
func TestAgentStartedWhileMultipathdIsDownKeepsItsPredecessorsReport(t *testing.T) {
	name := "node-restart-nodaemon"
	createState(t, name, nil) // nothing to apply: Ready says why the maps are not read
	predecessor := []mpv1alpha1.MapStatus{
		{WWID: wwidA, Name: "data", State: mpv1alpha1.MapOptimal, ActivePaths: 2, TotalPaths: 2},
		{WWID: wwidB, Name: "logs", State: mpv1alpha1.MapDegraded, ActivePaths: 1, TotalPaths: 2, Paths: []mpv1alpha1.PathStatus{
			{Device: "sdc", DMState: "failed", CheckerState: "faulty", DeviceState: "running"}, {Device: "sdb", DMState: "active", CheckerState: "ready", DeviceState: "running"}}},
	}
	body, err := json.Marshal(map[string]any{"apiVersion": mpv1alpha1.GroupVersion.String(), "kind": "MultipathNodeState", "metadata": map[string]any{"name": name},
		"status": mpv1alpha1.MultipathNodeStateStatus{MapCount: 2, Maps: predecessor}})
	if err != nil {
		t.Fatal(err)
	}
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Status().Patch(context.Background(), st, client.RawPatch(types.ApplyPatchType, body), client.FieldOwner(agent.FieldOwner), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	n := startAgent(t, name, func(n *node) { n.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: "fail"}) })
	eventually(t, func() error {
		st := getState(t, name)
		ready := conditions.Get(st, mpv1alpha1.ReadyCondition)
		if ready == nil || ready.Reason != mpv1alpha1.MultipathdUnavailableReason {
			return fmt.Errorf("Ready = %+v", ready)
		}
		return nil
	})
	if got := getState(t, name).Status.Maps; !apiequality.Semantic.DeepEqual(got, predecessor) {
		t.Errorf("the predecessor's report was not kept while multipathd is down: %+v", got)
	}
	n.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: fixtureMaps(t)})
	eventually(t, func() error {
		st := getState(t, name)
		if len(st.Status.Maps) != 2 || st.Status.Maps[0].Name != "mpatha" || st.Status.Maps[1].Name != "mpathb" {
			return fmt.Errorf("maps %+v", st.Status.Maps)
		}
		return nil
	})
}

// A restarted agent finds the pending marker of the apply its predecessor was killed in, rolls
// it back and applies the desired config.
func TestAgentRestartedMidApplyRecoversAndApplies(t *testing.T) {
	name := "node-restart"
	_, ref := publish(t, wwidA)
	var pendingBefore bool
	n := startAgent(t, name, func(n *node) {
		// A predecessor wrote files and its marker, and died before reconfiguring.
		killed := &hostfs.Host{Root: n.root, Client: &dieOnReconfigure{Client: n.host.Client}, Usable: mapstatus.Usable}
		r, err := multipathconf.Render(nil, []mpv1alpha1.MultipathWWID{{ObjectMeta: metav1.ObjectMeta{Name: "lun-b"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwidB}}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = killed.Apply(context.Background(), r)
		}()
		<-done
		pendingBefore, _ = n.host.Pending()
	})
	if !pendingBefore {
		t.Fatal("no pending marker: the test proves nothing")
	}
	createState(t, name, &ref)
	applied(t, name, ref)
	if got := hostfs.ParseWWIDs([]byte(n.read(t, wwidsPath))); !slices.Equal(got, []string{wwidA}) {
		t.Errorf("wwids = %v, want only %s", got, wwidA)
	}
	if pending, _ := n.host.Pending(); pending {
		t.Error("marker left")
	}
	eventually(t, func() error {
		if got := events(t, name); !slices.Contains(got, mpv1alpha1.RecoveredReason) {
			return fmt.Errorf("events %v", got)
		}
		return nil
	})
}

// dieOnReconfigure ends the goroutine applying, as a killed agent would, just before reconfigure.
type dieOnReconfigure struct{ multipathd.Client }

func (d *dieOnReconfigure) Reconfigure(context.Context) error {
	runtimeGoexit()
	return errors.New("unreachable")
}
