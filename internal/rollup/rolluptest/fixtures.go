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

// Package rolluptest builds the objects the health roll-up reads (Nodes, MultipathNodeStates,
// Leases, MultipathWWIDs, PersistentVolumes), for the tests of internal/rollup and of the health
// controller.
package rolluptest

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
)

// Now and Interval are the tests' clock and the agents' refresh interval.
var (
	Now      = time.Date(2026, time.March, 4, 5, 6, 7, 0, time.UTC)
	Interval = 10 * time.Second
)

// WWID is a LUN's WWID.
const WWID = "3600a098038303053453f463045727a4d"

// Node is a Ready Node labelled san=fc, changed by opts.
func Node(name string, opts ...func(*corev1.Node)) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"san": "fc"}}}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	for _, o := range opts {
		o(&n)
	}
	return n
}

// Labelled replaces a Node's labels with the key-value pairs kv.
func Labelled(kv ...string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

// NotReady makes a Node not Ready.
func NotReady(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }

// State is a MultipathNodeState that reported the maps ms.
func State(name string, ms ...mpv1alpha1.MapStatus) mpv1alpha1.MultipathNodeState {
	s := mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name}}
	s.Status.ObservedGeneration = 1
	s.Status.Maps = ms
	s.Status.MapCount = int32(len(ms))
	return s
}

// DegradedState is a MultipathNodeState whose last apply failed with msg since since.
func DegradedState(name, msg string, since time.Time) mpv1alpha1.MultipathNodeState {
	s := State(name)
	s.Status.Conditions = []metav1.Condition{{Type: mpv1alpha1.DegradedCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.ApplyFailedReason,
		Message: msg, LastTransitionTime: metav1.NewTime(since)}}
	return s
}

// MapOf is one reported map.
func MapOf(w string, st mpv1alpha1.MapState, active, total int32) mpv1alpha1.MapStatus {
	return mpv1alpha1.MapStatus{WWID: w, Name: w, State: st, ActivePaths: active, TotalPaths: total}
}

// Lease is node's agent Lease, renewed at renewed.
func Lease(node string, renewed time.Time) coordinationv1.Lease {
	return coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: rules.LeaseName(node), Namespace: "kube-multipath-system"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(node),
			LeaseDurationSeconds: ptr.To[int32](40),
			RenewTime:            ptr.To(metav1.NewMicroTime(renewed)),
		},
	}
}

// LUN is a MultipathWWID of WWID w, changed by opts.
func LUN(name, w string, opts ...func(*mpv1alpha1.MultipathWWID)) mpv1alpha1.MultipathWWID {
	o := mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: w}}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// ConsumedBy sets status.consumers.
func ConsumedBy(pvs ...string) func(*mpv1alpha1.MultipathWWID) {
	return func(w *mpv1alpha1.MultipathWWID) {
		w.Status.Consumers = pvs
		w.Status.ConsumerCount = int32(len(pvs))
	}
}

// PinnedPV is a PersistentVolume usable only on nodes (anywhere without any).
func PinnedPV(name string, nodes ...string) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if len(nodes) > 0 {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: nodes}},
		}}}}
	}
	return pv
}

// Config is the MultipathConfig cluster with the node selector sel.
func Config(sel *metav1.LabelSelector) *mpv1alpha1.MultipathConfig {
	return &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}, Spec: mpv1alpha1.MultipathConfigSpec{NodeSelector: sel}}
}
