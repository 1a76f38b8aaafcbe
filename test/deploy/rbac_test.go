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
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/plugin"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

const (
	rbacNode = "rbac-node-1"
	rbacWWID = "3600a0980383030534530000000000a01"
	rbacLUN  = "rbac-lun-a01"
	rbacPV   = "rbac-pv-a01"
)

// TestViewerRunsStatusAndMaps binds config/rbac's multipath-viewer, as built, to a user and runs
// `kubectl multipath status` and `kubectl multipath maps NODE` as that user (the plugin's --as)
// on a cluster with a managed node, its Lease and a LUN in use by a PersistentVolume. Then it
// takes each read of a core object out of the role, one verb at a time, and checks that one of
// the commands is refused for exactly that verb and resource: the role grants what the commands
// need, and nothing of it is unused.
func TestViewerRunsStatusAndMaps(t *testing.T) {
	ctx := t.Context()
	seedViewerCluster(t)
	var viewer, editor *rbacv1.ClusterRole
	for _, u := range build(t, "config/rbac") {
		if u.GetKind() != "ClusterRole" {
			continue
		}
		role := &rbacv1.ClusterRole{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, role); err != nil {
			t.Fatal(err)
		}
		switch u.GetName() {
		case "multipath-viewer":
			viewer = role
		case "multipath-editor":
			editor = role
		}
	}
	if viewer == nil {
		t.Fatal("config/rbac has no ClusterRole multipath-viewer")
	}
	if viewer.Labels["rbac.authorization.k8s.io/aggregate-to-view"] != "true" {
		t.Errorf("multipath-viewer is not aggregated into the view ClusterRole: labels %v", viewer.Labels)
	}

	t.Run("multipath-viewer", func(t *testing.T) {
		user := bindRole(t, "multipath-viewer-test", viewer.Rules)
		out, err := runPlugin(ctx, t, user, "status", "--all-nodes")
		// The LUN is optimal on the node: the viewer saw the node, its Lease and its report.
		if err != nil || !strings.Contains(out, rbacLUN) || !strings.Contains(out, "optimal") || !strings.Contains(out, "2/2") {
			t.Errorf("status as %s: %v\n%s", user, err, out)

		}
		out, err = runPlugin(ctx, t, user, "maps", rbacNode)
		if err != nil || !strings.Contains(out, rbacLUN) || !strings.Contains(out, "sdc") {
			t.Errorf("maps %s as %s: %v\n%s", rbacNode, user, err, out)
		}
		// discover reads every MultipathNodeState and MultipathWWID, as status does.
		out, err = runPlugin(ctx, t, user, "discover")
		if err != nil || !strings.Contains(out, "No node reports a multipath device") {
			t.Errorf("discover as %s: %v\n%s", user, err, out)
		}
		// adopt writes a MultipathWWID: the viewer may not, the editor may.
		const adoptWWID = "36001405dddddddddddddddddddddddd"
		out, err = runPlugin(ctx, t, user, "adopt", adoptWWID, "--alias", "data99", "--dry-run")
		if err == nil || !strings.Contains(err.Error(), `cannot create resource "multipathwwids"`) {
			t.Errorf("adopt as %s: %v, want refused\n%s", user, err, out)
		}
		if editor == nil {
			t.Fatal("config/rbac has no ClusterRole multipath-editor")
		}
		writer := bindRole(t, "multipath-editor-test", append(slices.Clone(viewer.Rules), editor.Rules...))
		out, err = runPlugin(ctx, t, writer, "adopt", adoptWWID, "--alias", "data99", "--dry-run")
		if err != nil || !strings.Contains(out, "multipathwwid/data99 created (server dry run)") {
			t.Errorf("adopt as %s: %v\n%s", writer, err, out)
		}
	})

	// Every verb on a core object the role grants, and the command that needs it.
	for _, need := range []struct{ group, resource, verb, command string }{
		{"", "nodes", "list", "status"},
		{"", "nodes", "get", "maps"},
		{"coordination.k8s.io", "leases", "list", "status"},
		{"coordination.k8s.io", "leases", "get", "maps"},
		{"", "persistentvolumes", "list", "status"},
	} {
		t.Run("without "+need.verb+" "+need.resource, func(t *testing.T) {
			rules, removed := withoutVerb(viewer.Rules, need.group, need.resource, need.verb)
			if !removed {
				t.Fatalf("multipath-viewer does not grant %s %s", need.verb, need.resource)
			}
			user := bindRole(t, "multipath-viewer-without-"+need.verb+"-"+need.resource, rules)
			args := []string{need.command}
			if need.command == "maps" {
				args = append(args, rbacNode)
			}
			out, err := runPlugin(ctx, t, user, args...)
			want := fmt.Sprintf("cannot %s resource %q", need.verb, need.resource)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s as %s, whose role lacks %s %s: %v, want an error with %q\n%s", need.command, user, need.verb, need.resource, err, want, out)
			}
		})
	}
}

// seedViewerCluster installs the CRDs and creates what the commands read: the
// MultipathConfig, a managed Ready node with its agent's Lease and report, and a LUN a
// PersistentVolume uses.
func seedViewerCluster(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	for _, u := range build(t, "config/crd") {
		if err := apply(u, false); err != nil {
			t.Fatalf("installing CRD %s: %v", u.GetName(), err)
		}
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		waitServed(t, u.GetName(), schema.GroupKind{Group: mpv1alpha1.GroupVersion.Group, Kind: kind})
	}
	ensureNamespace(t)
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
	create(&mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: rbacNode, Labels: map[string]string{corev1.LabelHostname: rbacNode}}}
	create(node)
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "Test", LastHeartbeatTime: metav1.Now()}}
	if err := c.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	create(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: health.LeaseName(rbacNode), Namespace: "kube-multipath-system"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(rbacNode), LeaseDurationSeconds: ptr.To[int32](40),
			RenewTime: ptr.To(metav1.NewMicroTime(time.Now()))},
	})
	ref := &mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-0a01", Hash: "0a01"}
	state := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: rbacNode}, Spec: mpv1alpha1.MultipathNodeStateSpec{DesiredConfig: ref}}
	create(state)
	state.Status = mpv1alpha1.MultipathNodeStateStatus{ObservedGeneration: state.Generation, AppliedConfig: ref, MultipathToolsVersion: "0.9.4", MapCount: 1,
		Maps: []mpv1alpha1.MapStatus{{WWID: rbacWWID, Name: rbacLUN, State: mpv1alpha1.MapOptimal, ActivePaths: 2, TotalPaths: 2,
			Paths: []mpv1alpha1.PathStatus{
				{Device: "sdb", DMState: "active", CheckerState: "ready", DeviceState: "running"},
				{Device: "sdc", DMState: "active", CheckerState: "ready", DeviceState: "running"},
			}}}}
	if err := c.Status().Update(ctx, state); err != nil {
		t.Fatal(err)
	}
	create(&corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: rbacPV},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{FC: &corev1.FCVolumeSource{WWIDs: []string{rbacWWID}}},
		},
	})
	lun := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: rbacLUN}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: rbacWWID, Alias: rbacLUN}}
	create(lun)
	// As the render controller would: the LUN is in use, so status lists the PersistentVolumes.
	lun.Status.Consumers, lun.Status.ConsumerCount = []string{rbacPV}, 1
	if err := c.Status().Update(ctx, lun); err != nil {
		t.Fatal(err)
	}
}

// withoutVerb returns a copy of rules without verb on group/resource, and whether a rule had it.
func withoutVerb(rules []rbacv1.PolicyRule, group, resource, verb string) ([]rbacv1.PolicyRule, bool) {
	removed := false
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		r = *r.DeepCopy()
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			removed = true
			if len(r.Resources) > 1 {
				// Keep the verb on the rule's other resources.
				other := *r.DeepCopy()
				other.Resources = slices.DeleteFunc(other.Resources, func(s string) bool { return s == resource })
				out = append(out, other)
				r.Resources = []string{resource}
			}
			r.Verbs = slices.DeleteFunc(r.Verbs, func(s string) bool { return s == verb })
			if len(r.Verbs) == 0 {
				continue
			}
		}
		out = append(out, r)
	}
	return out, removed
}

// bindRole creates a ClusterRole with rules, binds it to a user of the same name, and waits
// until the API server's authorizer applies the binding (the user may list MultipathWWIDs,
// which every variant of the viewer role grants). It returns the user.
func bindRole(t *testing.T, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx := t.Context()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), binding)
		_ = env.Client.Delete(context.Background(), role)
	})
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: name}
	c, err := client.New(cfg, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.List(ctx, &mpv1alpha1.MultipathWWIDList{})
		if err == nil {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("the binding of %s never took effect: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runPlugin runs kubectl-multipath with args as user (--as), against the test control plane.
func runPlugin(ctx context.Context, t *testing.T, user string, args ...string) (string, error) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd := plugin.NewCommand(ctx, plugin.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	// A long refresh interval keeps the seeded report trusted however slow the machine is.
	cmd.SetArgs(append(args, "--kubeconfig", kubeconfig, "--as", user, "--namespace", "kube-multipath-system", "--refresh-interval=1h"))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(ctx)
	return out.String() + errOut.String(), err
}
