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

// Package conditionstest checks, in tests, that an object's conditions keep the kstatus
// invariants that kube-multipath promises to Argo CD, Flux and kubectl wait:
//
//   - every condition is valid as the API server would accept it (type, status, reason,
//     lastTransitionTime), with no type repeated;
//   - no condition claims a generation newer than the object's;
//   - Ready is present as soon as any condition is;
//   - Reconciling and Stalled are present only while True, and never both;
//   - Ready is False (not True, not Unknown) while Reconciling or Stalled is True;
//   - Ready is not True while its observedGeneration is older than the object's generation.
//
// Use AssertKstatusInvariants after every reconcile in a controller test; Violations returns the
// same findings as sentences, for tests of this package and for custom reporting.
package conditionstest
