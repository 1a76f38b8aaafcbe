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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func update(old, new client.Object) event.UpdateEvent {
	return event.UpdateEvent{ObjectOld: old, ObjectNew: new}
}

func withPath(m mpv1alpha1.MapStatus, checker string) mpv1alpha1.MapStatus {
	m.Paths = []mpv1alpha1.PathStatus{{Device: "sdc", DMState: "active", CheckerState: checker}}
	return m
}

func TestPredicates(t *testing.T) {
	leases := &leaseChanged{namespace: "kube-multipath-system", clock: clocktesting.NewFakePassiveClock(now), interval: interval}
	renewed := func(at time.Time) client.Object { l := lease("n1", at); return &l }
	inOtherNamespace := func() client.Object { l := lease("n1", now); l.Namespace = "default"; return &l }
	leader := func(at time.Time) client.Object {
		l := lease("x", at)
		l.Name = "kube-multipath-manager.multipath.kube-multipath.io"
		return &l
	}
	longer := func() client.Object {
		l := lease("n1", now)
		l.Spec.LeaseDurationSeconds = ptr.To[int32](60)
		return &l
	}

	withMaps := func(ms ...mpv1alpha1.MapStatus) client.Object { s := state("n1", ms...); return &s }
	failing := func(msg string) client.Object { s := degradedState("n1", msg, now); return &s }
	relabelled := func() client.Object { n := node("n1", labelled("san", "iscsi")); return &n }
	heartbeat := func() client.Object {
		n := node("n1")
		n.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(now)
		return &n
	}
	down := func() client.Object { n := node("n1", notReady); return &n }
	lun := func(opts ...func(*mpv1alpha1.MultipathWWID)) client.Object {
		w := wwidObj("lun", wwid, opts...)
		return &w
	}
	healthWritten := func(w *mpv1alpha1.MultipathWWID) { w.Status.Health.State = mpv1alpha1.MapDegraded }
	respec := func(w *mpv1alpha1.MultipathWWID) { w.Generation = 2 }
	pv := func(nodes ...string) client.Object { return pinnedPV("pv", nodes...) }
	bound := func() client.Object { p := pinnedPV("pv", "n1"); p.Status.Phase = corev1.VolumeBound; return p }
	n1 := func() client.Object { n := node("n1"); return &n }

	tests := map[string]struct {
		p    predicate.Predicate
		e    event.UpdateEvent
		want bool
	}{
		"a fresh Lease renewed again is not an event (the periodic pass judges it)": {
			p: leases, e: update(renewed(now.Add(-10*time.Second)), renewed(now)), want: false,
		},
		"a stale Lease renewed is an event: the agent is back": {
			p: leases, e: update(renewed(now.Add(-time.Minute)), renewed(now)), want: true,
		},
		"a Lease's new duration is an event": {
			p: leases, e: update(renewed(now), longer()), want: true,
		},
		"a Lease in another namespace is not an event": {
			p: leases, e: update(inOtherNamespace(), inOtherNamespace()), want: false,
		},
		"the leader-election Lease is not an event, even when it comes back": {
			p: leases, e: update(leader(now.Add(-time.Minute)), leader(now)), want: false,
		},
		"new maps are an event": {
			p: nodeStateChanged{}, e: update(withMaps(mapOf(wwid, mpv1alpha1.MapOptimal, 2, 2)), withMaps(mapOf(wwid, mpv1alpha1.MapDegraded, 1, 2))), want: true,
		},
		"the same maps are not": {
			p: nodeStateChanged{}, e: update(withMaps(mapOf(wwid, mpv1alpha1.MapOptimal, 2, 2)), withMaps(mapOf(wwid, mpv1alpha1.MapOptimal, 2, 2))), want: false,
		},
		"a path failing is an event, though the counts stay": {
			p: nodeStateChanged{}, e: update(withMaps(withPath(mapOf(wwid, mpv1alpha1.MapDegraded, 1, 2), "ready")), withMaps(withPath(mapOf(wwid, mpv1alpha1.MapDegraded, 1, 2), "faulty"))), want: true,
		},
		"a new apply error message is an event": {
			p: nodeStateChanged{}, e: update(failing("one"), failing("two")), want: true,
		},
		"a Node's new labels are an event": {
			p: nodeChanged{}, e: update(n1(), relabelled()), want: true,
		},
		"a Node going NotReady is an event": {
			p: nodeChanged{}, e: update(n1(), down()), want: true,
		},
		"a kubelet heartbeat is not": {
			p: nodeChanged{}, e: update(n1(), heartbeat()), want: false,
		},
		"this controller's own status.health write is not an event": {
			p: wwidChanged{}, e: update(lun(), lun(healthWritten)), want: false,
		},
		"a new generation of a MultipathWWID is an event": {
			p: wwidChanged{}, e: update(lun(), lun(respec)), want: true,
		},
		"new consumers are an event": {
			p: wwidChanged{}, e: update(lun(), lun(consumedBy("pv"))), want: true,
		},
		"a PersistentVolume bound is not an event": {
			p: affinityChanged{}, e: update(pv("n1"), bound()), want: false,
		},
		"a PersistentVolume's new affinity is an event": {
			p: affinityChanged{}, e: update(pv("n1"), pv("n2")), want: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.p.Update(tc.e); got != tc.want {
				t.Errorf("Update = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("an agent Lease created or deleted is an event, another Lease is not", func(t *testing.T) {
		if !leases.Create(event.CreateEvent{Object: renewed(now)}) || !leases.Delete(event.DeleteEvent{Object: renewed(now)}) {
			t.Error("agent Lease creation or deletion dropped")
		}
		if leases.Create(event.CreateEvent{Object: leader(now)}) {
			t.Error("leader-election Lease creation passed")
		}
	})
}
