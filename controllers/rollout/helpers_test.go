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

package rollout_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/conditions/conditionstest"
	"github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/testing/rolloutview"
	"github.com/kube-multipath/kube-multipath/internal/wave"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// testLabel selects a test's own nodes: the MultipathConfig of each test selects
// testLabel=<the test's label>, so that nodes another test left behind are never managed.
const testLabel = "rollout.kube-multipath.io/test"

var clusterKey = client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}

// fixture is one test's world: its nodes, the singleton MultipathConfig, and a fake agent that
// writes MultipathNodeState statuses as the real one would. Tests that use it must not run in
// parallel; its cleanup deletes the MultipathConfig, the nodes and their MultipathNodeStates.
type fixture struct {
	t *testing.T
	// label is this test's value of testLabel, and the prefix of its node names.
	label string
	// nodes are the names of the nodes this test created.
	nodes []string
	// luns and pvs are the MultipathWWIDs and PersistentVolumes this test created.
	luns, pvs []string
	// teardownGone is set while agentApply writes the status of a teardown, which may find the
	// MultipathNodeState deleted.
	teardownGone bool
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	label := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(label) > 40 {
		label = strings.TrimRight(label[:40], "-")
	}
	f := &fixture{t: t, label: label}
	t.Cleanup(f.cleanup)
	return f
}

func (f *fixture) node(i int) string { return fmt.Sprintf("%s-%d", f.label, i) }

// addNode creates the node f.node(i), selected by this test's MultipathConfig, with its Ready
// condition as given.
func (f *fixture) addNode(i int, ready bool) *corev1.Node {
	f.t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: f.node(i), Labels: map[string]string{testLabel: f.label}}}
	if err := env.Client.Create(ctx, n); err != nil {
		f.t.Fatalf("creating Node %s: %v", n.Name, err)
	}
	f.nodes = append(f.nodes, n.Name)
	f.setReady(n.Name, ready)
	return n
}

func (f *fixture) addNodes(count int) {
	f.t.Helper()
	for i := range count {
		f.addNode(i, true)
	}
}

// setReady writes the Node's Ready condition, as the kubelet would.
func (f *fixture) setReady(name string, ready bool) {
	f.t.Helper()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n := &corev1.Node{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, n); err != nil {
			return err
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		return env.Client.Status().Update(ctx, n)
	})
	if err != nil {
		f.t.Fatalf("setting Node %s Ready=%s: %v", name, status, err)
	}
}

// updateNode changes a Node with mutate, retrying on conflicts.
func (f *fixture) updateNode(name string, mutate func(*corev1.Node)) {
	f.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n := &corev1.Node{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, n); err != nil {
			return err
		}
		mutate(n)
		return env.Client.Update(ctx, n)
	})
	if err != nil {
		f.t.Fatalf("updating Node %s: %v", name, err)
	}
}

// createConfig creates the MultipathConfig selecting this test's nodes, with pollingInterval
// as the knob that makes one rendered config differ from another.
func (f *fixture) createConfig(pollingInterval int32, mutate func(*mpv1alpha1.MultipathConfigSpec)) {
	f.t.Helper()
	cfg := &mpv1alpha1.MultipathConfig{
		ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
		Spec: mpv1alpha1.MultipathConfigSpec{
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{testLabel: f.label}},
			Defaults:     mpv1alpha1.MultipathDefaults{PollingInterval: ptr.To(pollingInterval)},
		},
	}
	if mutate != nil {
		mutate(&cfg.Spec)
	}
	if err := env.Client.Create(ctx, cfg); err != nil {
		f.t.Fatalf("creating MultipathConfig: %v", err)
	}
}

// updateConfig changes the MultipathConfig's spec with mutate, retrying on conflicts.
func (f *fixture) updateConfig(mutate func(*mpv1alpha1.MultipathConfigSpec)) {
	f.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := env.Client.Get(ctx, clusterKey, cfg); err != nil {
			return err
		}
		mutate(&cfg.Spec)
		return env.Client.Update(ctx, cfg)
	})
	if err != nil {
		f.t.Fatalf("updating MultipathConfig: %v", err)
	}
}

// config reads the MultipathConfig and checks the kstatus invariants on it once the rollout
// controller has summarised its current generation.
//
// Before that, two windows that no controller can close break them for a few milliseconds: a
// spec edit leaves the previous Ready (True for the previous generation) in place until a
// controller reacts; and on creation the render controller may write Rendered before the
// rollout controller writes Ready. kstatus reports the first as InProgress (status.observedGeneration
// lags), and the second as Current, as it does for any object whose status nothing wrote yet.
func (f *fixture) config() (*mpv1alpha1.MultipathConfig, error) {
	cfg := &mpv1alpha1.MultipathConfig{}
	if err := env.Client.Get(ctx, clusterKey, cfg); err != nil {
		return nil, err
	}
	if summarised(cfg) {
		conditionstest.AssertKstatusInvariants(f.t, cfg)
	}
	return cfg, nil
}

// summarised reports whether the rollout controller wrote Ready for the current generation.
func summarised(cfg *mpv1alpha1.MultipathConfig) bool {
	c := conditions.Get(cfg, mpv1alpha1.ReadyCondition)
	return c != nil && c.ObservedGeneration == cfg.Generation
}

// rendered waits until the render controller rendered the current generation, and returns the
// rendered config.
func (f *fixture) rendered() mpv1alpha1.RenderedConfigRef {
	f.t.Helper()
	var ref mpv1alpha1.RenderedConfigRef
	eventually(f.t, func() error {
		cfg, err := f.config()
		if err != nil {
			return err
		}
		c := conditions.Get(cfg, mpv1alpha1.RenderedCondition)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != cfg.Generation || cfg.Status.RenderedConfig == nil {
			return fmt.Errorf("generation %d is not rendered: %+v", cfg.Generation, c)
		}
		// A render may precede the cache's view of the LUNs just created (or of the last test's,
		// just deleted): that config is superseded at once, and is not the one to roll out.
		if got, want := cfg.Status.RenderedConfig.LUNs, int32(len(f.luns)); got != want {
			return fmt.Errorf("rendered %s carries %d LUNs, want this test's %d", cfg.Status.RenderedConfig.Name, got, want)
		}
		ref = cfg.Status.RenderedConfig.RenderedConfigRef
		return nil
	})
	return ref
}

// kstatusOf computes the kstatus of a MultipathConfig, as Argo CD and Flux would.
func kstatusOf(cfg *mpv1alpha1.MultipathConfig) (*kstatus.Result, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cfg)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetGroupVersionKind(mpv1alpha1.GroupVersion.WithKind("MultipathConfig"))
	return kstatus.Compute(u)
}

// waitConfig waits until the MultipathConfig satisfies check, for its current generation
// (status.observedGeneration == metadata.generation), and returns it.
func (f *fixture) waitConfig(check func(*mpv1alpha1.MultipathConfig, *kstatus.Result) error) *mpv1alpha1.MultipathConfig {
	f.t.Helper()
	var out *mpv1alpha1.MultipathConfig
	eventually(f.t, func() error {
		cfg, err := f.config()
		if err != nil {
			return err
		}
		if cfg.Status.ObservedGeneration != cfg.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", cfg.Status.ObservedGeneration, cfg.Generation)
		}
		res, err := kstatusOf(cfg)
		if err != nil {
			return err
		}
		if err := check(cfg, res); err != nil {
			return fmt.Errorf("%w (kstatus %s: %s; conditions %s)", err, res.Status, res.Message, describeConditions(cfg.Status.Conditions))
		}
		out = cfg
		return nil
	})
	return out
}

func describeConditions(conds []metav1.Condition) string {
	parts := make([]string, 0, len(conds))
	for _, c := range conds {
		parts = append(parts, fmt.Sprintf("%s=%s/%s(gen %d): %q", c.Type, c.Status, c.Reason, c.ObservedGeneration, c.Message))
	}
	return strings.Join(parts, "; ")
}

// isCurrent checks that the rollout is complete and kstatus says Current, with the counts given.
func isCurrent(selected int32) func(*mpv1alpha1.MultipathConfig, *kstatus.Result) error {
	return func(cfg *mpv1alpha1.MultipathConfig, res *kstatus.Result) error {
		want := mpv1alpha1.NodeCounts{Selected: selected, Updated: selected}
		switch {
		case res.Status != kstatus.CurrentStatus:
			return errors.New("not Current")
		case !conditions.IsTrue(cfg, mpv1alpha1.ReadyCondition):
			return errors.New("not Ready")
		case cfg.Status.Nodes != want:
			return fmt.Errorf("status.nodes %+v, want %+v", cfg.Status.Nodes, want)
		}
		return nil
	}
}

// condition checks that condType is True with reason, and kstatus says want.
func condition(condType, reason string, want kstatus.Status) func(*mpv1alpha1.MultipathConfig, *kstatus.Result) error {
	return func(cfg *mpv1alpha1.MultipathConfig, res *kstatus.Result) error {
		c := conditions.Get(cfg, condType)
		switch {
		case c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason:
			return fmt.Errorf("want %s True with reason %s", condType, reason)
		case res.Status != want:
			return fmt.Errorf("kstatus %s, want %s", res.Status, want)
		}
		return nil
	}
}

// state reads a MultipathNodeState as its agent sees it: spec.desiredConfig is the config the
// node is told to run, the rollout wave's when the wave names the node (internal/wave); nil when
// it does not exist. rawState reads the object as it is.
func (f *fixture) state(name string) *mpv1alpha1.MultipathNodeState {
	f.t.Helper()
	st := f.rawState(name)
	if st != nil {
		st.Spec.DesiredConfig = wave.Effective(f.wave(), st)
	}
	return st
}

func (f *fixture) rawState(name string) *mpv1alpha1.MultipathNodeState {
	f.t.Helper()
	st := &mpv1alpha1.MultipathNodeState{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, st); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		f.t.Fatalf("getting MultipathNodeState %s: %v", name, err)
	}
	return st
}

// wave reads the rollout wave; nil when there is none.
func (f *fixture) wave() *wave.Wave {
	f.t.Helper()
	w, err := sim.ReadWave(ctx, env.Client, namespace)
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// states reads the MultipathNodeStates of this test's nodes, by name, as state does.
func (f *fixture) states() map[string]*mpv1alpha1.MultipathNodeState {
	f.t.Helper()
	list := &mpv1alpha1.MultipathNodeStateList{}
	if err := env.Client.List(ctx, list); err != nil {
		f.t.Fatalf("listing MultipathNodeStates: %v", err)
	}
	w := f.wave()
	out := map[string]*mpv1alpha1.MultipathNodeState{}
	for i := range list.Items {
		if st := &list.Items[i]; slices.Contains(f.nodes, st.Name) {
			st.Spec.DesiredConfig = wave.Effective(w, st)
			out[st.Name] = st
		}
	}
	return out
}

func is(r *mpv1alpha1.RenderedConfigRef, want mpv1alpha1.RenderedConfigRef) bool {
	return r != nil && *r == want
}

// withDesired returns the sorted names of this test's nodes whose desiredConfig is want.
func (f *fixture) withDesired(want mpv1alpha1.RenderedConfigRef) []string {
	var out []string
	for name, st := range f.states() {
		if is(st.Spec.DesiredConfig, want) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// agentApply writes the Lease and then the status of a successful apply of the config the node
// is told, as the agent does: appliedConfig = that config, Degraded False, for the current
// generation.
//
// A node torn down with the empty config may lose its MultipathNodeState as soon as its Lease
// confirms it: the status write then finds nothing, as the agent's does.
func (f *fixture) agentApply(name string) {
	f.t.Helper()
	desired := f.state(name).Spec.DesiredConfig
	f.writeLease(name, desired, "")
	f.teardownGone = is(desired, multipathconf.EmptyRef())
	defer func() { f.teardownGone = false }()
	f.writeAgentStatus(name, func(st *mpv1alpha1.MultipathNodeState) {
		st.Status.AppliedConfig = st.Spec.DesiredConfig.DeepCopy()
		conditions.Set(st, metav1.Condition{Type: mpv1alpha1.DegradedCondition, Status: metav1.ConditionFalse, Reason: mpv1alpha1.AppliedReason, Message: "Applied."})
		conditions.SetSummary(st, conditions.Summary{Ready: true, ReadyMessage: conditions.Message{Reason: mpv1alpha1.AppliedReason, Message: "Applied " + st.Spec.DesiredConfig.Name + "."}})
	})
}

// agentFail writes the Lease and then the status of a failed apply, as the agent does: the
// Lease names the config that fails, Degraded True for the current generation, appliedConfig
// kept at the previous config.
func (f *fixture) agentFail(name string) {
	f.t.Helper()
	st := f.state(name)
	f.writeLease(name, st.Status.AppliedConfig, st.Spec.DesiredConfig.Hash)
	f.writeAgentStatus(name, func(st *mpv1alpha1.MultipathNodeState) {
		msg := "Applying " + st.Spec.DesiredConfig.Name + " failed; the previous config was restored."
		conditions.Set(st, metav1.Condition{Type: mpv1alpha1.DegradedCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.ApplyFailedReason, Message: msg})
		conditions.SetSummary(st, conditions.Summary{Stalled: &conditions.Message{Reason: mpv1alpha1.ApplyFailedReason, Message: msg}})
	})
}

// writeLease writes the node's agent Lease as the agent does (owned by its MultipathNodeState):
// the config it runs, and the hash of the config it fails to apply ("" when none).
func (f *fixture) writeLease(name string, applied *mpv1alpha1.RenderedConfigRef, failedHash string) {
	f.t.Helper()
	st := f.rawState(name)
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: health.LeaseName(name), Namespace: namespace}}
	_, err := controllerutil.CreateOrUpdate(ctx, env.Client, l, func() error {
		l.OwnerReferences = []metav1.OwnerReference{{APIVersion: mpv1alpha1.GroupVersion.String(), Kind: "MultipathNodeState", Name: name, UID: st.UID}}
		l.Annotations = map[string]string{}
		if applied != nil {
			l.Annotations[health.AppliedConfigAnnotation], l.Annotations[health.AppliedHashAnnotation] = applied.Name, applied.Hash
		}
		if failedHash != "" {
			l.Annotations[health.FailedHashAnnotation] = failedHash
		}
		return nil
	})
	if err != nil {
		f.t.Fatalf("writing Lease %s: %v", l.Name, err)
	}
}

func (f *fixture) writeAgentStatus(name string, mutate func(*mpv1alpha1.MultipathNodeState)) {
	f.t.Helper()
	st := f.state(name) // the spec it is told, which the status patch leaves alone
	if st == nil && f.teardownGone {
		return // torn down meanwhile (see agentApply)
	}
	if st == nil || st.Spec.DesiredConfig == nil {
		f.t.Fatalf("MultipathNodeState %s has no desired config to apply: %+v", name, st)
	}
	before := st.DeepCopy()
	mutate(st)
	st.Status.ObservedGeneration = st.Generation
	err := env.Client.Status().Patch(ctx, st, client.MergeFrom(before))
	if apierrors.IsNotFound(err) && f.teardownGone {
		return // torn down meanwhile (see agentApply)
	}
	if err != nil {
		f.t.Fatalf("writing the status of MultipathNodeState %s: %v", name, err)
	}
}

// rollOut plays the agents through a rollout of target over every node of the test, one node
// at a time: it waits until the controller handed target to as many nodes as budget allows,
// then applies it on the first of them. While nodes remain, the MultipathConfig must never be
// Current; once all applied it must become Current.
func (f *fixture) rollOut(target mpv1alpha1.RenderedConfigRef, budget int) {
	f.t.Helper()
	for {
		var inProgress []string
		updated := 0
		eventually(f.t, func() error {
			inProgress, updated = nil, 0
			for name, st := range f.states() {
				switch {
				case is(st.Status.AppliedConfig, target):
					updated++
				case is(st.Spec.DesiredConfig, target):
					inProgress = append(inProgress, name)
				}
			}
			slices.Sort(inProgress)
			if updated == len(f.nodes) {
				return nil
			}
			cfg, err := f.config()
			if err != nil {
				return err
			}
			if !summarised(cfg) {
				return errors.New("the rollout controller has not summarised this generation yet")
			}
			if res, err := kstatusOf(cfg); err != nil || res.Status != kstatus.InProgressStatus {
				f.t.Errorf("kstatus of the MultipathConfig while %d of %d nodes applied %s: %+v, %v; want InProgress", updated, len(f.nodes), target.Name, res, err)
			}
			if want := min(budget, len(f.nodes)-updated); len(inProgress) != want {
				return fmt.Errorf("%d nodes applying %s (%v), want %d", len(inProgress), target.Name, inProgress, want)
			}
			return nil
		})
		if updated == len(f.nodes) {
			break
		}
		f.agentApply(inProgress[0])
	}
	f.waitConfig(isCurrent(int32(len(f.nodes))))
}

// cleanup deletes the MultipathConfig and the test's nodes, and waits until the controller has
// removed their MultipathNodeStates.
func (f *fixture) cleanup() {
	t := f.t
	for _, name := range f.pvs {
		f.deletePV(name)
	}
	for _, name := range f.luns {
		if err := env.Client.Delete(ctx, &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: deleting MultipathWWID %s: %v", name, err)
		}
	}
	if err := env.Client.Delete(ctx, &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("cleanup: deleting MultipathConfig: %v", err)
	}
	for _, name := range f.nodes {
		if err := env.Client.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: deleting Node %s: %v", name, err)
		}
	}
	eventually(t, func() error {
		if err := env.Client.Get(ctx, clusterKey, &mpv1alpha1.MultipathConfig{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("MultipathConfig still there: %v", err)
		}
		if left := f.states(); len(left) > 0 {
			return fmt.Errorf("%d MultipathNodeStates left", len(left))
		}
		return nil
	})
}

// monitor follows every MultipathNodeState of a test, the rollout wave and the Leases
// (rolloutview), and checks that at every moment at most budget nodes were told to run a
// config they had not applied.
type monitor struct {
	t      *testing.T
	budget int
	f      *rolloutview.Follower
	cancel context.CancelFunc
}

func (f *fixture) watchBudget(budget int) *monitor {
	f.t.Helper()
	mctx, cancel := context.WithCancel(ctx)
	follower, err := rolloutview.Start(mctx, env.Config, env.Scheme, namespace, f.nodes, rolloutview.OneBudget)
	if err != nil {
		cancel()
		f.t.Fatalf("following the rollout: %v", err)
	}
	m := &monitor{t: f.t, budget: budget, f: follower, cancel: cancel}
	f.t.Cleanup(m.stop)
	return m
}

// check reports the moments over budget seen so far, and that the budget was used in full at
// least once.
func (m *monitor) check(wantMax int) {
	m.t.Helper()
	res := m.f.Replay(m.budget)
	for _, v := range res.OverBudget {
		m.t.Errorf("more than maxUnavailable %d: %s", m.budget, v)
	}
	if res.MaxBusy != wantMax {
		m.t.Errorf("at most %d nodes were applying at once, want %d (%s)", res.MaxBusy, wantMax, res.MaxBusyAt)
	}
}

func (m *monitor) stop() {
	m.cancel()
	for _, v := range m.f.Replay(m.budget).OverBudget {
		m.t.Errorf("more than maxUnavailable %d: %s", m.budget, v)
	}
}

// waitEvent waits for an Event about the MultipathConfig with the given type and reason, whose
// note contains every one of substrings.
func waitEvent(t *testing.T, cfg *mpv1alpha1.MultipathConfig, eventType, reason string, substrings ...string) {
	t.Helper()
	eventually(t, func() error {
		list := &eventsv1.EventList{}
		if err := env.Client.List(ctx, list); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.UID != cfg.UID || e.Type != eventType || e.Reason != reason {
				continue
			}
			if !slices.ContainsFunc(substrings, func(s string) bool { return !strings.Contains(e.Note, s) }) {
				return nil
			}
		}
		return fmt.Errorf("no %s Event %s about MultipathConfig %s containing %q", eventType, reason, cfg.Name, substrings)
	})
}
