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
//   - A node the wave names (by name and MultipathNodeState UID) applies the wave's config; any
//     other node applies its MultipathNodeState's spec.desiredConfig: Effective(wave, state).
//   - The controller never drops a node from the wave, nor replaces the wave's config, before
//     that node's spec.desiredConfig says the wave's config ("recorded"): a dropped node then
//     keeps what it was handed, so no node ever falls back to an older config.
//   - The controller writes a node's spec with another config only while the wave does not
//     name it, or to record the config the node already runs (a rollback to it, away from a
//     wave config that failed there); the wave then lets the node go without a record.
//   - The budget (maxUnavailable) counts the wave's nodes as handed the wave's config.
//
// The wave is the operator's object: deleting it by hand mid-rollout sends the nodes it named
// and whose spec was not recorded yet back to their spec's config; the controller creates it
// again at the next hand-out.
package wave

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

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

	// MaxNodesBytes bounds the node list (a ConfigMap holds 1 MiB): about 14,000 nodes with
	// names of 20 characters and their UIDs. A wave that would name more is handed out node by
	// node.
	MaxNodesBytes = 800 << 10
)

// Wave is a config and the nodes admitted to apply it.
type Wave struct {
	// Config is the rendered config the nodes apply; zero in a wave that names no node.
	Config mpv1alpha1.RenderedConfigRef
	// Nodes are the admitted nodes' names, sorted and unique.
	Nodes []string
	// UIDs are, by node name, the UID of the MultipathNodeState each node had when it was
	// admitted: a node deleted and added again under the same name (a replaced machine) has a
	// new MultipathNodeState, which the wave does not name.
	UIDs map[string]types.UID
}

// Member is one admitted node.
type Member struct {
	Node string
	UID  types.UID
}

// Names reports whether the wave lists node, whatever its MultipathNodeState. A nil wave
// lists none.
func (w *Wave) Names(node string) bool {
	if w == nil {
		return false
	}
	_, found := slices.BinarySearch(w.Nodes, node)
	return found
}

// Has reports whether the wave names the MultipathNodeState node with UID uid.
func (w *Wave) Has(node string, uid types.UID) bool {
	return w.Names(node) && w.UIDs[node] == uid
}

// HasState reports whether the wave names st.
func (w *Wave) HasState(st *mpv1alpha1.MultipathNodeState) bool {
	return st != nil && w.Has(st.Name, st.UID)
}

// Effective is the config st's node must apply: the wave's when the wave names st, else its
// spec.desiredConfig (nil when none).
func Effective(w *Wave, st *mpv1alpha1.MultipathNodeState) *mpv1alpha1.RenderedConfigRef {
	if w.HasState(st) {
		ref := w.Config
		return &ref
	}
	return st.Spec.DesiredConfig
}

// Equal reports whether two waves hand out the same config to the same nodes; a nil wave and
// one that names no node are equal.
func Equal(a, b *Wave) bool {
	if a == nil || len(a.Nodes) == 0 {
		return b == nil || len(b.Nodes) == 0
	}
	return b != nil && a.Config == b.Config && slices.Equal(a.Nodes, b.Nodes) && maps.Equal(a.UIDs, b.UIDs)
}

// New returns the wave handing ref to members (in any order; a node listed twice keeps its
// last UID).
func New(ref mpv1alpha1.RenderedConfigRef, members []Member) *Wave {
	w := &Wave{UIDs: make(map[string]types.UID, len(members))}
	for _, m := range members {
		w.UIDs[m.Node] = m.UID
	}
	w.Nodes = slices.Sorted(maps.Keys(w.UIDs))
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
	w := &Wave{UIDs: map[string]types.UID{}}
	nodes := cm.Data[nodesKey]
	if nodes == "" {
		return w, nil
	}
	var errs []error
	for line := range strings.SplitSeq(nodes, "\n") {
		name, uid, ok := strings.Cut(line, " ")
		if !ok || name == "" || uid == "" || strings.Contains(uid, " ") {
			errs = append(errs, fmt.Errorf("data.%s: line %q is not a node name and a MultipathNodeState UID", nodesKey, line))
			break
		}
		if len(w.Nodes) > 0 && name <= w.Nodes[len(w.Nodes)-1] {
			errs = append(errs, fmt.Errorf("data.%s must list each node once, sorted by name (%q after %q)", nodesKey, name, w.Nodes[len(w.Nodes)-1]))
			break
		}
		w.Nodes = append(w.Nodes, name)
		w.UIDs[name] = types.UID(uid)
	}
	w.Config = mpv1alpha1.RenderedConfigRef{Name: cm.Data[configKey], Hash: cm.Data[hashKey]}
	if w.Config.Name == "" || w.Config.Hash == "" {
		errs = append(errs, fmt.Errorf("data.%s and data.%s must name a rendered config", configKey, hashKey))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rollout wave ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return w, nil
}

// ConfigMap is the wave as its ConfigMap in namespace: data.config and data.hash name the
// config, data.nodes has one line per node, its name and its MultipathNodeState's UID.
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
		lines := make([]string, 0, len(w.Nodes))
		for _, n := range w.Nodes {
			lines = append(lines, n+" "+string(w.UIDs[n]))
		}
		cm.Data[configKey], cm.Data[hashKey] = w.Config.Name, w.Config.Hash
		cm.Data[nodesKey] = strings.Join(lines, "\n")
	}
	return cm
}

// Fits reports whether the wave's node list fits in its ConfigMap.
func (w *Wave) Fits() bool {
	n := 0
	for _, name := range w.Nodes {
		n += len(name) + len(w.UIDs[name]) + 2
	}
	return n <= MaxNodesBytes
}
