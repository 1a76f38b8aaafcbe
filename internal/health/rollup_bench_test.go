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

package health_test

import (
	"fmt"
	"slices"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
)

// scaleCluster builds the design's scale: 10,000 LUNs x 1,000 nodes, every node carrying
// every LUN (10 million cells). Nodes share a few map slices (the roll-up only reads them):
// 90% all optimal, 5% with 1% degraded maps, 2% missing 0.2% of the maps, 1% with 0.1%
// failed, 1% stale, 1% NotReady. When distinct is false, 90% of the LUNs share the all-nodes
// slice (what NodeSet.Expected returns for LUNs expected everywhere) and 10% expect two nodes
// (local PVs); when true, every LUN holds its own copy of the 1,000 names (the worst case for
// the expected-set cache).
func scaleCluster(nLUNs, nNodes int, distinct bool) ([]health.LUN, []health.Node) {
	wwids := make([]string, nLUNs)
	good := make([]mpv1alpha1.MapStatus, nLUNs)
	for i := range wwids {
		wwids[i] = fmt.Sprintf("3600a0980383030%018d", i)
		good[i] = mpv1alpha1.MapStatus{WWID: wwids[i], Name: wwids[i], State: mpv1alpha1.MapOptimal, ActivePaths: 4, TotalPaths: 4}
	}
	variant := func(every int, st mpv1alpha1.MapState, drop bool) []mpv1alpha1.MapStatus {
		out := make([]mpv1alpha1.MapStatus, 0, nLUNs)
		for i, m := range good {
			if i%every == 0 {
				if drop {
					continue
				}
				m.State, m.ActivePaths = st, 2
				if st == mpv1alpha1.MapFailed {
					m.ActivePaths = 0
				}
			}
			out = append(out, m)
		}
		return out
	}
	degradedMaps := variant(100, mpv1alpha1.MapDegraded, false)
	missingMaps := variant(500, "", true)
	failedMaps := variant(1000, mpv1alpha1.MapFailed, false)

	nodes := make([]health.Node, nNodes)
	names := make([]string, nNodes)
	for i := range nodes {
		names[i] = fmt.Sprintf("node-%04d", i)
		n := node(names[i], maps(good...))
		switch i % 100 {
		case 0, 1, 2, 3, 4:
			n.Maps = degradedMaps
		case 5, 6:
			n.Maps = missingMaps
		case 7:
			n.Maps = failedMaps
		case 8:
			n.LastHeartbeat = now.Add(-10 * interval)
		case 9:
			n.Ready = false
		}
		nodes[i] = n
	}
	luns := make([]health.LUN, nLUNs)
	for l := range luns {
		luns[l].WWID = wwids[l]
		switch {
		case distinct:
			luns[l].ExpectedNodes = slices.Clone(names)
		case l%10 == 9:
			luns[l].ExpectedNodes = []string{names[l%nNodes], names[(l+1)%nNodes]}
		default:
			luns[l].ExpectedNodes = names
		}
	}
	return luns, nodes
}

func BenchmarkRollup(b *testing.B) {
	for _, bc := range []struct {
		name        string
		luns, nodes int
		distinct    bool
	}{
		{"10000LUNs_x_1000nodes_shared_expected", 10000, 1000, false},
		{"10000LUNs_x_1000nodes_distinct_expected", 10000, 1000, true},
		{"1000LUNs_x_100nodes_shared_expected", 1000, 100, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			luns, nodes := scaleCluster(bc.luns, bc.nodes, bc.distinct)
			b.ReportAllocs()
			var out []mpv1alpha1.LUNHealth
			for b.Loop() {
				out = health.Rollup(luns, nodes, now)
			}
			b.StopTimer()
			if len(out) != bc.luns || out[0].State != mpv1alpha1.MapFailed || out[0].Nodes == "" {
				b.Fatalf("unexpected result: %d LUNs, first %+v", len(out), out[0])
			}
		})
	}
}

// The scale cluster's results, checked once so that the benchmark measures the right thing.
func TestScaleClusterRollup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10 million cells")
	}
	luns, nodes := scaleCluster(10000, 1000, false)
	out := health.Rollup(luns, nodes, now)
	// LUN 0: 5 nodes degraded, 2 missing, 1 failed, 1 stale, 1 NotReady per 100 nodes.
	want0 := counts(900, 50, 10, 20, 20)
	if out[0].State != mpv1alpha1.MapFailed || out[0].Counts != want0 || out[0].Nodes != "900/1000" || len(out[0].NonOptimal) != health.MaxNonOptimal {
		t.Errorf("LUN 0 = %s %s %+v, %d listed", out[0].State, out[0].Nodes, out[0].Counts, len(out[0].NonOptimal))
	}
	// LUN 1: only the stale and NotReady nodes are not optimal.
	if out[1].State != mpv1alpha1.MapUnknown || out[1].Counts != counts(980, 0, 0, 0, 20) {
		t.Errorf("LUN 1 = %s %+v", out[1].State, out[1].Counts)
	}
	// LUN 9 expects node-0009 (NotReady) and node-0010.
	if out[9].State != mpv1alpha1.MapUnknown || out[9].Nodes != "1/2" || len(out[9].NonOptimal) != 1 || out[9].NonOptimal[0].Node != "node-0009" {
		t.Errorf("LUN 9 = %+v", out[9])
	}
}
