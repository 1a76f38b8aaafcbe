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
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// nodeWithVersion creates a Node and its MultipathNodeState reporting version ("" reports
// none), removed when the test ends, and waits until the webhook's cache has both.
func nodeWithVersion(t *testing.T, name, version string, labels map[string]string) {
	t.Helper()
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	state := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name}}
	create(t, node, state)
	if version != "" {
		state.Status.MultipathToolsVersion = version
		if err := k8s.Status().Update(ctx, state); err != nil {
			t.Fatalf("reporting version %s on %s: %v", version, name, err)
		}
	}
	seen(t, node)
	eventually(t, func() error {
		cur := &mpv1alpha1.MultipathNodeState{}
		if err := cached.Get(ctx, client.ObjectKey{Name: name}, cur); err != nil {
			return err
		}
		if cur.Status.MultipathToolsVersion != version {
			return fmt.Errorf("cache has version %q on %s, want %q", cur.Status.MultipathToolsVersion, name, version)
		}
		return nil
	})
}

// sendConfig sends spec as the MultipathConfig, dry run: an update when one exists (another
// test's), a create otherwise.
func sendConfig(spec mpv1alpha1.MultipathConfigSpec) error {
	ctx := context.Background()
	cfg := &mpv1alpha1.MultipathConfig{}
	err := k8s.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg)
	switch {
	case apierrors.IsNotFound(err):
		cfg = &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}, Spec: spec}
		return k8s.Create(ctx, cfg, client.DryRunAll)
	case err != nil:
		return fmt.Errorf("test setup: %w", err)
	}
	cfg.Spec = spec
	return k8s.Update(ctx, cfg, client.DryRunAll)
}

func wantAdmitted(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: refused: %s", what, errorText(err))
	}
}

func wantDenied(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: admitted, want refused with %q", what, fragments)
		return
	}
	msg := errorText(err)
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("%s: message\n  %s\ndoes not contain\n  %s", what, msg, f)
		}
	}
}

// A knob a managed node's multipath-tools does not know is refused at admission, naming the
// field, the version and the node; nodes that are not managed, or report no version, do not
// count.
func TestVersionsRefuseWhatAManagedNodeDoesNotTake(t *testing.T) {
	recheck := mpv1alpha1.MultipathConfigSpec{Defaults: mpv1alpha1.MultipathDefaults{RecheckWWID: ptr.To(true)}}
	wantAdmitted(t, "recheckWWID, no node reports a version", sendConfig(recheck))

	nodeWithVersion(t, "versions-unreported", "", nil)
	wantAdmitted(t, "recheckWWID, a node without a reported version", sendConfig(recheck))

	nodeWithVersion(t, "versions-rhel8", "0.8.4", map[string]string{"versions-test": "rhel8"})
	wantDenied(t, "recheckWWID with a 0.8.4 node", sendConfig(recheck),
		"spec.defaults.recheckWWID", "multipath-tools 0.8.4 on node versions-rhel8")

	notRHEL8 := recheck
	notRHEL8.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "versions-test", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"rhel8"}}}}
	wantAdmitted(t, "recheckWWID, the 0.8.4 node not selected", sendConfig(notRHEL8))
	wantAdmitted(t, "no recheckWWID with a 0.8.4 node", sendConfig(mpv1alpha1.MultipathConfigSpec{}))
}

// A LUN knob is checked against every managed node: each gets every LUN's subsection.
func TestVersionsRefuseALUNKnob(t *testing.T) {
	ctx := context.Background()
	cfg := &mpv1alpha1.MultipathConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); apierrors.IsNotFound(err) {
		cfg = &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}}
		create(t, cfg)
		seen(t, cfg)
	} else if err != nil {
		t.Fatal(err)
	}
	flush := lun("versions-flush", "3600a0980383030534530000000001999", func(w *mpv1alpha1.MultipathWWID) {
		w.Spec.FlushOnLastDel = ptr.To(true)
	})
	wantAdmitted(t, "flushOnLastDel, no node reports a version", k8s.Create(ctx, flush.DeepCopy(), client.DryRunAll))

	nodeWithVersion(t, "versions-rhel10", "0.9.9", nil)
	wantDenied(t, "flushOnLastDel with a 0.9.9 node", k8s.Create(ctx, flush.DeepCopy(), client.DryRunAll),
		"spec.flushOnLastDel", `flush_on_last_del "yes"`, "multipath-tools 0.9.9 on node versions-rhel10")
	wantAdmitted(t, "no flushOnLastDel with a 0.9.9 node",
		k8s.Create(ctx, lun("versions-flush", "3600a0980383030534530000000001999"), client.DryRunAll))
}
