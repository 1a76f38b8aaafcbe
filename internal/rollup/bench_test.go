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

package rollup

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// scaleInputs is a cluster of nodes x luns as the controller's cache returns it: every node
// managed and carrying every LUN, 1% of the nodes with a degraded map, 1% with a missing one, 1%
// with a stale Lease, 1% NotReady, 1% failing their apply; 10% of the LUNs consumed by a volume
// pinned to two nodes.
func scaleInputs(nodes, luns int) *Inputs {
	in := &Inputs{Config: config(nil), PVs: map[string]*corev1.PersistentVolume{}}
	good := make([]mpv1alpha1.MapStatus, luns)
	for l := range luns {
		w := fmt.Sprintf("3600a0980383030%018d", l)
		good[l] = mapOf(w, mpv1alpha1.MapOptimal, 4, 4)
		o := wwidObj(fmt.Sprintf("lun-%05d", l), w)
		if l%10 == 0 {
			pv := fmt.Sprintf("pv-%05d", l)
			o.Status.Consumers, o.Status.ConsumerCount = []string{pv}, 1
			in.PVs[pv] = pinnedPV(pv, fmt.Sprintf("node-%04d", l%nodes), fmt.Sprintf("node-%04d", (l+1)%nodes))
		}
		in.WWIDs = append(in.WWIDs, o)
	}
	degradedMaps := append([]mpv1alpha1.MapStatus(nil), good...)
	degradedMaps[0] = mapOf(good[0].WWID, mpv1alpha1.MapDegraded, 2, 4)
	missingMaps := append(good[:1:1], good[2:]...)
	for i := range nodes {
		name := fmt.Sprintf("node-%04d", i)
		n := node(name, labelled(corev1.LabelHostname, name))
		renewed := now.Add(-time.Second)
		var s mpv1alpha1.MultipathNodeState
		switch i % 100 {
		case 1:
			s = state(name, degradedMaps...)
		case 2:
			s = state(name, missingMaps...)
		case 3:
			renewed = now.Add(-time.Minute)
			s = state(name, good...)
		case 4:
			n = node(name, labelled(corev1.LabelHostname, name), notReady)
			s = state(name, good...)
		case 5:
			s = degradedState(name, "apply failed", now.Add(-time.Duration(i)*time.Second))
			s.Status.Maps = good
		default:
			s = state(name, good...)
		}
		in.Nodes = append(in.Nodes, n)
		in.States = append(in.States, s)
		in.Leases = append(in.Leases, lease(name, renewed))
	}
	return in
}

// BenchmarkPass is the pure part of one reconcile at scale: the roll-up (Decide) and the
// comparison of every LUN's health with its status (a steady pass: nothing to write).
func BenchmarkPass(b *testing.B) {
	for _, bc := range []struct{ nodes, luns int }{{1000, 1000}, {200, 1000}, {100, 100}} {
		b.Run(fmt.Sprintf("%dnodes_x_%dLUNs", bc.nodes, bc.luns), func(b *testing.B) {
			in := scaleInputs(bc.nodes, bc.luns)
			first := Decide(in, now, interval)
			for i := range in.WWIDs {
				SetWWIDHealth(&in.WWIDs[i], first.Health[i])
			}
			cfg := in.Config.DeepCopy()
			SetConfigHealth(cfg, first.LUNCounts, first.ConfigNodeErrors())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				out := Decide(in, now, interval)
				changed := 0
				for i := range in.WWIDs {
					if SetWWIDHealth(&in.WWIDs[i], out.Health[i]) {
						changed++
					}
				}
				if SetConfigHealth(cfg, out.LUNCounts, out.ConfigNodeErrors()) {
					changed++
				}
				if changed != 0 {
					b.Fatalf("%d objects changed in a steady pass", changed)
				}
			}
		})
	}
}

// The scale cluster's roll-up, checked once so that the benchmark measures the right thing.
func TestScaleCluster(t *testing.T) {
	out := Decide(scaleInputs(1000, 1000), now, interval)
	// LUN 0 is consumed by a volume pinned to node-0000 and node-0001 (degraded there).
	if h := out.Health[0]; h.State != mpv1alpha1.MapDegraded || h.Nodes != "1/2" {
		t.Errorf("LUN 0 = %+v", h)
	}
	// LUN 1: 10 nodes missing it, 10 stale, 10 NotReady.
	if h := out.Health[1]; h.State != mpv1alpha1.MapMissing || h.Nodes != "970/1000" || h.Counts.Unknown != 20 || len(h.NonOptimal) != 30 {
		t.Errorf("LUN 1 = %s %s %+v, %d listed", h.State, h.Nodes, h.Counts, len(h.NonOptimal))
	}
	if out.Untrusted != 20 || out.ApplyFailing != 10 || len(out.NodeErrors) != 10 || out.LUNCounts.Degraded != 1 {
		t.Errorf("untrusted %d, failing %d, listed %d, counts %+v", out.Untrusted, out.ApplyFailing, len(out.NodeErrors), out.LUNCounts)
	}
}

// groupInputs is the scale harness's cluster (test/scale): nodes and LUNs in host groups, node k
// and LUN l in group k%groups and l%groups, each LUN selecting its group's nodes by label
// (spec.nodeSelector) and consumed by one volume usable anywhere, each node reporting its
// group's maps, all optimal. Every LUN's selector is evaluated against every node.
func groupInputs(nodes, luns, groups int) *Inputs {
	const groupLabel = "scale.kube-multipath.io/host-group"
	in := &Inputs{Config: config(nil), PVs: map[string]*corev1.PersistentVolume{}}
	groupMaps := make([][]mpv1alpha1.MapStatus, groups)
	for l := range luns {
		w := fmt.Sprintf("3600a0980383030%018d", l)
		g := l % groups
		groupMaps[g] = append(groupMaps[g], mapOf(w, mpv1alpha1.MapOptimal, 4, 4))
		pv := fmt.Sprintf("pv-%05d", l)
		o := wwidObj(fmt.Sprintf("lun-%05d", l), w, consumedBy(pv))
		o.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{groupLabel: fmt.Sprintf("g%03d", g)}}
		in.PVs[pv] = &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pv}}
		in.WWIDs = append(in.WWIDs, o)
	}
	for i := range nodes {
		name := fmt.Sprintf("node-%04d", i)
		in.Nodes = append(in.Nodes, node(name, labelled(corev1.LabelHostname, name, groupLabel, fmt.Sprintf("g%03d", i%groups), "kube-multipath.io/san", "true")))
		in.States = append(in.States, state(name, groupMaps[i%groups]...))
		in.Leases = append(in.Leases, lease(name, now.Add(-time.Second)))
	}
	return in
}

// BenchmarkDecideHostGroups is the roll-up of the scale harness's memory step (1,000 nodes,
// 10,000 LUNs in 100 host groups, each LUN with a node selector): Decide alone, what every
// health pass computes before it writes.
func BenchmarkDecideHostGroups(b *testing.B) {
	for _, bc := range []struct{ nodes, luns, groups int }{{1000, 10000, 100}, {100, 1000, 100}} {
		b.Run(fmt.Sprintf("%dnodes_x_%dLUNs_%dgroups", bc.nodes, bc.luns, bc.groups), func(b *testing.B) {
			in := groupInputs(bc.nodes, bc.luns, bc.groups)
			b.ReportAllocs()
			for b.Loop() {
				if out := Decide(in, now, interval); out.LUNCounts.Optimal != int32(bc.luns) {
					b.Fatalf("%+v LUNs, want %d optimal", out.LUNCounts, bc.luns)
				}
			}
		})
	}
}
