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

// Package render implements the render controller: it turns the desired state (the
// MultipathConfig `cluster`, every MultipathWWID and the PersistentVolumes that use them) into one
// content-hashed, immutable ConfigMap, and keeps the LUNs that volumes use protected.
//
// Every input event maps to the single request `cluster`, so a burst of changes (1,000
// MultipathWWID creations) coalesces in the work queue into a few renders. The decisions
// (validation, conflicts, rendering) live in internal/multipathconf and internal/consumers; this
// package gathers the inputs and writes the outputs, only when they changed.
package render
