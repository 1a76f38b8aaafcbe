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

// Package wave is the rollout wave: one small ConfigMap that names a rendered config and the
// nodes admitted to apply it now. Every agent watches it, so handing a config out to a hundred
// nodes is one write fanned out by the API server, not a write per node; the payload itself
// reaches the agents through their watch of the immutable rendered ConfigMaps, created once.
//
// The contract between the rollout controller (the only writer) and the agents:
//
//   - A node the wave names applies the wave's config; any other node applies its
//     MultipathNodeState's spec.desiredConfig. A node's effective desired config is
//     Effective(wave, node, spec).
//   - The controller never drops a node from the wave, nor replaces the wave's config, before
//     that node's spec.desiredConfig says the wave's config ("recorded"): a dropped node then
//     keeps what it was handed, so no node ever falls back to an older config.
//   - The controller writes a node's spec with another config only while the wave does not
//     name it.
//   - The budget (maxUnavailable) counts the wave's nodes as handed the wave's config.
package wave

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

const (
	// Name is the wave ConfigMap's name, in the operator's namespace.
	Name = "kube-multipath-rollout-wave"
	// ComponentLabel's value on the wave ConfigMap.
	Component = "rollout-wave"

	configKey = "config"
	hashKey   = "hash"
	nodesKey  = "nodes"

	// MaxNodesBytes bounds the node list (a ConfigMap holds 1 MiB): about 40,000 names of 20
	// characters. A wave that would name more is handed out in parts.
	MaxNodesBytes = 800 << 10
)

// Wave is a config and the nodes admitted to apply it.
type Wave struct {
	// Config is the rendered config the nodes apply; zero in a wave that names no node.
	Config mpv1alpha1.RenderedConfigRef
	// Nodes are the admitted nodes' names, sorted and unique.
	Nodes []string
}

// Has reports whether the wave names node. A nil wave names none.
func (w *Wave) Has(node string) bool {
	if w == nil {
		return false
	}
	_, found := slices.BinarySearch(w.Nodes, node)
	return found
}

// Effective is the config node must apply: the wave's when the wave names it, else spec (its
// MultipathNodeState's spec.desiredConfig, nil when none).
func Effective(w *Wave, node string, spec *mpv1alpha1.RenderedConfigRef) *mpv1alpha1.RenderedConfigRef {
	if w.Has(node) {
		ref := w.Config
		return &ref
	}
	return spec
}

// Equal reports whether two waves hand out the same config to the same nodes; a nil wave and
// one that names no node are equal.
func Equal(a, b *Wave) bool {
	if a == nil || len(a.Nodes) == 0 {
		return b == nil || len(b.Nodes) == 0
	}
	return b != nil && a.Config == b.Config && slices.Equal(a.Nodes, b.Nodes)
}

// New returns the wave handing ref to nodes (in any order, duplicates allowed).
func New(ref mpv1alpha1.RenderedConfigRef, nodes []string) *Wave {
	w := &Wave{Nodes: slices.Compact(slices.Sorted(slices.Values(nodes)))}
	if len(w.Nodes) > 0 {
		w.Config = ref
	}
	return w
}

// FromConfigMap reads the wave from its ConfigMap; a nil ConfigMap is a nil wave. A ConfigMap
// that does not parse is an error, and its nodes should be treated as named by no wave.
func FromConfigMap(cm *corev1.ConfigMap) (*Wave, error) {
	if cm == nil {
		return nil, nil
	}
	w := &Wave{}
	if nodes := cm.Data[nodesKey]; nodes != "" {
		w.Nodes = strings.Split(nodes, "\n")
	}
	if len(w.Nodes) == 0 {
		return w, nil
	}
	w.Config = mpv1alpha1.RenderedConfigRef{Name: cm.Data[configKey], Hash: cm.Data[hashKey]}
	var errs []error
	if w.Config.Name == "" || w.Config.Hash == "" {
		errs = append(errs, fmt.Errorf("data.%s and data.%s must name a rendered config", configKey, hashKey))
	}
	if !slices.IsSorted(w.Nodes) || len(slices.Compact(slices.Clone(w.Nodes))) != len(w.Nodes) || slices.Contains(w.Nodes, "") {
		errs = append(errs, fmt.Errorf("data.%s must list node names, sorted, one per line, each once", nodesKey))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rollout wave ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return w, nil
}

// ConfigMap is the wave as its ConfigMap in namespace.
func (w *Wave) ConfigMap(namespace string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      Name,
			Namespace: namespace,
			Labels: map[string]string{
				"app.kubernetes.io/name":       "kube-multipath",
				"app.kubernetes.io/component":  Component,
				"app.kubernetes.io/managed-by": "kube-multipath",
			},
		},
		Data: map[string]string{},
	}
	if len(w.Nodes) > 0 {
		cm.Data[configKey], cm.Data[hashKey] = w.Config.Name, w.Config.Hash
		cm.Data[nodesKey] = strings.Join(w.Nodes, "\n")
	}
	return cm
}

// Fits reports whether the wave's node list fits in its ConfigMap.
func (w *Wave) Fits() bool {
	n := 0
	for _, name := range w.Nodes {
		n += len(name) + 1
	}
	return n <= MaxNodesBytes
}
