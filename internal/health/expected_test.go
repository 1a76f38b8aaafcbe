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

package health_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-multipath/kube-multipath/internal/health"
)

var managed = []health.ManagedNode{
	{Name: "w3", Labels: map[string]string{"zone": "b", "rack": "7"}},
	{Name: "w1", Labels: map[string]string{"zone": "a", "rack": "2", "san": "fc"}},
	{Name: "w2", Labels: map[string]string{"zone": "a", "rack": "12"}},
	{Name: "w4", Labels: map[string]string{"zone": "c"}},
	{Name: "w1", Labels: map[string]string{"zone": "z"}}, // listed twice: the first labels stay
}

func expr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func affinity(terms ...corev1.NodeSelectorTerm) *corev1.NodeSelector {
	return &corev1.NodeSelector{NodeSelectorTerms: terms}
}

func exprs(reqs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: reqs}
}

func fields(reqs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchFields: reqs}
}

func TestExpected(t *testing.T) {
	tests := map[string]struct {
		selector  *metav1.LabelSelector
		consumers []*corev1.NodeSelector
		want      []string
		wantErr   string
	}{
		"no selector and no consumer: every managed node": {
			want: []string{"w1", "w2", "w3", "w4"},
		},
		"a node selector picks among the managed nodes": {
			selector: &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "a"}},
			want:     []string{"w1", "w2"},
		},
		"a node selector with expressions": {
			selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"a"}}}},
			want:     []string{"w3", "w4"},
		},
		"an empty node selector selects every managed node": {
			selector: &metav1.LabelSelector{},
			want:     []string{"w1", "w2", "w3", "w4"},
		},
		"a node selector that matches nothing expects nothing": {
			selector: &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "mars"}},
			want:     nil,
		},
		"the node selector wins over the consumers' affinity": {
			selector:  &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "c"}},
			consumers: []*corev1.NodeSelector{affinity(fields(expr("metadata.name", corev1.NodeSelectorOpIn, "w1")))},
			want:      []string{"w4"},
		},
		"an invalid node selector is an error and no names": {
			selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near"}}},
			wantErr:  "spec.nodeSelector",
		},
		"a local PV pinned to one node expects that node": {
			consumers: []*corev1.NodeSelector{affinity(fields(expr("metadata.name", corev1.NodeSelectorOpIn, "w3")))},
			want:      []string{"w3"},
		},
		"the nodes any consumer allows are expected (union)": {
			consumers: []*corev1.NodeSelector{
				affinity(exprs(expr("kubernetes.io/hostname", corev1.NodeSelectorOpIn, "nobody")), exprs(expr("zone", corev1.NodeSelectorOpIn, "b"))),
				affinity(exprs(expr("san", corev1.NodeSelectorOpExists))),
			},
			want: []string{"w1", "w3"},
		},
		"requirements within a term are ANDed": {
			consumers: []*corev1.NodeSelector{affinity(exprs(expr("zone", corev1.NodeSelectorOpIn, "a"), expr("rack", corev1.NodeSelectorOpGt, "5")))},
			want:      []string{"w2"},
		},
		"Lt compares integers, DoesNotExist needs the label absent": {
			consumers: []*corev1.NodeSelector{affinity(exprs(expr("rack", corev1.NodeSelectorOpLt, "8")), exprs(expr("rack", corev1.NodeSelectorOpDoesNotExist)))},
			want:      []string{"w1", "w3", "w4"},
		},
		"expressions and metadata.name fields combine in one term": {
			consumers: []*corev1.NodeSelector{affinity(corev1.NodeSelectorTerm{
				MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", corev1.NodeSelectorOpIn, "a")},
				MatchFields:      []corev1.NodeSelectorRequirement{expr("metadata.name", corev1.NodeSelectorOpNotIn, "w1")},
			})},
			want: []string{"w2"},
		},
		"a consumer usable anywhere makes every managed node expected": {
			consumers: []*corev1.NodeSelector{affinity(fields(expr("metadata.name", corev1.NodeSelectorOpIn, "w3"))), nil},
			want:      []string{"w1", "w2", "w3", "w4"},
		},
		"affinity to an unmanaged node expects nothing": {
			consumers: []*corev1.NodeSelector{affinity(fields(expr("metadata.name", corev1.NodeSelectorOpIn, "elsewhere")))},
			want:      nil,
		},
		"an empty term matches nothing (scheduler rule)": {
			consumers: []*corev1.NodeSelector{affinity(corev1.NodeSelectorTerm{}, exprs(expr("zone", corev1.NodeSelectorOpIn, "c")))},
			want:      []string{"w4"},
			wantErr:   "consumer 0, term 0: a term without requirements matches no node",
		},
		"an affinity without terms matches nothing": {
			consumers: []*corev1.NodeSelector{affinity()},
			want:      nil,
			wantErr:   "consumer 0: node affinity without terms matches no node",
		},
		"an invalid term is reported and the valid ones still count": {
			consumers: []*corev1.NodeSelector{
				affinity(exprs(expr("rack", corev1.NodeSelectorOpGt, "seven")), exprs(expr("zone", corev1.NodeSelectorOpIn, "b"))),
				affinity(fields(expr("metadata.uid", corev1.NodeSelectorOpIn, "x"))),
				affinity(fields(expr("metadata.name", corev1.NodeSelectorOpIn, "w1", "w2"))),
				affinity(exprs(expr("zone", "Near", "a"))),
				affinity(exprs(expr("zone", corev1.NodeSelectorOpIn))),
			},
			want:    []string{"w3"},
			wantErr: "consumer 0, term 0: matchExpressions[0]",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := health.NewNodeSet(managed)
			got, err := s.Expected(tc.selector, tc.consumers)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Expected = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExpectedErrorsNameEveryBadTerm(t *testing.T) {
	s := health.NewNodeSet(managed)
	_, err := s.Expected(nil, []*corev1.NodeSelector{
		affinity(exprs(expr("rack", corev1.NodeSelectorOpGt, "seven"))),
		affinity(fields(expr("metadata.uid", corev1.NodeSelectorOpIn, "x"))),
		affinity(fields(expr("metadata.name", corev1.NodeSelectorOpIn, "w1", "w2"))),
		affinity(exprs(expr("zone", "Near", "a"))),
		affinity(exprs(expr("zone", corev1.NodeSelectorOpIn))),
	})
	for _, want := range []string{
		"consumer 0, term 0: matchExpressions[0]",
		"consumer 1, term 0: matchFields[0]: key \"metadata.uid\" is not supported",
		"consumer 2, term 0: matchFields[0]: metadata.name takes In or NotIn with exactly one value",
		"consumer 3, term 0: matchExpressions[0]: operator \"Near\" is not supported",
		"consumer 4, term 0: matchExpressions[0]",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

func TestExpectedFallbackSharesOneSlice(t *testing.T) {
	s := health.NewNodeSet(managed)
	a, _ := s.Expected(nil, nil)
	b, _ := s.Expected(nil, []*corev1.NodeSelector{nil})
	if &a[0] != &b[0] || &a[0] != &s.All()[0] {
		t.Error("every fallback should return All()'s slice, so that Rollup reads it once")
	}
	if empty := health.NewNodeSet(nil); len(empty.All()) != 0 {
		t.Errorf("no managed nodes: All() = %q", empty.All())
	}
}

// One NodeSet answers many LUNs and remembers what each distinct node selector selects: every
// answer must be what a fresh set gives, equal selectors must share one slice (Rollup then reads
// it once), and selectors that differ, even in ways that only a careless key would miss, must not.
func TestExpectedRemembersEachSelector(t *testing.T) {
	sels := []*metav1.LabelSelector{
		{MatchLabels: map[string]string{"zone": "a"}},
		{MatchLabels: map[string]string{"zone": "a", "rack": "2"}},
		{MatchLabels: map[string]string{"rack": "2", "zone": "a"}}, // the same, built in another order
		{MatchLabels: map[string]string{"zone": "b"}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "c"}}}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"a", "c"}}}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"a"}}, {Key: "c", Operator: metav1.LabelSelectorOpExists}}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "c"}}, {Key: "san", Operator: metav1.LabelSelectorOpExists}}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near", Values: []string{"a"}}}}, // invalid
		{MatchLabels: map[string]string{"rack": "2\x00zone\x00a"}}, // invalid; a key joining selector 1's labels with NULs would mistake it for that one
		{}, // selects every node
	}
	s := health.NewNodeSet(managed)
	got := make([][]string, len(sels))
	for round := range 2 {
		for i, sel := range sels {
			want, wantErr := health.NewNodeSet(managed).Expected(sel, nil)
			names, err := s.Expected(sel, nil)
			if (err == nil) != (wantErr == nil) || !slices.Equal(names, want) {
				t.Errorf("round %d, selector %d: %q, %v; a fresh set says %q, %v", round, i, names, err, want, wantErr)
			}
			if round == 1 && len(names) > 0 && &names[0] != &got[i][0] {
				t.Errorf("selector %d: asked again, a new slice", i)
			}
			got[i] = names
		}
	}
	if &got[1][0] != &got[2][0] {
		t.Error("equal selectors built in another order should share one slice")
	}
	if slices.Equal(got[4], got[7]) {
		t.Errorf("selectors 4 and 7 differ by a requirement and select %q both", got[4])
	}
}
