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

package sim_test

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// BenchmarkAPIServerCPU measures what one request of each kind a rollout makes per node costs
// kube-apiserver in CPU (read from /proc, reported as apiserver-cpu-ms/request; an op is 50
// requests), on MultipathNodeStates reporting 10 and 100 optimal maps of 4 paths as the agent
// reports them (a node's share of 1,000 and 10,000 LUNs in 100 host groups).
// docs/performance.md explains the apply figures with it: the floor is one write, a rollout is
// a few of these per node.
func BenchmarkAPIServerCPU(b *testing.B) {
	for _, maps := range []int{10, 100} {
		b.Run(fmt.Sprintf("maps=%d", maps), func(b *testing.B) { benchAPIServerCPU(b, maps, false) })
	}
	// The same 100 maps reported with the paths and path groups of the optimal ones (all of
	// them here), as agents before 2026-12-07 reported them: what leaving them out saved.
	b.Run("maps=100/optimal-paths-listed", func(b *testing.B) { benchAPIServerCPU(b, 100, true) })
}

func benchAPIServerCPU(b *testing.B, maps int, listOptimalPaths bool) {
	env, err := testenv.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.Stop() })
	pid, ok := sim.ChildrenNamed("kube-apiserver")["kube-apiserver"]
	if !ok {
		b.Fatal("no kube-apiserver child process")
	}
	ctx, c := context.Background(), env.Client
	const states = 50
	name := func(i int) string { return fmt.Sprintf("node-%03d", i%states) }
	for i := range states {
		st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name(i)}}
		if err := c.Create(ctx, st); err != nil {
			b.Fatal(err)
		}
		served := make([]multipathdtest.Map, maps)
		for m := range served {
			served[m] = multipathdtest.HealthyMap(sim.WWID(m), sim.Alias(m), 4)
		}
		if st.Status.Maps, err = sim.ReportedMaps(served); err != nil {
			b.Fatal(err)
		}
		if listOptimalPaths {
			parsed, err := multipathd.ParseMapsJSON([]byte(multipathdtest.MapsJSON(served)))
			if err != nil {
				b.Fatal(err)
			}
			full := map[string]mpv1alpha1.MapStatus{}
			for _, m := range parsed {
				s := mapstatus.FromMap(m)
				full[s.WWID] = s
			}
			for m := range st.Status.Maps {
				st.Status.Maps[m] = full[st.Status.Maps[m].WWID]
			}
		}
		st.Status.MapCount = int32(maps)
		if err := c.Status().Update(ctx, st); err != nil {
			b.Fatal(err)
		}
	}
	ref := func(n int) map[string]any {
		return map[string]any{"name": fmt.Sprintf("multipath-rendered-%016x", n), "hash": fmt.Sprintf("%064x", n)}
	}
	// One op is a batch of requests: /proc counts CPU in 10 ms ticks, and make bench runs 3 ops.
	const batch = 50
	run := func(b *testing.B, op func(i int) error) {
		before, err := sim.ProcessCPU(pid)
		if err != nil {
			b.Fatal(err)
		}
		requests := 0
		for b.Loop() {
			for range batch {
				if err := op(requests); err != nil {
					b.Fatal(err)
				}
				requests++
			}
		}
		after, err := sim.ProcessCPU(pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64((after-before).Microseconds())/1000/float64(requests), "apiserver-cpu-ms/request")
	}
	n := 0
	b.Run("get", func(b *testing.B) {
		run(b, func(i int) error {
			return c.Get(ctx, client.ObjectKey{Name: name(i)}, &mpv1alpha1.MultipathNodeState{})
		})
	})
	b.Run("merge-patch-spec", func(b *testing.B) { // the rollout's hand-out
		run(b, func(i int) error {
			n++
			p := fmt.Sprintf(`{"spec":{"desiredConfig":{"name":%q,"hash":%q}}}`, ref(n)["name"], ref(n)["hash"])
			return c.Patch(ctx, &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name(i)}}, client.RawPatch("application/merge-patch+json", []byte(p)))
		})
	})
	b.Run("apply-spec", func(b *testing.B) { // the same by server-side apply
		run(b, func(i int) error {
			n++
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": mpv1alpha1.GroupVersion.String(), "kind": "MultipathNodeState",
				"metadata": map[string]any{"name": name(i)}, "spec": map[string]any{"desiredConfig": ref(n)},
			}}
			return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("bench"), client.ForceOwnership)
		})
	})
	b.Run("apply-status", func(b *testing.B) { // the agent's report
		run(b, func(i int) error {
			n++
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": mpv1alpha1.GroupVersion.String(), "kind": "MultipathNodeState",
				"metadata": map[string]any{"name": name(i)}, "status": map[string]any{"appliedConfig": ref(n)},
			}}
			return c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("bench"), client.ForceOwnership)
		})
	})
}
