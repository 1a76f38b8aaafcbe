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

package health_test

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
)

// testLabel selects a test's own nodes: the MultipathConfig of each test selects
// testLabel=<the test's label>, so nodes another test left behind are never managed.
const testLabel = "health.kube-multipath.io/test"

var clusterKey = client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}

// fixture is one test's world: its nodes with their Ready conditions, their agents' Leases and
// MultipathNodeStates (written as the agents would), its LUNs, and the MultipathConfig selecting
// its nodes. Tests using it must not run in parallel (the MultipathConfig is a singleton).
type fixture struct {
	t     *testing.T
	label string
	nodes []string
	luns  []string
	pvs   []string
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	label := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(label) > 40 {
		label = strings.TrimRight(label[:40], "-")
	}
	f := &fixture{t: t, label: label}
	t.Cleanup(f.cleanup)
	cfg := &mpv1alpha1.MultipathConfig{
		ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
		Spec:       mpv1alpha1.MultipathConfigSpec{NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{testLabel: label}}},
	}
	if err := env.Client.Create(ctx, cfg); err != nil {
		t.Fatalf("creating MultipathConfig: %v", err)
	}
	return f
}

func (f *fixture) node(i int) string { return fmt.Sprintf("%s-%d", f.label, i) }

// addNodes creates count Ready nodes, each with a fresh agent Lease and a MultipathNodeState
// whose agent reported the given maps.
func (f *fixture) addNodes(count int, maps ...mpv1alpha1.MapStatus) {
	f.t.Helper()
	for i := 1; i <= count; i++ {
		name := f.node(i)
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{testLabel: f.label, corev1.LabelHostname: name}}}
		if err := env.Client.Create(ctx, n); err != nil {
			f.t.Fatalf("creating Node %s: %v", name, err)
		}
		f.nodes = append(f.nodes, name)
		f.setReady(name, true)
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: rules.LeaseName(name), Namespace: namespace},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(name),
				LeaseDurationSeconds: ptr.To[int32](40),
				RenewTime:            ptr.To(metav1.NewMicroTime(clock.Now().Add(-time.Second))),
			},
		}
		if err := env.Client.Create(ctx, l); err != nil {
			f.t.Fatalf("creating Lease %s: %v", l.Name, err)
		}
		s := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := env.Client.Create(ctx, s); err != nil {
			f.t.Fatalf("creating MultipathNodeState %s: %v", name, err)
		}
		f.report(name, maps...)
	}
}

// setReady writes the Node's Ready condition, as the kubelet would.
func (f *fixture) setReady(name string, ready bool) {
	f.t.Helper()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	f.update(&corev1.Node{}, name, "", func(o client.Object) {
		n := o.(*corev1.Node)
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	}, true)
}

// report writes the node's MultipathNodeState status as its agent would: the maps it sees.
func (f *fixture) report(node string, maps ...mpv1alpha1.MapStatus) {
	f.t.Helper()
	f.update(&mpv1alpha1.MultipathNodeState{}, node, "", func(o client.Object) {
		s := o.(*mpv1alpha1.MultipathNodeState)
		s.Status.ObservedGeneration = s.Generation
		s.Status.MultipathToolsVersion = "0.9.4"
		s.Status.Maps = maps
		s.Status.MapCount = int32(len(maps))
	}, true)
}

// failApply sets the node's Degraded condition as its agent does when an apply fails.
func (f *fixture) failApply(node, message string, since time.Time) {
	f.t.Helper()
	f.update(&mpv1alpha1.MultipathNodeState{}, node, "", func(o client.Object) {
		s := o.(*mpv1alpha1.MultipathNodeState)
		s.Status.Conditions = []metav1.Condition{{Type: mpv1alpha1.DegradedCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.ApplyFailedReason,
			Message: message, LastTransitionTime: metav1.NewTime(since), ObservedGeneration: s.Generation}}
	}, true)
}

// renew renews the node's agent Lease at the clock's now, minus ago.
func (f *fixture) renew(node string, ago time.Duration) {
	f.t.Helper()
	f.update(&coordinationv1.Lease{}, rules.LeaseName(node), namespace, func(o client.Object) {
		o.(*coordinationv1.Lease).Spec.RenewTime = ptr.To(metav1.NewMicroTime(clock.Now().Add(-ago)))
	}, false)
}

// addLUN creates a MultipathWWID.
func (f *fixture) addLUN(name, wwid string, mutate func(*mpv1alpha1.MultipathWWID)) {
	f.t.Helper()
	w := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid}}
	if mutate != nil {
		mutate(w)
	}
	if err := env.Client.Create(ctx, w); err != nil {
		f.t.Fatalf("creating MultipathWWID %s: %v", name, err)
	}
	f.luns = append(f.luns, name)
}

// updateLUN changes a MultipathWWID's spec with mutate.
func (f *fixture) updateLUN(name string, mutate func(*mpv1alpha1.MultipathWWID)) {
	f.t.Helper()
	f.update(&mpv1alpha1.MultipathWWID{}, name, "", func(o client.Object) { mutate(o.(*mpv1alpha1.MultipathWWID)) }, false)
}

// update reads the object named name, changes it with mutate and writes it (its status when
// status is true), retrying on conflicts.
func (f *fixture) update(obj client.Object, name, ns string, mutate func(client.Object), status bool) {
	f.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			return err
		}
		mutate(obj)
		if status {
			return env.Client.Status().Update(ctx, obj)
		}
		return env.Client.Update(ctx, obj)
	})
	if err != nil {
		f.t.Fatalf("updating %T %s: %v", obj, name, err)
	}
}

// waitHealth waits until the MultipathWWID's status.health is want, and returns how long that took.
func (f *fixture) waitHealth(name string, want mpv1alpha1.LUNHealth) time.Duration {
	f.t.Helper()
	return eventually(f.t, func() error {
		w := &mpv1alpha1.MultipathWWID{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, w); err != nil {
			return err
		}
		if !reflect.DeepEqual(w.Status.Health, want) {
			return fmt.Errorf("MultipathWWID %s health = %+v, want %+v", name, w.Status.Health, want)
		}
		return nil
	})
}

// waitConfig waits until check passes on the MultipathConfig.
func (f *fixture) waitConfig(check func(*mpv1alpha1.MultipathConfig) error) time.Duration {
	f.t.Helper()
	return eventually(f.t, func() error {
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := env.Client.Get(ctx, clusterKey, cfg); err != nil {
			return err
		}
		return check(cfg)
	})
}

// cleanup deletes what the test made and waits until the MultipathConfig is gone, so the next
// test can create its own.
func (f *fixture) cleanup() {
	t := f.t
	del := func(obj client.Object) {
		if err := env.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %T %s: %v", obj, obj.GetName(), err)
		}
	}
	for _, n := range f.nodes {
		del(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}})
		del(&mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: n}})
		del(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: rules.LeaseName(n), Namespace: namespace}})
	}
	for _, n := range f.luns {
		del(&mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	for _, n := range f.pvs {
		del(&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: n}})
		// envtest runs no pv-protection controller: its finalizer is the test's to drop, else
		// the volume stays Terminating and the test's next run (-count) cannot create it.
		eventually(t, func() error {
			pv := &corev1.PersistentVolume{}
			err := env.Client.Get(ctx, client.ObjectKey{Name: n}, pv)
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			if len(pv.Finalizers) > 0 {
				before := pv.DeepCopy()
				pv.Finalizers = nil
				if err := env.Client.Patch(ctx, pv, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
					return err
				}
			}
			return fmt.Errorf("PersistentVolume %s still there", n)
		})
	}
	del(&mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}})
	eventually(t, func() error {
		err := env.Client.Get(ctx, clusterKey, &mpv1alpha1.MultipathConfig{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("MultipathConfig cluster still there (%v)", err)
		}
		return nil
	})
}

func mapOf(wwid string, st mpv1alpha1.MapState, active, total int32) mpv1alpha1.MapStatus {
	return mpv1alpha1.MapStatus{WWID: wwid, Name: wwid, State: st, ActivePaths: active, TotalPaths: total,
		Paths: []mpv1alpha1.PathStatus{{Device: "sdc", HCIL: "3:0:0:1", DMState: "active", CheckerState: "ready", DeviceState: "running"}}}
}

func nonOptimal(node string, st mpv1alpha1.MapState, active, total int32) []mpv1alpha1.NodeHealth {
	return []mpv1alpha1.NodeHealth{{Node: node, State: st, ActivePaths: active, TotalPaths: total}}
}
