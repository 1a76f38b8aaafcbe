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

// Package conditions sets and reads the status conditions of kube-multipath objects.
//
// It is a thin layer over apimachinery's meta.SetStatusCondition, so that every controller
// writes conditions the same way:
//
//   - Set stamps the condition's observedGeneration from the object's metadata.generation and
//     keeps lastTransitionTime when the status does not change (a change of reason or message
//     alone is not a transition).
//   - SetSummary writes the kstatus trio in one call and enforces its invariants: Reconciling
//     and Stalled are abnormal-true, so each is present only while True and removed otherwise;
//     they are never both present (Stalled wins: a person has to act, which says more than "in
//     progress"); Ready is False while either is True, with the reason and message of the one
//     that is set.
//
// Functions never alias the slice the object held before the call: they clone it, change the
// clone and hand it back with SetConditions, so a shallow snapshot taken by a caller to decide
// whether to write stays intact.
//
// The package conditionstest holds AssertKstatusInvariants for other packages' tests.
package conditions
