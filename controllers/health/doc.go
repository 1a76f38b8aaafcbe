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

// Package health implements the health controller: it rolls every allow-listed LUN up over the
// nodes expected to carry it and writes the result where an admin looks first, MultipathWWID
// status.health (the HEALTH and NODES printer columns), and MultipathConfig status.lunHealth and
// status.nodeErrors. It also exports the cluster's health as Prometheus gauges.
//
// The rules are not here: internal/health decides the state of a LUN on a node, which nodes are
// expected to carry it and how the states roll up (worst wins). This package gathers what the
// rules read and turns it into their input (internal/rollup: Gather, Decide), then writes the
// output only when it changed. kubectl-multipath's `status` and `maps` call internal/rollup
// too, so the command line and the controller cannot disagree on a rule.
//
// Inputs:
//
//   - the MultipathConfig `cluster`: spec.nodeSelector picks the managed nodes (an invalid
//     selector counts every node as managed, as the rollout controller does; a missing or
//     deleted config manages none, so every LUN is unknown, expected nowhere);
//   - Nodes: labels (for the selectors) and the Ready condition;
//   - MultipathNodeStates: the maps each node's agent reports (state and path counts; the
//     manager's cache drops the paths themselves), Degraded (the apply errors), and
//     status.hostConflicts (the node's own multipath configuration contradicting a managed LUN:
//     listed in status.nodeErrors after the apply errors, each with its file and line);
//   - the agents' Leases in the operator namespace (rules.LeaseName): renewTime is the heartbeat;
//   - MultipathWWIDs: the WWID, spec.nodeSelector, and status.consumers, the PersistentVolumes
//     whose required node affinity narrows the expected nodes when there is no nodeSelector.
//
// Every event maps to the one request `cluster`; the work queue holds it once, so a burst
// coalesces into few passes. Lease renewals (every node, every refresh interval) are not events:
// a pass runs every refresh interval anyway (RequeueAfter), which is how a silent agent is
// noticed; only a Lease's creation, deletion, and renewal after it went stale are events, so a
// returning agent is trusted again at once.
//
// A pass is O(LUNs x expected nodes), so passes are spaced: one starts at least MinInterval
// (DefaultMinInterval, a second, in the manager) after the previous one ended, and a request
// sooner than that is requeued for the rest of it. Every agent report is an event; without the
// spacing, 10,000 LUNs on hundreds of reporting nodes would run passes back to back. The spacing is measured on the real monotonic clock, not Clock (which tests step to age
// heartbeats). A path failure reaches the LUN's status within the spacing plus one pass, once
// a pass under way is over (a capped pass, below, writes for up to about 4 s).
//
// A pass writes at most fanout.MaxWritesPerPass changed MultipathWWID statuses, the worst first: failed,
// missing, degraded, unknown, then optimal, so that a failed path is not queued behind thousands
// of LUNs a node join turned optimal. When more changed, the pass requeues after the spacing
// (at once without spacing) and the next pass recomputes the rest from fresh reports rather
// than writing intermediate states that are already stale. The MultipathConfig's lunHealth and
// nodeErrors are written every pass, from the whole roll-up.
//
// The MultipathWWID and MultipathConfig statuses are shared with the render and rollout
// controllers (api/v1alpha1/conditions.go says who writes what): each object is patched only
// when the fields this controller owns changed, under optimistic locking.
package health
