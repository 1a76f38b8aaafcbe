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

package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	coordinationv1ac "k8s.io/client-go/applyconfigurations/coordination/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/agent"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// manifests reads the objects of config/agent/<file>.
func manifests(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "agent", file))
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	return out
}

func TestAgentManifestsAreAcceptedByTheAPIServer(t *testing.T) {
	for _, file := range []string{"service_account.yaml", "rbac.yaml", "admission_policy.yaml", "daemonset.yaml"} {
		for _, u := range manifests(t, file) {
			if err := env.Client.Create(context.Background(), u, client.DryRunAll); err != nil {
				t.Errorf("%s: %s %s: %v", file, u.GetKind(), u.GetName(), err)
			}
		}
	}
}

// The agent runs with nothing but the permissions of config/agent (impersonating its service
// account, with the node name its token would carry), and the admission policy stops it from
// writing another node's status or Lease.
func TestAgentWorksWithItsOwnRBACAndOnlyOnItsOwnNode(t *testing.T) {
	ctx := context.Background()
	var created []*unstructured.Unstructured
	for _, file := range []string{"rbac.yaml", "admission_policy.yaml"} {
		for _, u := range manifests(t, file) {
			if err := env.Client.Create(ctx, u); err != nil {
				t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
			}
			created = append(created, u)
		}
	}
	t.Cleanup(func() {
		for _, u := range created {
			_ = env.Client.Delete(ctx, u)
		}
	})
	name, other := "node-rbac", "node-rbac-other"
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":kube-multipath-agent",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		Extra:    map[string][]string{"authentication.kubernetes.io/node-name": {name}},
	}
	startAgentAs(t, name, cfg, nil)
	_, ref := publish(t, wwidA)
	createState(t, name, &ref)
	applied(t, name, ref)
	eventually(t, func() error {
		if _, err := lease(t, name); err != nil {
			return err
		}
		if got := events(t, name); len(got) == 0 {
			return fmt.Errorf("no Event")
		}
		return nil
	})

	// The same credentials cannot touch another node's objects.
	createState(t, other, nil)
	t.Cleanup(func() {
		_ = env.Client.Delete(ctx, &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: other}})
	})
	asAgent, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error { // the policy takes effect within a second or so
		st := getState(t, other)
		before := st.DeepCopy()
		st.Status.MultipathToolsVersion = "0.0.1"
		err := asAgent.Status().Patch(ctx, st, client.MergeFrom(before)) // allowed by RBAC
		if err == nil {
			return fmt.Errorf("status of another node written: the policy is not in force yet")
		}
		if err == nil || !strings.Contains(err.Error(), "may write only the status of MultipathNodeState "+name) {
			return fmt.Errorf("status of another node written: %v", err)
		}
		return nil
	})
	otherLease := coordinationv1ac.Lease(rules.LeaseName(other), namespace).
		WithSpec(coordinationv1ac.LeaseSpec().WithHolderIdentity(other))
	if err := asAgent.Apply(ctx, otherLease, client.FieldOwner(agent.FieldOwner)); err == nil || !strings.Contains(err.Error(), "may write only its Lease") {
		t.Errorf("another node's Lease: %v, want denied by the policy", err)
	}
	st := getState(t, other)
	if err := asAgent.Update(ctx, st); !apierrors.IsForbidden(err) {
		t.Errorf("spec update by the agent: %v, want forbidden by RBAC", err)
	}
	if err := asAgent.List(ctx, &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "SecretList"}}, client.InNamespace(namespace)); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets: %v, want forbidden", err)
	}
}
