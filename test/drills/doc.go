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

// Package drills holds the fault drills: Go tests that break one part of a running
// kube-multipath system on purpose and check that the safety model of docs/operations.md holds
// while it is broken and after it recovers.
//
// The system is one real control plane for the package (kube-apiserver and etcd, with the
// admission webhook configuration installed), the real manager binary as its own process
// (serving the webhook with envtest's certificate, so it can be SIGKILLed and restarted), and
// a handful of simulated nodes (test/sim): a Node object, a host root in a temporary folder, a
// fake multipathd and the real agent. Each node also holds files the operator does not own: a
// host /etc/multipath.conf, a host drop-in conf.d/50-host.conf and foreign entries in
// /etc/multipath/wwids (a boot-from-SAN WWID, and on some nodes the WWID of a managed LUN
// listed by hand before the agent came).
//
// Every drill asserts:
//
//   - no consumed LUN dropped: a LUN a PersistentVolume uses stays in every node's
//     etc/multipath/wwids and conf.d/99-kube-multipath.conf at every observation, sampled in a
//     goroutine during the fault and after it;
//   - no foreign file or WWID touched: the host's files are byte for byte what they were, the
//     foreign wwids lines stay (the file keeps them as its prefix), the agent never records a
//     foreign WWID as its own, no file it does not own appears in conf.d, every owned file is
//     whole (the drop-in is the baseline of a config the manager rendered, the wwids entries are
//     the foreign ones plus the WWIDs of a rendered config), and every fake multipathd received
//     only allow-listed commands, correctly framed;
//   - convergence after recovery: every node runs the current rendered config (its files hold it
//     byte for byte, its MultipathNodeState reports it, Ready), and the MultipathConfig is Ready
//     and kstatus Current.
//
// Drills run in a few seconds each on a handful of nodes, so the package is part of `make
// test`. KUBE_MULTIPATH_DRILL_NODES=N runs every drill with N nodes instead (`make scale`
// sized; allow a longer -timeout).
package drills
