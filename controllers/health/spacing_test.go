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

package health

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/rollup"
	"github.com/kube-multipath/kube-multipath/internal/scheme"
)

func TestUntilNextPass(t *testing.T) {
	t0 := time.Now()
	tests := map[string]struct {
		last, now time.Time
		min       time.Duration
		want      time.Duration
	}{
		"no pass yet: run now":                  {last: time.Time{}, now: t0, min: time.Second, want: 0},
		"no spacing: run now, even at once":     {last: t0, now: t0, min: 0, want: 0},
		"at once: wait the whole interval":      {last: t0, now: t0, min: time.Second, want: time.Second},
		"300 ms after: wait the other 700 ms":   {last: t0, now: t0.Add(300 * time.Millisecond), min: time.Second, want: 700 * time.Millisecond},
		"exactly the interval after: run now":   {last: t0, now: t0.Add(time.Second), min: time.Second, want: 0},
		"long after: run now":                   {last: t0, now: t0.Add(time.Minute), min: time.Second, want: 0},
		"clock behind the last pass: capped":    {last: t0, now: t0.Add(-time.Hour), min: time.Second, want: time.Second},
		"negative spacing counts as no spacing": {last: t0, now: t0, min: -time.Second, want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := untilNextPass(tc.last, tc.now, tc.min); got != tc.want {
				t.Errorf("untilNextPass = %s, want %s", got, tc.want)
			}
		})
	}
}

// counting is a fake API server behind a client that counts the passes (one list of
// MultipathWWIDs each) and the status patches by kind. Tests read the fake through direct.
type counting struct {
	client.Client
	direct  client.Client
	mu      sync.Mutex
	passes  int
	patches map[string]int
}

func (c *counting) take() (passes, wwids, configs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	passes, wwids, configs = c.passes, c.patches["MultipathWWID"], c.patches["MultipathConfig"]
	c.passes, c.patches = 0, map[string]int{}
	return passes, wwids, configs
}

func newCounting(t *testing.T, objs ...client.Object) *counting {
	t.Helper()
	c := &counting{patches: map[string]int{}}
	inner := fake.NewClientBuilder().WithScheme(scheme.New()).
		WithStatusSubresource(&mpv1alpha1.MultipathWWID{}, &mpv1alpha1.MultipathConfig{}).
		WithObjects(objs...).Build()
	c.direct = inner
	c.Client = interceptor.NewClient(inner, interceptor.Funcs{
		List: func(ctx context.Context, cl client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*mpv1alpha1.MultipathWWIDList); ok {
				c.mu.Lock()
				c.passes++
				c.mu.Unlock()
			}
			return cl.List(ctx, list, opts...)
		},
		SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			if err := cl.SubResource(sub).Patch(ctx, obj, p, opts...); err != nil {
				return err
			}
			c.mu.Lock()
			switch obj.(type) {
			case *mpv1alpha1.MultipathWWID:
				c.patches["MultipathWWID"]++
			case *mpv1alpha1.MultipathConfig:
				c.patches["MultipathConfig"]++
			}
			c.mu.Unlock()
			return nil
		},
	})
	return c
}

// cluster is one Ready node with a fresh Lease reporting luns maps, the first `failing` of them
// failed and the rest optimal, and a MultipathWWID for each, without health yet. The failed LUNs
// come last by name, so only worst-first ordering writes them in the first pass.
func cluster(luns, failing int) []client.Object {
	n, l := node("n1"), lease("n1", now.Add(-time.Second))
	objs := []client.Object{config(nil), &n, &l}
	var maps []mpv1alpha1.MapStatus
	for i := range luns {
		w := fmt.Sprintf("3600a0980383030%018d", i)
		st, active := mpv1alpha1.MapOptimal, int32(2)
		if i >= luns-failing {
			st, active = mpv1alpha1.MapFailed, 0
		}
		maps = append(maps, mapOf(w, st, active, 2))
		o := wwidObj(fmt.Sprintf("lun-%05d", i), w)
		objs = append(objs, &o)
	}
	s := state("n1", maps...)
	return append(objs, &s)
}

func healthOf(t *testing.T, c *counting) map[string]mpv1alpha1.MapState {
	t.Helper()
	list := &mpv1alpha1.MultipathWWIDList{}
	if err := c.direct.List(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	out := map[string]mpv1alpha1.MapState{}
	for _, w := range list.Items {
		out[w.Name] = w.Status.Health.State
	}
	return out
}

// TestWritesCappedPerPass: when more than maxWritesPerPass LUNs change, a pass writes the worst
// maxWritesPerPass of them and the MultipathConfig, and asks to run again soon; the next pass
// writes the rest from fresh reports (not what the first pass computed), and then nothing.
func TestWritesCappedPerPass(t *testing.T) {
	const luns, failing = maxWritesPerPass + 50, 30
	c := newCounting(t, cluster(luns, failing)...)
	r := &Reconciler{Client: c, Clock: clocktesting.NewFakePassiveClock(now), Namespace: "kube-multipath-system", RefreshInterval: interval}
	ctx := context.Background()

	res, err := r.Reconcile(ctx, request)
	if err != nil {
		t.Fatal(err)
	}
	if passes, wwids, configs := c.take(); passes != 1 || wwids != maxWritesPerPass || configs != 1 {
		t.Errorf("first pass: %d passes, %d MultipathWWID and %d MultipathConfig writes; want 1, %d and 1", passes, wwids, configs, maxWritesPerPass)
	}
	if res.RequeueAfter != time.Millisecond {
		t.Errorf("first pass RequeueAfter = %s, want 1ms (more to write, no spacing)", res.RequeueAfter)
	}
	written := healthOf(t, c)
	var unwritten []string
	for name, st := range written {
		if st == "" {
			unwritten = append(unwritten, name)
		}
	}
	if len(unwritten) != luns-maxWritesPerPass {
		t.Errorf("%d LUNs without health after the first pass, want %d", len(unwritten), luns-maxWritesPerPass)
	}
	for i := luns - failing; i < luns; i++ {
		if name := fmt.Sprintf("lun-%05d", i); written[name] != mpv1alpha1.MapFailed {
			t.Errorf("failed LUN %s = %q after the first pass, want failed: the worst are written first", name, written[name])
		}
	}
	cfg := &mpv1alpha1.MultipathConfig{}
	if err := c.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err != nil {
		t.Fatal(err)
	}
	if want := (mpv1alpha1.HealthCounts{Optimal: luns - failing, Failed: failing}); cfg.Status.LUNHealth != want {
		t.Errorf("lunHealth after the first pass = %+v, want every LUN counted, %+v", cfg.Status.LUNHealth, want)
	}

	// Meanwhile the node reports the LUNs not written yet degraded: the next pass writes that,
	// not the optimal the first pass computed for them.
	s := &mpv1alpha1.MultipathNodeState{}
	if err := c.Get(ctx, client.ObjectKey{Name: "n1"}, s); err != nil {
		t.Fatal(err)
	}
	pending := map[string]bool{}
	for _, name := range unwritten {
		pending[name] = true
	}
	for i := range s.Status.Maps {
		if pending[fmt.Sprintf("lun-%05d", i)] {
			s.Status.Maps[i] = mapOf(s.Status.Maps[i].WWID, mpv1alpha1.MapDegraded, 1, 2)
		}
	}
	if err := c.Update(ctx, s); err != nil {
		t.Fatal(err)
	}

	res, err = r.Reconcile(ctx, request)
	if err != nil {
		t.Fatal(err)
	}
	if passes, wwids, _ := c.take(); passes != 1 || wwids != luns-maxWritesPerPass {
		t.Errorf("second pass: %d passes, %d MultipathWWID writes; want 1 and %d", passes, wwids, luns-maxWritesPerPass)
	}
	if res.RequeueAfter != interval {
		t.Errorf("second pass RequeueAfter = %s, want the refresh interval %s (nothing left)", res.RequeueAfter, interval)
	}
	for name, st := range healthOf(t, c) {
		want := mpv1alpha1.MapOptimal
		switch {
		case pending[name]:
			want = mpv1alpha1.MapDegraded
		case written[name] == mpv1alpha1.MapFailed:
			want = mpv1alpha1.MapFailed
		}
		if st != want {
			t.Errorf("%s = %q after the second pass, want %q", name, st, want)
		}
	}

	if _, err := r.Reconcile(ctx, request); err != nil {
		t.Fatal(err)
	}
	if passes, wwids, configs := c.take(); passes != 1 || wwids != 0 || configs != 0 {
		t.Errorf("third pass: %d passes, %d MultipathWWID and %d MultipathConfig writes; want 1, 0 and 0", passes, wwids, configs)
	}
}

// TestCappedPassRequeuesAfterTheSpacing: with spacing, a pass that left writes comes back after
// MinInterval, no later.
func TestCappedPassRequeuesAfterTheSpacing(t *testing.T) {
	c := newCounting(t, cluster(maxWritesPerPass+1, 0)...)
	r := &Reconciler{Client: c, Clock: clocktesting.NewFakePassiveClock(now), Namespace: "kube-multipath-system", RefreshInterval: interval,
		MinInterval: 300 * time.Millisecond}
	res, err := r.Reconcile(context.Background(), request)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != r.MinInterval {
		t.Errorf("RequeueAfter = %s, want MinInterval %s", res.RequeueAfter, r.MinInterval)
	}
	if _, wwids, _ := c.take(); wwids != maxWritesPerPass {
		t.Errorf("%d MultipathWWID writes, want %d", wwids, maxWritesPerPass)
	}
}

// TestReconcileSpacing: a request sooner than MinInterval after the last pass does no pass and
// asks to come back when the interval is over; after it, the pass runs. Without spacing, passes
// run back to back.
func TestReconcileSpacing(t *testing.T) {
	ctx := context.Background()
	t.Run("spaced", func(t *testing.T) {
		c := newCounting(t, cluster(3, 1)...)
		const spacing = 200 * time.Millisecond
		r := &Reconciler{Client: c, Clock: clocktesting.NewFakePassiveClock(now), Namespace: "kube-multipath-system", RefreshInterval: interval, MinInterval: spacing}
		if _, err := r.Reconcile(ctx, request); err != nil {
			t.Fatal(err)
		}
		if passes, wwids, _ := c.take(); passes != 1 || wwids != 3 {
			t.Fatalf("first request: %d passes, %d writes; want 1 and 3", passes, wwids)
		}
		start := time.Now()
		res, err := r.Reconcile(ctx, request)
		if err != nil {
			t.Fatal(err)
		}
		if passes, wwids, configs := c.take(); passes != 0 || wwids+configs != 0 {
			t.Errorf("request right after a pass: %d passes, %d writes; want none", passes, wwids+configs)
		}
		if res.RequeueAfter <= 0 || res.RequeueAfter > spacing {
			t.Errorf("RequeueAfter = %s, want in (0, %s]", res.RequeueAfter, spacing)
		}
		time.Sleep(spacing/2 - time.Since(start))
		if res, err = r.Reconcile(ctx, request); err != nil {
			t.Fatal(err)
		}
		if passes, _, _ := c.take(); passes != 0 && time.Since(start) < spacing {
			t.Errorf("a pass half the spacing after the last")
		}
		if res.RequeueAfter <= 0 || res.RequeueAfter > spacing/2 {
			t.Errorf("RequeueAfter half the spacing after = %s, want in (0, %s]", res.RequeueAfter, spacing/2)
		}
		// As the work queue would: come back after RequeueAfter, when the pass runs.
		time.Sleep(res.RequeueAfter)
		if res, err = r.Reconcile(ctx, request); err != nil {
			t.Fatal(err)
		}
		if passes, _, _ := c.take(); passes != 1 {
			t.Errorf("%d passes once the spacing is over, want 1", passes)
		}
		if res.RequeueAfter != interval {
			t.Errorf("RequeueAfter of the pass = %s, want the refresh interval", res.RequeueAfter)
		}
	})
	t.Run("not spaced", func(t *testing.T) {
		c := newCounting(t, cluster(3, 1)...)
		r := &Reconciler{Client: c, Clock: clocktesting.NewFakePassiveClock(now), Namespace: "kube-multipath-system", RefreshInterval: interval}
		for range 3 {
			if _, err := r.Reconcile(ctx, request); err != nil {
				t.Fatal(err)
			}
		}
		if passes, _, _ := c.take(); passes != 3 {
			t.Errorf("%d passes for three requests without spacing, want 3", passes)
		}
	})
}

// The deployed spacing keeps path failure -> LUN status within two seconds with room for the
// pass itself.
func TestDefaultMinInterval(t *testing.T) {
	if DefaultMinInterval <= 0 || DefaultMinInterval > time.Second {
		t.Errorf("DefaultMinInterval = %s, want in (0, 1s]", DefaultMinInterval)
	}
	var _ reconcile.Reconciler = &Reconciler{}
}

// rollup.Gather lists MultipathWWIDs without copying them out of the informer cache, so writeWWID
// must never change the object it is given, nor let the patch response be decoded into it.
func TestWriteWWIDLeavesTheCachedObjectAlone(t *testing.T) {
	cached := &mpv1alpha1.MultipathWWID{}
	cached.Name = "lun"
	cached.Spec.WWID = "3600a098038303053453f463045736f41"
	cached.Status.Health = mpv1alpha1.LUNHealth{State: mpv1alpha1.MapOptimal, Nodes: "2/2",
		NonOptimal: []mpv1alpha1.NodeHealth{{Node: "a", State: mpv1alpha1.MapOptimal}}}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(cached.DeepCopy()).
		WithStatusSubresource(&mpv1alpha1.MultipathWWID{}).Build()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(cached), cached); err != nil {
		t.Fatal(err)
	}
	want := cached.DeepCopy()
	r := &Reconciler{Client: c}
	h := mpv1alpha1.LUNHealth{State: mpv1alpha1.MapDegraded, Nodes: "1/2",
		NonOptimal: []mpv1alpha1.NodeHealth{{Node: "b", State: mpv1alpha1.MapDegraded}}}
	if err := r.writeWWID(context.Background(), cached, h); err != nil {
		t.Fatal(err)
	}
	if !rollup.EqualHealth(&cached.Status.Health, &want.Status.Health) || cached.ResourceVersion != want.ResourceVersion {
		t.Errorf("writeWWID changed the object it was given: %+v", cached.Status.Health)
	}
	got := &mpv1alpha1.MultipathWWID{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(cached), got); err != nil {
		t.Fatal(err)
	}
	if !rollup.EqualHealth(&got.Status.Health, &h) {
		t.Errorf("the new health was not written: %+v", got.Status.Health)
	}
}
