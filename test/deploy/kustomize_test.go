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

package deploy

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) error { env = e; return nil }))
}

const fieldOwner = client.FieldOwner("kube-multipath-deploy-test")

// build runs kustomize (the library `kustomize build` is made of) on a folder under config/.
func build(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(testenv.RepoRoot(), dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range resMap.Resources() {
		// Through JSON, as kubectl would send it: r.Map() holds plain ints, which unstructured
		// objects do not accept.
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("kustomize build %s: %s: %v", dir, r.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatalf("kustomize build %s: %s: %v", dir, r.CurId(), err)
		}
		objs = append(objs, u)
	}
	return objs
}

// applyAll server-side applies objs: CustomResourceDefinitions and Namespaces for real (so the
// objects that depend on them can be dry-run), everything else with dryRun=All. It returns the
// number of objects per kind and fails the test on every error.
func applyAll(t *testing.T, objs []*unstructured.Unstructured) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := func(u *unstructured.Unstructured) bool {
		return u.GetKind() == "CustomResourceDefinition" || u.GetKind() == "Namespace"
	}
	sort.SliceStable(objs, func(i, j int) bool { return first(objs[i]) && !first(objs[j]) })
	counts := map[string]int{}
	for _, u := range objs {
		opts := []client.ApplyOption{client.ForceOwnership, fieldOwner}
		if !first(u) {
			opts = append(opts, client.DryRunAll)
		}
		if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), opts...); err != nil {
			t.Errorf("server-side apply %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			continue
		}
		counts[u.GetKind()]++
	}
	return counts
}

// minimum is the least number of objects of each kind a full install has.
var minimum = map[string]int{
	"CustomResourceDefinition":         3,
	"Namespace":                        1,
	"Deployment":                       1,
	"DaemonSet":                        1,
	"ValidatingWebhookConfiguration":   1,
	"ValidatingAdmissionPolicy":        2,
	"ValidatingAdmissionPolicyBinding": 2,
}

func checkCounts(t *testing.T, counts map[string]int) {
	t.Helper()
	for kind, n := range minimum {
		if counts[kind] < n {
			t.Errorf("%d %s applied, want at least %d", counts[kind], kind, n)
		}
	}
	t.Logf("applied: %v", counts)
}

func TestConfigDefaultAppliesServerSide(t *testing.T) {
	objs := build(t, "config/default")
	checkCounts(t, applyAll(t, objs))
	// dryRun=All persisted nothing but the CRDs and the Namespace.
	for _, u := range objs {
		if u.GetKind() != "Deployment" && u.GetKind() != "DaemonSet" {
			continue
		}
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(u.GroupVersionKind())
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(u), got)
		if !apierrors.IsNotFound(err) {
			t.Errorf("%s %s after a dry-run apply: %v, want NotFound", u.GetKind(), u.GetName(), err)
		}
	}
}

// TestSamplesApplyServerSide dry-runs the sample custom resources against the CRDs the install
// applies, so the samples keep passing the CRDs' schema and CEL rules.
func TestSamplesApplyServerSide(t *testing.T) {
	applyAll(t, build(t, "config/crd"))
	counts := applyAll(t, build(t, "config/samples"))
	if counts["MultipathConfig"] < 1 || counts["MultipathWWID"] < 1 {
		t.Errorf("applied %v, want at least one MultipathConfig and one MultipathWWID", counts)
	}
}

// TestConfigCertManagerAppliesServerSide dry-runs config/certmanager without its cert-manager
// objects: the control plane has no cert-manager CRDs, so Certificate and Issuer cannot be
// dry-run here; that they build is all this test checks of them.
func TestConfigCertManagerAppliesServerSide(t *testing.T) {
	var objs []*unstructured.Unstructured
	certManager := 0
	for _, u := range build(t, "config/certmanager") {
		if u.GroupVersionKind().Group == "cert-manager.io" {
			certManager++
			continue
		}
		objs = append(objs, u)
	}
	if certManager < 3 {
		t.Errorf("config/certmanager has %d cert-manager.io objects, want the CA Issuer, the CA Certificate, the serving Issuer and Certificate", certManager)
	}
	counts := applyAll(t, objs)
	checkCounts(t, counts)
	if counts["Secret"] != 0 {
		t.Errorf("config/certmanager still ships the webhook Secret; cert-manager creates it")
	}
	t.Logf("not dry-run: %d cert-manager.io objects (no cert-manager CRDs in envtest)", certManager)
}

// TestConfigPrometheusBuilds builds config/prometheus. The control plane has no Prometheus
// Operator CRDs, so its objects cannot be dry-run here; the test checks what it holds.
func TestConfigPrometheusBuilds(t *testing.T) {
	kinds := map[string]int{}
	for _, u := range build(t, "config/prometheus") {
		if u.GroupVersionKind().Group != "monitoring.coreos.com" {
			t.Errorf("config/prometheus holds %s %s, want Prometheus Operator objects only", u.GetKind(), u.GetName())
		}
		if u.GetNamespace() != "kube-multipath-system" {
			t.Errorf("%s %s is in namespace %q, want kube-multipath-system", u.GetKind(), u.GetName(), u.GetNamespace())
		}
		kinds[u.GetKind()]++
	}
	if kinds["ServiceMonitor"] != 1 || kinds["PrometheusRule"] != 1 {
		t.Errorf("config/prometheus holds %v, want one ServiceMonitor and one PrometheusRule", kinds)
	}
}
