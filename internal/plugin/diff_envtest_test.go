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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// A paused rollout on a real API server: the nodes applied data01; the rendered config, not yet
// handed out, renames it db01 (it is mounted on cli-diff-1) and adds data02. diff, through a
// kubeconfig, shows what unpausing would do; diff -f of what the nodes run shows nothing.
func TestDiffOnACluster(t *testing.T) {
	ctx := t.Context()
	c := env.Client
	var seeded []client.Object
	t.Cleanup(func() { testenv.RemoveSeeded(t, c, seeded) })
	create := func(obj client.Object) {
		t.Helper()
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
		seeded = append(seeded, obj)
	}
	render := func(wwids ...mpv1alpha1.MultipathWWID) mpv1alpha1.RenderedConfigRef {
		t.Helper()
		r, err := multipathconf.Render(nil, wwids)
		if err != nil {
			t.Fatal(err)
		}
		data, binaryData, err := multipathconf.Pack(r)
		if err != nil {
			t.Fatal(err)
		}
		create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: defaultOperatorNamespace, Name: r.ConfigMapName()}, Data: data, BinaryData: binaryData})
		return mpv1alpha1.RenderedConfigRef{Name: r.ConfigMapName(), Hash: r.Hash}
	}
	data01 := mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "data01"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid01, Alias: "data01"}}
	applied := render(data01)
	db01 := *data01.DeepCopy()
	db01.Spec.Alias = "db01"
	data02 := mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "data02"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid02, Alias: "data02"}}
	next := render(db01, data02)

	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}}
	cfg.Spec.Rollout.Paused = true
	create(cfg)
	cfg.Status.RenderedConfig = &mpv1alpha1.RenderedConfigStatus{RenderedConfigRef: next, LUNs: 2}
	if err := c.Status().Update(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cli-diff-1", "cli-diff-2"} {
		s := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name}}
		create(s)
		s.Status = fxState(name, fxMap(wwid01, "data01", mpv1alpha1.MapOptimal, 2, 2)).Status
		s.Status.AppliedConfig = &applied
		if name == "cli-diff-1" {
			s.Status.Maps[0].Users = []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/var/lib/db"}}
		}
		if err := c.Status().Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	now := time.Now()
	out, err := runCLI(t, now, "diff")
	if exitCode(err) != DiffExitChanges {
		t.Fatalf("exit %d (%v), want 1:\n%s", exitCode(err), err, out)
	}
	golden(t, "diff-envtest.golden", out)
	for _, want := range []string{"The rollout is paused (spec.rollout.paused): unpausing hands " + next.Name, "Nodes cli-diff-1, cli-diff-2: " + applied.Name + " -> " + next.Name, wwid01 + ": data01 -> db01",
		"WWIDs added (1): " + wwid02, wwid01 + " (data01): the operator will not rename it while it is open on cli-diff-1 (Mount /var/lib/db)"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}

	dir := t.TempDir()
	manifest := "apiVersion: multipath.kube-multipath.io/v1alpha1\nkind: MultipathWWID\nmetadata: {name: data01}\nspec: {wwid: " + wwid01 + ", alias: data01}\n"
	if err := os.WriteFile(filepath.Join(dir, "data01.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, now, "diff", "-f", dir)
	if err != nil || out != "Nodes cli-diff-1, cli-diff-2: no changes ("+applied.Name+")\n0 of 2 nodes would change.\n" {
		t.Errorf("diff -f of what the nodes run: err %v, out:\n%s", err, out)
	}
}
