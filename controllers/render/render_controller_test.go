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
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/render"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/conditions/conditionstest"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

func lun(name, wwid, alias string) *mpv1alpha1.MultipathWWID {
	return &mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: wwid, Alias: alias},
	}
}

func pv(name string, mutate func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	p := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				CSI: &corev1.CSIPersistentVolumeSource{Driver: "example.csi.vendor.io", VolumeHandle: name},
			},
		},
	}
	mutate(p)
	return p
}

func localPV(name, path string) *corev1.PersistentVolume {
	return pv(name, func(p *corev1.PersistentVolume) {
		p.Spec.CSI = nil
		p.Spec.Local = &corev1.LocalVolumeSource{Path: path}
		p.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}},
		}}}}
	})
}

func getConfig(t *testing.T) *mpv1alpha1.MultipathConfig {
	t.Helper()
	c := &mpv1alpha1.MultipathConfig{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "cluster"}, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func getWWID(name string) (*mpv1alpha1.MultipathWWID, error) {
	w := &mpv1alpha1.MultipathWWID{}
	err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, w)
	return w, err
}

// renderedFiles reads and unpacks the ConfigMap the MultipathConfig names.
func renderedFiles(cfg *mpv1alpha1.MultipathConfig) (*multipathconf.Rendered, error) {
	if cfg.Status.RenderedConfig == nil {
		return nil, fmt.Errorf("no status.renderedConfig yet")
	}
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: cfg.Status.RenderedConfig.Name}, cm); err != nil {
		return nil, err
	}
	if cm.Immutable == nil || !*cm.Immutable {
		return nil, fmt.Errorf("ConfigMap %s is not immutable", cm.Name)
	}
	return multipathconf.Unpack(cm.Data, cm.BinaryData, cfg.Status.RenderedConfig.Hash)
}

// waitRendered waits until the MultipathConfig names the render of exactly these objects.
func waitRendered(t *testing.T, want *multipathconf.Rendered) *mpv1alpha1.MultipathConfig {
	t.Helper()
	var cfg *mpv1alpha1.MultipathConfig
	eventually(t, func() error {
		cfg = getConfig(t)
		if cfg.Status.RenderedConfig == nil || cfg.Status.RenderedConfig.Hash != want.Hash {
			return fmt.Errorf("status.renderedConfig = %+v, want hash %s", cfg.Status.RenderedConfig, want.ShortHash())
		}
		return nil
	})
	return cfg
}

func mustRender(t *testing.T, cfg *mpv1alpha1.MultipathConfig, wwids ...*mpv1alpha1.MultipathWWID) *multipathconf.Rendered {
	t.Helper()
	list := make([]mpv1alpha1.MultipathWWID, len(wwids))
	for i, w := range wwids {
		list[i] = *w
	}
	r, err := multipathconf.Render(cfg, list)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRenderedConfigMapFollowsTheObjects(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client

	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	cfg.Spec.Defaults.PollingInterval = ptrInt32(5)
	cfg.Spec.Defaults.NoPathRetry = ptrIntOrString(intstr.FromString("queue"))
	a := lun("ora", "3600a0980000000000000000000000a01", "oradata")
	b := lun("pg", "3600a0980000000000000000000000b02", "")
	b.Spec.PathGroupingPolicy = mpv1alpha1.PathGroupingGroupByPrio
	for _, o := range []client.Object{cfg, a, b} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	// Objects in: the ConfigMap holds exactly what the rules package renders.
	want := mustRender(t, cfg, a, b)
	got := waitRendered(t, want)
	files, err := renderedFiles(got)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files.Files, want.Files) {
		t.Errorf("ConfigMap files differ from multipathconf.Render:\n got %+v\nwant %+v", files.Files, want.Files)
	}
	if got.Status.RenderedConfig.LUNs != 2 || got.Status.RenderedConfig.Bytes != int64(want.Bytes) {
		t.Errorf("status.renderedConfig = %+v, want 2 LUNs and %d bytes", got.Status.RenderedConfig, want.Bytes)
	}
	if c := conditions.Get(got, mpv1alpha1.RenderedCondition); c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != got.Generation {
		t.Errorf("Rendered condition = %+v, want True for generation %d", c, got.Generation)
	}
	eventually(t, func() error {
		w, err := getWWID("ora")
		if err != nil {
			return err
		}
		if !conditions.IsTrue(w, mpv1alpha1.ReadyCondition) || w.Status.RenderedAlias == nil || *w.Status.RenderedAlias != "oradata" {
			return fmt.Errorf("ora status = %+v", w.Status)
		}
		conditionstest.AssertKstatusInvariants(t, w)
		return kstatusIs(w, kstatus.CurrentStatus)
	})

	// A knob changes: a new hash, a new ConfigMap; the old one stays for rollback.
	cfg = updateConfig(t, func(cfg *mpv1alpha1.MultipathConfig) { cfg.Spec.Defaults.PollingInterval = ptrInt32(10) })
	want2 := mustRender(t, cfg, a, b)
	if want2.Hash == want.Hash {
		t.Fatal("changing pollingInterval did not change the hash")
	}
	waitRendered(t, want2)
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: want.ConfigMapName()}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("previous ConfigMap %s should be kept for rollback: %v", want.ConfigMapName(), err)
	}

	// Everything deleted: "nothing to manage".
	for _, o := range []client.Object{a, b} {
		if err := c.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	updateConfig(t, func(cfg *mpv1alpha1.MultipathConfig) { cfg.Spec.Defaults = mpv1alpha1.MultipathDefaults{} })
	empty := multipathconf.Empty()
	if !empty.Empty {
		t.Fatal("EmptyConfig is not empty")
	}
	got = waitRendered(t, empty)
	if got.Status.RenderedConfig.LUNs != 0 || got.Status.RenderedConfig.Name != multipathconf.EmptyRef().Name {
		t.Errorf("after deleting everything status.renderedConfig = %+v, want the empty config", got.Status.RenderedConfig)
	}
}

func TestBurstOfCreationsCoalesces(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	if err := env.Client.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	waitRendered(t, mustRender(t, cfg))

	const n = 1000
	before, writesBefore := render.RendersTotal(), render.ConfigMapWritesTotal()
	luns := make([]*mpv1alpha1.MultipathWWID, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		luns[i] = lun(fmt.Sprintf("burst-%04d", i), fmt.Sprintf("3600a09800000000000000000000%05d", i), fmt.Sprintf("burst%04d", i))
		sem <- struct{}{}
		go func(w *mpv1alpha1.MultipathWWID) {
			defer func() { <-sem }()
			errs <- env.Client.Create(ctx, w)
		}(luns[i])
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitRendered(t, mustRender(t, cfg, luns...))
	// Let the queue drain: the WWID status writes the last render caused are not inputs.
	time.Sleep(2 * time.Second)
	renders := render.RendersTotal() - before
	writes := render.ConfigMapWritesTotal() - writesBefore
	t.Logf("%d MultipathWWID creations caused %v renders and %v ConfigMap writes", n, renders, writes)
	if renders > 10 {
		t.Errorf("%d creations caused %v renders, want at most 10", n, renders)
	}
	if writes > renders {
		t.Errorf("%v ConfigMap writes for %v renders", writes, renders)
	}
}

func TestConflictsLeaveTheLoserOut(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	first := lun("first", "3600a0980000000000000000000000c01", "shared")
	if err := c.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // creation timestamps have one-second resolution
	tests := map[string]struct {
		obj    *mpv1alpha1.MultipathWWID
		reason string
	}{
		"the same WWID in another case":  {lun("dup-wwid", "3600A0980000000000000000000000C01", ""), mpv1alpha1.DuplicateWWIDReason},
		"the same alias":                 {lun("dup-alias", "3600a0980000000000000000000000c02", "shared"), mpv1alpha1.DuplicateAliasReason},
		"an alias equal to another WWID": {lun("alias-is-wwid", "3600a0980000000000000000000000c03", "3600a0980000000000000000000000c01"), mpv1alpha1.DuplicateAliasReason},
	}
	for name, tc := range tests {
		if err := c.Create(ctx, tc.obj); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	waitRendered(t, mustRender(t, cfg, first))
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			eventually(t, func() error {
				w, err := getWWID(tc.obj.Name)
				if err != nil {
					return err
				}
				cond := conditions.Get(w, mpv1alpha1.ConflictCondition)
				if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != tc.reason || !strings.Contains(cond.Message, "first") {
					return fmt.Errorf("Conflict condition = %+v, want True, %s, naming first", cond, tc.reason)
				}
				if !conditions.IsTrue(w, mpv1alpha1.StalledCondition) || conditions.IsTrue(w, mpv1alpha1.ReadyCondition) {
					return fmt.Errorf("a conflicting LUN must be Stalled and not Ready: %+v", w.Status.Conditions)
				}
				if w.Status.RenderedAlias != nil {
					return fmt.Errorf("a conflicting LUN has renderedAlias %q", *w.Status.RenderedAlias)
				}
				conditionstest.AssertKstatusInvariants(t, w)
				// Argo CD and Flux read a conflicting LUN as failed, not as progressing forever.
				return kstatusIs(w, kstatus.FailedStatus)
			})
		})
	}
	eventually(t, func() error {
		events := &corev1.EventList{}
		if err := c.List(ctx, events); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "dup-wwid" && e.Reason == mpv1alpha1.DuplicateWWIDReason {
				return nil
			}
		}
		return fmt.Errorf("no %s event for dup-wwid", mpv1alpha1.DuplicateWWIDReason)
	})
}

func TestConsumerDiscovery(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	if err := c.Create(ctx, &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		lun *mpv1alpha1.MultipathWWID
		pv  *corev1.PersistentVolume
	}{
		"spec.fc.wwids names the WWID": {lun("fc", "3600a0980000000000000000000000d01", ""),
			pv("pv-fc", func(p *corev1.PersistentVolume) {
				p.Spec.CSI = nil
				lunNo := int32(0)
				p.Spec.FC = &corev1.FCVolumeSource{WWIDs: []string{"3600A0980000000000000000000000D01"}, Lun: nil}
				_ = lunNo
			})},
		"spec.local.path is /dev/mapper/<wwid>":  {lun("local-wwid", "3600a0980000000000000000000000d02", ""), localPV("pv-local-wwid", "/dev/mapper/3600a0980000000000000000000000d02")},
		"spec.local.path is /dev/mapper/<alias>": {lun("local-alias", "3600a0980000000000000000000000d03", "pgdata"), localPV("pv-local-alias", "/dev/mapper/pgdata")},
		"spec.local.path is the dm-uuid link":    {lun("local-byid", "3600a0980000000000000000000000d04", ""), localPV("pv-local-byid", "/dev/disk/by-id/dm-uuid-mpath-3600a0980000000000000000000000d04")},
		"a CSI volume attribute names the WWID": {lun("csi", "3600a0980000000000000000000000d05", ""),
			pv("pv-csi", func(p *corev1.PersistentVolume) {
				p.Spec.CSI.VolumeAttributes = map[string]string{"wwid": "3600a0980000000000000000000000d05"}
			})},
		"the annotation names the WWID": {lun("annotated", "3600a0980000000000000000000000d06", ""),
			pv("pv-annotated", func(p *corev1.PersistentVolume) {
				p.Annotations = map[string]string{mpv1alpha1.WWIDAnnotation: "3600a0980000000000000000000000d06"}
			})},
	}
	for name, tc := range tests {
		if err := c.Create(ctx, tc.lun); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.Create(ctx, tc.pv); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			eventually(t, func() error {
				w, err := getWWID(tc.lun.Name)
				if err != nil {
					return err
				}
				if !slices.Equal(w.Status.Consumers, []string{tc.pv.Name}) || w.Status.ConsumerCount != 1 {
					return fmt.Errorf("consumers = %v (%d), want [%s]", w.Status.Consumers, w.Status.ConsumerCount, tc.pv.Name)
				}
				if !conditions.IsTrue(w, mpv1alpha1.InUseCondition) {
					return fmt.Errorf("InUse is not True: %+v", w.Status.Conditions)
				}
				if !slices.Contains(w.Finalizers, mpv1alpha1.InUseFinalizer) {
					return fmt.Errorf("finalizers = %v, want %s", w.Finalizers, mpv1alpha1.InUseFinalizer)
				}
				return nil
			})
		})
	}
}

func TestConsumedLUNIsProtected(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	w := lun("protected", "3600a0980000000000000000000000e01", "dbdata")
	volume := localPV("pv-protected", "/dev/mapper/dbdata")
	for _, o := range []client.Object{cfg, w, volume} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() error {
		got, err := getWWID("protected")
		if err != nil {
			return err
		}
		if !slices.Contains(got.Finalizers, mpv1alpha1.InUseFinalizer) || got.Status.RenderedAlias == nil {
			return fmt.Errorf("not protected and rendered yet: finalizers %v, renderedAlias %v", got.Finalizers, got.Status.RenderedAlias)
		}
		return nil
	})

	// An alias change on a consumed LUN is not rendered: the nodes keep /dev/mapper/dbdata.
	got := updateWWID(t, "protected", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "dbdata-new" })
	eventually(t, func() error {
		got, err := getWWID("protected")
		if err != nil {
			return err
		}
		st := conditions.Get(got, mpv1alpha1.StalledCondition)
		if st == nil || st.Reason != mpv1alpha1.AliasChangeRefusedReason || !strings.Contains(st.Message, "pv-protected") {
			return fmt.Errorf("Stalled = %+v, want AliasChangeRefused naming pv-protected", st)
		}
		if *got.Status.RenderedAlias != "dbdata" {
			return fmt.Errorf("renderedAlias = %q, want dbdata kept", *got.Status.RenderedAlias)
		}
		conditionstest.AssertKstatusInvariants(t, got)
		return nil
	})
	files, err := renderedFiles(getConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if base, _ := files.File(multipathconf.BaselineFileName); !strings.Contains(base, `alias "dbdata"`) || strings.Contains(base, "dbdata-new") {
		t.Errorf("the rendered baseline must keep alias dbdata:\n%s", base)
	}

	// Deletion while consumed waits (Terminating) and says why.
	if err := c.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		got, err := getWWID("protected")
		if err != nil {
			return fmt.Errorf("a consumed LUN must stay while Terminating: %w", err)
		}
		if got.DeletionTimestamp.IsZero() {
			return fmt.Errorf("not Terminating yet")
		}
		st := conditions.Get(got, mpv1alpha1.StalledCondition)
		if st == nil || !strings.Contains(st.Message, "pv-protected") {
			return fmt.Errorf("Stalled = %+v, want it to name pv-protected", st)
		}
		return nil
	})
	// Still rendered while Terminating: a consumed LUN never leaves the nodes.
	files, err = renderedFiles(getConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files.WWIDs, "3600a0980000000000000000000000e01") {
		t.Errorf("a Terminating consumed LUN left the render: %v", files.WWIDs)
	}

	// The volume goes: the LUN goes. (envtest runs no pv-protection controller: its finalizer
	// is dropped by hand, as the real one would once no pod uses the volume.)
	if err := c.Delete(ctx, volume); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		p := &corev1.PersistentVolume{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(volume), p); apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		p.Finalizers = nil
		if err := c.Update(ctx, p); err != nil {
			return err
		}
		return fmt.Errorf("PersistentVolume still there")
	})
	eventually(t, func() error {
		if _, err := getWWID("protected"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there after its consumer left: %v", err)
		}
		return nil
	})
}

func TestForceAnnotation(t *testing.T) {
	startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	w := lun("forced", "3600a0980000000000000000000000f01", "old-name")
	volume := localPV("pv-forced", "/dev/mapper/old-name")
	for _, o := range []client.Object{cfg, w, volume} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() error {
		got, err := getWWID("forced")
		if err != nil || got.Status.RenderedAlias == nil || len(got.Finalizers) == 0 {
			return fmt.Errorf("not rendered and protected yet (%v)", err)
		}
		return nil
	})
	updateWWID(t, "forced", func(w *mpv1alpha1.MultipathWWID) {
		w.Spec.Alias = "new-name"
		w.Annotations = map[string]string{mpv1alpha1.ForceRemoveAnnotation: "true"}
	})
	eventually(t, func() error {
		got, err := getWWID("forced")
		if err != nil {
			return err
		}
		if got.Status.RenderedAlias == nil || *got.Status.RenderedAlias != "new-name" {
			return fmt.Errorf("renderedAlias = %v, want new-name with the force annotation", got.Status.RenderedAlias)
		}
		return nil
	})
	// The annotation was removed once the rename was honoured: a deletion is forced anew.
	got := updateWWID(t, "forced", func(w *mpv1alpha1.MultipathWWID) {
		metav1.SetMetaDataAnnotation(&w.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
	})
	if err := c.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if _, err := getWWID("forced"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("a forced delete of a consumed LUN must go through: %v", err)
		}
		return nil
	})
}

func TestManagerRestartWritesNothing(t *testing.T) {
	stop := startManager(t)
	defer cleanup(t)
	ctx := context.Background()
	c := env.Client
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	a := lun("restart-a", "3600a0980000000000000000000000a91", "restart-a")
	volume := localPV("pv-restart", "/dev/mapper/restart-a")
	for _, o := range []client.Object{cfg, a, volume} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	want := mustRender(t, cfg, a)
	waitRendered(t, want)
	eventually(t, func() error {
		w, err := getWWID("restart-a")
		if err != nil || w.Status.ConsumerCount != 1 {
			return fmt.Errorf("consumers not reported yet (%v)", err)
		}
		return nil
	})
	time.Sleep(time.Second)
	snapshot := func() map[string]string {
		rv := map[string]string{}
		cms := &corev1.ConfigMapList{}
		if err := c.List(ctx, cms, client.InNamespace(namespace)); err != nil {
			t.Fatal(err)
		}
		for _, cm := range cms.Items {
			rv["cm/"+cm.Name] = cm.ResourceVersion
		}
		rv["config"] = getConfig(t).ResourceVersion
		w, _ := getWWID("restart-a")
		rv["wwid"] = w.ResourceVersion
		return rv
	}
	before := snapshot()
	stop()
	startManager(t)
	// The new manager re-lists everything and renders once; give it time to do so.
	time.Sleep(3 * time.Second)
	after := snapshot()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed across a restart: resourceVersion %s -> %s", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s was created by the restarted manager", k)
		}
	}
}

// updateConfig changes the MultipathConfig the way a person would, retrying on write conflicts
// with the controller's status writes.
func updateConfig(t *testing.T, mutate func(*mpv1alpha1.MultipathConfig)) *mpv1alpha1.MultipathConfig {
	t.Helper()
	var cfg *mpv1alpha1.MultipathConfig
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cfg = getConfig(t)
		mutate(cfg)
		return env.Client.Update(context.Background(), cfg)
	}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func updateWWID(t *testing.T, name string, mutate func(*mpv1alpha1.MultipathWWID)) *mpv1alpha1.MultipathWWID {
	t.Helper()
	var w *mpv1alpha1.MultipathWWID
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		if w, err = getWWID(name); err != nil {
			return err
		}
		mutate(w)
		return env.Client.Update(context.Background(), w)
	}); err != nil {
		t.Fatal(err)
	}
	return w
}

// kstatusIs computes the object's kstatus the way Argo CD and Flux do.
func kstatusIs(obj client.Object, want kstatus.Status) error {
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	res, err := kstatus.Compute(&unstructured.Unstructured{Object: raw})
	if err != nil {
		return err
	}
	if res.Status != want {
		return fmt.Errorf("kstatus = %s (%s), want %s", res.Status, res.Message, want)
	}
	return nil
}

func ptrInt32(v int32) *int32 { return &v }

func ptrIntOrString(v intstr.IntOrString) *intstr.IntOrString { return &v }
