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

package health

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// DefaultRefreshInterval is the agents' default poll and Lease renewal interval; the health
// roll-up reads a report as stale after StaleAfter of them.
const DefaultRefreshInterval = 10 * time.Second

// LeasePrefix starts the name of every agent Lease.
const LeasePrefix = "multipath-agent-"

// LeaseName is the name of the coordination.k8s.io/v1 Lease that the agent of node renews in the
// operator namespace as its heartbeat, and that the health roll-up reads: LeasePrefix plus the
// node name, or, for a node name too long for that, a prefix of it and a hash. The agent and the
// health controller both call this one function.
func LeaseName(node string) string {
	const maxName = 253
	name := LeasePrefix + node
	if len(name) <= maxName {
		return name
	}
	sum := sha256.Sum256([]byte(node))
	suffix := "-" + hex.EncodeToString(sum[:8])
	return name[:maxName-len(suffix)] + suffix
}

// IsAgentLease reports whether name can be an agent Lease (the manager's leader-election Lease
// shares the namespace).
func IsAgentLease(name string) bool { return strings.HasPrefix(name, LeasePrefix) }

// Heartbeat is the Lease's last renewal (its acquisition when it was never renewed), and its
// duration; zero values when the Lease or the fields are absent.
func Heartbeat(l *coordinationv1.Lease) (time.Time, time.Duration) {
	if l == nil {
		return time.Time{}, 0
	}
	var at time.Time
	switch {
	case l.Spec.RenewTime != nil:
		at = l.Spec.RenewTime.Time
	case l.Spec.AcquireTime != nil:
		at = l.Spec.AcquireTime.Time
	}
	var d time.Duration
	if s := l.Spec.LeaseDurationSeconds; s != nil && *s > 0 {
		d = time.Duration(*s) * time.Second
	}
	return at, d
}

// The agent confirms the config its node runs on its Lease, a write of a few hundred bytes,
// before it writes the MultipathNodeState's status (the map report, most of the object): the
// rollout counts a node as updated from either, so a rollout's progress does not wait on
// writing every node's report. Both name the same config once the report is written.
const (
	// AppliedConfigAnnotation names the rendered ConfigMap the node runs.
	AppliedConfigAnnotation = "multipath.kube-multipath.io/applied-config"
	// AppliedHashAnnotation is that config's hash.
	AppliedHashAnnotation = "multipath.kube-multipath.io/applied-hash"
	// FailedHashAnnotation is the hash of the config the agent last failed to apply, while it
	// fails (absent otherwise): a config the rollout wave hands out changes no generation, so
	// the Degraded condition alone cannot say which config failed.
	FailedHashAnnotation = "multipath.kube-multipath.io/failed-hash"
)

// LeaseApplied is the config an agent Lease confirms, nil when it confirms none. owner is the
// UID of the MultipathNodeState the reader pairs it with: a Lease owned by another object (an
// earlier MultipathNodeState of the same name) confirms nothing.
func LeaseApplied(l *coordinationv1.Lease, owner types.UID) *mpv1alpha1.RenderedConfigRef {
	if !ownedBy(l, owner) {
		return nil
	}
	name, hash := l.Annotations[AppliedConfigAnnotation], l.Annotations[AppliedHashAnnotation]
	if name == "" || hash == "" {
		return nil
	}
	return &mpv1alpha1.RenderedConfigRef{Name: name, Hash: hash}
}

// LeaseFailed is the hash of the config an agent Lease says its agent fails to apply; "" when
// none (or the Lease is not owner's, as for LeaseApplied).
func LeaseFailed(l *coordinationv1.Lease, owner types.UID) string {
	if !ownedBy(l, owner) {
		return ""
	}
	return l.Annotations[FailedHashAnnotation]
}

func ownedBy(l *coordinationv1.Lease, owner types.UID) bool {
	if l == nil {
		return false
	}
	for _, ref := range l.OwnerReferences {
		if ref.Kind == "MultipathNodeState" && ref.UID == owner {
			return true
		}
	}
	return false
}
