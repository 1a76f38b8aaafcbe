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

package drills

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/render"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// TestManagerKilledMidRender creates a burst of LUNs and volumes, SIGKILLs the manager while it
// renders them (its API rate limit lowered so the pass takes a while), and starts it again.
// The creations still in flight fail while nobody serves the admission webhook, and are
// retried. Nothing the manager wrote may be duplicated or lost.
func TestManagerKilledMidRender(t *testing.T) {
	d := newDrill(t, "manager", options{nodes: 3, luns: 4, consumed: 2, preListed: 2})
	if err := sys.restartManager(d.ctx, true, "--kube-api-qps=5", "--kube-api-burst=5"); err != nil {
		t.Fatal(err)
	}
	old := d.converge()
	w := d.startWatch()
	s := d.startSampling()
	before := renderedConfigMaps(t, d.ctx)

	const burst, everyPV = 40, 4
	first := d.addLUNs(burst)
	var pvs []*corev1.PersistentVolume
	for i := first; i < first+burst; i += everyPV {
		pvs = append(pvs, sim.PV(i))
	}
	created := make(chan error, 1)
	go func() {
		// The volumes first: the first render pass then owes finalizers too.
		created <- errors.Join(
			sim.CreateAll(d.ctx, sys.c, pvs, 8),
			sim.CreateAll(d.ctx, sys.c, d.lunObjects(first, burst), 8))
	}()

	// Kill it as soon as it wrote a render of the burst: the LUNs' finalizers and statuses, and
	// likely more renders, are still to come.
	if err := poll(d.ctx, time.Minute, func() error {
		for name := range renderedConfigMaps(t, d.ctx) {
			if _, ok := before[name]; !ok {
				return nil
			}
		}
		return errors.New("no render of the burst yet")
	}); err != nil {
		t.Fatal(err)
	}
	if err := sys.stopManager(true); err != nil {
		t.Fatal(err)
	}
	t.Logf("manager SIGKILLed after its first render of the burst; at that moment: %s", lunProgress(t, d.ctx, first, burst))
	s.waitSamples(3)
	if err := sys.startManager(d.ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatalf("creating the burst across the manager's restart: %v", err)
	}

	final := d.converge()
	if final == old {
		t.Fatal("converged on the render from before the burst")
	}
	// The burst's consumed LUNs are on every node now: no node may lose them either.
	for i := first; i < first+burst; i += everyPV {
		d.mu.Lock()
		d.consumed[i] = true
		d.mu.Unlock()
	}
	s.waitSamples(1)
	// One ConfigMap per render, each verified against its hash, and the current one holds
	// every LUN (converge checked the LUN set).
	hashes := map[string]string{}
	for name, cm := range renderedConfigMaps(t, d.ctx) {
		hash := cm.Annotations[render.HashAnnotation]
		r, err := multipathconf.Unpack(cm.Data, cm.BinaryData, hash)
		if err != nil {
			t.Errorf("rendered ConfigMap %s does not verify: %v", name, err)
			continue
		}
		if name != r.ConfigMapName() {
			t.Errorf("rendered ConfigMap %s holds render %s", name, r.ConfigMapName())
		}
		if other, dup := hashes[hash]; dup {
			t.Errorf("rendered ConfigMaps %s and %s hold the same render", name, other)
		}
		hashes[hash] = name
		if cm.Immutable == nil || !*cm.Immutable {
			t.Errorf("rendered ConfigMap %s is not immutable", name)
		}
	}
	if _, ok := hashes[final]; !ok {
		t.Errorf("the current render %.16s has no ConfigMap", final)
	}
	// No lost state: every LUN's status is complete for its generation, every consumed one
	// carries the in-use finalizer and names its volume, no other one carries it.
	if err := poll(d.ctx, d.scaled(time.Minute), func() error { return lunsComplete(d) }); err != nil {
		t.Error(err)
	}
	s.finish()
	w.checkBudget()
	d.checkDaemons()
}

// renderedConfigMaps lists the rendered ConfigMaps by name.
func renderedConfigMaps(t *testing.T, ctx context.Context) map[string]*corev1.ConfigMap {
	t.Helper()
	cms := &corev1.ConfigMapList{}
	if err := sys.c.List(ctx, cms, client.InNamespace(sim.Namespace), client.MatchingLabels{render.RenderedLabel: "true"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]*corev1.ConfigMap{}
	for i := range cms.Items {
		out[cms.Items[i].Name] = &cms.Items[i]
	}
	return out
}

// lunProgress says how far the manager got with LUNs first..first+n-1.
func lunProgress(t *testing.T, ctx context.Context, first, n int) string {
	luns := &mpv1alpha1.MultipathWWIDList{}
	if err := sys.c.List(ctx, luns); err != nil {
		return err.Error()
	}
	exist, withStatus, withFinalizer := 0, 0, 0
	for _, w := range luns.Items {
		var i int
		if _, err := fmt.Sscanf(w.Name, "lun-%d", &i); err != nil || i < first || i >= first+n {
			continue
		}
		exist++
		if w.Status.ObservedGeneration == w.Generation {
			withStatus++
		}
		if controllerutil.ContainsFinalizer(&w, mpv1alpha1.InUseFinalizer) {
			withFinalizer++
		}
	}
	return fmt.Sprintf("%d of %d burst LUNs created, %d with a status, %d with the in-use finalizer", exist, n, withStatus, withFinalizer)
}

// lunsComplete checks every LUN of the drill: kstatus Current, Ready (rendered under its
// alias), InUse and the in-use finalizer exactly when a volume uses it, the volume named.
func lunsComplete(d *drill) error {
	var errs []error
	d.mu.Lock()
	luns := slices.Sorted(maps.Keys(d.luns))
	consumed := maps2set(d.consumed)
	d.mu.Unlock()
	for _, i := range luns {
		w := &mpv1alpha1.MultipathWWID{}
		if err := sys.c.Get(d.ctx, client.ObjectKey{Name: sim.Alias(i)}, w); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := current(w); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w.Name, err))
		}
		if !meta.IsStatusConditionTrue(w.Status.Conditions, mpv1alpha1.ReadyCondition) {
			errs = append(errs, fmt.Errorf("%s is not Ready", w.Name))
		}
		if w.Status.RenderedAlias == nil || *w.Status.RenderedAlias != sim.Alias(i) {
			errs = append(errs, fmt.Errorf("%s: renderedAlias %v, want %s", w.Name, w.Status.RenderedAlias, sim.Alias(i)))
		}
		inUse := meta.FindStatusCondition(w.Status.Conditions, mpv1alpha1.InUseCondition)
		hasFinalizer := controllerutil.ContainsFinalizer(w, mpv1alpha1.InUseFinalizer)
		if consumed.Has(i) {
			pv := sim.PV(i).Name
			if !hasFinalizer {
				errs = append(errs, fmt.Errorf("%s is used by %s but has no in-use finalizer", w.Name, pv))
			}
			if inUse == nil || inUse.Status != metav1.ConditionTrue || !slices.Equal(w.Status.Consumers, []string{pv}) {
				errs = append(errs, fmt.Errorf("%s is used by %s, but InUse is %+v and consumers %v", w.Name, pv, inUse, w.Status.Consumers))
			}
		} else {
			if hasFinalizer {
				errs = append(errs, fmt.Errorf("%s is used by no volume but has the in-use finalizer", w.Name))
			}
			if inUse == nil || inUse.Status != metav1.ConditionFalse || len(w.Status.Consumers) > 0 {
				errs = append(errs, fmt.Errorf("%s is used by no volume, but InUse is %+v and consumers %v", w.Name, inUse, w.Status.Consumers))
			}
		}
	}
	return errors.Join(errs...)
}

func maps2set(m map[int]bool) sets.Set[int] {
	out := sets.New[int]()
	for k := range m {
		out.Insert(k)
	}
	return out
}
