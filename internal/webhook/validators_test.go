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

package webhook

// Unit tests of the states the API server cannot easily be brought into (a LUN whose rename the
// render controller refused, so its rendered alias differs from its spec), of the cache reads,
// and of message formatting. The envtest suite (package webhook_test) covers the rest through
// the real API server.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/index"
	"github.com/kube-multipath/kube-multipath/internal/scheme"
)

// fakeCache is a client with the indexes the manager's cache has.
func fakeCache(objs ...client.Object) client.Client {
	b := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objs...)
	for _, ix := range index.All() {
		b = b.WithIndex(ix.Object, ix.Field, ix.Extract)
	}
	return b.Build()
}

func unitLUN(name, wwid, alias string, rendered *string) *mpv1alpha1.MultipathWWID {
	return &mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Now()},
		Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: wwid, Alias: alias},
		Status:     mpv1alpha1.MultipathWWIDStatus{RenderedAlias: rendered},
	}
}

func localPV(name, path string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: path}}}}
}

func wantRefused(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("admitted, want refused with %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("message\n  %s\ndoes not contain\n  %s", err, f)
		}
	}
}

// A LUN whose alias change the render controller refused (its volume uses the old name) still
// holds the old alias on the nodes: nobody else may take it, going back to it is no rename,
// and its volumes are found under it.
func TestRefusedRename(t *testing.T) {
	ctx := context.Background()
	held := unitLUN("held", "3600a1", "new", ptr.To("old"))
	v := &MultipathWWIDValidator{Reader: fakeCache(held, localPV("pv-old", "/dev/mapper/old"))}

	t.Run("the alias the nodes still use is taken", func(t *testing.T) {
		_, err := v.ValidateCreate(ctx, unitLUN("other", "3600a2", "OLD", nil))
		wantRefused(t, err, `spec.alias: Invalid value: "OLD": alias "OLD" is (as old, ignoring case) already the alias of MultipathWWID "held": choose another alias`)
	})
	t.Run("so is the alias in its spec", func(t *testing.T) {
		_, err := v.ValidateCreate(ctx, unitLUN("other", "3600a2", "new", nil))
		wantRefused(t, err, `alias "new" is already the alias of MultipathWWID "held"`)
	})
	t.Run("going back to the alias the nodes use is no rename", func(t *testing.T) {
		back := held.DeepCopy()
		back.Spec.Alias = "old"
		if _, err := v.ValidateUpdate(ctx, held, back); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("another alias renames what the nodes use", func(t *testing.T) {
		other := held.DeepCopy()
		other.Spec.Alias = "third"
		_, err := v.ValidateUpdate(ctx, held, other)
		wantRefused(t, err, "the LUN is used by PersistentVolume pv-old: changing the alias would rename /dev/mapper/old on every node")
	})
	t.Run("deleting finds the volumes using the rendered alias", func(t *testing.T) {
		_, err := v.ValidateDelete(ctx, held)
		wantRefused(t, err, `"held" is forbidden: the LUN is used by PersistentVolume pv-old: deleting it would remove /dev/mapper/old from every node`)
	})
}

func TestUpdateLeavingTheSpecAloneIsAdmitted(t *testing.T) {
	// Admitted under older rules: now invalid, and its name taken twice. Finalizers must still
	// come off.
	old := unitLUN("legacy", "3600a1", "mpathx", nil)
	old.Finalizers = []string{mpv1alpha1.InUseFinalizer}
	v := &MultipathWWIDValidator{Reader: fakeCache(unitLUN("twin", "3600a1", "", nil))}
	updated := old.DeepCopy()
	updated.Finalizers = nil
	if w, err := v.ValidateUpdate(context.Background(), old, updated); err != nil || len(w) > 0 {
		t.Fatalf("got %v, %v", w, err)
	}
	c := &MultipathConfigValidator{Reader: fakeCache()}
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}, Spec: mpv1alpha1.MultipathConfigSpec{Overrides: "hardware {\n}\n"}}
	relabelled := cfg.DeepCopy()
	relabelled.Labels = map[string]string{"a": "b"}
	if _, err := c.ValidateUpdate(context.Background(), cfg, relabelled); err != nil {
		t.Fatal(err)
	}
}

func TestBlacklistBlamesOnlyTheNewWWID(t *testing.T) {
	// The config already has an error (an unknown section) and already blacklists another
	// listed WWID: neither is the new LUN's fault.
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}, Spec: mpv1alpha1.MultipathConfigSpec{
		Overrides: "hardware {\n}\nblacklist {\n\twwid \"^36000c29\"\n}\n"}}
	v := &MultipathWWIDValidator{Reader: fakeCache(cfg)}
	_, err := v.ValidateCreate(context.Background(), unitLUN("vm", "36000c29ab", "", nil))
	wantRefused(t, err, `spec.wwid: Invalid value: "36000c29ab": MultipathConfig "cluster" spec.overrides line 4: blacklist wwid "^36000c29" matches the allow-listed WWID 36000c29ab`)
	if strings.Contains(err.Error(), "hardware") {
		t.Errorf("the config's own error is blamed on the LUN: %v", err)
	}
	if _, err := v.ValidateCreate(context.Background(), unitLUN("other", "3600a1", "", nil)); err != nil {
		t.Errorf("a WWID the blacklist does not match: %v", err)
	}
}

// The name indexes spread names over buckets (index.Bucket): an object or volume that shares a
// bucket with another name is a candidate, never a conflict or a user.
func TestNamesSharingABucket(t *testing.T) {
	ctx := context.Background()
	seen := map[string]string{}
	var a, b string
	for n := 0; b == ""; n++ {
		name := fmt.Sprintf("mpath%d", n)
		if other, ok := seen[index.Bucket(name)]; ok {
			a, b = other, name
		}
		seen[index.Bucket(name)] = name
	}
	v := &MultipathWWIDValidator{Reader: fakeCache(unitLUN("held", "3600a1", a, nil), localPV("pv-a", "/dev/mapper/"+a))}
	if _, err := v.ValidateCreate(ctx, unitLUN("other", "3600a2", b, nil)); err != nil {
		t.Errorf("alias %s, in the bucket of %s: %v", b, a, err)
	}
	if _, err := v.ValidateDelete(ctx, unitLUN("other", "3600a2", b, nil)); err != nil {
		t.Errorf("deleting the LUN of alias %s (no volume names it): %v", b, err)
	}
	_, err := v.ValidateCreate(ctx, unitLUN("third", "3600a3", a, nil))
	wantRefused(t, err, fmt.Sprintf(`alias %q is already the alias of MultipathWWID "held"`, a))
	_, err = v.ValidateDelete(ctx, unitLUN("held", "3600a1", a, nil))
	wantRefused(t, err, "the LUN is used by PersistentVolume pv-a")
}

// Without the indexes the cache cannot answer: the request is refused as an internal error
// (the create/update webhook fails closed), never admitted unchecked.
func TestCacheErrorsRefuse(t *testing.T) {
	bare := fake.NewClientBuilder().WithScheme(scheme.New()).Build()
	v := &MultipathWWIDValidator{Reader: bare}
	_, err := v.ValidateCreate(context.Background(), unitLUN("a", "3600a1", "", nil))
	if !apierrors.IsInternalError(err) {
		t.Errorf("create: got %v, want an internal error", err)
	}
	_, err = v.ValidateDelete(context.Background(), unitLUN("a", "3600a1", "", nil))
	if !apierrors.IsInternalError(err) {
		t.Errorf("delete: got %v, want an internal error", err)
	}
}

func TestNamePVs(t *testing.T) {
	many := make([]string, 12)
	for i := range many {
		many[i] = "pv" + string(rune('a'+i))
	}
	tests := map[string]struct {
		names []string
		want  string
	}{
		"one":               {[]string{"pv1"}, "PersistentVolume pv1"},
		"two":               {[]string{"pv1", "pv2"}, "PersistentVolumes pv1 and pv2"},
		"three":             {[]string{"pv1", "pv2", "pv3"}, "PersistentVolumes pv1, pv2 and pv3"},
		"ten are all named": {many[:10], "PersistentVolumes pva, pvb, pvc, pvd, pve, pvf, pvg, pvh, pvi and pvj"},
		"more than ten":     {many, "PersistentVolumes pva, pvb, pvc, pvd, pve, pvf, pvg, pvh, pvi, pvj and 2 more"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := namePVs(tc.names); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	o := DefaultOptions("kube-multipath-system")
	if err := o.validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	o.SecretName = ""
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "to manage certificates") {
		t.Errorf("managed certificates without a Secret: %v", err)
	}
	o.ManageCertificates = false
	if err := o.validate(); err != nil {
		t.Errorf("certificates from elsewhere need no Secret name: %v", err)
	}
	o.CertDir, o.Port = "", 0
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "a certificate directory") || !strings.Contains(err.Error(), "a port") {
		t.Errorf("no directory, no port: %v", err)
	}
}

func TestDisabled(t *testing.T) {
	// A negative port needs nothing else, registers nothing and is always ready.
	ready, err := SetupWithManager(nil, Options{Port: -1})
	if err != nil || ready(nil) != nil {
		t.Errorf("disabled: %v", err)
	}
}
