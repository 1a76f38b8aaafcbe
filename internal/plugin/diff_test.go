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

package plugin

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/scheme"
)

// diffCluster is a cluster that runs data01, data02 (open on diff-1 and used by a volume) and
// old03 with polling_interval 5: diff-1 and diff-2 applied it, diff-3 applied nothing yet,
// diff-4 applied it but is not labelled san=fc.
func diffCluster(t *testing.T) (client.Reader, *multipathconf.Rendered) {
	t.Helper()
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
		Spec: mpv1alpha1.MultipathConfigSpec{NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"san": "fc"}}}}
	cfg.Spec.Defaults.PollingInterval = ptr.To[int32](5)
	wwids := []mpv1alpha1.MultipathWWID{
		{ObjectMeta: metav1.ObjectMeta{Name: "data01"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid01, Alias: "data01"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "data02"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid02, Alias: "data02"},
			Status: mpv1alpha1.MultipathWWIDStatus{Consumers: []string{"pv-data02"}, ConsumerCount: 1}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lun03"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid03, Alias: "old03"}},
	}
	old, err := multipathconf.Render(cfg, wwids)
	if err != nil {
		t.Fatal(err)
	}
	data, binaryData, err := multipathconf.Pack(old)
	if err != nil {
		t.Fatal(err)
	}
	ref := mpv1alpha1.RenderedConfigRef{Name: old.ConfigMapName(), Hash: old.Hash}
	cfg.Status.RenderedConfig = &mpv1alpha1.RenderedConfigStatus{RenderedConfigRef: ref}
	objs := []client.Object{cfg,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: defaultOperatorNamespace, Name: old.ConfigMapName()}, Data: data, BinaryData: binaryData}}
	for i := range wwids {
		objs = append(objs, &wwids[i])
	}
	for _, name := range []string{"diff-1", "diff-2", "diff-3", "diff-4"} {
		n := fxNode(name, true)
		if name == "diff-4" {
			delete(n.Labels, "san")
		}
		s := fxState(name, fxMap(wwid01, "data01", mpv1alpha1.MapOptimal, 2, 2), fxMap(wwid02, "data02", mpv1alpha1.MapOptimal, 2, 2))
		s.Status.AppliedConfig = &ref
		switch name {
		case "diff-1":
			s.Status.Maps[1].Users = []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv/data02"}}
		case "diff-3":
			s.Status.AppliedConfig, s.Status.Maps = nil, nil
		}
		objs = append(objs, &n, &s)
	}
	return fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objs...).Build(), old
}

// writeDiffManifests writes the desired state of the change: polling_interval 10, data01 as is,
// data02 removed, old03 renamed new03, lun04 added.
func writeDiffManifests(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	text := `apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathConfig
metadata:
  name: cluster
spec:
  nodeSelector:
    matchLabels:
      san: fc
  defaults:
    pollingInterval: 10
---
apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathWWID
metadata:
  name: data01
spec:
  wwid: ` + wwid01 + `
  alias: data01
---
apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathWWID
metadata:
  name: lun03
spec:
  wwid: ` + wwid03 + `
  alias: new03
---
apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathWWID
metadata:
  name: lun04
spec:
  wwid: ` + wwid04 + `
`
	if err := os.WriteFile(filepath.Join(dir, "multipath.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runDiff runs `diff` against c.
func runDiff(t *testing.T, c client.Reader, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	o := &diffOptions{IOStreams: IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, cluster: newClusterFlags()}
	o.newReader = func() (client.Reader, error) { return c, nil }
	cmd := diffCommand(o)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if exit := (*ExitError)(nil); errors.As(err, &exit) {
		return exit.Code
	}
	return -1
}

func TestDiffManifests(t *testing.T) {
	c, _ := diffCluster(t)
	out, stderr, err := runDiff(t, c, "", "-f", writeDiffManifests(t))
	if exitCode(err) != DiffExitChanges || stderr != "" {
		t.Fatalf("exit %d (%v), stderr %q, want 1: nodes change", exitCode(err), err, stderr)
	}
	if exit := (*ExitError)(nil); !errors.As(err, &exit) || !exit.Quiet {
		t.Errorf("the changes are in the output; the error must not be printed again: %#v", err)
	}
	golden(t, "diff.golden", out)
	for _, want := range []string{
		"Nodes diff-1, diff-2: " + "multipath-rendered-", // grouped: same config, same change
		`-	polling_interval "5"`, `+	polling_interval "10"`,
		"WWIDs added (1): " + wwid04,
		"WWIDs removed (1): " + wwid02,
		wwid03 + ": old03 -> new03",
		wwid02 + " (data02): the operator will not remove it while PersistentVolume pv-data02 uses it and it is open on diff-1 (Mount /srv/data02)",
		"Node diff-3: nothing applied -> the manifests",
		"Node diff-4: multipath-rendered-",
		"not selected by the nodeSelector, torn down",
		"4 of 4 nodes would change.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}

	// The same from standard input, and without the MultipathConfig: the cluster's is used, so
	// polling_interval stays 5 and only the LUNs change.
	manifest, _ := os.ReadFile(filepath.Join(writeDiffManifests(t), "multipath.yaml"))
	_, wwidDocs, _ := strings.Cut(string(manifest), "---\n")
	out, _, err = runDiff(t, c, wwidDocs, "-f", "-")
	first, _, _ := strings.Cut(out, "\n\n")
	if exitCode(err) != DiffExitChanges || strings.Contains(out, `polling_interval "10"`) || strings.Contains(first, "polling_interval") ||
		!strings.HasPrefix(first, "Nodes diff-1, diff-2: ") || !strings.Contains(first, wwid03+": old03 -> new03") {
		t.Errorf("without a MultipathConfig the cluster's must be used: exit %d\n%s", exitCode(err), out)
	}
}

func TestDiffNoChanges(t *testing.T) {
	c, old := diffCluster(t)
	// The live state, as manifests: data02 keeps its volume, nothing changes on the applied nodes.
	var b strings.Builder
	b.WriteString("apiVersion: multipath.kube-multipath.io/v1alpha1\nkind: MultipathConfig\nmetadata: {name: cluster}\nspec: {nodeSelector: {matchLabels: {san: fc}}, defaults: {pollingInterval: 5}}\n")
	for _, l := range [][2]string{{"data01", wwid01}, {"data02", wwid02}, {"lun03", wwid03}} {
		alias := l[0]
		if alias == "lun03" {
			alias = "old03"
		}
		b.WriteString("---\napiVersion: multipath.kube-multipath.io/v1alpha1\nkind: MultipathWWID\nmetadata: {name: " + l[0] + "}\nspec: {wwid: " + l[1] + ", alias: " + alias + "}\n")
	}
	out, _, err := runDiff(t, c, b.String(), "-f", "-")
	// diff-3 has applied nothing and diff-4 is deselected: they change, the others do not.
	if exitCode(err) != DiffExitChanges || !strings.Contains(out, "Nodes diff-1, diff-2: no changes ("+old.ConfigMapName()+")") ||
		!strings.Contains(out, "2 of 4 nodes would change.") {
		t.Errorf("exit %d\n%s", exitCode(err), out)
	}

	// Only the nodes that applied it, all selected: exit 0.
	objs := []client.Object{}
	for _, name := range []string{"diff-1", "diff-2"} {
		s := &mpv1alpha1.MultipathNodeState{}
		if err := c.Get(t.Context(), client.ObjectKey{Name: name}, s); err != nil {
			t.Fatal(err)
		}
		s.ResourceVersion = ""
		n := fxNode(name, true)
		objs = append(objs, s, &n)
	}
	cfg := &mpv1alpha1.MultipathConfig{}
	cm := &corev1.ConfigMap{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: defaultOperatorNamespace, Name: old.ConfigMapName()}, cm); err != nil {
		t.Fatal(err)
	}
	cfg.ResourceVersion, cm.ResourceVersion = "", ""
	small := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(append(objs, cfg, cm)...).Build()
	out, _, err = runDiff(t, small, b.String(), "-f", "-")
	if err != nil || out != "Nodes diff-1, diff-2: no changes ("+old.ConfigMapName()+")\n0 of 2 nodes would change.\n" {
		t.Errorf("err %v, out:\n%s", err, out)
	}
	out, _, err = runDiff(t, small, "")
	if err != nil || !strings.Contains(out, "0 of 2 nodes would change.") {
		t.Errorf("live, nothing to roll out: err %v, out:\n%s", err, out)
	}
}

// Without -f the nodes are compared with status.renderedConfig: what unpausing would roll out.
func TestDiffLive(t *testing.T) {
	c, old := diffCluster(t)
	out, _, err := runDiff(t, c, "")
	if exitCode(err) != DiffExitChanges {
		t.Fatalf("exit %d (%v)", exitCode(err), err)
	}
	golden(t, "diff-live.golden", out)
	if strings.Contains(out, "paused") {
		t.Errorf("the rollout is not paused:\n%s", out)
	}
	// diff-4 is not selected by the live nodeSelector either: it would be torn down, data02 held.
	if !strings.Contains(out, "Node diff-3: nothing applied -> "+old.ConfigMapName()) ||
		!strings.Contains(out, "Nodes diff-1, diff-2: no changes") || !strings.Contains(out, "2 of 4 nodes would change.") {
		t.Errorf("out:\n%s", out)
	}
}

func TestDiffTrouble(t *testing.T) {
	c, _ := diffCluster(t)
	dir := t.TempDir()
	bad := "apiVersion: multipath.kube-multipath.io/v1alpha1\nkind: MultipathWWID\nmetadata: {name: bad}\nspec: {wwid: \"has space\"}\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runDiff(t, c, "", "-f", dir)
	if exitCode(err) != DiffExitTrouble || !errors.Is(err, ErrInvalid) || out != "" ||
		!strings.Contains(stderr, "bad.yaml: MultipathWWID/bad: spec.wwid") || !strings.HasSuffix(stderr, "1 error; nothing compared\n") {
		t.Errorf("invalid manifests: exit %d (%v), out %q, stderr %q", exitCode(err), err, out, stderr)
	}
	for name, args := range map[string][]string{
		"an argument":             {"extra"},
		"an unknown flag":         {"--bogus"},
		"versions without -f":     {"--multipath-tools-version", "0.9.4"},
		"stdin twice":             {"-f", "-", "-f", "-"},
		"a missing rendered conf": nil,
	} {
		cl := c
		if args == nil {
			// The ConfigMap a node's appliedConfig names is gone.
			cl = fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(&mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n"},
				Status: mpv1alpha1.MultipathNodeStateStatus{AppliedConfig: &mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-gone", Hash: "abc"}}}).Build()
			args = []string{"-f", writeDiffManifests(t)}
		}
		if _, _, err := runDiff(t, cl, "", args...); exitCode(err) != DiffExitTrouble {
			t.Errorf("%s: exit %d (%v), want 2", name, exitCode(err), err)
		}
	}
	// No MultipathConfig and no -f: nothing rendered to compare with.
	empty := fake.NewClientBuilder().WithScheme(scheme.New()).Build()
	if _, _, err := runDiff(t, empty, ""); exitCode(err) != DiffExitTrouble || !strings.Contains(err.Error(), "no rendered config yet") {
		t.Errorf("live without a MultipathConfig: %v", err)
	}
}

func TestLines(t *testing.T) {
	for in, want := range map[string][]string{"": nil, "a\nb\n": {"a\n", "b\n"}, "a\nb": {"a\n", "b\n"}} {
		if got := lines(in); strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("lines(%q) = %q, want %q", in, got, want)
		}
	}
}
