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

package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

const (
	agentUser      = "system:serviceaccount:kube-multipath-system:kube-multipath-agent"
	nodeNameExtra  = "authentication.kubernetes.io/node-name"
	agentPolicyMsg = `ValidatingAdmissionPolicy 'kube-multipath-agent-node-bound' with binding 'kube-multipath-agent-node-bound' denied request`
)

// readManifests decodes every object of a YAML file of config/.
func readManifests(t *testing.T, path string) []client.Object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), path))
	if err != nil {
		t.Fatal(err)
	}
	decoder := serializer.NewCodecFactory(testScheme).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []client.Object
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decoding %s: %v", path, err)
		}
		objs = append(objs, obj.(client.Object))
	}
}

// impersonate is a client acting as user, with the given user-info extra.
func impersonate(t *testing.T, user string, extra map[string][]string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Extra: extra}
	c, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAgentPolicy applies config/agent/admission_policy.yaml and acts as node A's agent. The user info, node-name
// extra included, is set by impersonation: envtest's API server has no kubelet to bind a
// service account token to a pod on a node, and impersonation hands the policy the same
// request.userInfo a bound token would.
func TestAgentPolicy(t *testing.T) {
	ctx := context.Background()
	create(t, readManifests(t, "config/agent/admission_policy.yaml")...)
	// RBAC lets the agent (and, for contrast, the manager) write every kind of the group and
	// every Lease, so that every refusal below is the policy's.
	create(t,
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "test-multipath-writer"}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{mpv1alpha1.SchemeGroupVersion.Group}, Resources: []string{"*", "*/status"}, Verbs: []string{"*"},
		}, {
			APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, Verbs: []string{"*"},
		}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "test-multipath-writer"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "test-multipath-writer"},
			Subjects: []rbacv1.Subject{
				{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: "kube-multipath-agent"},
				{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: "kube-multipath-manager"},
			}},
		&mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}},
		&mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}},
		&mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}},
		lun("policy-lun", "3600a09803830305345300000000p0l1"),
	)
	agentA := impersonate(t, agentUser, map[string][]string{nodeNameExtra: {"node-a"}})
	agentNoNode := impersonate(t, agentUser, nil)
	managerOnA := impersonate(t, "system:serviceaccount:kube-multipath-system:kube-multipath-manager", map[string][]string{nodeNameExtra: {"node-a"}})

	setStatus := func(c client.Client, node, version string) error {
		s := &mpv1alpha1.MultipathNodeState{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: node}, s); err != nil {
			return fmt.Errorf("test setup: %w", err)
		}
		s.Status.MultipathToolsVersion = version
		return c.Status().Update(ctx, s)
	}
	refusedWith := func(err error, want string) error {
		if err == nil {
			return errors.New("admitted")
		}
		if !strings.Contains(err.Error(), agentPolicyMsg) || !strings.Contains(err.Error(), want) {
			return fmt.Errorf("refused with %q, want the policy's %q", err, want)
		}
		return nil
	}

	// Another node's state (waiting for RBAC and the policy to be loaded by the API server).
	eventually(t, func() error {
		return refusedWith(setStatus(agentA, "node-b", "0.9.4"), "the kube-multipath node agent on node node-a may write only the status of MultipathNodeState node-a, not node-b")
	})
	t.Run("the agent updates its own node's status", func(t *testing.T) {
		if err := setStatus(agentA, "node-a", "0.9.4"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the agent may not delete another node's state", func(t *testing.T) {
		err := agentA.Delete(ctx, &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}}, client.DryRunAll)
		if err := refusedWith(err, "may write only the status of MultipathNodeState node-a, not node-b"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the agent may not write its own node's state but through status", func(t *testing.T) {
		st := &mpv1alpha1.MultipathNodeState{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: "node-a"}, st); err != nil {
			t.Fatal(err)
		}
		st.Labels = map[string]string{"touched": "by-the-agent"}
		if err := refusedWith(agentA.Update(ctx, st, client.DryRunAll), "may write only the status of MultipathNodeState node-a, not its spec or metadata"); err != nil {
			t.Fatalf("update: %v", err)
		}
		err := agentA.Delete(ctx, &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}, client.DryRunAll)
		if err := refusedWith(err, "not its spec or metadata"); err != nil {
			t.Fatalf("delete: %v", err)
		}
	})
	t.Run("the agent writes its own Lease, held by its node, and no other", func(t *testing.T) {
		lease := func(name, holder string) *coordinationv1.Lease {
			return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}
		}
		if err := agentA.Create(ctx, lease("multipath-agent-node-a", "node-a"), client.DryRunAll); err != nil {
			t.Errorf("its own Lease: %v", err)
		}
		for _, l := range []*coordinationv1.Lease{
			lease("multipath-agent-node-b", "node-b"), // another node's
			lease("multipath-agent-node-a", "node-b"), // its own, held by another node
			lease("kube-multipath-manager", "node-a"), // not a heartbeat
		} {
			if err := refusedWith(agentA.Create(ctx, l, client.DryRunAll), "may write only its Lease multipath-agent-node-a, held by node-a"); err != nil {
				t.Errorf("Lease %s held by %s: %v", l.Name, *l.Spec.HolderIdentity, err)
			}
		}
		// A delete reaches admission only when the object exists.
		other := lease("multipath-agent-node-b", "node-b")
		create(t, other.DeepCopy())
		if err := refusedWith(agentA.Delete(ctx, other, client.DryRunAll), "may write only its Lease"); err != nil {
			t.Errorf("deleting another node's Lease: %v", err)
		}
		if err := refusedWith(agentNoNode.Create(ctx, lease("multipath-agent-node-a", "node-a"), client.DryRunAll), "token carries no node name"); err != nil {
			t.Errorf("a Lease with a token without a node name: %v", err)
		}
	})
	t.Run("the agent may not create a MultipathWWID", func(t *testing.T) {
		err := agentA.Create(ctx, lun("agent-lun", "3600a09803830305345300000000p0l2"), client.DryRunAll)
		if err := refusedWith(err, "the kube-multipath node agent may not write multipathwwids"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the agent may not update a MultipathWWID's status", func(t *testing.T) {
		w := &mpv1alpha1.MultipathWWID{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: "policy-lun"}, w); err != nil {
			t.Fatal(err)
		}
		w.Status.ConsumerCount = 7
		if err := refusedWith(agentA.Status().Update(ctx, w, client.DryRunAll), "may not write multipathwwids"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the agent may not update the MultipathConfig", func(t *testing.T) {
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err != nil {
			t.Fatal(err)
		}
		cfg.Spec.Rollout.Paused = true
		if err := refusedWith(agentA.Update(ctx, cfg, client.DryRunAll), "may not write multipathconfigs"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an agent token without a node name is refused", func(t *testing.T) {
		if err := refusedWith(setStatus(agentNoNode, "node-a", "0.9.5"), "token carries no node name"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the policy does not bind other identities", func(t *testing.T) {
		if err := setStatus(managerOnA, "node-b", "0.9.4"); err != nil {
			t.Fatalf("the manager's service account: %v", err)
		}
		if err := setStatus(k8s, "node-b", "0.9.5"); err != nil {
			t.Fatalf("an administrator: %v", err)
		}
	})
}
