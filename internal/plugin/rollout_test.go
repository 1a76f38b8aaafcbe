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

package plugin

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func TestBuildRollout(t *testing.T) {
	cond := func(typ, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: msg}
	}
	notReady := metav1.Condition{Type: mpv1alpha1.ReadyCondition, Status: metav1.ConditionFalse, Reason: "X", Message: "not ready"}
	tests := map[string]struct {
		conds      []metav1.Condition
		generation int64
		want       string
		wantLine   string
	}{
		"no status yet": {want: RolloutUnknown, wantLine: "Rollout: unknown: the operator has not written the MultipathConfig's status\n"},
		"complete": {
			conds: []metav1.Condition{cond(mpv1alpha1.ReadyCondition, mpv1alpha1.RenderedReason, "All 3 nodes applied config c1.")},
			want:  RolloutComplete, wantLine: "Rollout: complete: All 3 nodes applied config c1.\n",
		},
		"paused": {
			conds: []metav1.Condition{notReady, cond(mpv1alpha1.ReconcilingCondition, mpv1alpha1.RolloutPausedReason, "Rollout of config c2 is paused: 1 of 3 nodes applied it.")},
			want:  RolloutPaused, wantLine: "Rollout: paused: Rollout of config c2 is paused: 1 of 3 nodes applied it.\n",
		},
		"stopped on failures wins over reconciling": {
			conds: []metav1.Condition{notReady, cond(mpv1alpha1.ReconcilingCondition, mpv1alpha1.RolloutInProgressReason, "x"),
				cond(mpv1alpha1.StalledCondition, mpv1alpha1.RolloutFailedReason, "Rollout of config c2 stopped: 2 nodes failed.")},
			want: RolloutStopped, wantLine: "Rollout: stopped: Rollout of config c2 stopped: 2 nodes failed.\n",
		},
		"in progress": {
			conds: []metav1.Condition{notReady, cond(mpv1alpha1.ReconcilingCondition, mpv1alpha1.RolloutInProgressReason, "Rolling out config c2: 1 of 3 nodes applied it.")},
			want:  RolloutProgressing, wantLine: "Rollout: rolling out: Rolling out config c2: 1 of 3 nodes applied it.\n",
		},
		"waiting for the render, with a newer generation": {
			conds:      []metav1.Condition{notReady, cond(mpv1alpha1.ReconcilingCondition, mpv1alpha1.RenderPendingReason, "Waiting for generation 4.")},
			generation: 4,
			want:       RolloutPending, wantLine: "Rollout: waiting for render: Waiting for generation 4. (the operator has not acted on the latest spec yet)\n",
		},
		"tearing down, held by in-use LUNs": {
			conds: []metav1.Condition{notReady, cond(mpv1alpha1.ReconcilingCondition, mpv1alpha1.TeardownInProgressReason, "MultipathConfig cluster is being deleted."),
				cond(mpv1alpha1.TeardownHeldCondition, mpv1alpha1.InUseLUNsReason, "LUN data01 is in use on worker-1 (Mount /srv).")},
			want: RolloutTearDown, wantLine: "Rollout: tearing down: MultipathConfig cluster is being deleted.\nTeardown held: LUN data01 is in use on worker-1 (Mount /srv).\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster", Generation: max(tc.generation, 3)}}
			cfg.Status.ObservedGeneration = 3
			cfg.Status.Conditions = tc.conds
			r := BuildRollout(cfg)
			if r.State != tc.want {
				t.Errorf("state = %q, want %q", r.State, tc.want)
			}
			var b strings.Builder
			formatRollout(&b, r, false)
			if got := strings.TrimSuffix(b.String(), "\n"); got != tc.wantLine {
				t.Errorf("line = %q, want %q", got, tc.wantLine)
			}
		})
	}
	if BuildRollout(nil) != nil {
		t.Error("no MultipathConfig, no rollout")
	}
}
