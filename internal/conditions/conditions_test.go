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

package conditions_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/conditions/conditionstest"
)

// Every API kind is a Setter.
var (
	_ conditions.Setter = &mpv1alpha1.MultipathConfig{}
	_ conditions.Setter = &mpv1alpha1.MultipathWWID{}
	_ conditions.Setter = &mpv1alpha1.MultipathNodeState{}
)

var (
	t0 = metav1.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC)
	t1 = metav1.Date(2026, time.January, 2, 4, 0, 0, 0, time.UTC)
)

func wwid(generation int64, conds ...metav1.Condition) *mpv1alpha1.MultipathWWID {
	w := &mpv1alpha1.MultipathWWID{}
	w.Name = "lun-a"
	w.Generation = generation
	w.Status.Conditions = conds
	return w
}

func cond(condType string, status metav1.ConditionStatus, reason, message string, gen int64, ltt metav1.Time) metav1.Condition {
	return metav1.Condition{Type: condType, Status: status, Reason: reason, Message: message, ObservedGeneration: gen, LastTransitionTime: ltt}
}

func sorted(conds []metav1.Condition) []metav1.Condition {
	out := slices.Clone(conds)
	slices.SortFunc(out, func(a, b metav1.Condition) int { return strings.Compare(a.Type, b.Type) })
	return out
}

func dump(conds []metav1.Condition) string {
	var b strings.Builder
	for _, c := range conds {
		fmt.Fprintf(&b, "\n  %s=%s reason=%q message=%q gen=%d ltt=%s", c.Type, c.Status, c.Reason, c.Message, c.ObservedGeneration, c.LastTransitionTime.UTC().Format(time.RFC3339))
	}
	return b.String()
}

func TestSet(t *testing.T) {
	tests := map[string]struct {
		before      []metav1.Condition
		generation  int64
		set         metav1.Condition
		want        []metav1.Condition
		wantChanged bool
	}{
		"adds a missing condition and stamps the object's generation": {
			generation:  3,
			set:         cond("InUse", metav1.ConditionTrue, "Consumed", "pv-1 uses the LUN.", 0, t0),
			want:        []metav1.Condition{cond("InUse", metav1.ConditionTrue, "Consumed", "pv-1 uses the LUN.", 3, t0)},
			wantChanged: true,
		},
		"keeps lastTransitionTime when only the reason and message change": {
			before:      []metav1.Condition{cond("Ready", metav1.ConditionFalse, "RolloutInProgress", "1/3 nodes.", 2, t0)},
			generation:  2,
			set:         cond("Ready", metav1.ConditionFalse, "RolloutFailed", "node-b failed.", 0, t1),
			want:        []metav1.Condition{cond("Ready", metav1.ConditionFalse, "RolloutFailed", "node-b failed.", 2, t0)},
			wantChanged: true,
		},
		"moves lastTransitionTime when the status changes": {
			before:      []metav1.Condition{cond("Ready", metav1.ConditionFalse, "RolloutInProgress", "1/3 nodes.", 2, t0)},
			generation:  2,
			set:         cond("Ready", metav1.ConditionTrue, "Rendered", "3/3 nodes.", 0, t1),
			want:        []metav1.Condition{cond("Ready", metav1.ConditionTrue, "Rendered", "3/3 nodes.", 2, t1)},
			wantChanged: true,
		},
		"restamps observedGeneration after a spec change without a transition": {
			before:      []metav1.Condition{cond("Ready", metav1.ConditionTrue, "Rendered", "3/3 nodes.", 2, t0)},
			generation:  5,
			set:         cond("Ready", metav1.ConditionTrue, "Rendered", "3/3 nodes.", 0, t1),
			want:        []metav1.Condition{cond("Ready", metav1.ConditionTrue, "Rendered", "3/3 nodes.", 5, t0)},
			wantChanged: true,
		},
		"reports no change when the condition is already as asked": {
			before:      []metav1.Condition{cond("Ready", metav1.ConditionTrue, "Rendered", "3/3 nodes.", 2, t0)},
			generation:  2,
			set:         cond("Ready", metav1.ConditionTrue, "Rendered", "3/3 nodes.", 0, t1),
			want:        []metav1.Condition{cond("Ready", metav1.ConditionTrue, "Rendered", "3/3 nodes.", 2, t0)},
			wantChanged: false,
		},
		"leaves the other conditions where they are": {
			before: []metav1.Condition{
				cond("Ready", metav1.ConditionTrue, "Rendered", "", 1, t0),
				cond("InUse", metav1.ConditionFalse, "NotConsumed", "", 1, t0),
			},
			generation: 1,
			set:        cond("InUse", metav1.ConditionTrue, "Consumed", "pv-1 uses the LUN.", 0, t1),
			want: []metav1.Condition{
				cond("Ready", metav1.ConditionTrue, "Rendered", "", 1, t0),
				cond("InUse", metav1.ConditionTrue, "Consumed", "pv-1 uses the LUN.", 1, t1),
			},
			wantChanged: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := wwid(tc.generation, tc.before...)
			if got := conditions.Set(obj, tc.set); got != tc.wantChanged {
				t.Errorf("changed = %v, want %v", got, tc.wantChanged)
			}
			if got := obj.GetConditions(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("conditions:%s\nwant:%s", dump(got), dump(tc.want))
			}
		})
	}
}

func TestSetStampsNowWhenNoTransitionTimeIsGiven(t *testing.T) {
	obj := wwid(1)
	before := time.Now().Add(-time.Second)
	conditions.Set(obj, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Rendered"})
	got := conditions.Get(obj, "Ready")
	if got == nil {
		t.Fatal("Ready is missing")
	}
	if ltt := got.LastTransitionTime.Time; ltt.Before(before) || ltt.After(time.Now().Add(time.Second)) {
		t.Errorf("lastTransitionTime = %v, want about now", ltt)
	}
}

func TestSetDoesNotAliasTheCallersSlice(t *testing.T) {
	obj := wwid(2, cond("Ready", metav1.ConditionFalse, "RolloutInProgress", "", 2, t0))
	snapshot := obj.Status // shallow, as a caller deciding whether to write would take it
	conditions.Set(obj, cond("Ready", metav1.ConditionTrue, "Rendered", "", 0, t1))
	if got := snapshot.Conditions[0].Status; got != metav1.ConditionFalse {
		t.Errorf("snapshot Ready = %s, want False: Set changed the caller's slice in place", got)
	}
	conditions.Delete(obj, "Ready")
	if len(snapshot.Conditions) != 1 || snapshot.Conditions[0].Type != "Ready" {
		t.Errorf("snapshot = %v, want the Ready condition untouched by Delete", snapshot.Conditions)
	}
}

// A Set that changes nothing leaves the slice it was given: a render pass sets five conditions
// on each of 10,000 LUNs, nearly all unchanged, and a copy each time was a gigabyte of garbage
// in a scale run's settling.
func TestSetWithoutChangeKeepsTheSlice(t *testing.T) {
	obj := wwid(2, cond("Ready", metav1.ConditionTrue, "Rendered", "3/3 nodes.", 2, t0), cond("InUse", metav1.ConditionFalse, "NotConsumed", "", 2, t0))
	first := &obj.Status.Conditions[0]
	if conditions.Set(obj, cond("InUse", metav1.ConditionFalse, "NotConsumed", "", 0, t1)) {
		t.Error("Set of the same condition reported a change")
	}
	if &obj.Status.Conditions[0] != first {
		t.Error("Set without a change replaced the slice")
	}
}

func TestDelete(t *testing.T) {
	tests := map[string]struct {
		before      []metav1.Condition
		delete      string
		want        []metav1.Condition
		wantChanged bool
	}{
		"removes the condition and keeps the others in order": {
			before: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "RolloutInProgress", "", 1, t0),
				cond("Reconciling", metav1.ConditionTrue, "RolloutInProgress", "", 1, t0),
				cond("InUse", metav1.ConditionTrue, "Consumed", "", 1, t0),
			},
			delete: "Reconciling",
			want: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "RolloutInProgress", "", 1, t0),
				cond("InUse", metav1.ConditionTrue, "Consumed", "", 1, t0),
			},
			wantChanged: true,
		},
		"leaves nil behind when the last condition goes": {
			before:      []metav1.Condition{cond("Stalled", metav1.ConditionTrue, "RolloutFailed", "", 1, t0)},
			delete:      "Stalled",
			want:        nil,
			wantChanged: true,
		},
		"reports no change when the condition is absent": {
			before:      []metav1.Condition{cond("Ready", metav1.ConditionTrue, "Rendered", "", 1, t0)},
			delete:      "Stalled",
			want:        []metav1.Condition{cond("Ready", metav1.ConditionTrue, "Rendered", "", 1, t0)},
			wantChanged: false,
		},
		"reports no change on an object without conditions": {
			delete:      "Ready",
			want:        nil,
			wantChanged: false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := wwid(1, tc.before...)
			if got := conditions.Delete(obj, tc.delete); got != tc.wantChanged {
				t.Errorf("changed = %v, want %v", got, tc.wantChanged)
			}
			if got := obj.GetConditions(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("conditions:%s\nwant:%s", dump(got), dump(tc.want))
			}
		})
	}
}

func TestGetIsTrueIsFalse(t *testing.T) {
	obj := wwid(1,
		cond("Ready", metav1.ConditionTrue, "Rendered", "ok", 1, t0),
		cond("InUse", metav1.ConditionFalse, "NotConsumed", "", 1, t0),
		cond("Conflict", metav1.ConditionUnknown, "Pending", "", 1, t0),
	)
	tests := map[string]struct {
		condType  string
		wantGet   *metav1.Condition
		wantTrue  bool
		wantFalse bool
	}{
		"a True condition is true and not false": {
			condType: "Ready", wantGet: new(cond("Ready", metav1.ConditionTrue, "Rendered", "ok", 1, t0)), wantTrue: true,
		},
		"a False condition is false and not true": {
			condType: "InUse", wantGet: new(cond("InUse", metav1.ConditionFalse, "NotConsumed", "", 1, t0)), wantFalse: true,
		},
		"an Unknown condition is neither true nor false": {
			condType: "Conflict", wantGet: new(cond("Conflict", metav1.ConditionUnknown, "Pending", "", 1, t0)),
		},
		"an absent condition is nil, neither true nor false": {
			condType: "Stalled",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := conditions.Get(obj, tc.condType); !reflect.DeepEqual(got, tc.wantGet) {
				t.Errorf("Get = %+v, want %+v", got, tc.wantGet)
			}
			if got := conditions.IsTrue(obj, tc.condType); got != tc.wantTrue {
				t.Errorf("IsTrue = %v, want %v", got, tc.wantTrue)
			}
			if got := conditions.IsFalse(obj, tc.condType); got != tc.wantFalse {
				t.Errorf("IsFalse = %v, want %v", got, tc.wantFalse)
			}
		})
	}
}

func TestGetReturnsACopy(t *testing.T) {
	obj := wwid(1, cond("Ready", metav1.ConditionTrue, "Rendered", "", 1, t0))
	conditions.Get(obj, "Ready").Status = metav1.ConditionFalse
	if !conditions.IsTrue(obj, "Ready") {
		t.Error("changing what Get returned changed the object")
	}
}

func TestSetSummary(t *testing.T) {
	inProgress := &conditions.Message{Reason: "RolloutInProgress", Message: "2 of 5 nodes applied config c-abc."}
	failed := &conditions.Message{Reason: "RolloutFailed", Message: "node-b failed to apply config c-abc."}
	tests := map[string]struct {
		before      []metav1.Condition
		generation  int64
		summary     conditions.Summary
		want        []metav1.Condition
		wantChanged bool
	}{
		"ready with nothing abnormal writes Ready True alone": {
			generation: 4,
			summary:    conditions.Summary{Ready: true, ReadyMessage: conditions.Message{Reason: "Rendered", Message: "5 of 5 nodes applied config c-abc."}},
			want: []metav1.Condition{
				cond("Ready", metav1.ConditionTrue, "Rendered", "5 of 5 nodes applied config c-abc.", 4, t1),
			},
			wantChanged: true,
		},
		"reconciling sets Reconciling True and forces Ready False with its reason even if asked ready": {
			generation: 4,
			summary:    conditions.Summary{Ready: true, ReadyMessage: conditions.Message{Reason: "Rendered"}, Reconciling: inProgress},
			want: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "RolloutInProgress", "2 of 5 nodes applied config c-abc.", 4, t1),
				cond("Reconciling", metav1.ConditionTrue, "RolloutInProgress", "2 of 5 nodes applied config c-abc.", 4, t1),
			},
			wantChanged: true,
		},
		"stalled wins over reconciling: Reconciling is removed, never both": {
			before: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "RolloutInProgress", "2 of 5 nodes applied config c-abc.", 4, t0),
				cond("Reconciling", metav1.ConditionTrue, "RolloutInProgress", "2 of 5 nodes applied config c-abc.", 4, t0),
			},
			generation: 4,
			summary:    conditions.Summary{Reconciling: inProgress, Stalled: failed},
			want: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "RolloutFailed", "node-b failed to apply config c-abc.", 4, t0),
				cond("Stalled", metav1.ConditionTrue, "RolloutFailed", "node-b failed to apply config c-abc.", 4, t1),
			},
			wantChanged: true,
		},
		"recovering removes Stalled and Reconciling and moves Ready to True": {
			before: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "RolloutFailed", "node-b failed.", 4, t0),
				cond("Stalled", metav1.ConditionTrue, "RolloutFailed", "node-b failed.", 4, t0),
				cond("InUse", metav1.ConditionTrue, "Consumed", "", 4, t0),
			},
			generation: 5,
			summary:    conditions.Summary{Ready: true, ReadyMessage: conditions.Message{Reason: "Rendered", Message: "5 of 5 nodes applied config c-def."}},
			want: []metav1.Condition{
				cond("InUse", metav1.ConditionTrue, "Consumed", "", 4, t0),
				cond("Ready", metav1.ConditionTrue, "Rendered", "5 of 5 nodes applied config c-def.", 5, t1),
			},
			wantChanged: true,
		},
		"not ready with nothing abnormal writes Ready False with the given reason": {
			generation: 1,
			summary:    conditions.Summary{ReadyMessage: conditions.Message{Reason: "InvalidSpec", Message: "spec.overrides has an unbalanced brace."}},
			want: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "InvalidSpec", "spec.overrides has an unbalanced brace.", 1, t1),
			},
			wantChanged: true,
		},
		"empty reasons get defaults so the API server accepts them": {
			generation: 1,
			summary:    conditions.Summary{Stalled: &conditions.Message{}},
			want: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "Stalled", "", 1, t1),
				cond("Stalled", metav1.ConditionTrue, "Stalled", "", 1, t1),
			},
			wantChanged: true,
		},
		"an empty Ready reason defaults to Ready or NotReady": {
			generation:  1,
			summary:     conditions.Summary{Ready: true},
			want:        []metav1.Condition{cond("Ready", metav1.ConditionTrue, "Ready", "", 1, t1)},
			wantChanged: true,
		},
		"the same summary again changes nothing": {
			before: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "RolloutInProgress", "2 of 5 nodes applied config c-abc.", 4, t0),
				cond("Reconciling", metav1.ConditionTrue, "RolloutInProgress", "2 of 5 nodes applied config c-abc.", 4, t0),
			},
			generation: 4,
			summary:    conditions.Summary{Reconciling: inProgress},
			want: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "RolloutInProgress", "2 of 5 nodes applied config c-abc.", 4, t0),
				cond("Reconciling", metav1.ConditionTrue, "RolloutInProgress", "2 of 5 nodes applied config c-abc.", 4, t0),
			},
			wantChanged: false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := wwid(tc.generation, tc.before...)
			got := conditions.SetSummary(obj, tc.summary)
			if got != tc.wantChanged {
				t.Errorf("changed = %v, want %v", got, tc.wantChanged)
			}
			// New transitions are stamped with now; pin them to t1 to compare.
			conds := obj.GetConditions()
			for i := range conds {
				if conds[i].LastTransitionTime != t0 {
					conds[i].LastTransitionTime = t1
				}
			}
			if !reflect.DeepEqual(sorted(conds), sorted(tc.want)) {
				t.Errorf("conditions:%s\nwant:%s", dump(sorted(conds)), dump(sorted(tc.want)))
			}
			if v := conditionstest.Violations(obj); v != nil {
				t.Errorf("kstatus violations: %q", v)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	got := conditions.Truncate(long, 1024)
	if len(got) > 1024 || !strings.HasSuffix(got, "...") || !strings.HasPrefix(long, strings.TrimSuffix(got, "...")) {
		t.Errorf("truncate to %d bytes gave %d bytes: %q", 1024, len(got), got[len(got)-10:])
	}
	if got := conditions.Truncate("short", 1024); got != "short" {
		t.Errorf("truncate changed a short note: %q", got)
	}
}

func TestOnlyConflicts(t *testing.T) {
	gr := schema.GroupResource{Group: "multipath.kube-multipath.io", Resource: "multipathwwids"}
	conflict := apierrors.NewConflict(gr, "a", errors.New("the object has been modified"))
	other := apierrors.NewForbidden(gr, "b", errors.New("no"))
	tests := map[string]struct {
		errs []error
		want bool
	}{
		"no error is not a conflict":                     {nil, false},
		"conflicts only":                                 {[]error{conflict, conflict}, true},
		"a conflict first does not hide a later failure": {[]error{conflict, other}, false},
		"a failure first":                                {[]error{other, conflict}, false},
		"a wrapped conflict counts":                      {[]error{fmt.Errorf("writing a: %w", conflict)}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := conditions.OnlyConflicts(tc.errs); got != tc.want {
				t.Errorf("OnlyConflicts = %v, want %v", got, tc.want)
			}
		})
	}
}
