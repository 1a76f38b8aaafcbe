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
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// ManagedNode is a node kube-multipath manages (selected by MultipathConfig spec.nodeSelector).
type ManagedNode struct {
	Name   string
	Labels map[string]string
}

// NodeSet answers, for one set of managed nodes, which of them are expected to carry a LUN.
// Build it once per reconcile and ask it for every LUN; it is not safe for concurrent use.
type NodeSet struct {
	nodes []ManagedNode // sorted by name, unique
	all   []string
	// bySelector remembers what each distinct spec.nodeSelector selects: LUNs are selected by
	// host group or array, so 10,000 LUNs have a few distinct selectors, and matching each
	// LUN's selector against 1,000 nodes was 80% of a health pass.
	bySelector map[string]selected
}

// selected is what one node selector selects, or why it is invalid.
type selected struct {
	names []string
	err   error
}

// NewNodeSet indexes the managed nodes. A name listed twice keeps its first labels.
func NewNodeSet(managed []ManagedNode) *NodeSet {
	s := &NodeSet{nodes: slices.Clone(managed)}
	slices.SortStableFunc(s.nodes, func(a, b ManagedNode) int { return strings.Compare(a.Name, b.Name) })
	s.nodes = slices.CompactFunc(s.nodes, func(a, b ManagedNode) bool { return a.Name == b.Name })
	s.all = make([]string, len(s.nodes))
	for i, n := range s.nodes {
		s.all[i] = n.Name
	}
	return s
}

// All returns every managed node's name, sorted. The slice is shared: do not modify it. Every
// LUN that falls back to all managed nodes gets this same slice, which lets Rollup read it
// once.
func (s *NodeSet) All() []string { return s.all }

// Expected returns the names (sorted, unique, all managed) of the nodes expected to carry a LUN
// (LUNs with the same nodeSelector, or none, share one slice: do not modify it):
//
//  1. with a nodeSelector (MultipathWWID spec.nodeSelector), the managed nodes it selects (an
//     empty selector selects all); an invalid selector is an error and no names;
//  2. else, when the LUN has consumers and every one of them has a required node affinity
//     (one *corev1.NodeSelector per consuming PersistentVolume: spec.nodeAffinity.required),
//     the managed nodes any of them allows;
//  3. else every managed node (All): no consumer, or a consumer usable anywhere.
//
// Node affinity follows the scheduler's rules (k8s.io/component-helpers nodeaffinity, which
// this module does not depend on): terms are ORed, the requirements of a term ANDed; a term
// without requirements matches nothing; matchExpressions use label-selector semantics (In,
// NotIn, Exists, DoesNotExist, Gt, Lt); matchFields accept only metadata.name with In or NotIn
// and one value. A term that breaks these rules matches nothing and is reported in the error,
// while the other terms still count, so a partly invalid affinity narrows rather than empties
// the set.
func (s *NodeSet) Expected(nodeSelector *metav1.LabelSelector, consumers []*corev1.NodeSelector) ([]string, error) {
	if nodeSelector != nil {
		key := selectorKey(nodeSelector)
		r, ok := s.bySelector[key]
		if !ok {
			r = s.selectedBy(nodeSelector)
			if s.bySelector == nil {
				s.bySelector = map[string]selected{}
			}
			s.bySelector[key] = r
		}
		return r.names, r.err
	}
	if len(consumers) == 0 || slices.Contains(consumers, nil) {
		return s.all, nil
	}
	var (
		terms []term
		errs  []error
	)
	for ci, c := range consumers {
		if len(c.NodeSelectorTerms) == 0 {
			errs = append(errs, fmt.Errorf("consumer %d: node affinity without terms matches no node", ci))
		}
		for ti := range c.NodeSelectorTerms {
			t, err := parseTerm(&c.NodeSelectorTerms[ti])
			if err != nil {
				errs = append(errs, fmt.Errorf("consumer %d, term %d: %w", ci, ti, err))
				continue
			}
			terms = append(terms, t)
		}
	}
	var out []string
	for _, n := range s.nodes {
		for _, t := range terms {
			if t.matches(&n) {
				out = append(out, n.Name)
				break
			}
		}
	}
	return out, errors.Join(errs...)
}

// selectedBy matches a node selector against every managed node.
func (s *NodeSet) selectedBy(nodeSelector *metav1.LabelSelector) selected {
	sel, err := metav1.LabelSelectorAsSelector(nodeSelector)
	if err != nil {
		return selected{err: fmt.Errorf("spec.nodeSelector: %w", err)}
	}
	var out []string
	for _, n := range s.nodes {
		if sel.Matches(labels.Set(n.Labels)) {
			out = append(out, n.Name)
		}
	}
	return selected{names: out}
}

// selectorKey is a label selector written out in full, matchLabels sorted, each string
// length-prefixed so that no two selectors share a key, even invalid ones: two selectors with
// the same key select the same nodes.
func selectorKey(ls *metav1.LabelSelector) string {
	var b []byte
	put := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	for _, k := range slices.Sorted(maps.Keys(ls.MatchLabels)) {
		put(k)
		put(ls.MatchLabels[k])
	}
	for _, e := range ls.MatchExpressions {
		b = append(b, '|')
		put(e.Key)
		put(string(e.Operator))
		b = strconv.AppendInt(b, int64(len(e.Values)), 10)
		for _, v := range e.Values {
			put(v)
		}
	}
	return string(b)
}

// term is one parsed NodeSelectorTerm.
type term struct {
	labels labels.Selector
	names  []nameReq
}

type nameReq struct {
	name string
	in   bool
}

func (t *term) matches(n *ManagedNode) bool {
	if !t.labels.Matches(labels.Set(n.Labels)) {
		return false
	}
	for _, r := range t.names {
		if (n.Name == r.name) != r.in {
			return false
		}
	}
	return true
}

var operators = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

func parseTerm(t *corev1.NodeSelectorTerm) (term, error) {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return term{}, errors.New("a term without requirements matches no node")
	}
	reqs := make([]labels.Requirement, 0, len(t.MatchExpressions))
	for i, e := range t.MatchExpressions {
		op, ok := operators[e.Operator]
		if !ok {
			return term{}, fmt.Errorf("matchExpressions[%d]: operator %q is not supported", i, e.Operator)
		}
		r, err := labels.NewRequirement(e.Key, op, e.Values)
		if err != nil {
			return term{}, fmt.Errorf("matchExpressions[%d]: %w", i, err)
		}
		reqs = append(reqs, *r)
	}
	out := term{labels: labels.NewSelector().Add(reqs...)}
	for i, f := range t.MatchFields {
		if f.Key != "metadata.name" {
			return term{}, fmt.Errorf("matchFields[%d]: key %q is not supported, only metadata.name", i, f.Key)
		}
		if (f.Operator != corev1.NodeSelectorOpIn && f.Operator != corev1.NodeSelectorOpNotIn) || len(f.Values) != 1 {
			return term{}, fmt.Errorf("matchFields[%d]: metadata.name takes In or NotIn with exactly one value", i)
		}
		out.names = append(out.names, nameReq{name: f.Values[0], in: f.Operator == corev1.NodeSelectorOpIn})
	}
	return out, nil
}
