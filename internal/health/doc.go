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

// Package health holds kube-multipath's health rules, as pure functions: the state of one
// multipath map on one node (EvaluateMap), the roll-up of one LUN over the nodes expected to
// carry it (Rollup), and which nodes those are (NodeSet.Expected). Nothing here reads a clock,
// a client or the host: callers pass what they observed and the current time.
//
// # One map on one node
//
// A path is usable when the kernel has it active (dm_st "active"), its checker sees it up
// ("ready", or "ghost") and its SCSI device is not offline. That is multipathd's own count of
// usable paths (count_active_paths counts PATH_UP and PATH_GHOST; the JSON "paths" field is
// that count), narrowed by the kernel's view: a path the kernel has failed carries no I/O
// until it is reinstated, even when its checker already sees it back ("failed ready"), and a
// path the checker sees down ("active faulty") is about to be failed by the kernel. Checker
// states "i/o pending", "i/o timeout", "delayed", "shaky", "undef" and "disconnected" are not
// usable, as multipathd does not count them either.
//
// A "ghost" path is a standby path that is up: an ALUA target port group in standby (or the
// passive controller of an active/passive array). It carries no I/O until the array switches
// port groups, and that is the normal steady state of such arrays (the 3PAR capture in
// internal/multipathd/testdata shows four "active ready" paths beside four "active ghost"
// ones). So a ghost path that is up is healthy; a map whose paths are all ready or ghost is
// optimal, provided at least one path is ready. A map whose only usable paths are ghosts has
// lost every path that serves I/O without a port-group switch: it is degraded.
//
//   - optimal: at least two paths, every path usable and healthy (ready or ghost, not
//     marginal, device running, its group not disabled), at least one ready, map not
//     suspended.
//   - degraded: at least one usable path, and not optimal: a path failed or is in transition,
//     only one path is left, only ghosts are left, a path is marginal, a path group is
//     disabled, a path's state is not understood, or the map is suspended.
//   - failed: no usable path (including a map with no paths at all), every state understood.
//   - unknown: no usable path and some state not understood (values multipathd does not
//     print, such as NVMe-native "n/a"), or the map is malformed or its device-mapper state
//     is "undef". Unknown never counts as healthy.
//
// # One LUN over its nodes
//
// Rollup gives each expected node one state for the LUN and keeps the worst, in this order:
//
//	failed > missing > degraded > unknown > optimal
//
// failed first: I/O to the LUN errors or hangs on that node now. missing next: the node
// should carry the map and does not, so the LUN cannot be used there at all, though nothing is
// hanging yet. degraded next: I/O works but redundancy is lost, which needs an admin's hands on
// a cable, a port or a zone. unknown after the known problems: a stale, NotReady or
// unreadable node may well be fine, and letting it mask a known failure elsewhere would hide
// what an admin can act on (the order CAPI's condition summaries use: issues outrank unknown,
// unknown outranks info). unknown still outranks optimal: a LUN is never reported healthy while
// a node expected to carry it cannot be heard.
//
// A node's report is trusted (NodeTrusted) when the node is Ready, its agent has reported, and
// its heartbeat is at most three refresh intervals old (and within the agent's Lease when its
// duration is given); otherwise every LUN expected there is unknown on it. A trusted node that
// does not report the LUN's map has it missing. A reported map that an agent of ours could not
// have written (a state outside the enum, negative counts, more active than total paths,
// optimal without two paths all active, the same WWID twice) is unknown. WWIDs compare
// ASCII-case-insensitively.
package health
