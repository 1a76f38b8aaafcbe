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
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
)

// Object is an object with metadata and conditions.
type Object interface {
	metav1.Object
	conditions.Getter
}

// AssertKstatusInvariants reports every kstatus invariant obj breaks as a test error.
func AssertKstatusInvariants(t testing.TB, obj Object) {
	t.Helper()
	for _, v := range Violations(obj) {
		t.Errorf("%s: %s", obj.GetName(), v)
	}
}

// Violations returns, as sentences, every kstatus invariant obj breaks; nil when it keeps them all.
func Violations(obj Object) []string {
	var out []string
	conds := obj.GetConditions()
	gen := obj.GetGeneration()

	for _, err := range metav1validation.ValidateConditions(conds, field.NewPath("status", "conditions")) {
		out = append(out, err.Error())
	}
	for _, c := range conds {
		if c.ObservedGeneration > gen {
			out = append(out, fmt.Sprintf("condition %s has observedGeneration %d, newer than the object's generation %d", c.Type, c.ObservedGeneration, gen))
		}
	}
	if len(conds) == 0 {
		return out
	}

	ready := meta.FindStatusCondition(conds, mpv1alpha1.ReadyCondition)
	if ready == nil {
		out = append(out, "condition Ready is missing while other conditions are present")
	}
	reconciling := meta.FindStatusCondition(conds, mpv1alpha1.ReconcilingCondition)
	stalled := meta.FindStatusCondition(conds, mpv1alpha1.StalledCondition)
	for _, c := range []*metav1.Condition{reconciling, stalled} {
		if c != nil && c.Status != metav1.ConditionTrue {
			out = append(out, fmt.Sprintf("condition %s is present with status %s; it must be removed unless True", c.Type, c.Status))
		}
	}
	if reconciling != nil && stalled != nil {
		out = append(out, "conditions Reconciling and Stalled are both present")
	}
	if ready == nil {
		return out
	}
	for _, c := range []*metav1.Condition{reconciling, stalled} {
		if c != nil && c.Status == metav1.ConditionTrue && ready.Status != metav1.ConditionFalse {
			out = append(out, fmt.Sprintf("condition Ready is %s while %s is True; it must be False", ready.Status, c.Type))
		}
	}
	if ready.Status == metav1.ConditionTrue && ready.ObservedGeneration < gen {
		out = append(out, fmt.Sprintf("condition Ready is True for generation %d but the object is at generation %d", ready.ObservedGeneration, gen))
	}
	return out
}
