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

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// An update is refused only for what it adds against the nodes' versions: an object admitted
// before a 0.8.4 node joined can still be edited elsewhere, but not widened onto that node.
func TestVersionErrorsOnUpdateAreOnlyNewOnes(t *testing.T) {
	ctx := context.Background()
	rhel8 := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "rhel8", Labels: map[string]string{"os": "rhel8"}}}
	other := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "other"}}
	state := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "rhel8"},
		Status: mpv1alpha1.MultipathNodeStateStatus{MultipathToolsVersion: "0.8.4"}}
	v := &MultipathConfigValidator{Reader: fakeCache(rhel8, other, state)}

	config := func(recheck bool, selector *metav1.LabelSelector, paused bool) *mpv1alpha1.MultipathConfig {
		c := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}}
		if recheck {
			c.Spec.Defaults.RecheckWWID = ptr.To(true)
		}
		c.Spec.NodeSelector = selector
		c.Spec.Rollout.Paused = paused
		return c
	}
	notRHEL8 := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "os", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"rhel8"}}}}

	if _, err := v.ValidateUpdate(ctx, config(false, nil, false), config(true, nil, false)); err == nil {
		t.Error("setting recheckWWID with a 0.8.4 node managed: admitted")
	} else {
		wantRefused(t, err, "spec.defaults.recheckWWID", "multipath-tools 0.8.4 on node rhel8")
	}
	if _, err := v.ValidateUpdate(ctx, config(true, nil, false), config(true, nil, true)); err != nil {
		t.Errorf("pausing a config that already had recheckWWID: %v", err)
	}
	if _, err := v.ValidateUpdate(ctx, config(true, notRHEL8, false), config(true, nil, false)); err == nil {
		t.Error("selecting the 0.8.4 node with recheckWWID set: admitted")
	}
	if _, err := v.ValidateUpdate(ctx, config(false, notRHEL8, false), config(true, notRHEL8, false)); err != nil {
		t.Errorf("recheckWWID with the 0.8.4 node not managed: %v", err)
	}
}
