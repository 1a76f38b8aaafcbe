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

// Package rolloutplan decides, as a pure function, which nodes receive a new rendered multipathd
// config next, and summarises the rollout. The rollout controller gathers the input from the
// MultipathConfig and the MultipathNodeStates and writes the output; this package holds every
// rollout rule and no Kubernetes client.
//
// Each selected node is, against the target config T:
//
//   - failed: desiredConfig is T and the agent reports that applying it failed. Node.Failed must
//     describe the current desiredConfig only (the controller reads the Degraded condition only
//     when its observedGeneration equals the MultipathNodeState's generation), so a failure of
//     an earlier config does not count against T.
//   - updated: appliedConfig is T (and it is not failed). This holds whatever desiredConfig says.
//   - in progress: desiredConfig is T, appliedConfig is not, not failed.
//   - pending: neither desiredConfig nor appliedConfig is T.
//
// Rules:
//
//   - maxUnavailable is a number of nodes, or a percentage of the selected nodes rounded down, at
//     least 1 (MaxUnavailable); unset means 1. Failed and in-progress nodes both use it up;
//     updated nodes do not.
//   - New nodes are handed T only while failed + in progress < maxUnavailable, not paused, not
//     stalled, and only if they are Ready: a node whose agent does not report would hold a unit
//     of the budget without making progress, so it waits (counted as unknown) and gets T when it
//     is back. In-progress nodes that stop reporting keep their unit.
//   - Pick order is deterministic: nodes without any desiredConfig first (they run no managed
//     config yet, so they gain the most and have no managed map to lose), then nodes whose
//     previous desiredConfig failed (the new config is likely the fix; if it fails there too,
//     the rollout stops early), then the rest; by name within each group.
//   - Stalled: failed nodes reached maxUnavailable, or some failed and nothing else can move
//     (none in progress, none ready to receive T, not paused). Nothing new is handed out; a
//     person fixes the nodes or the config, or rolls back to the config the nodes still run.
//   - Paused hands nothing new out; nodes that have T keep it, in-progress ones finish.
//   - Adoption: a node whose appliedConfig is T but whose desiredConfig is not (the operator
//     restarted, its state was lost, or a rollback targets the config a node fell back to) is
//     updated, and its desiredConfig is set to T without using the budget, even while paused or
//     stalled, so that spec and status agree; the agent then sees nothing to do.
//   - Complete: every selected node is updated (vacuously true with no node selected), and every
//     node being torn down applied its teardown config.
//
// Teardown: a node with Node.Teardown set is being torn down (no longer selected, or left over
// from a MultipathConfig that is gone) and is judged against that config instead of the target:
// the held config (only the LUNs still in use) or the empty config. It goes through the same
// budget, so deleting the MultipathConfig or removing a label from many nodes never unconfigures
// more than maxUnavailable nodes at once: a node being torn down that has not applied its teardown
// config uses a unit, as does one that failed to apply it; pause, stall, pick order and adoption
// apply to it as to a selected node. It is counted apart (Status.Leaving...), never in the
// selected counts. A node that applied its held config is done and keeps it; when the held
// config changes (fewer LUNs in use, or none: the empty config) it is pending again. A
// percentage maxUnavailable is taken of every node the plan covers, selected or torn down.
//
// Status counts describe the nodes as they will be once the plan's Start and Adopt are written,
// so the controller can write the plan and the status in the same reconcile.
package rolloutplan
