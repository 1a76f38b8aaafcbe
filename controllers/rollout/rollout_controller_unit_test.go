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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func readyNode(labels map[string]string, ready corev1.ConditionStatus, heartbeat time.Time) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n", UID: "u1", Labels: labels},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: metav1.NewTime(heartbeat)},
			{Type: corev1.NodeReady, Status: ready, LastHeartbeatTime: metav1.NewTime(heartbeat)},
		}},
	}
}

func TestNodeChanged(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	base := readyNode(map[string]string{"a": "1"}, corev1.ConditionTrue, t0)
	tests := map[string]struct {
		new  *corev1.Node
		want bool
	}{
		"a heartbeat is dropped":           {new: readyNode(map[string]string{"a": "1"}, corev1.ConditionTrue, t0.Add(time.Minute)), want: false},
		"a label change passes":            {new: readyNode(map[string]string{"a": "2"}, corev1.ConditionTrue, t0), want: true},
		"a label removal passes":           {new: readyNode(nil, corev1.ConditionTrue, t0), want: true},
		"the node turning NotReady passes": {new: readyNode(map[string]string{"a": "1"}, corev1.ConditionFalse, t0), want: true},
		"Ready becoming Unknown passes":    {new: readyNode(map[string]string{"a": "1"}, corev1.ConditionUnknown, t0), want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := (nodeChanged{}).Update(event.UpdateEvent{ObjectOld: base, ObjectNew: tc.new}); got != tc.want {
				t.Errorf("Update = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNodeStateChanged(t *testing.T) {
	cfgA := &mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-a", Hash: "a"}
	base := func() *mpv1alpha1.MultipathNodeState {
		st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n", Generation: 2}}
		st.Spec.DesiredConfig = cfgA
		st.Status.Conditions = []metav1.Condition{{Type: mpv1alpha1.DegradedCondition, Status: metav1.ConditionFalse, ObservedGeneration: 2, Reason: "Applied"}}
		return st
	}
	tests := map[string]struct {
		mutate func(*mpv1alpha1.MultipathNodeState)
		want   bool
	}{
		"a map and path report is dropped": {mutate: func(st *mpv1alpha1.MultipathNodeState) {
			st.Status.MapCount = 3
			st.Status.Maps = []mpv1alpha1.MapStatus{{WWID: "w1", State: "optimal"}}
		}, want: false},
		"a Degraded message change is dropped": {mutate: func(st *mpv1alpha1.MultipathNodeState) { st.Status.Conditions[0].Message = "still fine" }, want: false},
		"a spec change passes":                 {mutate: func(st *mpv1alpha1.MultipathNodeState) { st.Generation = 3 }, want: true},
		"appliedConfig passes":                 {mutate: func(st *mpv1alpha1.MultipathNodeState) { st.Status.AppliedConfig = cfgA }, want: true},
		"Degraded turning True passes":         {mutate: func(st *mpv1alpha1.MultipathNodeState) { st.Status.Conditions[0].Status = metav1.ConditionTrue }, want: true},
		"Degraded for a new generation passes": {mutate: func(st *mpv1alpha1.MultipathNodeState) { st.Status.Conditions[0].ObservedGeneration = 3 }, want: true},
		"deletion passes":                      {mutate: func(st *mpv1alpha1.MultipathNodeState) { st.DeletionTimestamp = new(metav1.Now()) }, want: true},
		"an owner change passes": {mutate: func(st *mpv1alpha1.MultipathNodeState) {
			st.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n", UID: "u"}}
		}, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n := base()
			tc.mutate(n)
			if got := (nodeStateChanged{}).Update(event.UpdateEvent{ObjectOld: base(), ObjectNew: n}); got != tc.want {
				t.Errorf("Update = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFailed(t *testing.T) {
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
	st.Status.Conditions = []metav1.Condition{{Type: mpv1alpha1.DegradedCondition, Status: metav1.ConditionTrue, ObservedGeneration: 3}}
	if failed(st) {
		t.Error("Degraded True for generation 3 counted as a failure of generation 4's spec")
	}
	st.Status.Conditions[0].ObservedGeneration = 4
	if !failed(st) {
		t.Error("Degraded True for the current generation not counted as failed")
	}
}

func TestExpectations(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	state := func(uid string, gen int64) *mpv1alpha1.MultipathNodeState {
		return &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n", UID: types.UID(uid), Generation: gen}}
	}
	var e expectations
	if got := e.unsatisfied(nil, now); len(got) != 0 {
		t.Fatalf("zero value waits for %v", got)
	}

	e.wrote(state("u1", 3))
	cache := map[string]*mpv1alpha1.MultipathNodeState{"n": state("u1", 2)}
	if got := e.unsatisfied(cache, time.Now()); len(got) != 1 {
		t.Fatalf("a cache at generation 2 met a write of generation 3")
	}
	cache["n"] = state("u1", 3)
	if got := e.unsatisfied(cache, time.Now()); len(got) != 0 {
		t.Fatalf("a cache at generation 3 did not meet a write of generation 3: %v", got)
	}

	e.deleted(state("u1", 3))
	if got := e.unsatisfied(cache, time.Now()); len(got) != 1 {
		t.Fatalf("a cache still holding the deleted object met the deletion")
	}
	if got := e.unsatisfied(map[string]*mpv1alpha1.MultipathNodeState{}, time.Now()); len(got) != 0 {
		t.Fatalf("a cache without the object did not meet the deletion: %v", got)
	}

	e.wrote(state("u2", 1))
	if got := e.unsatisfied(nil, time.Now().Add(expectationTTL+time.Second)); len(got) != 0 {
		t.Fatalf("an expectation outlived its TTL: %v", got)
	}
}
