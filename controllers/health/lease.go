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
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	rules "github.com/kube-multipath/kube-multipath/internal/health"
)

// LeasePrefix and LeaseName name the agents' Leases (internal/health holds the one definition,
// which the agent uses too).
const LeasePrefix = rules.LeasePrefix

// LeaseName is rules.LeaseName.
func LeaseName(node string) string { return rules.LeaseName(node) }

// isAgentLease reports whether name can be an agent Lease (the manager's leader-election Lease
// shares the namespace).
func isAgentLease(name string) bool { return strings.HasPrefix(name, LeasePrefix) }

// heartbeat is the Lease's last renewal (its acquisition when it was never renewed), and its
// duration; zero values when the Lease or the fields are absent.
func heartbeat(l *coordinationv1.Lease) (time.Time, time.Duration) {
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
