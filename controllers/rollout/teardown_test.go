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

package rollout_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// addLUN creates a MultipathWWID.
func (f *fixture) addLUN(name, wwid string) {
	f.t.Helper()
	w := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid}}
	if err := env.Client.Create(ctx, w); err != nil {
		f.t.Fatalf("creating MultipathWWID %s: %v", name, err)
	}
	f.luns = append(f.luns, name)
}

// addPV creates a Fibre Channel PersistentVolume that uses the LUN wwid.
func (f *fixture) addPV(name, wwid string) {
	f.t.Helper()
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{FC: &corev1.FCVolumeSource{WWIDs: []string{wwid}}},
		},
	}
	if err := env.Client.Create(ctx, pv); err != nil {
		f.t.Fatalf("creating PersistentVolume %s: %v", name, err)
	}
	f.pvs = append(f.pvs, name)
}

// deletePV deletes a PersistentVolume and waits until it is gone. envtest runs no
// pv-protection controller: its finalizer is the test's to drop.
func (f *fixture) deletePV(name string) {
	f.t.Helper()
	if err := env.Client.Delete(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsNotFound(err) {
		f.t.Fatalf("deleting PersistentVolume %s: %v", name, err)
	}
	eventually(f.t, func() error {
		pv := &corev1.PersistentVolume{}
		switch err := env.Client.Get(ctx, client.ObjectKey{Name: name}, pv); {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		if len(pv.Finalizers) > 0 {
			before := pv.DeepCopy()
			pv.Finalizers = nil
			if err := env.Client.Patch(ctx, pv, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
				return err
			}
		}
		return fmt.Errorf("PersistentVolume %s still there", name)
	})
}

// deleteConfig deletes the MultipathConfig and returns it as it was just before.
func (f *fixture) deleteConfig() *mpv1alpha1.MultipathConfig {
	f.t.Helper()
	cfg, err := f.config()
	if err != nil {
		f.t.Fatal(err)
	}
	if !controllerutil.ContainsFinalizer(cfg, mpv1alpha1.TeardownFinalizer) {
		f.t.Fatalf("MultipathConfig has no teardown finalizer before deletion: %v", cfg.Finalizers)
	}
	if err := env.Client.Delete(ctx, cfg); err != nil {
		f.t.Fatal(err)
	}
	return cfg
}

// deleting reads the MultipathConfig being deleted and checks it still carries the finalizer.
func (f *fixture) deleting() (*mpv1alpha1.MultipathConfig, error) {
	cfg := &mpv1alpha1.MultipathConfig{}
	if err := env.Client.Get(ctx, clusterKey, cfg); err != nil {
		return nil, err
	}
	if cfg.DeletionTimestamp.IsZero() || !controllerutil.ContainsFinalizer(cfg, mpv1alpha1.TeardownFinalizer) {
		return nil, fmt.Errorf("MultipathConfig: deletionTimestamp %v, finalizers %v", cfg.DeletionTimestamp, cfg.Finalizers)
	}
	return cfg, nil
}

// tearDown plays the agents through a teardown to the empty config of the named nodes: it waits
// until the controller handed the empty config to as many as budget allows, checks that the
// MultipathConfig, when deleteConfig, is still there with its finalizer while any is left, and
// applies it on the first of them, until every MultipathNodeState is gone.
func (f *fixture) tearDown(names []string, budget int, deleted bool) {
	f.t.Helper()
	empty := multipathconf.EmptyRef()
	for {
		var handed []string
		left := 0
		eventually(f.t, func() error {
			handed, left = nil, 0
			states := f.states()
			for _, name := range names {
				st := states[name]
				if st == nil {
					continue
				}
				left++
				if is(st.Spec.DesiredConfig, empty) && !is(st.Status.AppliedConfig, empty) {
					handed = append(handed, name)
				}
			}
			slices.Sort(handed)
			if left == 0 {
				return nil
			}
			if deleted {
				if _, err := f.deleting(); err != nil {
					return fmt.Errorf("%d nodes are not torn down yet: %w", left, err)
				}
			}
			if want := min(budget, left); len(handed) != want {
				return fmt.Errorf("%d nodes handed the empty config (%v), want %d", len(handed), handed, want)
			}
			return nil
		})
		if left == 0 {
			return
		}
		f.agentApply(handed[0])
	}
}

// configGone waits until the MultipathConfig no longer exists.
func configGone(t *testing.T) {
	t.Helper()
	eventually(t, func() error {
		if err := env.Client.Get(ctx, clusterKey, &mpv1alpha1.MultipathConfig{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("MultipathConfig still there (%v)", err)
		}
		return nil
	})
}

// TestConfigGetsTeardownFinalizer: a live MultipathConfig carries the finalizer, also after
// someone removes it.
func TestConfigGetsTeardownFinalizer(t *testing.T) {
	f := newFixture(t)
	f.addNodes(1)
	f.createConfig(5, nil)
	hasFinalizer := func() error {
		cfg, err := f.config()
		if err != nil {
			return err
		}
		if !slices.Equal(cfg.Finalizers, []string{mpv1alpha1.TeardownFinalizer}) {
			return fmt.Errorf("finalizers %v, want [%s]", cfg.Finalizers, mpv1alpha1.TeardownFinalizer)
		}
		return nil
	}
	eventually(t, hasFinalizer)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := env.Client.Get(ctx, clusterKey, cfg); err != nil {
			return err
		}
		cfg.Finalizers = nil
		return env.Client.Update(ctx, cfg)
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, hasFinalizer)
}

// TestConfigDeletedTearsDownThroughTheBudget: deleting the MultipathConfig tears its nodes down
// at most maxUnavailable at a time; the object stays, with its finalizer, Reconciling, until the
// last node applied the empty config.
func TestConfigDeletedTearsDownThroughTheBudget(t *testing.T) {
	f := newFixture(t)
	f.addNodes(5)
	m := f.watchBudget(2)
	f.createConfig(5, func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.MaxUnavailable = new(intstr.FromInt32(2)) })
	a := f.rendered()
	f.rollOut(a, 2)

	cfg := f.deleteConfig()
	eventually(t, func() error {
		cur, err := f.deleting()
		if err != nil {
			return err
		}
		c := conditions.Get(cur, mpv1alpha1.ReconcilingCondition)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != mpv1alpha1.TeardownInProgressReason {
			return fmt.Errorf("Reconciling %+v, want True with reason %s", c, mpv1alpha1.TeardownInProgressReason)
		}
		if c := conditions.Get(cur, mpv1alpha1.TeardownHeldCondition); c != nil {
			return fmt.Errorf("nothing is in use, yet TeardownHeld is %+v", c)
		}
		return nil
	})
	f.tearDown(f.nodes, 2, true)
	configGone(t)
	m.check(2)
	waitEvent(t, cfg, corev1.EventTypeNormal, mpv1alpha1.TeardownCompleteReason)
	// The Nodes themselves stay.
	for _, name := range f.nodes {
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &corev1.Node{}); err != nil {
			t.Errorf("Node %s: %v", name, err)
		}
	}
}

// TestConfigDeletedBeforeAnyNodeWasConfiguredGoesAtOnce: with no node ever handed a config, the
// finalizer goes at once.
func TestConfigDeletedBeforeAnyNodeWasConfiguredGoesAtOnce(t *testing.T) {
	f := newFixture(t)
	f.addNode(0, false) // NotReady: never handed a config
	f.createConfig(5, nil)
	f.rendered()
	eventually(t, func() error {
		if st := f.state(f.node(0)); st == nil {
			return errors.New("no MultipathNodeState yet")
		}
		return nil
	})
	f.deleteConfig()
	configGone(t)
	if st := f.state(f.node(0)); st != nil {
		t.Errorf("MultipathNodeState %s of a node never configured still exists", st.Name)
	}
}

// TestDeselectedNodesTornDownThroughTheBudget: removing the label of several nodes at once
// tears them down at most maxUnavailable at a time.
func TestDeselectedNodesTornDownThroughTheBudget(t *testing.T) {
	f := newFixture(t)
	f.addNodes(4)
	m := f.watchBudget(2)
	f.createConfig(5, func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.MaxUnavailable = new(intstr.FromInt32(2)) })
	a := f.rendered()
	f.rollOut(a, 2)

	leaving := []string{f.node(1), f.node(2), f.node(3)}
	for _, name := range leaving {
		f.updateNode(name, func(n *corev1.Node) { delete(n.Labels, testLabel) })
	}
	f.tearDown(leaving, 2, false)
	m.check(2)
	f.nodes = slices.DeleteFunc(f.nodes, func(n string) bool { return slices.Contains(leaving, n) })
	f.waitConfig(isCurrent(1))
	if st := f.state(f.node(0)); st == nil || !is(st.Spec.DesiredConfig, a) || !is(st.Status.AppliedConfig, a) {
		t.Errorf("node %s, still selected, must keep %s: %+v", f.node(0), a.Name, st)
	}
}

// TestInUseLUNHoldsDeletion: while a PersistentVolume uses a LUN, deleting the MultipathConfig
// keeps the config carrying it on every node, with the finalizer and TeardownHeld naming the LUN,
// the volume and the nodes; once the LUN is free the nodes are torn down through the budget and
// the finalizer goes last.
func TestInUseLUNHoldsDeletion(t *testing.T) {
	f := newFixture(t)
	f.addNodes(3)
	m := f.watchBudget(1)
	lun, pv := f.label+"-lun", f.label+"-pv"
	f.addLUN(lun, "3600a098038303053453f463045726b01")
	f.addPV(pv, "3600a098038303053453f463045726b01")
	f.createConfig(5, nil)
	a := f.rendered()
	f.rollOut(a, 1)

	cfg := f.deleteConfig()
	held := func() (*mpv1alpha1.MultipathConfig, error) {
		cur, err := f.deleting()
		if err != nil {
			return nil, err
		}
		c := conditions.Get(cur, mpv1alpha1.TeardownHeldCondition)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != mpv1alpha1.InUseLUNsReason || c.ObservedGeneration != cur.Generation {
			return nil, fmt.Errorf("TeardownHeld %+v, want True with reason %s for generation %d", c, mpv1alpha1.InUseLUNsReason, cur.Generation)
		}
		for _, want := range append([]string{lun, pv}, f.nodes...) {
			if !strings.Contains(c.Message, want) {
				return nil, fmt.Errorf("TeardownHeld message %q does not name %s", c.Message, want)
			}
		}
		return cur, nil
	}
	var cur *mpv1alpha1.MultipathConfig
	eventually(t, func() (err error) {
		cur, err = held()
		return err
	})
	// The nodes keep a config that carries the LUN: the deletion target, never the empty one.
	empty := multipathconf.EmptyRef()
	if got := f.withDesired(empty); len(got) > 0 {
		t.Fatalf("nodes %v were handed the empty config while LUN %s is in use", got, lun)
	}
	if rc := cur.Status.RenderedConfig; rc == nil || rc.LUNs == 0 {
		t.Fatalf("status.renderedConfig %+v does not carry the in-use LUN", rc)
	}
	for _, name := range f.nodes {
		if f.state(name) == nil {
			t.Errorf("MultipathNodeState %s was deleted while LUN %s is in use", name, lun)
		}
	}
	waitEvent(t, cfg, corev1.EventTypeNormal, mpv1alpha1.InUseLUNsReason, lun, pv)

	// The held config rolls out like any config: play it (a no-op when it is the one they run).
	if target := cur.Status.RenderedConfig.RenderedConfigRef; target != a {
		f.rollOut(target, 1)
	}

	// Free: the volume goes, then the LUN; the nodes are torn down one at a time.
	f.deletePV(pv)
	if err := env.Client.Delete(ctx, &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: lun}}); err != nil {
		t.Fatal(err)
	}
	f.tearDown(f.nodes, 1, true)
	configGone(t)
	m.check(1)
}

// TestForceLetsDeletionGo: the force-remove annotation lets a held deletion go at once, with a
// Warning Event; the nodes are then torn down one at a time (the default budget).
func TestForceLetsDeletionGo(t *testing.T) {
	f := newFixture(t)
	f.addNodes(3)
	lun, pv := f.label+"-lun", f.label+"-pv"
	f.addLUN(lun, "3600a098038303053453f463045726b02")
	f.addPV(pv, "3600a098038303053453f463045726b02")
	f.createConfig(5, func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.MaxUnavailable = new(intstr.FromInt32(3)) })
	a := f.rendered()
	f.rollOut(a, 3)
	m := f.watchBudget(1)

	cfg := f.deleteConfig()
	eventually(t, func() error {
		cur, err := f.deleting()
		if err != nil {
			return err
		}
		if !conditions.IsTrue(cur, mpv1alpha1.TeardownHeldCondition) {
			return errors.New("TeardownHeld is not True")
		}
		return nil
	})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &mpv1alpha1.MultipathConfig{}
		if err := env.Client.Get(ctx, clusterKey, cur); err != nil {
			return err
		}
		metav1.SetMetaDataAnnotation(&cur.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
		return env.Client.Update(ctx, cur, client.FieldOwner("storage-admin"))
	})
	if err != nil {
		t.Fatal(err)
	}
	configGone(t)
	waitEvent(t, cfg, corev1.EventTypeWarning, mpv1alpha1.ForcedReason, mpv1alpha1.ForceRemoveAnnotation, "storage-admin")
	// Gone: the default budget, one node at a time, whatever spec.rollout said.
	f.tearDown(f.nodes, 1, false)
	m.check(1)
}

// TestDeselectedNodeKeepsHeldConfig: a deselected node is handed status.heldConfig, keeps it
// while it is set, and gets the empty config once it goes away.
func TestDeselectedNodeKeepsHeldConfig(t *testing.T) {
	f := newFixture(t)
	f.addNodes(3)
	lun, pv := f.label+"-lun", f.label+"-pv"
	f.addLUN(lun, "3600a098038303053453f463045726b03")
	f.addPV(pv, "3600a098038303053453f463045726b03")
	f.createConfig(5, nil)
	a := f.rendered()
	f.rollOut(a, 1)

	// The in-use-only config, as the render controller writes it (written here until it does).
	heldRef := mpv1alpha1.RenderedConfigRef{Name: "multipath-held0", Hash: "held0"}
	f.setHeld(&mpv1alpha1.RenderedConfigStatus{RenderedConfigRef: heldRef, LUNs: 1})

	leaving := f.node(2)
	f.updateNode(leaving, func(n *corev1.Node) { delete(n.Labels, testLabel) })
	eventually(t, func() error {
		if st := f.state(leaving); st == nil || !is(st.Spec.DesiredConfig, heldRef) {
			return fmt.Errorf("MultipathNodeState %s: want desiredConfig %s, got %+v", leaving, heldRef.Name, st)
		}
		return nil
	})
	f.agentApply(leaving)
	f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig, _ *kstatus.Result) error {
		c := conditions.Get(cfg, mpv1alpha1.TeardownHeldCondition)
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("TeardownHeld %+v, want True", c)
		}
		for _, want := range []string{lun, pv, leaving, heldRef.Name} {
			if !strings.Contains(c.Message, want) {
				return fmt.Errorf("TeardownHeld message %q does not name %s", c.Message, want)
			}
		}
		if want := (mpv1alpha1.NodeCounts{Selected: 2, Updated: 2}); cfg.Status.Nodes != want || !conditions.IsTrue(cfg, mpv1alpha1.ReadyCondition) {
			return fmt.Errorf("status.nodes %+v, want %+v and Ready: the held node is no longer counted", cfg.Status.Nodes, want)
		}
		return nil
	})
	if st := f.state(leaving); st == nil || !is(st.Status.AppliedConfig, heldRef) {
		t.Fatalf("the held node must keep %s: %+v", heldRef.Name, st)
	}

	// The LUN is free: heldConfig goes away, and the node gets the empty config.
	f.deletePV(pv)
	f.setHeld(nil)
	f.tearDown([]string{leaving}, 1, false)
	f.nodes = slices.DeleteFunc(f.nodes, func(n string) bool { return n == leaving })
	eventually(t, func() error {
		cur, err := f.config()
		if err != nil {
			return err
		}
		if c := conditions.Get(cur, mpv1alpha1.TeardownHeldCondition); c != nil {
			return fmt.Errorf("TeardownHeld still there: %+v", c)
		}
		return nil
	})
}

// setHeld writes status.heldConfig as the render controller does.
func (f *fixture) setHeld(h *mpv1alpha1.RenderedConfigStatus) {
	f.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := env.Client.Get(ctx, clusterKey, cfg); err != nil {
			return err
		}
		before := cfg.DeepCopy()
		cfg.Status.HeldConfig = h
		return env.Client.Status().Patch(ctx, cfg, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
	if err != nil {
		f.t.Fatalf("writing status.heldConfig: %v", err)
	}
}

// TestForceAnnotationNeverLingers: a force-remove annotation on a live MultipathConfig with no
// node being torn down is removed at once, whoever set it and whatever this process did before
// (a restart mid-teardown forgets that): left there it would silently force the next
// deselection of in-use LUNs.
func TestForceAnnotationNeverLingers(t *testing.T) {
	f := newFixture(t)
	f.addNodes(2)
	f.createConfig(5, nil)
	f.rollOut(f.rendered(), 1)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := f.config()
		if err != nil {
			return err
		}
		metav1.SetMetaDataAnnotation(&cur.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
		return env.Client.Update(ctx, cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		cur, err := f.config()
		if err != nil {
			return err
		}
		if v, ok := cur.Annotations[mpv1alpha1.ForceRemoveAnnotation]; ok {
			return fmt.Errorf("annotation %s=%s still there with no teardown", mpv1alpha1.ForceRemoveAnnotation, v)
		}
		return nil
	})
	for _, n := range f.nodes {
		if st := f.state(n); st == nil {
			t.Errorf("MultipathNodeState %s is gone: nothing was to be torn down", n)
		}
	}
}
