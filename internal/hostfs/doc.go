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

// Package hostfs applies a rendered multipath configuration to a node's files as a transaction,
// and rolls it back when multipathd does not take it. It has no Kubernetes client: the agent
// controller hands it a multipathconf.Rendered and reports what it returns.
//
// # Files on the host
//
// Every path is under Host.Root (the host's / as the agent sees it, /host in the DaemonSet; a
// t.TempDir() in tests):
//
//	/etc/multipath/conf.d/90-kube-multipath-overrides.conf  owned drop-in (spec.overrides)
//	/etc/multipath/conf.d/99-kube-multipath.conf            owned drop-in (the managed baseline)
//	/etc/multipath/wwids                                    shared with multipath-tools: only
//	                                                        the entries listed in owned-wwids
//	                                                        are ours
//	/etc/multipath/kube-multipath/owned-wwids               the WWIDs the agent added to wwids
//	/etc/multipath/kube-multipath/applied                   {"name","hash"} of the applied config
//	/etc/multipath/kube-multipath/pending                   present only during an apply: the
//	                                                        target, a byte-exact backup of
//	                                                        the agent's own four files above,
//	                                                        and the wwids delta (added/removed)
//	/etc/multipath/kube-multipath/lock                      flock: one apply at a time per host
//
// /etc/multipath.conf is never written. Every write is atomic (renameio: a temp file in the
// same directory named ".<name><digits>", which never ends in ".conf" so multipathd never
// reads a half-written drop-in; chmod, write, fsync, rename) and followed by an fsync of the
// directory.
//
// # The transaction (Host.Apply)
//
//  1. Recover: a pending marker left by an agent that died mid-apply is rolled back first.
//  2. Plan: the owned drop-ins and the wwids file the config wants, compared byte for byte with
//     the disk. Nothing to change: no write and no reconfigure (at most a record is updated).
//  3. Validate: the candidate conf.d (the host's other drop-ins plus ours) goes through the
//     node's own `multipath -t`, in a private mount namespace (Validator; ParserValidator).
//     A complaint the current config does not already cause refuses the config: nothing is
//     written.
//  4. Pre-flight: `show maps json`. multipathd unreachable (not running, multipath-tools not
//     installed) or answering garbage: nothing is written. Then PredictAdoptions: an open map
//     (Host.InUse) the host named itself that the candidate would manage under another name
//     refuses the apply; and, when the validator prints the candidate's merged config
//     (ConfigPrinter), PredictRenames: a map the operator does not manage whose name the
//     candidate would change refuses it too (ErrWouldRename, ApplyError.Renames), nothing
//     written.
//  5. Pending marker, written atomically, holding the backup.
//  6. Drop-ins written or removed; /etc/multipath/wwids edited in place under multipath-tools'
//     own fcntl lock (see below), and owned-wwids rewritten.
//  7. `multipathd reconfigure` (never "reconfigure all", never `multipath -r`).
//  8. Post-check: `show daemon` idle with no reconfigure pending (the daemon answers reconfigure
//     before it has run it), then every map that had a usable path before still exists, except
//     the maps of WWIDs this apply deliberately stopped managing (owned and no longer
//     allow-listed); every map keeps its name unless the render renames it; a map the operator
//     does not manage never changes name.
//  9. Commit: the applied record is written and the marker removed.
//
// Each step registers its own undo (a defer that runs when the named error is set, as MCO's
// update does): a failure after step 5 restores the agent's own files byte for byte, reverses
// its wwids delta in place under the lock, sends
// reconfigure again when it had been sent, and removes the marker. When the rollback itself
// fails the marker stays, and the next Apply finishes the rollback.
//
// # Ownership of /etc/multipath/wwids
//
// A desired WWID missing from the file is appended and recorded as owned. A WWID already in
// the file (boot from SAN, added by hand or by `multipath -a`) is never recorded as owned, so
// it is never removed. An owned WWID no longer desired is removed; nothing else ever is. The
// header, comments, foreign entries and their order are kept byte for byte.
//
// The file is edited as libmultipath's wwids.c does, never replaced: open it (O_CREAT), take
// lock_file's fcntl write lock on the whole file, read it, then append at the end
// (write_out_wwid) or write from offset 0 and truncate (replace_wwids truncates and rewrites),
// through the same descriptor. The agent reconciles the file as it is under the lock, not as the
// plan read it, and records what it really added and removed in the pending marker before it
// writes. Rollback and recovery reverse that delta in place under the lock (remove what was
// added, append what was removed), so entries another writer (`multipath -a`, multipathd)
// added meanwhile stay. A wwids file the apply created is left with its header when rolled
// back: removing it would orphan a writer waiting for its lock.
//
// # What "consumed" means in the post-check
//
// multipath-tools 0.9.4's `show maps json` does not report a map's open count, so the agent
// cannot tell a map in use from an idle one. It therefore protects more than the design asks:
// every map that had at least one usable path before the apply must still exist after it,
// whatever its use. Two exceptions: a map whose WWID the apply removes from the owned
// allow-list (its removal is the intent; multipathd keeps it anyway while it is open), and a
// map with no usable path (Host.Usable: the caller's health rules; it carries no I/O, and
// multipathd may drop it on reconfigure, which a rollback cannot undo: requiring it would make
// every later apply fail).
//
// # Drift
//
// Reassert compares the owned drop-ins and the owned entries of the wwids file with a config,
// and applies the config again, through the whole transaction, when they differ.
package hostfs
