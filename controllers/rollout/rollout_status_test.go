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

package rollout

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/conditions/conditionstest"
	"github.com/kube-multipath/kube-multipath/internal/rolloutplan"
)

var target = mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-abc", Hash: "abc"}

// planStatus computes the rollout status of target over nodes with maxUnavailable 1.
func planStatus(t *testing.T, paused bool, nodes ...rolloutplan.Node) *rolloutplan.Status {
	t.Helper()
	p, err := rolloutplan.Compute(rolloutplan.Input{Target: target, Paused: paused, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	return &p.Status
}

func updated(name string) rolloutplan.Node {
	return rolloutplan.Node{Name: name, Desired: &target, Applied: &target, Ready: true}
}

func pending(name string) rolloutplan.Node { return rolloutplan.Node{Name: name, Ready: true} }

func failedNode(name string) rolloutplan.Node {
	return rolloutplan.Node{Name: name, Desired: &target, Failed: true, Ready: true}
}

func TestSetStatus(t *testing.T) {
	const gen = 3
	tests := map[string]struct {
		in statusInput
		// wantObserved is status.observedGeneration afterwards; it was gen-1 before.
		wantObserved int64
		// wantAbnormal is Reconciling or Stalled, True with wantReason; "" when neither.
		wantAbnormal string
		wantReady    metav1.ConditionStatus
		wantReason   string
		wantMessage  []string
		wantNodes    mpv1alpha1.NodeCounts
	}{
		"render of this generation pending: Reconciling, observedGeneration not moved": {
			in:           statusInput{render: renderView{state: renderPending}, plan: planStatus(t, false, updated("a")), selected: 1},
			wantObserved: gen - 1, wantAbnormal: mpv1alpha1.ReconcilingCondition, wantReady: metav1.ConditionFalse,
			wantReason: mpv1alpha1.RenderPendingReason, wantMessage: []string{"generation 3"},
			wantNodes: mpv1alpha1.NodeCounts{Selected: 1, Updated: 1},
		},
		"no rendered config yet: nothing to hand out, Reconciling": {
			in:           statusInput{render: renderView{state: renderPending}, selected: 2, unknown: 1},
			wantObserved: gen - 1, wantAbnormal: mpv1alpha1.ReconcilingCondition, wantReady: metav1.ConditionFalse,
			wantReason: mpv1alpha1.RenderPendingReason, wantNodes: mpv1alpha1.NodeCounts{Selected: 2, Unknown: 1},
		},
		"every node applied the rendered config: Ready": {
			in:           statusInput{render: renderView{state: renderDone}, plan: planStatus(t, false, updated("a"), updated("b"))},
			wantObserved: gen, wantReady: metav1.ConditionTrue, wantReason: mpv1alpha1.RenderedReason,
			wantMessage: []string{"All 2 nodes applied config " + target.Name},
			wantNodes:   mpv1alpha1.NodeCounts{Selected: 2, Updated: 2},
		},
		"nodes pending: Reconciling RolloutInProgress": {
			in:           statusInput{render: renderView{state: renderDone}, plan: planStatus(t, false, updated("a"), pending("b"), pending("c"))},
			wantObserved: gen, wantAbnormal: mpv1alpha1.ReconcilingCondition, wantReady: metav1.ConditionFalse,
			wantReason: mpv1alpha1.RolloutInProgressReason, wantMessage: []string{target.Name, "1 of 3 nodes applied it"},
			wantNodes: mpv1alpha1.NodeCounts{Selected: 3, Updated: 1},
		},
		"paused: Reconciling RolloutPaused, not Stalled": {
			in:           statusInput{render: renderView{state: renderDone}, plan: planStatus(t, true, updated("a"), pending("b"))},
			wantObserved: gen, wantAbnormal: mpv1alpha1.ReconcilingCondition, wantReady: metav1.ConditionFalse,
			wantReason: mpv1alpha1.RolloutPausedReason, wantMessage: []string{"paused"},
			wantNodes: mpv1alpha1.NodeCounts{Selected: 2, Updated: 1},
		},
		"failed nodes reached maxUnavailable: Stalled RolloutFailed naming them": {
			in:           statusInput{render: renderView{state: renderDone}, plan: planStatus(t, false, failedNode("node-x"), pending("b"))},
			wantObserved: gen, wantAbnormal: mpv1alpha1.StalledCondition, wantReady: metav1.ConditionFalse,
			wantReason: mpv1alpha1.RolloutFailedReason, wantMessage: []string{"node-x"},
			wantNodes: mpv1alpha1.NodeCounts{Selected: 2, Failed: 1},
		},
		"invalid spec: Stalled InvalidSpec with the render's message, the last good config still reported": {
			in: statusInput{
				render: renderView{state: renderInvalid, message: "The spec is not rendered: spec.overrides: line 2: forbidden."},
				plan:   planStatus(t, false, updated("a"), updated("b")),
			},
			wantObserved: gen, wantAbnormal: mpv1alpha1.StalledCondition, wantReady: metav1.ConditionFalse,
			wantReason:  mpv1alpha1.InvalidSpecReason,
			wantMessage: []string{"spec.overrides: line 2: forbidden.", "All 2 nodes applied config " + target.Name},
			wantNodes:   mpv1alpha1.NodeCounts{Selected: 2, Updated: 2},
		},
		"invalid spec before any render: Stalled InvalidSpec": {
			in:           statusInput{render: renderView{state: renderInvalid, message: "The spec is not rendered."}, selected: 1},
			wantObserved: gen, wantAbnormal: mpv1alpha1.StalledCondition, wantReady: metav1.ConditionFalse,
			wantReason: mpv1alpha1.InvalidSpecReason, wantMessage: []string{"no node has one to keep"},
			wantNodes: mpv1alpha1.NodeCounts{Selected: 1},
		},
		"unusable node selector: Stalled InvalidSpec, the last counts kept": {
			in:           statusInput{render: renderView{state: renderInvalid, message: "x"}, selectorErr: errors.New(`"Bogus" is not a valid label selector operator`)},
			wantObserved: gen, wantAbnormal: mpv1alpha1.StalledCondition, wantReady: metav1.ConditionFalse,
			wantReason: mpv1alpha1.InvalidSpecReason, wantMessage: []string{"spec.nodeSelector", "Bogus", "torn down"},
			wantNodes: mpv1alpha1.NodeCounts{Selected: 7, Updated: 7},
		},
		"malformed rollout policy: Stalled InvalidSpec": {
			in:           statusInput{render: renderView{state: renderDone}, planErr: errors.New(`maxUnavailable "0%" must be a number of nodes`), selected: 1},
			wantObserved: gen, wantAbnormal: mpv1alpha1.StalledCondition, wantReady: metav1.ConditionFalse,
			wantReason: mpv1alpha1.InvalidSpecReason, wantMessage: []string{"spec.rollout", "0%"},
			wantNodes: mpv1alpha1.NodeCounts{Selected: 1},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName, Generation: gen}}
			cfg.Status.ObservedGeneration = gen - 1
			cfg.Status.Nodes = mpv1alpha1.NodeCounts{Selected: 7, Updated: 7}
			// What an earlier pass left: Ready True for the previous generation.
			cfg.Generation = gen - 1
			conditions.SetSummary(cfg, conditions.Summary{Ready: true})
			cfg.Generation = gen

			setStatus(cfg, tc.in)

			if cfg.Status.ObservedGeneration != tc.wantObserved {
				t.Errorf("observedGeneration %d, want %d", cfg.Status.ObservedGeneration, tc.wantObserved)
			}
			if cfg.Status.Nodes != tc.wantNodes {
				t.Errorf("status.nodes %+v, want %+v", cfg.Status.Nodes, tc.wantNodes)
			}
			ready := conditions.Get(cfg, mpv1alpha1.ReadyCondition)
			if ready == nil || ready.Status != tc.wantReady || ready.Reason != tc.wantReason || ready.ObservedGeneration != gen {
				t.Errorf("Ready %+v, want %s with reason %s for generation %d", ready, tc.wantReady, tc.wantReason, gen)
			}
			for _, ct := range []string{mpv1alpha1.ReconcilingCondition, mpv1alpha1.StalledCondition} {
				c := conditions.Get(cfg, ct)
				switch {
				case ct == tc.wantAbnormal && (c == nil || c.Status != metav1.ConditionTrue || c.Reason != tc.wantReason):
					t.Errorf("%s %+v, want True with reason %s", ct, c, tc.wantReason)
				case ct != tc.wantAbnormal && c != nil:
					t.Errorf("%s must be absent, is %+v", ct, c)
				}
			}
			for _, s := range tc.wantMessage {
				if !strings.Contains(ready.Message, s) {
					t.Errorf("Ready message %q does not contain %q", ready.Message, s)
				}
			}
			conditionstest.AssertKstatusInvariants(t, cfg)
		})
	}
}

func TestReadRender(t *testing.T) {
	rendered := &mpv1alpha1.RenderedConfigStatus{RenderedConfigRef: target}
	tests := map[string]struct {
		cond     *metav1.Condition
		rendered *mpv1alpha1.RenderedConfigStatus
		want     renderView
	}{
		"no Rendered condition yet":             {want: renderView{state: renderPending}},
		"Rendered True for an older generation": {cond: &metav1.Condition{Status: metav1.ConditionTrue, ObservedGeneration: 1}, rendered: rendered, want: renderView{state: renderPending}},
		"Rendered True for this generation":     {cond: &metav1.Condition{Status: metav1.ConditionTrue, ObservedGeneration: 2}, rendered: rendered, want: renderView{state: renderDone}},
		"Rendered True without a rendered config is not trusted": {
			cond: &metav1.Condition{Status: metav1.ConditionTrue, ObservedGeneration: 2}, want: renderView{state: renderPending},
		},
		"Rendered False for this generation": {
			cond: &metav1.Condition{Status: metav1.ConditionFalse, ObservedGeneration: 2, Message: "bad"}, rendered: rendered,
			want: renderView{state: renderInvalid, message: "bad"},
		},
		"Rendered False for an older generation": {cond: &metav1.Condition{Status: metav1.ConditionFalse, ObservedGeneration: 1}, want: renderView{state: renderPending}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
			cfg.Status.RenderedConfig = tc.rendered
			if tc.cond != nil {
				c := *tc.cond
				c.Type, c.Reason = mpv1alpha1.RenderedCondition, "Any"
				cfg.Status.Conditions = []metav1.Condition{c}
			}
			if got := readRender(cfg); got != tc.want {
				t.Errorf("readRender = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTransitionEvents(t *testing.T) {
	summary := func(s conditions.Summary) *mpv1alpha1.MultipathConfig {
		cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
		conditions.SetSummary(cfg, s)
		return cfg
	}
	stalled := func(reason, msg string) *mpv1alpha1.MultipathConfig {
		return summary(conditions.Summary{Stalled: &conditions.Message{Reason: reason, Message: msg}})
	}
	ready := func(msg string) *mpv1alpha1.MultipathConfig {
		return summary(conditions.Summary{Ready: true, ReadyMessage: conditions.Message{Reason: mpv1alpha1.RenderedReason, Message: msg}})
	}
	inProgress := summary(conditions.Summary{Reconciling: &conditions.Message{Reason: mpv1alpha1.RolloutInProgressReason, Message: "going"}})
	tests := map[string]struct {
		before, after *mpv1alpha1.MultipathConfig
		want          []rolloutEvent
	}{
		"first status, nothing notable":  {before: &mpv1alpha1.MultipathConfig{}, after: inProgress},
		"the rollout stops on failures":  {before: inProgress, after: stalled(mpv1alpha1.RolloutFailedReason, "stopped: a, b"), want: []rolloutEvent{{corev1.EventTypeWarning, mpv1alpha1.RolloutFailedReason, "stopped: a, b"}}},
		"still stopped: no repeat":       {before: stalled(mpv1alpha1.RolloutFailedReason, "stopped: a"), after: stalled(mpv1alpha1.RolloutFailedReason, "stopped: a, b")},
		"stalled on an invalid spec":     {before: inProgress, after: stalled(mpv1alpha1.InvalidSpecReason, "bad spec")},
		"the rollout completes":          {before: inProgress, after: ready("All 2 nodes applied config x."), want: []rolloutEvent{{corev1.EventTypeNormal, mpv1alpha1.RolloutCompleteReason, "All 2 nodes applied config x."}}},
		"still complete: no repeat":      {before: ready("All 2 nodes applied config x."), after: ready("All 2 nodes applied config x.")},
		"complete again with a new node": {before: ready("All 2 nodes applied config x."), after: ready("All 3 nodes applied config x."), want: []rolloutEvent{{corev1.EventTypeNormal, mpv1alpha1.RolloutCompleteReason, "All 3 nodes applied config x."}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := transitionEvents(tc.before, tc.after)
			if len(got) != len(tc.want) {
				t.Fatalf("events %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("event %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
