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

package health

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// ConfigSelector is the MultipathConfig's node selection: spec.nodeSelector, or every node
// without one (LabelSelectorAsSelector maps an empty selector to Everything too). An invalid
// selector is an error (callers name spec.nodeSelector); what it means is the caller's rule to keep: ManagedNodes
// counts every node as managed and the rollout tears nothing down, so a typo never deselects.
func ConfigSelector(cfg *mpv1alpha1.MultipathConfig) (labels.Selector, error) {
	if cfg.Spec.NodeSelector == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(cfg.Spec.NodeSelector)
}

// ManagedNodes returns the nodes that cfg's spec.nodeSelector selects (all of them without a
// selector), as the rules take them. A nil config, or one being deleted, manages no node. An
// invalid selector is returned as an error and every node counts as managed: the rollout
// controller tears nothing down for a typo, so every node keeps the config it had.
func ManagedNodes(cfg *mpv1alpha1.MultipathConfig, nodes []corev1.Node) ([]ManagedNode, error) {
	if cfg == nil || !cfg.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	sel, selErr := ConfigSelector(cfg)
	if selErr != nil {
		sel, selErr = labels.Everything(), fmt.Errorf("spec.nodeSelector: %w", selErr)
	}
	out := make([]ManagedNode, 0, len(nodes))
	for i := range nodes {
		if sel.Matches(labels.Set(nodes[i].Labels)) {
			out = append(out, ManagedNode{Name: nodes[i].Name, Labels: nodes[i].Labels})
		}
	}
	return out, selErr
}

// NodeReady reports whether the Node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
