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
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

func TestRolloutRespectsMaxUnavailable(t *testing.T) {
	tests := map[string]struct {
		maxUnavailable intstr.IntOrString
		nodes          int
		budget         int
	}{
		"one node at a time over 4 nodes":   {maxUnavailable: intstr.FromInt32(1), nodes: 4, budget: 1},
		"two nodes at a time over 5 nodes":  {maxUnavailable: intstr.FromInt32(2), nodes: 5, budget: 2},
		"50% of 6 nodes is three at a time": {maxUnavailable: intstr.FromString("50%"), nodes: 6, budget: 3},
		"50% of 5 nodes rounds down to two": {maxUnavailable: intstr.FromString("50%"), nodes: 5, budget: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.addNodes(tc.nodes)
			m := f.watchBudget(tc.budget)
			f.createConfig(5, func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.MaxUnavailable = &tc.maxUnavailable })

			// First rollout: no node runs a managed config yet.
			a := f.rendered()
			f.rollOut(a, tc.budget)

			// Update: every node runs a, and moves to b.
			f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.Defaults.PollingInterval = new(int32(6)) })
			b := f.rendered()
			if a == b {
				t.Fatalf("the new spec rendered the same config %s", a.Name)
			}
			f.rollOut(b, tc.budget)
			m.check(tc.budget)

			for name, st := range f.states() {
				if ref := nodeOwner(st); ref == nil {
					t.Errorf("MultipathNodeState %s has no ownerReference to its Node: %+v", name, st.OwnerReferences)
				}
			}
		})
	}
}

func TestPausedRolloutHandsNothingOut(t *testing.T) {
	f := newFixture(t)
	f.addNodes(3)
	m := f.watchBudget(1)
	f.createConfig(5, nil)
	a := f.rendered()
	f.rollOut(a, 1)

	// Paused together with a new config: no node gets it.
	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) {
		s.Rollout.Paused = true
		s.Defaults.PollingInterval = new(int32(6))
	})
	b := f.rendered()
	cfg := f.waitConfig(condition(mpv1alpha1.ReconcilingCondition, mpv1alpha1.RolloutPausedReason, kstatus.InProgressStatus))
	if got := f.withDesired(b); len(got) > 0 {
		t.Fatalf("paused, yet nodes %v were handed %s", got, b.Name)
	}
	if got := cfg.Status.RenderedConfig.RenderedConfigRef; got != b {
		t.Errorf("status.renderedConfig %+v, want %+v", got, b)
	}
	if c := conditions.Get(cfg, mpv1alpha1.StalledCondition); c != nil {
		t.Errorf("a paused rollout must not be Stalled: %+v", c)
	}

	// Resumed: one node gets it. Paused again while it applies: it finishes, nobody else starts.
	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.Paused = false })
	eventually(t, func() error {
		if got := f.withDesired(b); len(got) != 1 {
			return fmt.Errorf("nodes with %s: %v, want one", b.Name, got)
		}
		return nil
	})
	first := f.withDesired(b)[0]
	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.Paused = true })
	f.waitConfig(condition(mpv1alpha1.ReconcilingCondition, mpv1alpha1.RolloutPausedReason, kstatus.InProgressStatus))
	f.agentApply(first)
	cfg = f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig, res *kstatus.Result) error {
		if cfg.Status.Nodes.Updated != 1 {
			return fmt.Errorf("status.nodes %+v, want 1 updated", cfg.Status.Nodes)
		}
		return condition(mpv1alpha1.ReconcilingCondition, mpv1alpha1.RolloutPausedReason, kstatus.InProgressStatus)(cfg, res)
	})
	// The pass that counted the applied node would have written a hand-out before its status.
	if got := f.withDesired(b); !slices.Equal(got, []string{first}) {
		t.Fatalf("paused, yet nodes %v have %s; want only %s", got, b.Name, first)
	}
	if msg := conditions.Get(cfg, mpv1alpha1.ReadyCondition).Message; !strings.Contains(msg, "paused") {
		t.Errorf("Ready message %q does not say the rollout is paused", msg)
	}

	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.Paused = false })
	f.rollOut(b, 1)
	m.check(1)
}

func TestRolloutStopsOnFailuresAndResumesWithAFix(t *testing.T) {
	f := newFixture(t)
	f.addNodes(5)
	m := f.watchBudget(2)
	f.createConfig(5, func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.MaxUnavailable = new(intstr.FromInt32(2)) })
	a := f.rendered()
	f.rollOut(a, 2)

	// b fails on the first two nodes it reaches: the budget is used up by failures.
	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.Defaults.PollingInterval = new(int32(6)) })
	b := f.rendered()
	var failing []string
	eventually(t, func() error {
		if failing = f.withDesired(b); len(failing) != 2 {
			return fmt.Errorf("nodes with %s: %v, want two", b.Name, failing)
		}
		return nil
	})
	for _, name := range failing {
		f.agentFail(name)
	}
	cfg := f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig, res *kstatus.Result) error {
		if err := condition(mpv1alpha1.StalledCondition, mpv1alpha1.RolloutFailedReason, kstatus.FailedStatus)(cfg, res); err != nil {
			return err
		}
		if want := (mpv1alpha1.NodeCounts{Selected: 5, Updated: 0, Failed: 2}); cfg.Status.Nodes != want {
			return fmt.Errorf("status.nodes %+v, want %+v", cfg.Status.Nodes, want)
		}
		return nil
	})
	stalled := conditions.Get(cfg, mpv1alpha1.StalledCondition)
	for _, name := range failing {
		if !strings.Contains(stalled.Message, name) {
			t.Errorf("Stalled message %q does not name failed node %s", stalled.Message, name)
		}
	}
	if c := conditions.Get(cfg, mpv1alpha1.ReconcilingCondition); c != nil {
		t.Errorf("Reconciling must be absent while Stalled: %+v", c)
	}
	if got := f.withDesired(b); !slices.Equal(got, failing) {
		t.Fatalf("stalled, yet nodes %v have %s; want only the failed %v", got, b.Name, failing)
	}
	waitEvent(t, cfg, corev1.EventTypeWarning, mpv1alpha1.RolloutFailedReason, failing...)
	for _, name := range failing {
		if st := f.state(name); !is(st.Status.AppliedConfig, a) {
			t.Errorf("failed node %s must still report %s applied, has %+v", name, a.Name, st.Status.AppliedConfig)
		}
	}

	// A fix (a new generation, a new config) goes to the failed nodes first and completes.
	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.Defaults.PollingInterval = new(int32(7)) })
	c := f.rendered()
	eventually(t, func() error {
		if got := f.withDesired(c); !slices.Equal(got, failing) {
			return fmt.Errorf("nodes with %s: %v, want the previously failed %v first", c.Name, got, failing)
		}
		return nil
	})
	f.rollOut(c, 2)
	m.check(2)
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, cfg, corev1.EventTypeNormal, "RolloutComplete", c.Name)
}

func TestDeselectedNodeIsTornDown(t *testing.T) {
	f := newFixture(t)
	f.addNodes(3)
	f.createConfig(5, nil)
	a := f.rendered()
	f.rollOut(a, 1)

	leaving := f.node(2)
	f.updateNode(leaving, func(n *corev1.Node) { delete(n.Labels, testLabel) })
	empty := multipathconf.EmptyRef()
	eventually(t, func() error {
		st := f.state(leaving)
		if st == nil || !is(st.Spec.DesiredConfig, empty) {
			return fmt.Errorf("MultipathNodeState %s: want desiredConfig %s, got %+v", leaving, empty.Name, st)
		}
		return nil
	})
	// The teardown is under way: the counts are of the nodes still selected.
	f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig, res *kstatus.Result) error {
		want := mpv1alpha1.NodeCounts{Selected: 2, Updated: 2}
		if cfg.Status.Nodes != want || res.Status != kstatus.InProgressStatus {
			return fmt.Errorf("status.nodes %+v, want %+v, InProgress", cfg.Status.Nodes, want)
		}
		return nil
	})

	f.agentApply(leaving)
	eventually(t, func() error {
		if st := f.state(leaving); st != nil {
			return fmt.Errorf("MultipathNodeState %s still exists after the agent applied the empty config", leaving)
		}
		return nil
	})
	f.nodes = slices.DeleteFunc(f.nodes, func(n string) bool { return n == leaving })
	f.waitConfig(isCurrent(2))
	for _, name := range []string{f.node(0), f.node(1)} {
		if st := f.state(name); st == nil || !is(st.Spec.DesiredConfig, a) || !is(st.Status.AppliedConfig, a) {
			t.Errorf("node %s, still selected, must keep %s: %+v", name, a.Name, st)
		}
	}
}

func TestJoiningNodeGetsNodeStateAndConfig(t *testing.T) {
	f := newFixture(t)
	f.addNodes(2)
	f.createConfig(5, nil)
	a := f.rendered()
	f.rollOut(a, 1)

	// A Ready node joins: it gets a MultipathNodeState owned by the Node, and the config.
	joined := f.addNode(2, true)
	eventually(t, func() error {
		st := f.state(joined.Name)
		if st == nil || !is(st.Spec.DesiredConfig, a) {
			return fmt.Errorf("MultipathNodeState %s: want desiredConfig %s, got %+v", joined.Name, a.Name, st)
		}
		want := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: joined.Name, UID: joined.UID}}
		if !slices.Equal(st.OwnerReferences, want) {
			return fmt.Errorf("ownerReferences %+v, want %+v", st.OwnerReferences, want)
		}
		return nil
	})
	f.waitConfig(condition(mpv1alpha1.ReconcilingCondition, mpv1alpha1.RolloutInProgressReason, kstatus.InProgressStatus))
	f.agentApply(joined.Name)
	f.waitConfig(isCurrent(3))

	// A NotReady node joins: it gets its MultipathNodeState but no config until it is Ready.
	late := f.addNode(3, false)
	cfg := f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig, res *kstatus.Result) error {
		want := mpv1alpha1.NodeCounts{Selected: 4, Updated: 3, Unknown: 1}
		if cfg.Status.Nodes != want {
			return fmt.Errorf("status.nodes %+v, want %+v", cfg.Status.Nodes, want)
		}
		if st := f.state(late.Name); st == nil {
			return fmt.Errorf("no MultipathNodeState for %s", late.Name)
		}
		return condition(mpv1alpha1.ReconcilingCondition, mpv1alpha1.RolloutInProgressReason, kstatus.InProgressStatus)(cfg, res)
	})
	if st := f.state(late.Name); st.Spec.DesiredConfig != nil {
		t.Fatalf("NotReady node %s was handed %+v", late.Name, st.Spec.DesiredConfig)
	}
	if msg := conditions.Get(cfg, mpv1alpha1.ReconcilingCondition).Message; !strings.Contains(msg, "not reporting") {
		t.Errorf("Reconciling message %q does not say a node is not reporting", msg)
	}
	f.setReady(late.Name, true)
	f.rollOut(a, 1)
}

func TestDeletedNodeLosesNodeState(t *testing.T) {
	f := newFixture(t)
	f.addNodes(2)
	f.createConfig(5, nil)
	a := f.rendered()
	f.rollOut(a, 1)

	// envtest runs no garbage collector: the controller deletes the orphan itself.
	gone := f.node(0)
	if err := env.Client.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: gone}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if st := f.state(gone); st != nil {
			return errors.New("MultipathNodeState of the deleted Node still exists")
		}
		return nil
	})
	f.nodes = slices.DeleteFunc(f.nodes, func(n string) bool { return n == gone })
	f.waitConfig(isCurrent(1))
}

func TestInvalidSpecKeepsLastGoodConfig(t *testing.T) {
	f := newFixture(t)
	f.addNodes(2)
	f.createConfig(5, nil)
	a := f.rendered()
	f.rollOut(a, 1)

	// The rules package rejects user_friendly_names anywhere in spec.overrides.
	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) {
		s.Overrides = "defaults {\n\tuser_friendly_names yes\n}\n"
	})
	cfg := f.waitConfig(condition(mpv1alpha1.StalledCondition, mpv1alpha1.InvalidSpecReason, kstatus.FailedStatus))
	rendered := conditions.Get(cfg, mpv1alpha1.RenderedCondition)
	if rendered == nil || rendered.Status != metav1.ConditionFalse || rendered.ObservedGeneration != cfg.Generation {
		t.Fatalf("Rendered %+v, want False for generation %d", rendered, cfg.Generation)
	}
	if msg := conditions.Get(cfg, mpv1alpha1.StalledCondition).Message; !strings.Contains(msg, rendered.Message) {
		t.Errorf("Stalled message %q does not carry the Rendered message %q", msg, rendered.Message)
	}
	if got := cfg.Status.RenderedConfig.RenderedConfigRef; got != a {
		t.Errorf("status.renderedConfig %+v, want the last good %+v", got, a)
	}
	for name, st := range f.states() {
		if !is(st.Spec.DesiredConfig, a) {
			t.Errorf("node %s must keep the last good config %s, has %+v", name, a.Name, st.Spec.DesiredConfig)
		}
	}

	// The last good config keeps rolling out: a joining node gets it.
	joined := f.addNode(2, true)
	eventually(t, func() error {
		if st := f.state(joined.Name); st == nil || !is(st.Spec.DesiredConfig, a) {
			return fmt.Errorf("joining node %s was not handed the last good config %s: %+v", joined.Name, a.Name, st)
		}
		return nil
	})
	f.agentApply(joined.Name)
	f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig, res *kstatus.Result) error {
		if want := (mpv1alpha1.NodeCounts{Selected: 3, Updated: 3}); cfg.Status.Nodes != want {
			return fmt.Errorf("status.nodes %+v, want %+v", cfg.Status.Nodes, want)
		}
		// Every node runs the last good config, but the spec is still not what the admin asked for.
		return condition(mpv1alpha1.StalledCondition, mpv1alpha1.InvalidSpecReason, kstatus.FailedStatus)(cfg, res)
	})

	// Fixed: the new config rolls out.
	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) {
		s.Overrides = ""
		s.Defaults.PollingInterval = new(int32(6))
	})
	b := f.rendered()
	f.rollOut(b, 1)
}

func TestInvalidNodeSelectorTearsNothingDown(t *testing.T) {
	f := newFixture(t)
	f.addNodes(2)
	f.createConfig(5, nil)
	a := f.rendered()
	f.rollOut(a, 1)

	// The CRD schema takes any operator; a typo must not unconfigure every node.
	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) {
		s.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: testLabel, Operator: "Bogus", Values: []string{f.label}},
		}}
	})
	cfg := f.waitConfig(condition(mpv1alpha1.StalledCondition, mpv1alpha1.InvalidSpecReason, kstatus.FailedStatus))
	if msg := conditions.Get(cfg, mpv1alpha1.StalledCondition).Message; !strings.Contains(msg, "spec.nodeSelector") {
		t.Errorf("Stalled message %q does not point at spec.nodeSelector", msg)
	}
	if want := (mpv1alpha1.NodeCounts{Selected: 2, Updated: 2}); cfg.Status.Nodes != want {
		t.Errorf("status.nodes %+v, want the last counts %+v", cfg.Status.Nodes, want)
	}
	for name, st := range f.states() {
		if !is(st.Spec.DesiredConfig, a) {
			t.Errorf("node %s was told %+v, want to keep %s", name, st.Spec.DesiredConfig, a.Name)
		}
	}

	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) {
		s.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{testLabel: f.label}}
	})
	f.waitConfig(isCurrent(2))
}

// nodeOwner returns the ownerReference of st to its Node.
func nodeOwner(st *mpv1alpha1.MultipathNodeState) *metav1.OwnerReference {
	for i, ref := range st.OwnerReferences {
		if ref.APIVersion == "v1" && ref.Kind == "Node" && ref.Name == st.Name && ref.UID != "" {
			return &st.OwnerReferences[i]
		}
	}
	return nil
}
