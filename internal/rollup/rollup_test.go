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

package rollup

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
)

func TestReporter(t *testing.T) {
	ready := node("a")
	down := node("a", notReady)
	reported := state("a", mapOf(wwid, mpv1alpha1.MapOptimal, 2, 2))
	silent := mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
	fresh := lease("a", now.Add(-3*time.Second))
	acquiredOnly := lease("a", now)
	acquiredOnly.Spec.RenewTime = nil
	acquiredOnly.Spec.AcquireTime = ptr.To(metav1.NewMicroTime(now.Add(-time.Second)))
	acquiredOnly.Spec.LeaseDurationSeconds = nil

	tests := map[string]struct {
		node  *corev1.Node
		state *mpv1alpha1.MultipathNodeState
		lease *coordinationv1.Lease
		want  rules.Node
	}{
		"a Ready node whose agent reported and renewed its Lease": {
			node: &ready, state: &reported, lease: &fresh,
			want: rules.Node{Name: "a", Ready: true, Reported: true, LastHeartbeat: now.Add(-3 * time.Second), LeaseDuration: 40 * time.Second,
				RefreshInterval: interval, Maps: reported.Status.Maps},
		},
		"a NotReady node is not Ready": {
			node: &down, state: &reported, lease: &fresh,
			want: rules.Node{Name: "a", Reported: true, LastHeartbeat: now.Add(-3 * time.Second), LeaseDuration: 40 * time.Second,
				RefreshInterval: interval, Maps: reported.Status.Maps},
		},
		"a MultipathNodeState whose status the agent never wrote has not reported": {
			node: &ready, state: &silent, lease: &fresh,
			want: rules.Node{Name: "a", Ready: true, LastHeartbeat: now.Add(-3 * time.Second), LeaseDuration: 40 * time.Second, RefreshInterval: interval},
		},
		"without a Lease there is no heartbeat": {
			node: &ready, state: &reported,
			want: rules.Node{Name: "a", Ready: true, Reported: true, RefreshInterval: interval, Maps: reported.Status.Maps},
		},
		"a Lease acquired and never renewed beats at its acquisition, without a duration": {
			node: &ready, state: &reported, lease: &acquiredOnly,
			want: rules.Node{Name: "a", Ready: true, Reported: true, LastHeartbeat: now.Add(-time.Second), RefreshInterval: interval, Maps: reported.Status.Maps},
		},
		"a MultipathNodeState without its Node is not Ready": {
			state: &reported, lease: &fresh,
			want: rules.Node{Name: "a", Reported: true, LastHeartbeat: now.Add(-3 * time.Second), LeaseDuration: 40 * time.Second,
				RefreshInterval: interval, Maps: reported.Status.Maps},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Reporter(tc.node, tc.state, tc.lease, interval)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Reporter =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestConsumerAffinities(t *testing.T) {
	pvs := map[string]*corev1.PersistentVolume{"pinned": pinnedPV("pinned", "a"), "anywhere": pinnedPV("anywhere")}
	required := pvs["pinned"].Spec.NodeAffinity.Required
	truncated := wwidObj("lun", wwid, consumedBy("pinned"))
	truncated.Status.ConsumerCount = 65
	tests := map[string]struct {
		wwid mpv1alpha1.MultipathWWID
		want []*corev1.NodeSelector
	}{
		"a LUN without consumers has no affinity":                       {wwid: wwidObj("lun", wwid), want: nil},
		"a consumer pinned to nodes gives its required affinity":        {wwid: wwidObj("lun", wwid, consumedBy("pinned")), want: []*corev1.NodeSelector{required}},
		"a consumer usable anywhere gives nil":                          {wwid: wwidObj("lun", wwid, consumedBy("pinned", "anywhere")), want: []*corev1.NodeSelector{required, nil}},
		"a consumer that is gone is skipped":                            {wwid: wwidObj("lun", wwid, consumedBy("gone", "pinned")), want: []*corev1.NodeSelector{required}},
		"a truncated list may hide a volume usable anywhere: nil added": {wwid: truncated, want: []*corev1.NodeSelector{required, nil}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ConsumerAffinities(&tc.wwid, pvs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ConsumerAffinities = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNodeErrors(t *testing.T) {
	t0 := now.Add(-time.Hour)
	recovered := degradedState("ok", "old", t0)
	recovered.Status.Conditions[0].Status = metav1.ConditionFalse
	noMessage := degradedState("quiet", "", t0)
	many := make([]mpv1alpha1.MultipathNodeState, 40)
	for i := range many {
		many[i] = degradedState(fmt.Sprintf("n%02d", i), "failed", t0.Add(time.Duration(i)*time.Second))
	}
	tests := map[string]struct {
		states []mpv1alpha1.MultipathNodeState
		want   []mpv1alpha1.NodeError
		total  int
	}{
		"no node failing, no errors": {states: []mpv1alpha1.MultipathNodeState{state("a"), recovered}, want: nil},
		"newest first, then by node name": {
			states: []mpv1alpha1.MultipathNodeState{degradedState("b", "older", t0), degradedState("c", "newer", t0.Add(time.Minute)), degradedState("a", "same time", t0)},
			want: []mpv1alpha1.NodeError{
				{Node: "c", Message: "newer", LastTransitionTime: metav1.NewTime(t0.Add(time.Minute))},
				{Node: "a", Message: "same time", LastTransitionTime: metav1.NewTime(t0)},
				{Node: "b", Message: "older", LastTransitionTime: metav1.NewTime(t0)},
			},
			total: 3,
		},
		"a message longer than the API allows is cut": {
			states: []mpv1alpha1.MultipathNodeState{degradedState("a", strings.Repeat("é", 600), t0)},
			want:   []mpv1alpha1.NodeError{{Node: "a", Message: strings.Repeat("é", 510) + "...", LastTransitionTime: metav1.NewTime(t0)}},
			total:  1,
		},
		"an empty message is replaced by the reason": {
			states: []mpv1alpha1.MultipathNodeState{noMessage},
			want:   []mpv1alpha1.NodeError{{Node: "quiet", Message: mpv1alpha1.ApplyFailedReason, LastTransitionTime: metav1.NewTime(t0)}},
			total:  1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, total := NodeErrors(tc.states)
			if !reflect.DeepEqual(got, tc.want) || total != tc.total {
				t.Errorf("NodeErrors = %d %+v\nwant %d %+v", total, got, tc.total, tc.want)
			}
		})
	}
	t.Run("at most 32 are listed, the newest, and all are counted", func(t *testing.T) {
		got, total := NodeErrors(many)
		if len(got) != MaxNodeErrors || total != 40 || got[0].Node != "n39" || got[MaxNodeErrors-1].Node != "n08" {
			t.Errorf("NodeErrors = %d listed of %d, first %s, last %s", len(got), total, got[0].Node, got[len(got)-1].Node)
		}
	})
}

func TestDecide(t *testing.T) {
	fc := &metav1.LabelSelector{MatchLabels: map[string]string{"san": "fc"}}
	good := mapOf(wwid, mpv1alpha1.MapOptimal, 4, 4)
	fresh := now.Add(-time.Second)
	base := func() *Inputs {
		return &Inputs{
			Config: config(fc),
			Nodes:  []corev1.Node{node("n1"), node("n2"), node("n3"), node("n4"), node("other", labelled("san", "iscsi"))},
			States: []mpv1alpha1.MultipathNodeState{state("n1", good), state("n2", good), state("n3", good), state("n4", good),
				state("other", mapOf(wwid, mpv1alpha1.MapFailed, 0, 2))},
			Leases: []coordinationv1.Lease{lease("n1", fresh), lease("n2", fresh), lease("n3", fresh), lease("n4", fresh), lease("other", fresh)},
			WWIDs:  []mpv1alpha1.MultipathWWID{wwidObj("data", wwid)},
			PVs:    map[string]*corev1.PersistentVolume{},
		}
	}
	nh := func(n string, st mpv1alpha1.MapState, a, tot int32) []mpv1alpha1.NodeHealth {
		return []mpv1alpha1.NodeHealth{{Node: n, State: st, ActivePaths: a, TotalPaths: tot}}
	}
	tests := map[string]struct {
		mutate    func(*Inputs)
		want      mpv1alpha1.LUNHealth
		untrusted int
	}{
		"four optimal managed nodes: optimal 4/4; an unmanaged node's failed map never counts": {
			want: mpv1alpha1.LUNHealth{State: mpv1alpha1.MapOptimal, Nodes: "4/4", Counts: mpv1alpha1.HealthCounts{Optimal: 4}},
		},
		"three optimal and one degraded: degraded 3/4, the node listed": {
			mutate: func(in *Inputs) { in.States[3] = state("n4", mapOf(wwid, mpv1alpha1.MapDegraded, 1, 2)) },
			want:   mpv1alpha1.LUNHealth{State: mpv1alpha1.MapDegraded, Nodes: "3/4", Counts: mpv1alpha1.HealthCounts{Optimal: 3, Degraded: 1}, NonOptimal: nh("n4", mpv1alpha1.MapDegraded, 1, 2)},
		},
		"a node whose Lease was renewed more than three refresh intervals ago is unknown": {
			mutate:    func(in *Inputs) { in.Leases[3] = lease("n4", now.Add(-31*time.Second)) },
			want:      mpv1alpha1.LUNHealth{State: mpv1alpha1.MapUnknown, Nodes: "3/4", Counts: mpv1alpha1.HealthCounts{Optimal: 3, Unknown: 1}, NonOptimal: nh("n4", mpv1alpha1.MapUnknown, 0, 0)},
			untrusted: 1,
		},
		"a node without a Lease is unknown": {
			mutate:    func(in *Inputs) { in.Leases = in.Leases[:3] },
			want:      mpv1alpha1.LUNHealth{State: mpv1alpha1.MapUnknown, Nodes: "3/4", Counts: mpv1alpha1.HealthCounts{Optimal: 3, Unknown: 1}, NonOptimal: nh("n4", mpv1alpha1.MapUnknown, 0, 0)},
			untrusted: 1,
		},
		"a managed node without a MultipathNodeState is unknown": {
			mutate:    func(in *Inputs) { in.States = in.States[:3] },
			want:      mpv1alpha1.LUNHealth{State: mpv1alpha1.MapUnknown, Nodes: "3/4", Counts: mpv1alpha1.HealthCounts{Optimal: 3, Unknown: 1}, NonOptimal: nh("n4", mpv1alpha1.MapUnknown, 0, 0)},
			untrusted: 1,
		},
		"the WWID's node selector wins over the managed set": {
			mutate: func(in *Inputs) {
				in.WWIDs[0].Spec.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: metav1.LabelSelectorOpIn, Values: []string{"n1", "n2"}}}}
				for i := range in.Nodes {
					in.Nodes[i].Labels["kubernetes.io/hostname"] = in.Nodes[i].Name
				}
				in.States[3] = state("n4") // does not carry it: not expected, not missing
			},
			want: mpv1alpha1.LUNHealth{State: mpv1alpha1.MapOptimal, Nodes: "2/2", Counts: mpv1alpha1.HealthCounts{Optimal: 2}},
		},
		"a consumer pinned to two nodes expects those two": {
			mutate: func(in *Inputs) {
				in.WWIDs[0].Status.Consumers, in.WWIDs[0].Status.ConsumerCount = []string{"pv-1"}, 1
				in.PVs["pv-1"] = pinnedPV("pv-1", "n3", "n4")
				for i := range in.Nodes {
					in.Nodes[i].Labels["kubernetes.io/hostname"] = in.Nodes[i].Name
				}
				in.States[0] = state("n1") // missing there, but not expected
			},
			want: mpv1alpha1.LUNHealth{State: mpv1alpha1.MapOptimal, Nodes: "2/2", Counts: mpv1alpha1.HealthCounts{Optimal: 2}},
		},
		"an expected node that reports without the map is missing": {
			mutate: func(in *Inputs) { in.States[1] = state("n2", mapOf("3600other", mpv1alpha1.MapOptimal, 2, 2)) },
			want:   mpv1alpha1.LUNHealth{State: mpv1alpha1.MapMissing, Nodes: "3/4", Counts: mpv1alpha1.HealthCounts{Optimal: 3, Missing: 1}, NonOptimal: nh("n2", mpv1alpha1.MapMissing, 0, 0)},
		},
		"MultipathConfig being deleted with the LUN held: the nodes not torn down yet keep reporting it": {
			mutate: func(in *Inputs) {
				in.Config.DeletionTimestamp = ptr.To(metav1.NewTime(now))
				in.WWIDs[0].Status.RenderedAlias = ptr.To("data")
				in.States[3].DeletionTimestamp = ptr.To(metav1.NewTime(now)) // n4 torn down
				in.States[3].Finalizers = []string{"test"}
			},
			want: mpv1alpha1.LUNHealth{State: mpv1alpha1.MapOptimal, Nodes: "3/3", Counts: mpv1alpha1.HealthCounts{Optimal: 3}},
		},
		"MultipathConfig being deleted, the LUN left out of the render: expected nowhere, not missing": {
			mutate: func(in *Inputs) {
				in.Config.DeletionTimestamp = ptr.To(metav1.NewTime(now))
				in.States[0] = state("n1") // its map already gone there
			},
			want: mpv1alpha1.LUNHealth{State: mpv1alpha1.MapUnknown, Nodes: "0/0"},
		},
		"without a MultipathConfig the LUN is expected nowhere: unknown 0/0": {
			mutate: func(in *Inputs) { in.Config = nil },
			want:   mpv1alpha1.LUNHealth{State: mpv1alpha1.MapUnknown, Nodes: "0/0"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := base()
			if tc.mutate != nil {
				tc.mutate(in)
			}
			out := Decide(in, now, interval)
			if len(out.Health) != 1 || !reflect.DeepEqual(out.Health[0], tc.want) {
				t.Errorf("health =\n%+v\nwant\n%+v", out.Health, tc.want)
			}
			if out.Untrusted != tc.untrusted {
				t.Errorf("untrusted = %d, want %d", out.Untrusted, tc.untrusted)
			}
			if want := rules.CountLUNs([]mpv1alpha1.LUNHealth{tc.want}); out.LUNCounts != want {
				t.Errorf("LUN counts = %+v, want %+v", out.LUNCounts, want)
			}
		})
	}
	t.Run("apply errors are listed from every MultipathNodeState, managed or not", func(t *testing.T) {
		in := base()
		in.States[4] = degradedState("other", "multipath -t: unknown keyword", now.Add(-time.Minute))
		out := Decide(in, now, interval)
		if out.ApplyFailing != 1 || len(out.NodeErrors) != 1 || out.NodeErrors[0].Node != "other" {
			t.Errorf("node errors = %d %+v", out.ApplyFailing, out.NodeErrors)
		}
	})
	t.Run("an invalid WWID node selector is reported and expects no node", func(t *testing.T) {
		in := base()
		in.WWIDs[0].Spec.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Near"}}}
		out := Decide(in, now, interval)
		if out.ExpectErrors["data"] == nil || out.Health[0].State != mpv1alpha1.MapUnknown || out.Health[0].Nodes != "0/0" {
			t.Errorf("errors %v, health %+v", out.ExpectErrors, out.Health[0])
		}
	})
}

// conflicted is a MultipathNodeState reporting host config conflicts since since.
func conflicted(name string, since time.Time, cs ...mpv1alpha1.HostConflict) mpv1alpha1.MultipathNodeState {
	s := state(name)
	s.Status.HostConflicts = cs
	s.Status.Conditions = []metav1.Condition{{Type: mpv1alpha1.HostConfigConflictCondition, Status: metav1.ConditionTrue,
		Reason: mpv1alpha1.HostConfigConflictReason, Message: "Host configuration conflicts.", LastTransitionTime: metav1.NewTime(since)}}
	return s
}

func TestHostConflictErrors(t *testing.T) {
	managed := []mpv1alpha1.MultipathWWID{wwidObj("db01", "3600A0B1")}
	blacklisted := mpv1alpha1.HostConflict{Type: mpv1alpha1.HostConflictBlacklisted, WWID: "3600a0b1", File: "/etc/multipath.conf", Line: 12}
	tests := map[string]struct {
		states    []mpv1alpha1.MultipathNodeState
		wwids     []mpv1alpha1.MultipathWWID
		want      []mpv1alpha1.NodeError
		wantCount int
	}{
		"no conflict, no entry": {
			states: []mpv1alpha1.MultipathNodeState{state("node-a")},
			wwids:  managed,
		},
		"a managed WWID blacklisted by the host is named with its file and line, case-insensitively": {
			states:    []mpv1alpha1.MultipathNodeState{conflicted("node-a", now.Add(-time.Minute), blacklisted)},
			wwids:     managed,
			want:      []mpv1alpha1.NodeError{{Node: "node-a", Message: "Host configuration conflict: Blacklisted: managed WWID 3600a0b1 is blacklisted by the host (/etc/multipath.conf:12).", LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))}},
			wantCount: 1,
		},
		"the agent's own words are kept, the file added when they lack it; several conflicts share the node's entry, newest node first": {
			states: []mpv1alpha1.MultipathNodeState{
				conflicted("node-a", now.Add(-time.Hour), blacklisted),
				conflicted("node-b", now.Add(-time.Minute),
					mpv1alpha1.HostConflict{Type: mpv1alpha1.HostConflictAliasDiffers, WWID: "3600a0b1", Alias: "legacy_ora", File: "/etc/multipath.conf", Line: 40, Message: "The host names it legacy_ora."},
					mpv1alpha1.HostConflict{Type: mpv1alpha1.HostConflictWouldRename, WWID: "3600ffff", Alias: "mpatha", File: "/etc/multipath/bindings"}),
			},
			wwids: managed,
			want: []mpv1alpha1.NodeError{
				{Node: "node-b", Message: "Host configuration conflict: AliasDiffers: The host names it legacy_ora (/etc/multipath.conf:40); WouldRename: applying would rename map mpatha (WWID 3600ffff), which the operator does not manage (/etc/multipath/bindings).", LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))},
				{Node: "node-a", Message: "Host configuration conflict: Blacklisted: managed WWID 3600a0b1 is blacklisted by the host (/etc/multipath.conf:12).", LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))},
			},
			wantCount: 2,
		},
		"a conflict on a WWID no MultipathWWID names is a stale report and skipped": {
			states: []mpv1alpha1.MultipathNodeState{conflicted("node-a", now, blacklisted)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, n := HostConflictErrors(tc.states, tc.wwids)
			if !reflect.DeepEqual(got, tc.want) || n != tc.wantCount {
				t.Errorf("HostConflictErrors = %d\n%+v\nwant %d\n%+v", n, got, tc.wantCount, tc.want)
			}
		})
	}
	t.Run("status.nodeErrors lists apply errors first, then host conflicts, within MaxNodeErrors", func(t *testing.T) {
		in := &Inputs{Config: config(nil), WWIDs: managed}
		for i := range MaxNodeErrors - 1 {
			in.States = append(in.States, degradedState(fmt.Sprintf("failing-%02d", i), "apply failed", now.Add(-time.Hour)))
		}
		in.States = append(in.States, conflicted("conflict-a", now, blacklisted), conflicted("conflict-b", now.Add(-time.Second), blacklisted))
		out := Decide(in, now, interval)
		all := out.ConfigNodeErrors()
		if len(all) != MaxNodeErrors || out.ApplyFailing != MaxNodeErrors-1 || out.HostConflicting != 2 || len(out.NodeErrors) != MaxNodeErrors-1 {
			t.Fatalf("%d node errors (%d apply), %d failing, %d conflicting; want %d, %d, 2", len(all), len(out.NodeErrors), out.ApplyFailing, out.HostConflicting, MaxNodeErrors, MaxNodeErrors-1)
		}
		if last := all[MaxNodeErrors-1]; last.Node != "conflict-a" {
			t.Errorf("last entry %+v, want the newest host conflict, conflict-a", last)
		}
	})
}
