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
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// The chart (charts/kube-multipath) is checked with the helm CLI that `make helm` builds (pinned
// in the Makefile; `make test` builds it): linted, templated, every object dry-run on the test
// API server, and its default output compared object by object with config/default.

const chartDir = "charts/kube-multipath"

// helmLabels are the labels the chart adds to the objects it templates by hand; the equivalence
// with the kustomize builds ignores them.
var helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance"}

// helm runs bin/helm with args from the repository root and returns its standard output.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := filepath.Join(testenv.RepoRoot(), "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v; run `make helm` (make test builds it)", bin, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = testenv.RepoRoot()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// helmTemplate renders the chart, CRDs included, into namespace with the --set values given.
func helmTemplate(t *testing.T, namespace string, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "kube-multipath", chartDir, "--namespace", namespace, "--include-crds"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return decodeYAML(t, helm(t, args...))
}

// decodeYAML decodes every object of a multi-document YAML stream, through JSON so that the
// objects compare equal to kustomize's (numbers as float64 on both sides after normalize).
func decodeYAML(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("helm template output: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatalf("helm template output: %v", err)
		}
		objs = append(objs, u)
	}
}

func key(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	return nil
}

// normalize returns u without the chart's Helm labels, through JSON (so int64 and float64 agree).
func normalize(t *testing.T, u *unstructured.Unstructured) any {
	t.Helper()
	c := u.DeepCopy()
	if labels := c.GetLabels(); labels != nil {
		for _, l := range helmLabels {
			delete(labels, l)
		}
		if len(labels) == 0 {
			labels = nil
		}
		c.SetLabels(labels)
	}
	b, err := json.Marshal(c.Object)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkEquivalent fails unless chart and built hold the same objects (by kind, namespace and
// name), equal but for the Helm labels. built's Namespace is dropped: the chart installs into the
// release's namespace and does not create it (documented in docs/operations.md).
func checkEquivalent(t *testing.T, chart, built []*unstructured.Unstructured) {
	t.Helper()
	want := map[string]*unstructured.Unstructured{}
	for _, u := range built {
		if u.GetKind() == "Namespace" {
			continue
		}
		want[key(u)] = u
	}
	got := map[string]*unstructured.Unstructured{}
	for _, u := range chart {
		if _, dup := got[key(u)]; dup {
			t.Errorf("the chart renders %s twice", key(u))
		}
		got[key(u)] = u
	}
	var missing, extra []string
	for k := range want {
		if got[k] == nil {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if want[k] == nil {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("the chart lacks %v and adds %v", missing, extra)
	}
	for k, w := range want {
		g := got[k]
		if g == nil {
			continue
		}
		if gn, wn := normalize(t, g), normalize(t, w); !reflect.DeepEqual(gn, wn) {
			gy, _ := yaml.Marshal(gn)
			wy, _ := yaml.Marshal(wn)
			t.Errorf("%s differs from the kustomize build:\n--- chart\n%s\n--- kustomize\n%s", k, gy, wy)
		}
	}
	if len(want) < 20 {
		t.Errorf("only %d objects compared; the kustomize build looks truncated", len(want))
	}
}

func TestHelmLint(t *testing.T) {
	for _, set := range [][]string{nil, {"certManager.enabled=true", "serviceMonitor.enabled=true"}} {
		args := []string{"lint", "--strict", chartDir}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		out := string(helm(t, args...))
		if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
			t.Errorf("helm lint %v:\n%s", set, out)
		}
	}
}

// TestHelmDefaultEqualsConfigDefault: with the images of config/default (:latest), the chart's
// default output is config/default but for the Namespace and the Helm labels.
func TestHelmDefaultEqualsConfigDefault(t *testing.T) {
	chart := helmTemplate(t, "kube-multipath-system", "manager.image.tag=latest", "agent.image.tag=latest")
	checkEquivalent(t, chart, build(t, "config/default"))
	// The Helm labels are there, on what the chart templates by hand.
	if d := find(chart, "Deployment", "kube-multipath-manager"); d == nil || d.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" {
		t.Errorf("the manager Deployment lacks the Helm labels: %v", d)
	}
}

// TestHelmCertManagerEqualsConfigCertManager: certManager.enabled renders config/certmanager.
func TestHelmCertManagerEqualsConfigCertManager(t *testing.T) {
	chart := helmTemplate(t, "kube-multipath-system", "manager.image.tag=latest", "agent.image.tag=latest", "certManager.enabled=true")
	checkEquivalent(t, chart, build(t, "config/certmanager"))
}

// TestHelmServiceMonitorEqualsConfigPrometheus: serviceMonitor.enabled adds config/prometheus's
// ServiceMonitor, and nothing else.
func TestHelmServiceMonitorEqualsConfigPrometheus(t *testing.T) {
	plain := helmTemplate(t, "kube-multipath-system")
	chart := helmTemplate(t, "kube-multipath-system", "serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom")
	if len(chart) != len(plain)+1 {
		t.Errorf("serviceMonitor.enabled renders %d objects, want %d", len(chart), len(plain)+1)
	}
	got := find(chart, "ServiceMonitor", "kube-multipath-manager")
	want := find(build(t, "config/prometheus"), "ServiceMonitor", "kube-multipath-manager")
	if got == nil || want == nil {
		t.Fatalf("ServiceMonitor: chart %v, config/prometheus %v", got, want)
	}
	if got.GetLabels()["release"] != "prom" {
		t.Errorf("serviceMonitor.labels not applied: %v", got.GetLabels())
	}
	g := got.DeepCopy()
	labels := g.GetLabels()
	delete(labels, "release")
	g.SetLabels(labels)
	if gn, wn := normalize(t, g), normalize(t, want); !reflect.DeepEqual(gn, wn) {
		t.Errorf("ServiceMonitor differs from config/prometheus:\n%v\n%v", gn, wn)
	}
}

// TestHelmTemplateAppliesServerSide dry-runs every object the chart renders, with the default
// values and with cert-manager and the ServiceMonitor, on the test API server.
func TestHelmTemplateAppliesServerSide(t *testing.T) {
	installThirdPartyCRDs(t)
	ensureNamespace(t)
	for _, tc := range []struct {
		name string
		set  []string
		want map[string]int
	}{
		{"default", nil, map[string]int{"CustomResourceDefinition": 3, "Deployment": 1, "DaemonSet": 1,
			"ValidatingWebhookConfiguration": 1, "ValidatingAdmissionPolicy": 1, "Secret": 1, "Certificate": 0}},
		{"cert-manager and ServiceMonitor", []string{"certManager.enabled=true", "serviceMonitor.enabled=true"},
			map[string]int{"CustomResourceDefinition": 3, "Deployment": 1, "DaemonSet": 1, "Issuer": 2,
				"Certificate": 2, "ServiceMonitor": 1, "Secret": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := helmTemplate(t, "kube-multipath-system", tc.set...)
			built := kinds(objs)
			for kind, n := range tc.want {
				if built[kind] != n {
					t.Errorf("the chart renders %d %s, want %d", built[kind], kind, n)
				}
			}
			checkAllApplied(t, built, applyAll(t, objs))
		})
	}
}

// TestHelmValues: the values reach the objects, and the release's namespace replaces
// kube-multipath-system everywhere (the agent's admission policy names its service account).
func TestHelmValues(t *testing.T) {
	objs := helmTemplate(t, "storage-ops",
		"manager.image.repository=reg.example/mgr", "manager.image.tag=v1.2.3", "manager.image.pullPolicy=Always",
		"agent.image.repository=reg.example/agent", "agent.resources.limits.memory=300Mi",
		"agent.nodeSelector.storage=multipath", "agent.tolerations=null",
		"manager.nodeSelector.role=infra", "manager.tolerations[0].key=infra", "manager.tolerations[0].operator=Exists",
		"certManager.enabled=true", "agent.privileged=true")
	for _, u := range objs {
		b, _ := json.Marshal(u.Object)
		if strings.Contains(string(b), "kube-multipath-system") {
			t.Errorf("%s still names kube-multipath-system", key(u))
		}
		if u.GetKind() != "CustomResourceDefinition" && !strings.HasPrefix(u.GetKind(), "Cluster") &&
			!strings.HasPrefix(u.GetKind(), "Validating") && u.GetNamespace() != "storage-ops" {
			t.Errorf("%s is not in the release's namespace", key(u))
		}
	}
	str := func(u *unstructured.Unstructured, path ...string) string {
		s, _, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
		b, _ := json.Marshal(s)
		return string(b)
	}
	mgr, ds := find(objs, "Deployment", "kube-multipath-manager"), find(objs, "DaemonSet", "kube-multipath-agent")
	vap := find(objs, "ValidatingAdmissionPolicy", "kube-multipath-agent-node-bound")
	cert := find(objs, "Certificate", "kube-multipath-webhook-cert")
	if mgr == nil || ds == nil || vap == nil || cert == nil {
		t.Fatalf("missing objects: %v %v %v %v", mgr, ds, vap, cert)
	}
	ctr := func(u *unstructured.Unstructured) map[string]any {
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		return cs[0].(map[string]any)
	}
	for _, c := range []struct{ got, want string }{
		{ctr(mgr)["image"].(string), "reg.example/mgr:v1.2.3"},
		{ctr(mgr)["imagePullPolicy"].(string), "Always"},
		{ctr(ds)["image"].(string), "reg.example/agent:v0.1.0"},
		{str(ds, "spec", "template", "spec", "nodeSelector"), `{"kubernetes.io/os":"linux","storage":"multipath"}`},
		{str(ds, "spec", "template", "spec", "tolerations"), `null`},
		{str(mgr, "spec", "template", "spec", "nodeSelector"), `{"role":"infra"}`},
		{str(mgr, "spec", "template", "spec", "tolerations"), `[{"key":"infra","operator":"Exists"}]`},
		{str(vap, "spec", "matchConditions"), `[{"expression":"request.userInfo.username == 'system:serviceaccount:storage-ops:kube-multipath-agent'","name":"is-node-agent"}]`},
		{str(cert, "spec", "dnsNames"), `["kube-multipath-webhook.storage-ops.svc","kube-multipath-webhook.storage-ops.svc.cluster.local"]`},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	if p, _, _ := unstructured.NestedBool(ctr(ds), "securityContext", "privileged"); !p {
		t.Errorf("agent.privileged=true: the agent container is not privileged: %v", ctr(ds)["securityContext"])
	}
	if mem, _, _ := unstructured.NestedString(ctr(ds), "resources", "limits", "memory"); mem != "300Mi" {
		t.Errorf("agent memory limit %q, want 300Mi", mem)
	}
	if args, _, _ := unstructured.NestedStringSlice(ctr(mgr), "args"); !slices.Contains(args, "--webhook-manage-certificates=false") {
		t.Errorf("with cert-manager the manager still rotates its certificate: %v", args)
	}
	vwc := find(objs, "ValidatingWebhookConfiguration", "kube-multipath-validating-webhook")
	if vwc == nil || vwc.GetAnnotations()["cert-manager.io/inject-ca-from"] != "storage-ops/kube-multipath-webhook-cert" {
		t.Errorf("webhook configuration without cainjector's annotation: %v", vwc)
	}
}
