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

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

var (
	refA = mpv1alpha1.RenderedConfigRef{Name: "kube-multipath-rendered-aaaa", Hash: "aaaa1111"}
	refB = mpv1alpha1.RenderedConfigRef{Name: "kube-multipath-rendered-bbbb", Hash: "bbbb2222"}
)

func TestRoundTrip(t *testing.T) {
	w := New(refA, []string{"node-c", "node-a", "node-b", "node-a"})
	if want := []string{"node-a", "node-b", "node-c"}; !slices.Equal(w.Nodes, want) {
		t.Fatalf("New sorted and deduplicated to %v, want %v", w.Nodes, want)
	}
	cm := w.ConfigMap("ns")
	if cm.Name != Name || cm.Namespace != "ns" || cm.Labels["app.kubernetes.io/managed-by"] != "kube-multipath" {
		t.Errorf("ConfigMap meta = %s/%s %v", cm.Namespace, cm.Name, cm.Labels)
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
	w := New(refA, []string{"in"})
	if got := Effective(w, "in", &refB); got == nil || *got != refA {
		t.Errorf("a node the wave names applies the wave's config, got %v", got)
	}
	if got := Effective(w, "out", &refB); got == nil || *got != refB {
		t.Errorf("a node the wave does not name applies its spec, got %v", got)
	}
	if got := Effective(nil, "in", nil); got != nil {
		t.Errorf("no wave, no spec: got %v", got)
	}
	if w.Has("") || (*Wave)(nil).Has("in") {
		t.Error("Has names a node that is not listed")
	}
}

func TestEqual(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b *Wave
		want bool
	}{
		{"nil and empty", nil, New(refA, nil), true},
		{"same", New(refA, []string{"x", "y"}), New(refA, []string{"y", "x"}), true},
		{"other config", New(refA, []string{"x"}), New(refB, []string{"x"}), false},
		{"other nodes", New(refA, []string{"x"}), New(refA, []string{"x", "y"}), false},
		{"nil and some", nil, New(refA, []string{"x"}), false},
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
		{"no config", map[string]string{"nodes": "a", "hash": "h"}, "data.config and data.hash"},
		{"no hash", map[string]string{"nodes": "a", "config": "c"}, "data.config and data.hash"},
		{"unsorted", map[string]string{"nodes": "b\na", "config": "c", "hash": "h"}, "data.nodes must list"},
		{"duplicate", map[string]string{"nodes": "a\na", "config": "c", "hash": "h"}, "data.nodes must list"},
		{"empty line", map[string]string{"nodes": "\na", "config": "c", "hash": "h"}, "data.nodes must list"},
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
	names := make([]string, 0, 50000)
	for i := range 50000 {
		names = append(names, strings.Repeat("n", 10)+string(rune('a'+i%26))+strings.Repeat("x", i%7)+"-"+strconv.Itoa(i))
	}
	if !New(refA, names[:1000]).Fits() {
		t.Error("1,000 nodes do not fit")
	}
	if New(refA, names).Fits() {
		t.Error("50,000 names of about 20 characters fit in MaxNodesBytes")
	}
}
