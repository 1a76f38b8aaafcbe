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

package render_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/conditions/conditionstest"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// reportMaps writes a node's MultipathNodeState status as its agent would, creating the object
// first; it is deleted when the test ends.
func reportMaps(t *testing.T, node string, maps ...mpv1alpha1.MapStatus) {
	t.Helper()
	ctx := context.Background()
	s := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: node}}
	if err := env.Client.Create(ctx, s); err == nil {
		t.Cleanup(func() {
			_ = env.Client.Delete(context.Background(), &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: node}})
		})
	} else if !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKey{Name: node}, s); err != nil {
			return err
		}
		s.Status.Maps = maps
		s.Status.MapCount = int32(len(maps))
		return env.Client.Status().Update(ctx, s)
	}); err != nil {
		t.Fatal(err)
	}
}

// waitWWID polls the named MultipathWWID until check accepts it.
func waitWWID(t *testing.T, name string, check func(*mpv1alpha1.MultipathWWID) error) *mpv1alpha1.MultipathWWID {
	t.Helper()
	var w *mpv1alpha1.MultipathWWID
	eventually(t, func() error {
		var err error
		if w, err = getWWID(name); err != nil {
			return err
		}
		return check(w)
	})
	return w
}

// waitEvent waits for an Event with reason on the named object whose note holds every fragment.
func waitEvent(t *testing.T, object, reason string, fragments ...string) {
	t.Helper()
	eventually(t, func() error {
		events := &corev1.EventList{}
		if err := env.Client.List(context.Background(), events); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name != object || e.Reason != reason {
				continue
			}
			if !slices.ContainsFunc(fragments, func(f string) bool { return !strings.Contains(e.Message, f) }) {
				return nil
			}
		}
		return fmt.Errorf("no %s event on %s with %q", reason, object, fragments)
	})
}

func TestMapOpenOnANodeHoldsTheLUN(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	w := lun("open", "3600a0980000000000000000000001a01", "data")
	other := lun("idle", "3600a0980000000000000000000001a02", "")
	for _, o := range []client.Object{cfg, w, other} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	waitWWID(t, "open", func(w *mpv1alpha1.MultipathWWID) error {
		if w.Status.RenderedAlias == nil {
			return fmt.Errorf("not rendered yet")
		}
		return nil
	})

	// The agent on worker-1 reports the map mounted: in use, as a consumed LUN is.
	reportMaps(t, "worker-1",
		mpv1alpha1.MapStatus{WWID: w.Spec.WWID, Name: "data", State: mpv1alpha1.MapOptimal, OpenCount: 1,
			Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/mnt/data"}}},
		mpv1alpha1.MapStatus{WWID: other.Spec.WWID, Name: other.Spec.WWID, State: mpv1alpha1.MapDegraded})
	got := waitWWID(t, "open", func(w *mpv1alpha1.MultipathWWID) error {
		in := conditions.Get(w, mpv1alpha1.InUseCondition)
		if in == nil || in.Status != metav1.ConditionTrue || in.Reason != mpv1alpha1.OpenOnNodeReason ||
			!strings.Contains(in.Message, "/dev/mapper/data is mounted at /mnt/data on node worker-1") {
			return fmt.Errorf("InUse = %+v, want True OpenOnNode naming the mount and the node", in)
		}
		if !slices.Contains(w.Finalizers, mpv1alpha1.InUseFinalizer) {
			return fmt.Errorf("finalizers = %v, want %s", w.Finalizers, mpv1alpha1.InUseFinalizer)
		}
		return nil
	})
	wantOpen := []mpv1alpha1.NodeUse{{Node: "worker-1", Name: "data", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/mnt/data"}}}}
	if !slices.EqualFunc(got.Status.OpenOn, wantOpen, func(a, b mpv1alpha1.NodeUse) bool {
		return a.Node == b.Node && a.Name == b.Name && slices.Equal(a.Users, b.Users)
	}) {
		t.Errorf("status.openOn = %+v, want %+v", got.Status.OpenOn, wantOpen)
	}
	conditionstest.AssertKstatusInvariants(t, got)
	if idle, _ := getWWID("idle"); conditions.IsTrue(idle, mpv1alpha1.InUseCondition) || len(idle.Status.OpenOn) > 0 {
		t.Errorf("a map reported but not open must not be in use: %+v", idle.Status)
	}

	// The MultipathConfig names a held config of exactly the in-use LUN.
	heldCfg := waitHeld(t, mustRender(t, cfg, w))
	if heldCfg.Status.HeldConfig.LUNs != 1 {
		t.Errorf("status.heldConfig = %+v, want 1 LUN", heldCfg.Status.HeldConfig)
	}

	// A rename is refused, naming the node and the path the nodes have.
	updateWWID(t, "open", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "data2" })
	waitWWID(t, "open", func(w *mpv1alpha1.MultipathWWID) error {
		st := conditions.Get(w, mpv1alpha1.StalledCondition)
		if st == nil || st.Reason != mpv1alpha1.AliasChangeRefusedReason || !strings.Contains(st.Message, "would rename /dev/mapper/data on every node, and /dev/mapper/data is mounted at /mnt/data on node worker-1") {
			return fmt.Errorf("Stalled = %+v, want AliasChangeRefused naming the node", st)
		}
		return nil
	})
	updateWWID(t, "open", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "data" })

	// Unmounted: free again, the finalizer and the held config go.
	reportMaps(t, "worker-1", mpv1alpha1.MapStatus{WWID: w.Spec.WWID, Name: "data", State: mpv1alpha1.MapOptimal})
	waitWWID(t, "open", func(w *mpv1alpha1.MultipathWWID) error {
		if conditions.IsTrue(w, mpv1alpha1.InUseCondition) || len(w.Status.OpenOn) > 0 || slices.Contains(w.Finalizers, mpv1alpha1.InUseFinalizer) {
			return fmt.Errorf("still in use: %+v, finalizers %v", w.Status, w.Finalizers)
		}
		return nil
	})
	eventually(t, func() error {
		if h := getConfig(t).Status.HeldConfig; h != nil {
			return fmt.Errorf("status.heldConfig = %+v with nothing in use", h)
		}
		return nil
	})
}

// waitHeld waits until the MultipathConfig's status.heldConfig names want, and its ConfigMap exists.
func waitHeld(t *testing.T, want interface {
	ConfigMapName() string
}) *mpv1alpha1.MultipathConfig {
	t.Helper()
	var cfg *mpv1alpha1.MultipathConfig
	eventually(t, func() error {
		cfg = getConfig(t)
		h := cfg.Status.HeldConfig
		if h == nil || h.Name != want.ConfigMapName() {
			return fmt.Errorf("status.heldConfig = %+v, want %s", h, want.ConfigMapName())
		}
		return env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: h.Name}, &corev1.ConfigMap{})
	})
	return cfg
}

func TestForcedRenameKeepsTheOldNameProtected(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	w := lun("renamed", "3600a0980000000000000000000001b01", "old")
	volume := localPV("pv-renamed", "/dev/mapper/old")
	for _, o := range []client.Object{cfg, w, volume} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	waitWWID(t, "renamed", func(w *mpv1alpha1.MultipathWWID) error {
		if w.Status.RenderedAlias == nil || !slices.Contains(w.Finalizers, mpv1alpha1.InUseFinalizer) {
			return fmt.Errorf("not rendered and protected yet")
		}
		return nil
	})

	updateWWID(t, "renamed", func(w *mpv1alpha1.MultipathWWID) {
		w.Spec.Alias = "new"
		metav1.SetMetaDataAnnotation(&w.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
	})
	got := waitWWID(t, "renamed", func(w *mpv1alpha1.MultipathWWID) error {
		if w.Status.RenderedAlias == nil || *w.Status.RenderedAlias != "new" {
			return fmt.Errorf("renderedAlias = %v, want new", w.Status.RenderedAlias)
		}
		if _, ok := w.Annotations[mpv1alpha1.ForceRemoveAnnotation]; ok {
			return fmt.Errorf("the force annotation is still there once the rename is rendered")
		}
		return nil
	})
	// The volume still names /dev/mapper/old: it stays a consumer, and the LUN stays protected.
	if !slices.Equal(got.Status.FormerAliases, []string{"old"}) || !slices.Equal(got.Status.Consumers, []string{"pv-renamed"}) {
		t.Errorf("formerAliases = %v, consumers = %v; want [old], [pv-renamed]", got.Status.FormerAliases, got.Status.Consumers)
	}
	if in := conditions.Get(got, mpv1alpha1.InUseCondition); in == nil || in.Status != metav1.ConditionTrue || !strings.Contains(in.Message, "PersistentVolume pv-renamed still names /dev/mapper/old") {
		t.Errorf("InUse = %+v, want True naming the old path", in)
	}
	if !slices.Contains(got.Finalizers, mpv1alpha1.InUseFinalizer) {
		t.Errorf("finalizers = %v: a LUN whose volume names its old name lost its protection", got.Finalizers)
	}
	waitEvent(t, "renamed", mpv1alpha1.ForcedReason, "/dev/mapper/old becomes /dev/mapper/new", "pv-renamed")
	files, err := renderedFiles(getConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if base, _ := files.File("99-kube-multipath.conf"); !strings.Contains(base, `alias "new"`) {
		t.Errorf("the rendered baseline does not hold the forced alias:\n%s", base)
	}

	// Renaming back, without the annotation: the volume's name is the map's again, not refused.
	updateWWID(t, "renamed", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "old" })
	got = waitWWID(t, "renamed", func(w *mpv1alpha1.MultipathWWID) error {
		if w.Status.RenderedAlias == nil || *w.Status.RenderedAlias != "old" || len(w.Status.FormerAliases) > 0 {
			return fmt.Errorf("renderedAlias = %v, formerAliases = %v; want old and none (Stalled: %+v)",
				w.Status.RenderedAlias, w.Status.FormerAliases, conditions.Get(w, mpv1alpha1.StalledCondition))
		}
		return nil
	})
	conditionstest.AssertKstatusInvariants(t, got)
	if err := kstatusIs(got, kstatus.CurrentStatus); err != nil {
		t.Error(err)
	}

	// A forced deletion goes through, and is recorded.
	updateWWID(t, "renamed", func(w *mpv1alpha1.MultipathWWID) {
		metav1.SetMetaDataAnnotation(&w.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
	})
	if err := c.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if _, err := getWWID("renamed"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("a forced delete of a consumed LUN must go through: %v", err)
		}
		return nil
	})
	waitEvent(t, "renamed", mpv1alpha1.ForcedReason, "Forced deletion", "pv-renamed")
}

const testHold = "kube-multipath.io/test-hold"

// TestConfigDeletionRendersOnlyHeldLUNs stands in for the rollout controller's teardown
// finalizer with a test finalizer: the render side of teardown is what is checked here.
func TestConfigDeletionRendersOnlyHeldLUNs(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster", Finalizers: []string{testHold}}}
	used := lun("held", "3600a0980000000000000000000001c01", "keep")
	free := lun("free", "3600a0980000000000000000000001c02", "")
	volume := localPV("pv-held", "/dev/mapper/keep")
	for _, o := range []client.Object{cfg, used, free, volume} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	defer releaseConfig(t) // before cleanup, deferred first
	held := mustRender(t, cfg, used)
	waitRendered(t, mustRender(t, cfg, used, free))
	waitHeld(t, held)

	if err := c.Delete(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// Being deleted: the nodes are handed only the held LUN.
	got := waitRendered(t, held)
	if got.Status.HeldConfig == nil || got.Status.HeldConfig.Name != held.ConfigMapName() {
		t.Errorf("status.heldConfig = %+v, want %s", got.Status.HeldConfig, held.ConfigMapName())
	}
	waitWWID(t, "free", func(w *mpv1alpha1.MultipathWWID) error {
		if !conditions.IsTrue(w, mpv1alpha1.StalledCondition) || conditions.Get(w, mpv1alpha1.ReadyCondition).Reason != mpv1alpha1.ConfigDeletingReason {
			return fmt.Errorf("Ready = %+v, want False ConfigDeleting", conditions.Get(w, mpv1alpha1.ReadyCondition))
		}
		if w.Status.RenderedAlias != nil {
			return fmt.Errorf("renderedAlias = %q for a LUN left out of the render", *w.Status.RenderedAlias)
		}
		return nil
	})
	if w, _ := getWWID("held"); !conditions.IsTrue(w, mpv1alpha1.ReadyCondition) {
		t.Errorf("the held LUN is not Ready: %+v", w.Status.Conditions)
	}

	// The volume goes: nothing is held, the empty config.
	remove(t, volume)
	got = waitRendered(t, multipathconf.Empty())
	if got.Status.HeldConfig != nil {
		t.Errorf("status.heldConfig = %+v with nothing in use", got.Status.HeldConfig)
	}
}

func TestForcedTeardownRendersTheEmptyConfigAtOnce(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster", Finalizers: []string{testHold}}}
	used := lun("held-forced", "3600a0980000000000000000000001d01", "")
	volume := localPV("pv-held-forced", "/dev/mapper/3600a0980000000000000000000001d01")
	for _, o := range []client.Object{cfg, used, volume} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	defer releaseConfig(t) // before cleanup, deferred first
	held := mustRender(t, cfg, used)
	waitHeld(t, held)
	if err := c.Delete(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	waitRendered(t, held)
	updateConfig(t, func(cfg *mpv1alpha1.MultipathConfig) {
		metav1.SetMetaDataAnnotation(&cfg.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
	})
	got := waitRendered(t, multipathconf.Empty())
	if got.Status.HeldConfig != nil {
		t.Errorf("status.heldConfig = %+v after a forced teardown", got.Status.HeldConfig)
	}
	waitEvent(t, "cluster", mpv1alpha1.ForcedReason, "held-forced")
	// The LUN itself stays protected: only its MultipathWWID's own annotation lets it go.
	if w, _ := getWWID("held-forced"); !slices.Contains(w.Finalizers, mpv1alpha1.InUseFinalizer) {
		t.Errorf("finalizers = %v, want the in-use finalizer kept", w.Finalizers)
	}
}

// releaseConfig drops the test finalizer that stands in for the teardown finalizer.
func releaseConfig(t *testing.T) {
	t.Helper()
	_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "cluster"}, cfg); err != nil {
			return client.IgnoreNotFound(err)
		}
		cfg.Finalizers = slices.DeleteFunc(cfg.Finalizers, func(f string) bool { return f == testHold })
		return env.Client.Update(context.Background(), cfg)
	})
}

// remove deletes a PersistentVolume and drops its protection finalizer, as the
// pv-protection controller (absent from envtest) would once no pod uses it.
func remove(t *testing.T, p *corev1.PersistentVolume) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Delete(ctx, p); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, func() error {
		cur := &corev1.PersistentVolume{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), cur); apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		cur.Finalizers = nil
		_ = env.Client.Update(ctx, cur)
		return fmt.Errorf("PersistentVolume %s still there", p.Name)
	})
}

func TestNeverReadyOnNoNode(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	w := lun("nowhere", "3600a0980000000000000000000001e01", "")
	for _, o := range []client.Object{cfg, w} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	waitWWID(t, "nowhere", func(w *mpv1alpha1.MultipathWWID) error {
		if !conditions.IsTrue(w, mpv1alpha1.ReadyCondition) {
			return fmt.Errorf("not Ready yet")
		}
		return nil
	})
	// The health controller finds no node expected to carry it.
	setHealth := func(h mpv1alpha1.LUNHealth) {
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := getWWID("nowhere")
			if err != nil {
				return err
			}
			cur.Status.Health = h
			return c.Status().Update(ctx, cur)
		}); err != nil {
			t.Fatal(err)
		}
	}
	setHealth(mpv1alpha1.LUNHealth{State: mpv1alpha1.MapUnknown, Nodes: "0/0"})
	got := waitWWID(t, "nowhere", func(w *mpv1alpha1.MultipathWWID) error {
		r := conditions.Get(w, mpv1alpha1.ReadyCondition)
		if r == nil || r.Status != metav1.ConditionFalse || r.Reason != mpv1alpha1.NoExpectedNodesReason {
			return fmt.Errorf("Ready = %+v, want False NoExpectedNodes", r)
		}
		return nil
	})
	conditionstest.AssertKstatusInvariants(t, got)
	if err := kstatusIs(got, kstatus.FailedStatus); err != nil {
		t.Error(err)
	}
	setHealth(mpv1alpha1.LUNHealth{State: mpv1alpha1.MapOptimal, Nodes: "1/1", Counts: mpv1alpha1.HealthCounts{Optimal: 1}})
	got = waitWWID(t, "nowhere", func(w *mpv1alpha1.MultipathWWID) error {
		if !conditions.IsTrue(w, mpv1alpha1.ReadyCondition) {
			return fmt.Errorf("Ready = %+v, want True once a node carries it", conditions.Get(w, mpv1alpha1.ReadyCondition))
		}
		return nil
	})
	if err := kstatusIs(got, kstatus.CurrentStatus); err != nil {
		t.Error(err)
	}
}

// reportConflicts writes a node's status.hostConflicts as its agent would; the node's
// MultipathNodeState exists (reportMaps).
func reportConflicts(t *testing.T, node string, conflicts ...mpv1alpha1.HostConflict) {
	t.Helper()
	ctx := context.Background()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s := &mpv1alpha1.MultipathNodeState{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: node}, s); err != nil {
			return err
		}
		s.Status.HostConflicts = conflicts
		return env.Client.Status().Update(ctx, s)
	}); err != nil {
		t.Fatal(err)
	}
}

// The adoption case of issue 16: a LUN whose map a node holds open under a name the host gave
// it is left out of the render, with a stall naming the node, the name, the mount and the fix,
// while the other LUNs render. A LUN already rendered leaves the render when a node's agent
// refuses to adopt it (a WouldRename host conflict). Freed, both render.
func TestAdoptionOfAnOpenMapIsHeldUntilItIsFreed(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	refused := lun("refused", "3600a0980000000000000000000001c01", "")
	fresh := lun("fresh", "3600a0980000000000000000000001c02", "foo")
	other := lun("other", "3600a0980000000000000000000001c03", "")
	for _, o := range []client.Object{cfg, refused, other} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	waitRendered(t, mustRender(t, cfg, refused, other))

	// worker-1's agent refused the config: mpatha is the refused LUN, mounted; mpathb is the
	// fresh LUN's map, held by an LVM volume, before its MultipathWWID exists.
	reportMaps(t, "worker-1",
		mpv1alpha1.MapStatus{WWID: refused.Spec.WWID, Name: "mpatha", State: mpv1alpha1.MapOptimal, OpenCount: 1,
			Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv/a"}}},
		mpv1alpha1.MapStatus{WWID: fresh.Spec.WWID, Name: "mpathb", State: mpv1alpha1.MapOptimal, OpenCount: 1,
			Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserHolder, Name: "vg0-data"}}})
	reportConflicts(t, "worker-1", mpv1alpha1.HostConflict{Type: mpv1alpha1.HostConflictWouldRename, WWID: refused.Spec.WWID, Alias: "mpatha"})
	if err := c.Create(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	waitRendered(t, mustRender(t, cfg, other))
	for name, want := range map[string][]string{
		"refused": {"to /dev/mapper/" + refused.Spec.WWID, "/dev/mapper/mpatha is mounted at /srv/a on node worker-1", "unmount it"},
		"fresh":   {"to /dev/mapper/foo", "/dev/mapper/mpathb is held by vg0-data on node worker-1"},
	} {
		got := waitWWID(t, name, func(w *mpv1alpha1.MultipathWWID) error {
			st := conditions.Get(w, mpv1alpha1.StalledCondition)
			if st == nil || st.Reason != mpv1alpha1.OpenOnNodeReason || slices.ContainsFunc(want, func(f string) bool { return !strings.Contains(st.Message, f) }) {
				return fmt.Errorf("Stalled = %+v, want OpenOnNode with %q", st, want)
			}
			if w.Status.RenderedAlias != nil {
				return fmt.Errorf("renderedAlias = %q for a LUN left out", *w.Status.RenderedAlias)
			}
			return nil
		})
		conditionstest.AssertKstatusInvariants(t, got)
	}

	// The map is unmounted and the agent's conflict goes: the refused LUN renders; the fresh
	// one waits for its own map.
	reportMaps(t, "worker-1",
		mpv1alpha1.MapStatus{WWID: refused.Spec.WWID, Name: "mpatha", State: mpv1alpha1.MapOptimal},
		mpv1alpha1.MapStatus{WWID: fresh.Spec.WWID, Name: "mpathb", State: mpv1alpha1.MapOptimal, OpenCount: 1,
			Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserHolder, Name: "vg0-data"}}})
	reportConflicts(t, "worker-1")
	waitRendered(t, mustRender(t, cfg, refused, other))

	// The volume group is deactivated: the fresh LUN renders too.
	reportMaps(t, "worker-1",
		mpv1alpha1.MapStatus{WWID: refused.Spec.WWID, Name: "mpatha", State: mpv1alpha1.MapOptimal},
		mpv1alpha1.MapStatus{WWID: fresh.Spec.WWID, Name: "mpathb", State: mpv1alpha1.MapOptimal})
	waitRendered(t, mustRender(t, cfg, refused, fresh, other))
	waitWWID(t, "fresh", func(w *mpv1alpha1.MultipathWWID) error {
		if w.Status.RenderedAlias == nil || *w.Status.RenderedAlias != "foo" || !conditions.IsTrue(w, mpv1alpha1.ReadyCondition) {
			return fmt.Errorf("renderedAlias = %v, Ready %+v; want foo, True", w.Status.RenderedAlias, conditions.Get(w, mpv1alpha1.ReadyCondition))
		}
		return nil
	})
}
