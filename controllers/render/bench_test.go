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

package render

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// BenchmarkFullReconcileDecision measures the whole in-memory part of a reconcile at scale: the
// consumer match of every PersistentVolume, per-object validation, conflict resolution, the
// renders (status.renderedConfig and status.heldConfig: every LUN here is in use) and the
// ConfigMap packing. API round trips are measured by the scale harness instead.
func BenchmarkFullReconcileDecision(b *testing.B) {
	r := &Reconciler{}
	for _, n := range []int{1000, 10000} {
		in := benchInputs(n)
		b.Run(fmt.Sprintf("luns=%d,pvs=%d", n, n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out := decide(in)
				r, held := r.renderConfigs(in.config, &out)
				if r == nil || held == nil {
					b.Fatalf("rendered %v, held %v: %s", r, held, out.configErr)
				}
				if _, _, err := multipathconf.Pack(r); err != nil {
					b.Fatal(err)
				}
				if r.LUNs != n {
					b.Fatalf("rendered %d LUNs, want %d", r.LUNs, n)
				}
			}
		})
	}
}

// BenchmarkDecisionWithNodeReports adds what the agents report to the decision: every node
// reports every LUN's map (under the operator's name), and 1 map in 100 is mounted there (in
// use from the node: status.openOn, the finalizer, the adoption and WouldRename checks).
func BenchmarkDecisionWithNodeReports(b *testing.B) {
	for _, c := range []struct{ luns, nodes int }{{1000, 100}, {1000, 1000}} {
		in := benchInputs(c.luns)
		in.states = benchStates(in.wwids, c.nodes)
		b.Run(fmt.Sprintf("luns=%d,nodes=%d", c.luns, c.nodes), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out := decide(in)
				if len(out.render) != c.luns {
					b.Fatalf("rendered %d LUNs, want %d", len(out.render), c.luns)
				}
			}
		})
	}
}

func benchStates(wwids []mpv1alpha1.MultipathWWID, nodes int) []mpv1alpha1.MultipathNodeState {
	states := make([]mpv1alpha1.MultipathNodeState, nodes)
	for n := range states {
		st := &states[n]
		st.Name = fmt.Sprintf("worker-%04d", n)
		st.Status.Maps = make([]mpv1alpha1.MapStatus, len(wwids))
		for i := range wwids {
			m := &st.Status.Maps[i]
			m.WWID, m.Name, m.State = wwids[i].Spec.WWID, wwids[i].Spec.Alias, mpv1alpha1.MapOptimal
			if (i+n)%100 == 0 {
				m.OpenCount = 1
				m.Users = []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/mnt/" + m.Name}}
			}
		}
	}
	return states
}

func benchInputs(n int) inputs {
	in := inputs{config: &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}}
	queue := intstr.FromString("queue")
	for i := range n {
		w := mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("lun-%05d", i)}}
		w.Spec.WWID = fmt.Sprintf("3600a0980383030534%014d", i)
		w.Spec.Alias = fmt.Sprintf("data%05d", i)
		w.Spec.NoPathRetry = &queue
		w.Spec.PathGroupingPolicy = mpv1alpha1.PathGroupingGroupByPrio
		in.wwids = append(in.wwids, w)
		pv := corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pv-%05d", i)}}
		switch i % 3 {
		case 0:
			pv.Spec.FC = &corev1.FCVolumeSource{WWIDs: []string{w.Spec.WWID}}
		case 1:
			pv.Spec.Local = &corev1.LocalVolumeSource{Path: "/dev/mapper/" + w.Spec.Alias}
		default:
			pv.Annotations = map[string]string{mpv1alpha1.WWIDAnnotation: w.Spec.WWID}
		}
		in.pvs = append(in.pvs, pv)
	}
	return in
}
