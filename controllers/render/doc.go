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
// MultipathConfig `cluster`, every MultipathWWID, the PersistentVolumes that use them and the maps
// the nodes' agents report open) into one content-hashed, immutable ConfigMap, and keeps the LUNs
// in use protected.
//
// A LUN is in use when a PersistentVolume names it (internal/consumers) or when a node's
// MultipathNodeState reports its map open (users or openCount). Either keeps the in-use
// finalizer, holds deletion and rename, and sets InUse (reason Consumed, or OpenOnNode when only
// nodes hold it) and status.openOn. MultipathNodeState events count only when what holds a map
// changes, never for path states.
//
// Besides status.renderedConfig it writes status.heldConfig: the in-use LUNs only, with the same
// knobs, in its own ConfigMap (nil when nothing is in use), for nodes being torn down. While the
// MultipathConfig is being deleted, status.renderedConfig is that held config (the empty config
// once nothing is held, or at once with the force-remove annotation). A forced rename is
// rendered, recorded, and its annotation removed; the names it left volumes naming stay in
// status.formerAliases. A LUN whose status.health expects it on no node is never Ready.
//
// Every input event maps to the single request `cluster`, so a burst of changes (1,000
// MultipathWWID creations) coalesces in the work queue into a few renders. The decisions
// (validation, conflicts, rendering) live in internal/multipathconf and internal/consumers; this
// package gathers the inputs and writes the outputs, only when they changed.
package render
