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

// Package rollout implements the rollout controller: it hands the rendered multipathd config to
// the selected nodes, at most spec.rollout.maxUnavailable at a time, stops when nodes fail to
// apply it, tears down the nodes that leave the selector, and rolls the progress up into the
// MultipathConfig status (status.nodes, Ready, Reconciling, Stalled, observedGeneration).
//
// Inputs are the MultipathConfig `cluster` (spec.nodeSelector, spec.rollout, status.renderedConfig
// and the render controller's Rendered condition), every MultipathNodeState and every Node. Every
// event maps to the one request `cluster`, so bursts coalesce in the work queue. The rules live
// in internal/rolloutplan (a pure function); this package gathers the input and writes the output.
//
// One MultipathNodeState per selected node, named after the node, with an ownerReference (not a
// controller reference) to the Node so that garbage collection removes it with the node; this
// controller deletes it too, because garbage collection may not run (envtest) or lag. The
// controller writes spec.desiredConfig only; status is the agent's.
//
// The target is status.renderedConfig:
//
//   - Rendered True for the current generation: roll it out; Ready once every selected node
//     applied it.
//   - Rendered False for the current generation (the spec is invalid): keep rolling out the last
//     good status.renderedConfig, and report Stalled (InvalidSpec) with the Rendered message.
//   - Rendered absent, or for an older generation: the render of this generation is pending;
//     nothing new is handed out (the config about to be replaced would be), Reconciling.
//   - No status.renderedConfig: nothing to hand out.
//
// A node is failed when its MultipathNodeState has Degraded True with observedGeneration equal to
// the object's generation (the agent's contract: Degraded describes the spec it failed to apply,
// and appliedConfig stays at the previous config). A node is ready when its Node is Ready.
//
// Teardown goes through the same budget as the rollout (internal/rolloutplan): a node being
// torn down that has not applied its teardown config uses a unit of maxUnavailable, paused stops
// it, failures stall it. Deleting the MultipathConfig or removing a label from many nodes never
// unconfigures more than maxUnavailable nodes at once.
//
//   - A node that is no longer selected is handed status.heldConfig (the render controller's
//     config of only the LUNs still in use) when set, else the empty config
//     (multipathconf.EmptyRef), and keeps the held config until heldConfig changes. Once it
//     applied the empty config, its MultipathNodeState is deleted; one never handed anything is
//     deleted at once.
//   - The MultipathConfig carries the finalizer multipath.kube-multipath.io/teardown (added to
//     every live one). While it is being deleted, its selected nodes are rolled out
//     status.renderedConfig, which the render controller then renders with only the in-use LUNs
//     (a render without any LUN is handed out as the empty config); no MultipathNodeState is
//     created. The finalizer goes once no MultipathNodeState is left. Reconciling
//     (TeardownInProgress) reports the teardown; TeardownHeld (InUseLUNs) names the nodes kept
//     on a config that is not the empty one, the in-use LUNs and what uses them (MultipathWWID
//     InUse, status.consumers, status.openOn), with an Event when it starts.
//   - The force-remove annotation on a MultipathConfig being deleted lets it go at once (a
//     Warning Event Forced names the field manager that set it); on a live one, deselected
//     nodes are torn down to the empty config instead of the held one, and the annotation is
//     removed once that teardown is over.
//   - A MultipathConfig that is gone, or was deleted without the finalizer, tears every node
//     down with the empty config and the default budget (one node at a time).
//
// An invalid spec.nodeSelector tears nothing down (a typo must not unconfigure the cluster); it
// is reported as Stalled.
//
// The controller reads through the manager's cache. After it writes a MultipathNodeState it
// remembers the generation it wrote until the cache shows it; until then it does not plan, so a
// stale read never counts a node it already handed the config to as pending, which would hand the
// config to one node too many.
package rollout
