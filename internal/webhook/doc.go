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

// Package webhook implements kube-multipath's validating admission webhook: the checks the
// CRDs' CEL cannot make because they need other objects or multipath.conf's parser. It holds no
// rule of its own: every rule is internal/multipathconf's (ValidateMultipathWWID,
// ValidateMultipathWWIDUpdate, ValidateMultipathConfig, ResolveConflicts) or
// internal/consumers' (which PersistentVolumes use a LUN), the same calls the render controller
// makes, so that what admission accepts renders.
//
// # What is refused
//
//   - MultipathWWID create and update: the object's own rules (including those the CRD cannot
//     state: multipathd's line length and ranges, label selector syntax); a WWID or alias that
//     another MultipathWWID claims as its WWID, alias, or the alias the nodes still have
//     (ignoring case, the other object named); a WWID that a blacklist in the MultipathConfig
//     matches (the render would refuse the whole config); and changing the alias of an in-use
//     LUN without the force-remove annotation: a PersistentVolume uses it by its WWID or by the
//     name the nodes have now, or a node holds its map open (status.openOn, which the render
//     controller writes from the agents' reports). A volume naming only the new alias (renaming
//     back after a forced change) does not refuse it. The volumes, nodes, map names and what
//     holds them are named.
//   - MultipathWWID delete: deleting an in-use LUN (a volume names it by any name, former
//     aliases included, or a node holds it open) without the force-remove annotation. With it,
//     the deletion is admitted with a warning.
//
// A forced change of an in-use LUN, when admitted, is recorded as an Event (reason Forced) on the
// MultipathWWID naming the requesting user; a dry run records nothing (sideEffects
// NoneOnDryRun). A former alias a volume still names (status.formerAliases) stays claimed: no
// other LUN may take it.
//   - MultipathConfig create and update: everything ValidateMultipathConfig refuses, the
//     overrides checked line by line, their blacklist against the WWID of every MultipathWWID.
//
// Admission treats the object under review as the newest claimant: a name an existing object
// holds is never taken from it, whatever the two objects' ages, and even when the holder itself
// loses the render to a third object. Two requests racing for one name may both pass (each
// reads a cache that has not seen the other); the render controller's ResolveConflicts then
// renders only one and sets Conflict on the other.
//
// # Reads
//
// Validators read the manager's cache, never the API server: MultipathWWIDs through the
// index.WWIDNames field index (the objects claiming a name of the name's bucket, kept when
// they claim the name itself), PersistentVolumes through index.PVConsumers, narrowed to those
// naming the name and with consumers.Index over lun.Aliases as the render controller does. A request costs a few index lookups, not a scan of 10,000 objects; only a
// MultipathConfig change with overrides lists every MultipathWWID (without copying them).
//
// # Failure behaviour
//
// Create and update fail closed (failurePolicy Fail, 5 s timeout): a bad config must not pass
// because the webhook was down. The API server calls them only when the spec changes (a
// matchCondition), so that finalizer, label, annotation and status writes never depend on the
// webhook; the validators also admit any update that leaves the spec alone.
//
// Delete fails open (failurePolicy Ignore, 5 s timeout). The protection of a consumed LUN does
// not depend on the webhook: the render controller keeps the in-use finalizer on every
// MultipathWWID a PersistentVolume uses, and keeps such a LUN rendered while it is being
// deleted, so a deletion that bypasses admission only waits (Stalled, naming the volumes) until
// the volumes are gone or the annotation is set. Failing open there keeps the cluster
// uninstallable and unconsumed LUNs deletable while the manager is down.
//
// # Certificates
//
// SetupWithManager serves the webhooks on a server of its own, on every replica. By default
// (ManageCertificates) open-policy-agent/cert-controller's rotator runs on every replica too: it
// creates a CA and a serving certificate into a Secret, renews them before they expire, and
// injects the CA into the ValidatingWebhookConfiguration; replicas racing on the Secret settle
// through optimistic concurrency. The server starts once the certificate is mounted and the CA
// injected, and the readiness check SetupWithManager returns fails until the server answers TLS,
// so the Service only routes to replicas that can serve.
package webhook
