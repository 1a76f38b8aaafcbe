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

// Package agent implements the node agent's controller: it applies its own node's
// MultipathNodeState.spec.desiredConfig to the host (through internal/hostfs), reports what the
// node runs and multipathd's maps and paths in the status, and heartbeats through a Lease.
//
// One agent runs per node and reconciles one object, named after its node. It watches that one
// MultipathNodeState (a field selector on metadata.name) without its map report, and the
// operator's ConfigMaps (the rendered configs, immutable and named by hash, and the rollout
// wave); a rendered config is unpacked once and kept in memory. Its loop (loop.go) is a work
// queue of that one key on client-go's informers and workqueue, not a controller-runtime
// manager: the agent runs on every node, and controller-runtime's packages link the scheme of
// every built-in kind (internal/kubeclient).
//
// # One pass
//
//  1. apply: when spec.desiredConfig differs from the config the host records as applied (or an
//     interrupted apply left its pending marker), the ConfigMap is read and unpacked (its hash
//     verified) and the transaction runs; if it still runs after SlowApply (1 s), Reconciling=True
//     (Applying) is written meanwhile (not for an apply the rollout wave asked for, whose
//     report waits for the spec), so a quick apply costs one status write. A failure sets
//     Degraded=True (ApplyFailed, observedGeneration = generation), keeps appliedConfig at the
//     previous config, and is retried with exponential backoff (1 s to 5 min) while the refresh
//     goes on.
//  2. drift: when the host runs the desired config, the owned files are compared with it and
//     re-asserted when they differ (Event DriftCorrected). fsnotify on /etc/multipath and
//     /etc/multipath/conf.d triggers a pass at once.
//  3. maps: `show maps json`, summarised per map (internal/multipathd, internal/health).
//     multipathd unreachable or answering garbage is Ready=False (MultipathdUnavailable), never
//     a crash.
//  4. status: written by server-side apply (field owner kube-multipath-agent) only when it
//     differs from the last one written: zero writes in steady state.
//  5. Lease multipath-agent-<node> in the operator's namespace: renewed once per refresh
//     interval while multipathd's maps could be read (leaseDurationSeconds = 3 intervals), so a
//     node whose report is stale stops looking fresh.
//
// Device-mapper uevents (netlink) trigger a pass too, so a path failure shows within about a
// second instead of the next refresh.
package agent
