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

package wave

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

var (
	refA = mpv1alpha1.RenderedConfigRef{Name: "kube-multipath-rendered-aaaa", Hash: "aaaa1111"}
	refB = mpv1alpha1.RenderedConfigRef{Name: "kube-multipath-rendered-bbbb", Hash: "bbbb2222"}
)

func members(names ...string) []Member {
	out := make([]Member, 0, len(names))
	for _, n := range names {
		out = append(out, Member{Node: n, UID: types.UID("uid-" + n)})
	}
	return out
}

func state(name string, uid types.UID, spec *mpv1alpha1.RenderedConfigRef) *mpv1alpha1.MultipathNodeState {
	st := &mpv1alpha1.MultipathNodeState{Spec: mpv1alpha1.MultipathNodeStateSpec{DesiredConfig: spec}}
	st.Name, st.UID = name, uid
	return st
}

func TestRoundTrip(t *testing.T) {
	w := New(refA, members("node-c", "node-a", "node-b", "node-a"))
	if want := []string{"node-a", "node-b", "node-c"}; !slices.Equal(w.Nodes, want) {
		t.Fatalf("New sorted and deduplicated to %v, want %v", w.Nodes, want)
	}
	cm := w.ConfigMap("ns")
	if cm.Name != Name || cm.Namespace != "ns" || cm.Labels["app.kubernetes.io/managed-by"] != "kube-multipath" {
		t.Errorf("ConfigMap meta = %s/%s %v", cm.Namespace, cm.Name, cm.Labels)
	}
	if want := "node-a uid-node-a\nnode-b uid-node-b\nnode-c uid-node-c"; cm.Data["nodes"] != want {
		t.Errorf("data.nodes = %q, want %q", cm.Data["nodes"], want)
	}
	got, err := FromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(got, w) || got.Config != refA {
		t.Errorf("round trip = %+v, want %+v", got, w)
	}
	empty, err := FromConfigMap(New(refA, nil).ConfigMap("ns"))
	if err != nil || len(empty.Nodes) != 0 || empty.Config != (mpv1alpha1.RenderedConfigRef{}) {
		t.Errorf("an empty wave read back as %+v, %v", empty, err)
	}
	if nilWave, err := FromConfigMap(nil); nilWave != nil || err != nil {
		t.Errorf("FromConfigMap(nil) = %v, %v", nilWave, err)
	}
}

func TestEffective(t *testing.T) {
	w := New(refA, members("in"))
	if got := Effective(w, state("in", "uid-in", &refB)); got == nil || *got != refA {
		t.Errorf("a node the wave names applies the wave's config, got %v", got)
	}
	if got := Effective(w, state("out", "uid-out", &refB)); got == nil || *got != refB {
		t.Errorf("a node the wave does not name applies its spec, got %v", got)
	}
	// The node was deleted and added again: its new MultipathNodeState was never admitted.
	if got := Effective(w, state("in", "uid-of-a-new-state", &refB)); got == nil || *got != refB {
		t.Errorf("a new MultipathNodeState of a listed name applies its spec, got %v", got)
	}
	if !w.Names("in") || w.Has("in", "uid-of-a-new-state") {
		t.Error("Names is by name, Has by name and UID")
	}
	if got := Effective(nil, state("in", "uid-in", nil)); got != nil {
		t.Errorf("no wave, no spec: got %v", got)
	}
	if w.Names("") || (*Wave)(nil).Names("in") || (*Wave)(nil).HasState(state("in", "uid-in", nil)) || w.HasState(nil) {
		t.Error("a node that is not listed is named")
	}
}

func TestEqual(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b *Wave
		want bool
	}{
		{"nil and empty", nil, New(refA, nil), true},
		{"same", New(refA, members("x", "y")), New(refA, members("y", "x")), true},
		{"other config", New(refA, members("x")), New(refB, members("x")), false},
		{"other nodes", New(refA, members("x")), New(refA, members("x", "y")), false},
		{"other UID", New(refA, members("x")), New(refA, []Member{{Node: "x", UID: "new"}}), false},
		{"nil and some", nil, New(refA, members("x")), false},
	} {
		if got := Equal(tc.a, tc.b); got != tc.want || Equal(tc.b, tc.a) != tc.want {
			t.Errorf("%s: Equal = %v, want %v (both ways)", tc.name, got, tc.want)
		}
	}
}

// A wave that does not parse is an error naming the field, never a partial wave: the agents and
// the controller then treat every node as not named.
func TestFromConfigMapRefusesMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string]string
		want string
	}{
		{"no config", map[string]string{"nodes": "a u", "hash": "h"}, "data.config and data.hash"},
		{"no hash", map[string]string{"nodes": "a u", "config": "c"}, "data.config and data.hash"},
		{"no UID", map[string]string{"nodes": "a", "config": "c", "hash": "h"}, "is not a node name and a MultipathNodeState UID"},
		{"unsorted", map[string]string{"nodes": "b u\na u", "config": "c", "hash": "h"}, "each node once, sorted"},
		{"duplicate", map[string]string{"nodes": "a u\na v", "config": "c", "hash": "h"}, "each node once, sorted"},
		{"empty line", map[string]string{"nodes": "\na u", "config": "c", "hash": "h"}, "is not a node name"},
	} {
		cm := &corev1.ConfigMap{Data: tc.data}
		cm.Name, cm.Namespace = Name, "ns"
		w, err := FromConfigMap(cm)
		if err == nil || !strings.Contains(err.Error(), tc.want) || w != nil {
			t.Errorf("%s: FromConfigMap = %+v, %v; want an error containing %q", tc.name, w, err, tc.want)
		}
	}
}

func TestFits(t *testing.T) {
	var ms []Member
	for i := range 50000 {
		ms = append(ms, Member{Node: "node-" + strconv.Itoa(i) + strings.Repeat("x", 10), UID: "5f1d2c3e-aaaa-bbbb-cccc-0123456789ab"})
	}
	if !New(refA, ms[:1000]).Fits() {
		t.Error("1,000 nodes do not fit")
	}
	if New(refA, ms).Fits() {
		t.Error("50,000 nodes with their UIDs fit in MaxNodesBytes")
	}
}
