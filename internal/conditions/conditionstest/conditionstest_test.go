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

package conditionstest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

var t0 = metav1.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC)

func config(generation int64, conds ...metav1.Condition) *mpv1alpha1.MultipathConfig {
	c := &mpv1alpha1.MultipathConfig{}
	c.Name = "cluster"
	c.Generation = generation
	c.Status.Conditions = conds
	return c
}

func cond(condType string, status metav1.ConditionStatus, gen int64) metav1.Condition {
	return metav1.Condition{Type: condType, Status: status, Reason: "SomeReason", ObservedGeneration: gen, LastTransitionTime: t0}
}

func TestViolations(t *testing.T) {
	tests := map[string]struct {
		obj  *mpv1alpha1.MultipathConfig
		want []string
	}{
		"an object without conditions keeps the invariants (not reconciled yet)": {
			obj: config(1),
		},
		"Ready True at the current generation keeps the invariants": {
			obj: config(2, cond("Ready", metav1.ConditionTrue, 2)),
		},
		"Ready False while Reconciling True keeps the invariants": {
			obj: config(2, cond("Ready", metav1.ConditionFalse, 2), cond("Reconciling", metav1.ConditionTrue, 2)),
		},
		"Ready False while Stalled True keeps the invariants": {
			obj: config(2, cond("Ready", metav1.ConditionFalse, 2), cond("Stalled", metav1.ConditionTrue, 2)),
		},
		"Reconciling present while False breaks the abnormal-true rule": {
			obj:  config(2, cond("Ready", metav1.ConditionTrue, 2), cond("Reconciling", metav1.ConditionFalse, 2)),
			want: []string{"condition Reconciling is present with status False; it must be removed unless True"},
		},
		"Stalled present while Unknown breaks the abnormal-true rule": {
			obj:  config(2, cond("Ready", metav1.ConditionFalse, 2), cond("Stalled", metav1.ConditionUnknown, 2)),
			want: []string{"condition Stalled is present with status Unknown; it must be removed unless True"},
		},
		"Reconciling and Stalled together are reported": {
			obj:  config(2, cond("Ready", metav1.ConditionFalse, 2), cond("Reconciling", metav1.ConditionTrue, 2), cond("Stalled", metav1.ConditionTrue, 2)),
			want: []string{"conditions Reconciling and Stalled are both present"},
		},
		"Ready True while Reconciling True is reported": {
			obj:  config(2, cond("Ready", metav1.ConditionTrue, 2), cond("Reconciling", metav1.ConditionTrue, 2)),
			want: []string{"condition Ready is True while Reconciling is True; it must be False"},
		},
		"Ready Unknown while Stalled True is reported": {
			obj:  config(2, cond("Ready", metav1.ConditionUnknown, 2), cond("Stalled", metav1.ConditionTrue, 2)),
			want: []string{"condition Ready is Unknown while Stalled is True; it must be False"},
		},
		"Ready True for an older generation is reported as stale": {
			obj:  config(3, cond("Ready", metav1.ConditionTrue, 2)),
			want: []string{"condition Ready is True for generation 2 but the object is at generation 3"},
		},
		"Ready False for an older generation is fine": {
			obj: config(3, cond("Ready", metav1.ConditionFalse, 2)),
		},
		"a condition from the future is reported": {
			obj:  config(1, cond("Ready", metav1.ConditionFalse, 2)),
			want: []string{"condition Ready has observedGeneration 2, newer than the object's generation 1"},
		},
		"conditions without Ready are reported": {
			obj:  config(1, cond("InUse", metav1.ConditionTrue, 1)),
			want: []string{"condition Ready is missing while other conditions are present"},
		},
		"invalid conditions are reported as the API server would": {
			obj: config(1,
				metav1.Condition{Type: "Ready", Status: "Maybe", Reason: "", ObservedGeneration: 1},
				cond("Ready", metav1.ConditionTrue, 1),
			),
			want: []string{
				`status.conditions[0].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown"`,
				"status.conditions[0].lastTransitionTime: Required value",
				"status.conditions[0].reason: Required value",
				`status.conditions[1]: Duplicate value: "Ready"`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Violations(tc.obj); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Violations =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// recorder is a testing.TB that records errors instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestAssertKstatusInvariants(t *testing.T) {
	tests := map[string]struct {
		obj  *mpv1alpha1.MultipathConfig
		want []string
	}{
		"a healthy object raises no test error": {
			obj: config(1, cond("Ready", metav1.ConditionTrue, 1)),
		},
		"each violation is one test error naming the object": {
			obj: config(1, cond("Ready", metav1.ConditionTrue, 1), cond("Reconciling", metav1.ConditionTrue, 1), cond("Stalled", metav1.ConditionTrue, 1)),
			want: []string{
				"cluster: conditions Reconciling and Stalled are both present",
				"cluster: condition Ready is True while Reconciling is True; it must be False",
				"cluster: condition Ready is True while Stalled is True; it must be False",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := &recorder{TB: t}
			AssertKstatusInvariants(r, tc.obj)
			if !reflect.DeepEqual(r.errors, tc.want) {
				t.Errorf("errors =\n%q\nwant\n%q", r.errors, tc.want)
			}
		})
	}
}
