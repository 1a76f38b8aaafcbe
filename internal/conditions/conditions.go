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

package conditions

import (
	"slices"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// ConflictRetry is how soon a controller retries a status write that lost an optimistic-lock
// race with another controller writing the same object's conditions. The winner's watch event
// reaches the cache within milliseconds; a whole second here was most of the time from
// `kubectl apply` to the nodes (measured by test/scale).
const ConflictRetry = 20 * time.Millisecond

// Getter is an object whose conditions can be read.
type Getter interface {
	GetConditions() []metav1.Condition
}

// Setter is an object whose conditions can be written. Every kind in api/v1alpha1 implements it.
type Setter interface {
	metav1.Object
	Getter
	SetConditions([]metav1.Condition)
}

// Set adds or updates cond on obj and reports whether anything changed. The condition's
// observedGeneration is set to obj's generation; lastTransitionTime is kept when the status is
// unchanged, otherwise it is cond.LastTransitionTime, or now when that is zero. obj's
// conditions slice is never written in place (it may be a cache's): a change sets a new one,
// and no change copies nothing.
func Set(obj Setter, cond metav1.Condition) bool {
	cond.ObservedGeneration = obj.GetGeneration()
	if c := meta.FindStatusCondition(obj.GetConditions(), cond.Type); c != nil && c.Status == cond.Status &&
		c.Reason == cond.Reason && c.Message == cond.Message && c.ObservedGeneration == cond.ObservedGeneration {
		return false
	}
	conds := slices.Clone(obj.GetConditions())
	if !meta.SetStatusCondition(&conds, cond) {
		return false
	}
	obj.SetConditions(conds)
	return true
}

// Delete removes the condition of type condType from obj and reports whether it was present.
func Delete(obj Setter, condType string) bool {
	conds := obj.GetConditions()
	if meta.FindStatusCondition(conds, condType) == nil {
		return false
	}
	conds = slices.DeleteFunc(slices.Clone(conds), func(c metav1.Condition) bool { return c.Type == condType })
	if len(conds) == 0 {
		conds = nil
	}
	obj.SetConditions(conds)
	return true
}

// Get returns a copy of the condition of type condType on obj, or nil when it is absent.
func Get(obj Getter, condType string) *metav1.Condition {
	c := meta.FindStatusCondition(obj.GetConditions(), condType)
	if c == nil {
		return nil
	}
	cp := *c
	return &cp
}

// IsTrue reports whether obj has the condition condType with status True.
func IsTrue(obj Getter, condType string) bool {
	return meta.IsStatusConditionTrue(obj.GetConditions(), condType)
}

// IsFalse reports whether obj has the condition condType with status False.
func IsFalse(obj Getter, condType string) bool {
	return meta.IsStatusConditionFalse(obj.GetConditions(), condType)
}

// Message is the reason and message of a condition.
type Message struct {
	// Reason is a CamelCase word, for example RolloutInProgress.
	Reason string
	// Message is a sentence for a person: what is going on, and what to do if anything.
	Message string
}

// Summary is the kstatus view of an object, as a controller computed it in one reconcile.
type Summary struct {
	// Ready is the Ready status when neither Reconciling nor Stalled is set.
	Ready bool
	// ReadyMessage is Ready's reason and message when neither Reconciling nor Stalled is set. An
	// empty reason becomes "Ready" or "NotReady".
	ReadyMessage Message
	// Reconciling, when set, means work toward the desired state is under way.
	Reconciling *Message
	// Stalled, when set, means progress needs a person to act. It takes precedence over
	// Reconciling.
	Stalled *Message
}

// Default reasons used when a Summary leaves a reason empty. Condition reasons must not be empty.
const (
	defaultReadyReason    = "Ready"
	defaultNotReadyReason = "NotReady"
)

// SetSummary writes Ready, Reconciling and Stalled on obj from s and reports whether anything
// changed. It enforces the kstatus invariants:
//
//   - Stalled set: Stalled True, Reconciling removed, Ready False with Stalled's reason and message.
//   - else Reconciling set: Reconciling True, Stalled removed, Ready False with Reconciling's
//     reason and message.
//   - else: both removed, Ready as s.Ready with s.ReadyMessage.
func SetSummary(obj Setter, s Summary) bool {
	ready := metav1.Condition{Type: mpv1alpha1.ReadyCondition}
	changed := false
	switch {
	case s.Stalled != nil:
		changed = Set(obj, abnormal(mpv1alpha1.StalledCondition, *s.Stalled)) || changed
		changed = Delete(obj, mpv1alpha1.ReconcilingCondition) || changed
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, reasonOr(s.Stalled.Reason, mpv1alpha1.StalledCondition), s.Stalled.Message
	case s.Reconciling != nil:
		changed = Set(obj, abnormal(mpv1alpha1.ReconcilingCondition, *s.Reconciling)) || changed
		changed = Delete(obj, mpv1alpha1.StalledCondition) || changed
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, reasonOr(s.Reconciling.Reason, mpv1alpha1.ReconcilingCondition), s.Reconciling.Message
	default:
		changed = Delete(obj, mpv1alpha1.ReconcilingCondition) || changed
		changed = Delete(obj, mpv1alpha1.StalledCondition) || changed
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, reasonOr(s.ReadyMessage.Reason, defaultNotReadyReason), s.ReadyMessage.Message
		if s.Ready {
			ready.Status, ready.Reason = metav1.ConditionTrue, reasonOr(s.ReadyMessage.Reason, defaultReadyReason)
		}
	}
	return Set(obj, ready) || changed
}

func abnormal(condType string, m Message) metav1.Condition {
	return metav1.Condition{
		Type:    condType,
		Status:  metav1.ConditionTrue,
		Reason:  reasonOr(m.Reason, condType),
		Message: m.Message,
	}
}

func reasonOr(reason, def string) string {
	if reason == "" {
		return def
	}
	return reason
}

// Truncate bounds a message to n bytes for a field with a MaxLength (a condition's message, an
// Event note, a NodeError): longer text is cut on a UTF-8 boundary and ends in "...".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "..."
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// OnlyConflicts reports whether a batch of write errors is non-empty and holds nothing but
// optimistic-lock conflicts, which a quick retry of the pass settles. apierrors.IsConflict of
// the joined errors is not that test: it is true as soon as the first error is a conflict, and
// would retry quietly past every other failure of the batch.
func OnlyConflicts(errs []error) bool {
	if len(errs) == 0 {
		return false
	}
	for _, err := range errs {
		if !apierrors.IsConflict(err) {
			return false
		}
	}
	return true
}
