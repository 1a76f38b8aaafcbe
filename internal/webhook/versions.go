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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// Every managed node gets the same rendered files, every LUN's multipath {} subsection
// included, so a construct is checked against the multipath-tools version of every node the
// MultipathConfig's spec.nodeSelector selects, for a MultipathWWID too: its own
// spec.nodeSelector only says where the map is expected (health), not where it is rendered.
// The managed set is rules.ManagedNodes, the rule the health and rollout controllers use.
//
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathnodestates,verbs=get;list;watch

// managedVersions returns, for the nodes cfg manages, each multipath-tools version their agents
// report and the nodes running it. Nodes that reported no version, or one that does not read as
// a version, are left out: nothing is known against them. A nil config manages no node.
func managedVersions(ctx context.Context, r client.Reader, cfg *mpv1alpha1.MultipathConfig) (map[string][]string, error) {
	if cfg == nil {
		return nil, nil
	}
	nodes := &corev1.NodeList{}
	if err := r.List(ctx, nodes, client.UnsafeDisableDeepCopy); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("listing Nodes: %w", err))
	}
	// An invalid selector counts every node as managed (as the rollout controller keeps every
	// node's config); the config's own validation refuses the selector itself.
	managed, _ := rules.ManagedNodes(cfg, nodes.Items)
	if len(managed) == 0 {
		return nil, nil
	}
	states := &mpv1alpha1.MultipathNodeStateList{}
	if err := r.List(ctx, states, client.UnsafeDisableDeepCopy); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("listing MultipathNodeStates: %w", err))
	}
	reported := make(map[string]string, len(states.Items))
	for i := range states.Items {
		if v := states.Items[i].Status.MultipathToolsVersion; v != "" {
			reported[states.Items[i].Name] = v
		}
	}
	versions := make(map[string]string, len(managed))
	for _, n := range managed {
		if v, ok := reported[n.Name]; ok {
			versions[n.Name] = v
		}
	}
	return multipathconf.NodesByVersion(versions), nil
}

// newVersionErrors returns the errors of errs that were not already errors of the object
// before the update (before). An object admitted before a node of an older or newer
// multipath-tools joined keeps rendering as it did; refusing every later unrelated edit of it
// (a label, another knob) would only block its owner, so only what the update adds, or a
// selection that adds nodes to an existing error, is refused.
func newVersionErrors(errs, before field.ErrorList) field.ErrorList {
	if len(errs) == 0 || len(before) == 0 {
		return errs
	}
	had := make(map[string]bool, len(before))
	for _, e := range before {
		had[e.Error()] = true
	}
	var out field.ErrorList
	for _, e := range errs {
		if !had[e.Error()] {
			out = append(out, e)
		}
	}
	return out
}

// configVersionErrors checks c against the versions of the nodes it selects; old is the object
// before an update, nil on create.
func configVersionErrors(ctx context.Context, r client.Reader, c, old *mpv1alpha1.MultipathConfig) (field.ErrorList, error) {
	byVersion, err := managedVersions(ctx, r, c)
	if err != nil || len(byVersion) == 0 {
		return nil, err
	}
	errs := multipathconf.CheckConfigVersions(c, byVersion)
	if old != nil && len(errs) > 0 {
		oldVersions, err := managedVersions(ctx, r, old)
		if err != nil {
			return nil, err
		}
		errs = newVersionErrors(errs, multipathconf.CheckConfigVersions(old, oldVersions))
	}
	return errs, nil
}

// wwidVersionErrors checks w against the versions of the nodes the MultipathConfig manages
// (none without one); old is the object before an update, nil on create.
func wwidVersionErrors(ctx context.Context, r client.Reader, w, old *mpv1alpha1.MultipathWWID) (field.ErrorList, error) {
	cfg := &mpv1alpha1.MultipathConfig{}
	if err := r.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, apierrors.NewInternalError(fmt.Errorf("reading MultipathConfig %s: %w", mpv1alpha1.ClusterConfigName, err))
	}
	if !cfg.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	byVersion, err := managedVersions(ctx, r, cfg)
	if err != nil || len(byVersion) == 0 {
		return nil, err
	}
	errs := multipathconf.CheckWWIDVersions(w, byVersion)
	if old != nil {
		errs = newVersionErrors(errs, multipathconf.CheckWWIDVersions(old, byVersion))
	}
	return errs, nil
}
