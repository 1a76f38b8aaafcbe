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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
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
		if err := applyCtx(ctx, u, !first(u)); err != nil {
			t.Errorf("server-side apply %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			continue
		}
		counts[u.GetKind()]++
	}
	return counts
}

// apply server-side applies one object, with dryRun=All when dryRun is set.
func apply(u *unstructured.Unstructured, dryRun bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return applyCtx(ctx, u, dryRun)
}

func applyCtx(ctx context.Context, u *unstructured.Unstructured, dryRun bool) error {
	opts := []client.ApplyOption{client.ForceOwnership, fieldOwner}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	return env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), opts...)
}

// minimum is the least number of objects of each kind a full install has.
var minimum = map[string]int{
	"CustomResourceDefinition":         3,
	"Namespace":                        1,
	"Deployment":                       1,
	"DaemonSet":                        1,
	"ValidatingWebhookConfiguration":   1,
	"ValidatingAdmissionPolicy":        1,
	"ValidatingAdmissionPolicyBinding": 1,
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
	counts := applyAll(t, objs)
	checkCounts(t, counts)
	// One admission policy binds the agent to its node (config/agent/admission_policy.yaml),
	// bound once.
	if counts["ValidatingAdmissionPolicy"] != 1 || counts["ValidatingAdmissionPolicyBinding"] != 1 {
		t.Errorf("config/default installs %d ValidatingAdmissionPolicies and %d bindings, want one of each",
			counts["ValidatingAdmissionPolicy"], counts["ValidatingAdmissionPolicyBinding"])
	}
	for _, u := range objs {
		if u.GetKind() == "ValidatingAdmissionPolicyBinding" {
			if name, _, _ := unstructured.NestedString(u.Object, "spec", "policyName"); name != "kube-multipath-agent-node-bound" {
				t.Errorf("binding %s binds policy %q, want kube-multipath-agent-node-bound", u.GetName(), name)
			}
		}
	}
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

// TestConfigCertManagerAppliesServerSide installs cert-manager's own CRDs for Certificate and
// Issuer (testdata/crds) and dry-runs every object of config/certmanager, the cert-manager
// objects included, against them.
func TestConfigCertManagerAppliesServerSide(t *testing.T) {
	installThirdPartyCRDs(t)
	objs := build(t, "config/certmanager")
	built := kinds(objs)
	if built["Issuer"] != 2 || built["Certificate"] != 2 {
		t.Errorf("config/certmanager holds %v, want the CA Issuer, the CA Certificate, the serving Issuer and Certificate", built)
	}
	counts := applyAll(t, objs)
	checkCounts(t, counts)
	checkAllApplied(t, built, counts)
	if counts["Secret"] != 0 {
		t.Errorf("config/certmanager still ships the webhook Secret; cert-manager creates it")
	}
}

// TestConfigPrometheusAppliesServerSide installs the Prometheus Operator's CRDs for
// ServiceMonitor and PrometheusRule (testdata/crds) and dry-runs config/prometheus against them.
func TestConfigPrometheusAppliesServerSide(t *testing.T) {
	installThirdPartyCRDs(t)
	objs := build(t, "config/prometheus")
	built := kinds(objs)
	for _, u := range objs {
		if u.GroupVersionKind().Group != "monitoring.coreos.com" {
			t.Errorf("config/prometheus holds %s %s, want Prometheus Operator objects only", u.GetKind(), u.GetName())
		}
		if u.GetNamespace() != "kube-multipath-system" {
			t.Errorf("%s %s is in namespace %q, want kube-multipath-system", u.GetKind(), u.GetName(), u.GetNamespace())
		}
	}
	if built["ServiceMonitor"] != 1 || built["PrometheusRule"] != 1 {
		t.Errorf("config/prometheus holds %v, want one ServiceMonitor and one PrometheusRule", built)
	}
	ensureNamespace(t) // the overlay goes beside config/default, which creates it
	checkAllApplied(t, built, applyAll(t, objs))
}

// TestThirdPartyCRDsRefuseMistakes shows that the dry-runs above check the overlays' objects
// against the upstream schemas: each object with one field misspelt, or one value the schema
// does not allow, is refused, and the error names the field.
func TestThirdPartyCRDsRefuseMistakes(t *testing.T) {
	installThirdPartyCRDs(t)
	ensureNamespace(t)
	objs := append(build(t, "config/certmanager"), build(t, "config/prometheus")...)
	find := func(kind, name string) *unstructured.Unstructured {
		for _, u := range objs {
			if u.GetKind() == kind && u.GetName() == name {
				return u.DeepCopy()
			}
		}
		t.Fatalf("no %s %s in config/certmanager or config/prometheus", kind, name)
		return nil
	}
	rename := func(u *unstructured.Unstructured, from, to string, path ...string) {
		m, ok, err := unstructured.NestedMap(u.Object, path...)
		if !ok || err != nil || m[from] == nil {
			t.Fatalf("%s %s has no %v.%s", u.GetKind(), u.GetName(), path, from)
		}
		m[to] = m[from]
		delete(m, from)
		if err := unstructured.SetNestedMap(u.Object, m, path...); err != nil {
			t.Fatal(err)
		}
	}
	// editFirstRule changes the first rule of the first group (Nested* getters return copies).
	editFirstRule := func(u *unstructured.Unstructured, edit func(rule map[string]any)) {
		groups, _, _ := unstructured.NestedSlice(u.Object, "spec", "groups")
		if len(groups) == 0 {
			t.Fatalf("PrometheusRule %s has no groups", u.GetName())
		}
		rules, _, _ := unstructured.NestedSlice(groups[0].(map[string]any), "rules")
		if len(rules) == 0 {
			t.Fatalf("PrometheusRule %s has no rules", u.GetName())
		}
		edit(rules[0].(map[string]any))
		groups[0].(map[string]any)["rules"] = rules
		if err := unstructured.SetNestedSlice(u.Object, groups, "spec", "groups"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, kind, object string
		mistake            func(*unstructured.Unstructured)
		want               string // in the error
	}{
		{"Certificate dnsName", "Certificate", "kube-multipath-webhook-cert",
			func(u *unstructured.Unstructured) { rename(u, "dnsNames", "dnsName", "spec") }, "dnsName"},
		{"Certificate issuerRef.nmae", "Certificate", "kube-multipath-webhook-ca",
			func(u *unstructured.Unstructured) { rename(u, "name", "nmae", "spec", "issuerRef") }, "nmae"},
		{"Issuer selfSinged", "Issuer", "kube-multipath-selfsigned",
			func(u *unstructured.Unstructured) { rename(u, "selfSigned", "selfSinged", "spec") }, "selfSinged"},
		{"ServiceMonitor selectr", "ServiceMonitor", "kube-multipath-manager",
			func(u *unstructured.Unstructured) { rename(u, "selector", "selectr", "spec") }, "selectr"},
		{"PrometheusRule expression", "PrometheusRule", "kube-multipath",
			func(u *unstructured.Unstructured) {
				editFirstRule(u, func(r map[string]any) { r["expression"] = r["expr"]; delete(r, "expr") })
			}, "expression"},
		{"PrometheusRule for is not a duration", "PrometheusRule", "kube-multipath",
			func(u *unstructured.Unstructured) {
				editFirstRule(u, func(r map[string]any) { r["for"] = "one minute" })
			}, "for"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := find(tc.kind, tc.object)
			// The object as built is accepted, so the refusal below is the mistake's.
			if err := apply(u, true); err != nil {
				t.Fatalf("%s %s as built: %v", tc.kind, tc.object, err)
			}
			tc.mistake(u)
			err := apply(u, true)
			if err == nil {
				t.Fatalf("%s %s with a mistake was accepted, want it refused", tc.kind, tc.object)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %s refused with %v, want an error naming %q", tc.kind, tc.object, err, tc.want)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// thirdPartyCRDs are the upstream CRDs in testdata/crds (see its README for where from).
const thirdPartyCRDs = "testdata/crds"

var installOnce struct {
	sync.Mutex
	done bool
}

// installThirdPartyCRDs installs the CRDs in testdata/crds into the test control plane (once per
// test binary) and waits until the API server serves their kinds.
func installThirdPartyCRDs(t *testing.T) {
	t.Helper()
	installOnce.Lock()
	defer installOnce.Unlock()
	if installOnce.done {
		return
	}
	files, err := filepath.Glob(filepath.Join(thirdPartyCRDs, "*.yaml"))
	if err != nil || len(files) != 4 {
		t.Fatalf("%s holds %d CRD files (%v), want 4", thirdPartyCRDs, len(files), err)
	}
	var crds []*unstructured.Unstructured
	for _, f := range files {
		crds = append(crds, readYAML(t, f)...)
	}
	for _, crd := range crds {
		if crd.GetKind() != "CustomResourceDefinition" {
			t.Fatalf("%s: %s %s is not a CRD", thirdPartyCRDs, crd.GetKind(), crd.GetName())
		}
		if err := apply(crd, false); err != nil {
			t.Fatalf("installing CRD %s: %v", crd.GetName(), err)
		}
	}
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		waitServed(t, crd.GetName(), schema.GroupKind{Group: group, Kind: kind})
	}
	installOnce.done = true
}

// waitServed waits until the CRD is Established and the client maps its kind.
func waitServed(t *testing.T, name string, gk schema.GroupKind) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, crd)
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			established := false
			for _, c := range conds {
				m, _ := c.(map[string]any)
				established = established || m["type"] == "Established" && m["status"] == "True"
			}
			if !established {
				err = fmt.Errorf("not Established: %v", conds)
			} else {
				_, err = env.Client.RESTMapper().RESTMapping(gk)
			}
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s not served after a minute: %v", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ensureNamespace creates kube-multipath-system, which config/default would.
func ensureNamespace(t *testing.T) {
	t.Helper()
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName("kube-multipath-system")
	if err := apply(ns, false); err != nil {
		t.Fatal(err)
	}
}

// readYAML reads every object of a multi-document YAML file.
func readYAML(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// kinds counts objs by kind.
func kinds(objs []*unstructured.Unstructured) map[string]int {
	n := map[string]int{}
	for _, u := range objs {
		n[u.GetKind()]++
	}
	return n
}

// checkAllApplied fails unless every object built was accepted by the API server.
func checkAllApplied(t *testing.T, built, applied map[string]int) {
	t.Helper()
	for kind, n := range built {
		if applied[kind] != n {
			t.Errorf("%d of %d %s accepted by the server-side dry-run", applied[kind], n, kind)
		}
	}
	t.Logf("accepted: %v", applied)
}

// TestConfigAgentPrivilegedChangesOnlyThat: config/agent-privileged is config/default with the
// agent container privileged (the maps' kernel open count), nothing else, and applies.
func TestConfigAgentPrivilegedChangesOnlyThat(t *testing.T) {
	def, priv := build(t, "config/default"), build(t, "config/agent-privileged")
	if len(def) != len(priv) {
		t.Fatalf("config/agent-privileged builds %d objects, config/default %d", len(priv), len(def))
	}
	for i := range def {
		want := def[i].DeepCopy()
		if want.GetKind() == "DaemonSet" {
			containers, _, _ := unstructured.NestedSlice(want.Object, "spec", "template", "spec", "containers")
			sc := containers[0].(map[string]any)["securityContext"].(map[string]any)
			sc["privileged"] = true
			if err := unstructured.SetNestedSlice(want.Object, containers, "spec", "template", "spec", "containers"); err != nil {
				t.Fatal(err)
			}
		}
		if !reflect.DeepEqual(want.Object, priv[i].Object) {
			t.Errorf("%s %s differs beyond the agent's privileged flag", priv[i].GetKind(), priv[i].GetName())
		}
	}
	checkCounts(t, applyAll(t, priv))
}
