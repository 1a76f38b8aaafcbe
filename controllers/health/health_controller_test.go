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
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/health"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
)

const (
	optimal  = mpv1alpha1.MapOptimal
	degraded = mpv1alpha1.MapDegraded
	failed   = mpv1alpha1.MapFailed
	missing  = mpv1alpha1.MapMissing
	unknown  = mpv1alpha1.MapUnknown

	wwidA = "3600a098038303053453f463045727a01"
	wwidB = "3600a098038303053453f463045727a02"
)

// maxLatency bounds how long the status may take to follow an event. The issue asks for "within
// a second"; the bound leaves room for a loaded two-core machine, and the figures are logged.
const maxLatency = 5 * time.Second

func counts(o, d, f, m, u int32) mpv1alpha1.HealthCounts {
	return mpv1alpha1.HealthCounts{Optimal: o, Degraded: d, Failed: f, Missing: m, Unknown: u}
}

func lunCounts(want mpv1alpha1.HealthCounts) func(*mpv1alpha1.MultipathConfig) error {
	return func(cfg *mpv1alpha1.MultipathConfig) error {
		if cfg.Status.LUNHealth != want {
			return fmt.Errorf("lunHealth = %+v, want %+v", cfg.Status.LUNHealth, want)
		}
		return nil
	}
}

// TestLUNHealthFollowsTheNodes is the story of one LUN on four nodes whose agents report as the
// real ones would: every rule of the roll-up, seen through the MultipathWWID status and the
// MultipathConfig counts.
func TestLUNHealthFollowsTheNodes(t *testing.T) {
	f := newFixture(t)
	good := mapOf(wwidA, optimal, 2, 2)
	f.addNodes(4, good)
	f.addLUN("data01", wwidA, nil)
	n4 := f.node(4)
	var latencies []time.Duration
	follow := func(what string, want mpv1alpha1.LUNHealth) {
		t.Helper()
		d := f.waitHealth("data01", want)
		t.Logf("%s: status followed in %s", what, d.Round(time.Millisecond))
		latencies = append(latencies, d)
		if d > maxLatency {
			t.Errorf("%s: status took %s to follow", what, d)
		}
	}

	follow("four optimal nodes", mpv1alpha1.LUNHealth{State: optimal, Nodes: "4/4", Counts: counts(4, 0, 0, 0, 0)})
	f.waitConfig(lunCounts(counts(1, 0, 0, 0, 0)))

	f.report(n4, mapOf(wwidA, degraded, 1, 2))
	follow("three optimal and one degraded is degraded, 3/4, the node listed",
		mpv1alpha1.LUNHealth{State: degraded, Nodes: "3/4", Counts: counts(3, 1, 0, 0, 0), NonOptimal: nonOptimal(n4, degraded, 1, 2)})
	f.waitConfig(lunCounts(counts(0, 1, 0, 0, 0)))

	f.report(n4, mapOf(wwidB, optimal, 2, 2))
	follow("an expected node reporting without the map has it missing",
		mpv1alpha1.LUNHealth{State: missing, Nodes: "3/4", Counts: counts(3, 0, 0, 1, 0), NonOptimal: nonOptimal(n4, missing, 0, 0)})
	f.waitConfig(lunCounts(counts(0, 0, 0, 1, 0)))

	f.report(n4, mapOf(wwidA, optimal, 1, 2))
	follow("a malformed report (optimal with a path down) is unknown",
		mpv1alpha1.LUNHealth{State: unknown, Nodes: "3/4", Counts: counts(3, 0, 0, 0, 1), NonOptimal: nonOptimal(n4, unknown, 0, 0)})

	f.report(n4, good)
	follow("back to optimal", mpv1alpha1.LUNHealth{State: optimal, Nodes: "4/4", Counts: counts(4, 0, 0, 0, 0)})

	f.setReady(n4, false)
	follow("a NotReady node is unknown, whatever it reported",
		mpv1alpha1.LUNHealth{State: unknown, Nodes: "3/4", Counts: counts(3, 0, 0, 0, 1), NonOptimal: nonOptimal(n4, unknown, 0, 0)})
	f.setReady(n4, true)
	follow("Ready again", mpv1alpha1.LUNHealth{State: optimal, Nodes: "4/4", Counts: counts(4, 0, 0, 0, 0)})

	// The agents of nodes 1-3 keep renewing; node 4's goes silent. Renewals are not events: the
	// periodic pass, one refresh interval after the last, notices the silence.
	for i := 1; i <= 3; i++ {
		f.renew(f.node(i), -25*time.Second)
	}
	clock.SetTime(clock.Now().Add(rules.StaleAfter*refresh + time.Second))
	d := f.waitHealth("data01", mpv1alpha1.LUNHealth{State: unknown, Nodes: "3/4", Counts: counts(3, 0, 0, 0, 1), NonOptimal: nonOptimal(n4, unknown, 0, 0)})
	t.Logf("a Lease renewed more than three refresh intervals ago (fake clock): unknown after %s, without an event", d.Round(time.Millisecond))
	if d > refresh+maxLatency {
		t.Errorf("staleness noticed after %s, want within a refresh interval (%s)", d, refresh)
	}
	if _, _, stale := health.Gauges(); stale != 1 {
		t.Errorf("kube_multipath_stale_reporters = %v, want 1", stale)
	}
	f.renew(n4, 0)
	follow("the silent agent renews its Lease: trusted again at once", mpv1alpha1.LUNHealth{State: optimal, Nodes: "4/4", Counts: counts(4, 0, 0, 0, 0)})

	f.report(n4, mapOf(wwidA, failed, 0, 2))
	follow("failed", mpv1alpha1.LUNHealth{State: failed, Nodes: "3/4", Counts: counts(3, 0, 1, 0, 0), NonOptimal: nonOptimal(n4, failed, 0, 2)})
	f.updateLUN("data01", func(w *mpv1alpha1.MultipathWWID) {
		w.Spec.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: corev1.LabelHostname, Operator: metav1.LabelSelectorOpNotIn, Values: []string{n4}}}}
	})
	follow("a node the LUN's node selector leaves out never counts, even failed", mpv1alpha1.LUNHealth{State: optimal, Nodes: "3/3", Counts: counts(3, 0, 0, 0, 0)})
	f.waitConfig(lunCounts(counts(1, 0, 0, 0, 0)))

	t.Logf("latencies: max %s over %d transitions", slices.Max(latencies).Round(time.Millisecond), len(latencies))
}

// TestExpectedFromConsumers: without a node selector, the nodes that the consuming volumes'
// node affinity allows are expected, and only they.
func TestExpectedFromConsumers(t *testing.T) {
	f := newFixture(t)
	f.addNodes(3)
	n1 := f.node(1)
	f.report(n1, mapOf(wwidA, optimal, 4, 4))
	f.addLUN("local01", wwidA, nil)
	f.waitHealth("local01", mpv1alpha1.LUNHealth{State: missing, Nodes: "1/3", Counts: counts(1, 0, 0, 2, 0),
		NonOptimal: []mpv1alpha1.NodeHealth{{Node: f.node(2), State: missing}, {Node: f.node(3), State: missing}}})

	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: f.label + "-pv"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/dev/mapper/local01"}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{n1}}},
			}}}},
		},
	}
	if err := env.Client.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	f.pvs = append(f.pvs, pv.Name)
	// The render controller names the consumers; here the test does.
	f.update(&mpv1alpha1.MultipathWWID{}, "local01", "", func(o client.Object) {
		w := o.(*mpv1alpha1.MultipathWWID)
		w.Status.Consumers, w.Status.ConsumerCount = []string{pv.Name}, 1
	}, true)
	f.waitHealth("local01", mpv1alpha1.LUNHealth{State: optimal, Nodes: "1/1", Counts: counts(1, 0, 0, 0, 0)})
}

// TestApplyErrorsListed: the nodes whose apply failed are listed on the MultipathConfig, newest first,
// and counted by the gauge; a node that recovers leaves the list.
func TestApplyErrorsListed(t *testing.T) {
	f := newFixture(t)
	f.addNodes(3, mapOf(wwidA, optimal, 2, 2))
	f.addLUN("data01", wwidA, nil)
	f.waitHealth("data01", mpv1alpha1.LUNHealth{State: optimal, Nodes: "3/3", Counts: counts(3, 0, 0, 0, 0)})

	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	f.failApply(f.node(2), "multipath -t refused the config: line 7: invalid keyword", t0)
	f.failApply(f.node(3), "multipathd reconfigure timed out", t0.Add(time.Minute))
	want := []mpv1alpha1.NodeError{
		{Node: f.node(3), Message: "multipathd reconfigure timed out", LastTransitionTime: metav1.NewTime(t0.Add(time.Minute))},
		{Node: f.node(2), Message: "multipath -t refused the config: line 7: invalid keyword", LastTransitionTime: metav1.NewTime(t0)},
	}
	nodeErrors := func(want []mpv1alpha1.NodeError) func(*mpv1alpha1.MultipathConfig) error {
		return func(cfg *mpv1alpha1.MultipathConfig) error {
			if !apiequality.Semantic.DeepEqual(cfg.Status.NodeErrors, want) {
				return fmt.Errorf("nodeErrors = %+v, want %+v", cfg.Status.NodeErrors, want)
			}
			return nil
		}
	}
	f.waitConfig(nodeErrors(want))
	eventually(t, func() error {
		if _, failing, _ := health.Gauges(); failing != 2 {
			return fmt.Errorf("kube_multipath_nodes_apply_failing = %v, want 2", failing)
		}
		return nil
	})

	f.update(&mpv1alpha1.MultipathNodeState{}, f.node(3), "", func(o client.Object) {
		o.(*mpv1alpha1.MultipathNodeState).Status.Conditions[0].Status = metav1.ConditionFalse
	}, true)
	f.waitConfig(nodeErrors(want[1:]))
}

// TestSteadyStateWritesNothing: once the statuses are right, passes with nothing changed write
// nothing: the resourceVersions stay, and the writes counter does not move.
func TestSteadyStateWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.addNodes(4, mapOf(wwidA, optimal, 2, 2), mapOf(wwidB, optimal, 2, 2))
	f.addLUN("data01", wwidA, nil)
	f.addLUN("data02", wwidB, nil)
	f.report(f.node(2), mapOf(wwidA, optimal, 2, 2), mapOf(wwidB, degraded, 1, 2))
	f.failApply(f.node(3), "apply failed", time.Now().UTC().Truncate(time.Second))
	f.waitHealth("data01", mpv1alpha1.LUNHealth{State: optimal, Nodes: "4/4", Counts: counts(4, 0, 0, 0, 0)})
	f.waitHealth("data02", mpv1alpha1.LUNHealth{State: degraded, Nodes: "3/4", Counts: counts(3, 1, 0, 0, 0), NonOptimal: nonOptimal(f.node(2), degraded, 1, 2)})
	f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig) error {
		if cfg.Status.LUNHealth != counts(1, 1, 0, 0, 0) || len(cfg.Status.NodeErrors) != 1 {
			return fmt.Errorf("lunHealth %+v, nodeErrors %+v", cfg.Status.LUNHealth, cfg.Status.NodeErrors)
		}
		return nil
	})

	versions := func() map[string]string {
		out := map[string]string{}
		for _, name := range f.luns {
			w := &mpv1alpha1.MultipathWWID{}
			if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, w); err != nil {
				t.Fatal(err)
			}
			out["MultipathWWID/"+name] = w.ResourceVersion
		}
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := env.Client.Get(ctx, clusterKey, cfg); err != nil {
			t.Fatal(err)
		}
		out["MultipathConfig/cluster"] = cfg.ResourceVersion
		return out
	}
	before, writes, passes := versions(), health.StatusWritesTotal(), health.RollupsTotal()
	// Two events that change nothing the roll-up decides: a label no selector reads, and an
	// agent rewriting the same maps with a new tools version.
	f.update(&corev1.Node{}, f.node(1), "", func(o client.Object) { o.GetLabels()["unrelated"] = "yes" }, false)
	f.update(&mpv1alpha1.MultipathNodeState{}, f.node(4), "", func(o client.Object) {
		o.(*mpv1alpha1.MultipathNodeState).Status.MultipathToolsVersion = "0.9.5"
	}, true)
	eventually(t, func() error {
		if got := health.RollupsTotal(); got < passes+1 {
			return fmt.Errorf("%v passes since, want at least one", got-passes)
		}
		return nil
	})
	if got := health.StatusWritesTotal(); got != writes {
		t.Errorf("%v status writes in a steady state, want none", got-writes)
	}
	if after := versions(); !reflect.DeepEqual(after, before) {
		t.Errorf("resourceVersions changed in a steady state: %v -> %v", before, after)
	}
	t.Logf("%v passes in the steady state, no write", health.RollupsTotal()-passes)
}

// TestHostConflictsListed: a node whose own multipath configuration blacklists a managed LUN is
// listed in status.nodeErrors, with the file and line, until its agent no longer reports it.
func TestHostConflictsListed(t *testing.T) {
	f := newFixture(t)
	f.addNodes(2, mapOf(wwidA, optimal, 2, 2))
	f.addLUN("data01", wwidA, nil)
	f.waitHealth("data01", mpv1alpha1.LUNHealth{State: optimal, Nodes: "2/2", Counts: counts(2, 0, 0, 0, 0)})

	since := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	setConflicts := func(cs []mpv1alpha1.HostConflict) {
		f.update(&mpv1alpha1.MultipathNodeState{}, f.node(2), "", func(o client.Object) {
			s := o.(*mpv1alpha1.MultipathNodeState)
			s.Status.HostConflicts = cs
			s.Status.Conditions = nil
			if len(cs) > 0 {
				s.Status.Conditions = []metav1.Condition{{Type: mpv1alpha1.HostConfigConflictCondition, Status: metav1.ConditionTrue,
					Reason: mpv1alpha1.HostConfigConflictReason, Message: "Host configuration conflicts.", LastTransitionTime: metav1.NewTime(since), ObservedGeneration: s.Generation}}
			}
		}, true)
	}
	setConflicts([]mpv1alpha1.HostConflict{{Type: mpv1alpha1.HostConflictBlacklisted, WWID: wwidA, File: "/etc/multipath.conf", Line: 12}})
	want := []mpv1alpha1.NodeError{{Node: f.node(2), LastTransitionTime: metav1.NewTime(since),
		Message: "Host configuration conflict: Blacklisted: managed WWID " + wwidA + " is blacklisted by the host (/etc/multipath.conf:12)."}}
	f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig) error {
		if !apiequality.Semantic.DeepEqual(cfg.Status.NodeErrors, want) {
			return fmt.Errorf("nodeErrors = %+v, want %+v", cfg.Status.NodeErrors, want)
		}
		return nil
	})
	setConflicts(nil)
	f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig) error {
		if len(cfg.Status.NodeErrors) > 0 {
			return fmt.Errorf("nodeErrors = %+v, want none", cfg.Status.NodeErrors)
		}
		return nil
	})
}
