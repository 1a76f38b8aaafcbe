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

package rollup

import (
	"slices"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// SetWWIDHealth, the health controller's status setter, writes h into w's status.health and reports whether it changed. It touches
// nothing else: the render controller owns the rest of the status.
func SetWWIDHealth(w *mpv1alpha1.MultipathWWID, h mpv1alpha1.LUNHealth) bool {
	if EqualHealth(&w.Status.Health, &h) {
		return false
	}
	w.Status.Health = h
	return true
}

// EqualHealth compares two roll-ups field by field (a nil list equals an empty one, as both are
// omitted from the object); reflection would cost a fifth of a pass over 1,000 LUNs.
func EqualHealth(a, b *mpv1alpha1.LUNHealth) bool {
	return a.State == b.State && a.Nodes == b.Nodes && a.Counts == b.Counts && slices.Equal(a.NonOptimal, b.NonOptimal)
}

// SetConfigHealth writes the LUN counts and the node errors into cfg's status and reports
// whether either changed. It touches nothing else: the render and rollout controllers own the
// rest of the status.
func SetConfigHealth(cfg *mpv1alpha1.MultipathConfig, counts mpv1alpha1.HealthCounts, nodeErrors []mpv1alpha1.NodeError) bool {
	if len(nodeErrors) == 0 {
		nodeErrors = nil
	}
	if cfg.Status.LUNHealth == counts && apiequality.Semantic.DeepEqual(cfg.Status.NodeErrors, nodeErrors) {
		return false
	}
	cfg.Status.LUNHealth = counts
	cfg.Status.NodeErrors = nodeErrors
	return true
}
