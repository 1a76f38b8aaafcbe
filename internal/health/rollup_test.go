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
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
)

var (
	now      = time.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC)
	interval = 10 * time.Second
)

const (
	optimal  = mpv1alpha1.MapOptimal
	degraded = mpv1alpha1.MapDegraded
	failed   = mpv1alpha1.MapFailed
	missing  = mpv1alpha1.MapMissing
	unknown  = mpv1alpha1.MapUnknown
)

// node is a Ready node whose agent reported 5 s ago, refreshing every 10 s.
func node(name string, opts ...func(*health.Node)) health.Node {
	n := health.Node{Name: name, Ready: true, Reported: true, LastHeartbeat: now.Add(-5 * time.Second), RefreshInterval: interval}
	for _, o := range opts {
		o(&n)
	}
	return n
}

func maps(ms ...mpv1alpha1.MapStatus) func(*health.Node) {
	return func(n *health.Node) { n.Maps = ms }
}

func heartbeatAgo(d time.Duration) func(*health.Node) {
	return func(n *health.Node) { n.LastHeartbeat = now.Add(-d) }
}

func notReady(n *health.Node)    { n.Ready = false }
func notReported(n *health.Node) { n.Reported = false }

func ms(wwid string, st mpv1alpha1.MapState, active, total int32) mpv1alpha1.MapStatus {
	return mpv1alpha1.MapStatus{WWID: wwid, Name: wwid, State: st, ActivePaths: active, TotalPaths: total}
}

func nh(name string, st mpv1alpha1.MapState, active, total int32) mpv1alpha1.NodeHealth {
	return mpv1alpha1.NodeHealth{Node: name, State: st, ActivePaths: active, TotalPaths: total}
}

func counts(o, d, f, m, u int32) mpv1alpha1.HealthCounts {
	return mpv1alpha1.HealthCounts{Optimal: o, Degraded: d, Failed: f, Missing: m, Unknown: u}
}

const w = "3600a098038303053453f463045727a4d"

var (
	good  = ms(w, optimal, 4, 4)
	four  = []string{"n1", "n2", "n3", "n4"}
	fourN = func(last health.Node) []health.Node {
		return []health.Node{node("n1", maps(good)), node("n2", maps(good)), node("n3", maps(good)), last}
	}
)

func TestRollup(t *testing.T) {
	tests := map[string]struct {
		luns  []health.LUN
		nodes []health.Node
		want  []mpv1alpha1.LUNHealth
	}{
		"four optimal nodes are optimal, 4/4": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4", maps(good))),
			want:  []mpv1alpha1.LUNHealth{{State: optimal, Nodes: "4/4", Counts: counts(4, 0, 0, 0, 0)}},
		},
		"three optimal plus one degraded is degraded": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4", maps(ms(w, degraded, 3, 4)))),
			want: []mpv1alpha1.LUNHealth{{State: degraded, Nodes: "3/4", Counts: counts(3, 1, 0, 0, 0),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n4", degraded, 3, 4)}}},
		},
		"an expected node that does not have the map is missing": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4", maps(ms("3600other", optimal, 2, 2)))),
			want: []mpv1alpha1.LUNHealth{{State: missing, Nodes: "3/4", Counts: counts(3, 0, 0, 1, 0),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n4", missing, 0, 0)}}},
		},
		"an expected node that reports no maps at all is missing": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4")),
			want: []mpv1alpha1.LUNHealth{{State: missing, Nodes: "3/4", Counts: counts(3, 0, 0, 1, 0),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n4", missing, 0, 0)}}},
		},
		"worst wins: failed > missing > degraded > unknown, and the list is worst first": {
			luns: []health.LUN{{WWID: w, ExpectedNodes: []string{"a", "b", "c", "d", "e"}}},
			nodes: []health.Node{
				node("a", maps(ms(w, degraded, 1, 2))),
				node("b", notReady),
				node("c"),
				node("d", maps(ms(w, failed, 0, 2))),
				node("e", maps(good)),
			},
			want: []mpv1alpha1.LUNHealth{{State: failed, Nodes: "1/5", Counts: counts(1, 1, 1, 1, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("d", failed, 0, 2), nh("c", missing, 0, 0), nh("a", degraded, 1, 2), nh("b", unknown, 0, 0)}}},
		},
		"missing outranks degraded: the LUN cannot be used at all on that node": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: []string{"a", "b"}}},
			nodes: []health.Node{node("a", maps(ms(w, degraded, 1, 2))), node("b")},
			want: []mpv1alpha1.LUNHealth{{State: missing, Nodes: "0/2", Counts: counts(0, 1, 0, 1, 0),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("b", missing, 0, 0), nh("a", degraded, 1, 2)}}},
		},
		"degraded outranks unknown: a silent node does not hide a known problem": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: []string{"a", "b"}}},
			nodes: []health.Node{node("a", maps(ms(w, degraded, 1, 2))), node("b", heartbeatAgo(time.Hour), maps(good))},
			want: []mpv1alpha1.LUNHealth{{State: degraded, Nodes: "0/2", Counts: counts(0, 1, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("a", degraded, 1, 2), nh("b", unknown, 0, 0)}}},
		},
		"unknown outranks optimal: never healthy while an expected node is silent": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4", heartbeatAgo(31*time.Second), maps(good))),
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "3/4", Counts: counts(3, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n4", unknown, 0, 0)}}},
		},
		"a report exactly three refresh intervals old is still trusted": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4", heartbeatAgo(30*time.Second), maps(good))),
			want:  []mpv1alpha1.LUNHealth{{State: optimal, Nodes: "4/4", Counts: counts(4, 0, 0, 0, 0)}},
		},
		"a report a nanosecond older than three refresh intervals is unknown": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4", heartbeatAgo(30*time.Second+1), maps(good))),
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "3/4", Counts: counts(3, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n4", unknown, 0, 0)}}},
		},
		"a NotReady node is unknown, whatever it reports": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4", notReady, maps(ms(w, failed, 0, 4)))),
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "3/4", Counts: counts(3, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n4", unknown, 0, 0)}}},
		},
		"an expired agent Lease is unknown, even within three refresh intervals": {
			luns: []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4", heartbeatAgo(20*time.Second), maps(good), func(n *health.Node) {
				n.LeaseDuration = 15 * time.Second
			})),
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "3/4", Counts: counts(3, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n4", unknown, 0, 0)}}},
		},
		"a node whose agent never reported is unknown, not missing": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: four}},
			nodes: fourN(node("n4", notReported)),
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "3/4", Counts: counts(3, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n4", unknown, 0, 0)}}},
		},
		"an expected node that no Node describes is unknown": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: []string{"n1", "n2", "n3", "ghost-node"}}},
			nodes: fourN(node("n4", maps(good))),
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "3/4", Counts: counts(3, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("ghost-node", unknown, 0, 0)}}},
		},
		"a node carrying the map without being expected is not counted": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: []string{"n1", "n2"}}},
			nodes: fourN(node("n4", maps(ms(w, failed, 0, 2)))),
			want:  []mpv1alpha1.LUNHealth{{State: optimal, Nodes: "2/2", Counts: counts(2, 0, 0, 0, 0)}},
		},
		"an expected node named twice counts once": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: []string{"n1", "n1", "x", "x"}}},
			nodes: fourN(node("n4")),
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "1/2", Counts: counts(1, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("x", unknown, 0, 0)}}},
		},
		"a node listed twice among the nodes is unknown: its reports contradict each other": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: []string{"n1", "n2"}}},
			nodes: []health.Node{node("n1", maps(good)), node("n2", maps(good)), node("n1", maps(good))},
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "1/2", Counts: counts(1, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n1", unknown, 0, 0)}}},
		},
		"a node reporting the WWID twice is unknown": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: []string{"n1"}}},
			nodes: []health.Node{node("n1", maps(good, ms("3600A098038303053453F463045727A4D", optimal, 2, 2)))},
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "0/1", Counts: counts(0, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n1", unknown, 0, 0)}}},
		},
		"WWIDs are compared case-insensitively, both ways": {
			luns: []health.LUN{{WWID: "3600A098038303053453F463045727A4D", ExpectedNodes: []string{"n1", "n2"}}},
			nodes: []health.Node{
				node("n1", maps(good)),
				node("n2", maps(ms("3600a098038303053453F463045727a4d", degraded, 1, 2))),
			},
			want: []mpv1alpha1.LUNHealth{{State: degraded, Nodes: "1/2", Counts: counts(1, 1, 0, 0, 0),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("n2", degraded, 1, 2)}}},
		},
		"a LUN expected nowhere is unknown, 0/0: nothing vouches for it": {
			luns:  []health.LUN{{WWID: w}},
			nodes: fourN(node("n4", maps(good))),
			want:  []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "0/0"}},
		},
		"malformed reports are clamped to unknown": {
			luns: []health.LUN{{WWID: w, ExpectedNodes: []string{"a", "b", "c", "d", "e", "f", "g"}}},
			nodes: []health.Node{
				node("a", maps(ms(w, "splendid", 2, 2))),
				node("b", maps(ms(w, degraded, -1, 2))),
				node("c", maps(ms(w, degraded, 3, 2))),
				node("d", maps(ms(w, optimal, 1, 1))),
				node("e", maps(ms(w, optimal, 3, 4))),
				node("f", maps(ms(w, missing, 0, 0))),
				node("g", maps(ms(w, "", 2, 2))),
			},
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "0/7", Counts: counts(0, 0, 0, 0, 7),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("a", unknown, 0, 0), nh("b", unknown, 0, 0), nh("c", unknown, 0, 0), nh("d", unknown, 0, 0), nh("e", unknown, 0, 0), nh("f", unknown, 0, 0), nh("g", unknown, 0, 0)}}},
		},
		"an agent's own unknown keeps its counts": {
			luns:  []health.LUN{{WWID: w, ExpectedNodes: []string{"a"}}},
			nodes: []health.Node{node("a", maps(ms(w, unknown, 0, 4)))},
			want: []mpv1alpha1.LUNHealth{{State: unknown, Nodes: "0/1", Counts: counts(0, 0, 0, 0, 1),
				NonOptimal: []mpv1alpha1.NodeHealth{nh("a", unknown, 0, 4)}}},
		},
		"several LUNs, one pass: each is rolled up over its own nodes": {
			luns: []health.LUN{
				{WWID: "lun-b", ExpectedNodes: []string{"n1", "n2"}},
				{WWID: "lun-a", ExpectedNodes: four},
				{WWID: "lun-c", ExpectedNodes: []string{"n3"}},
			},
			nodes: []health.Node{
				node("n1", maps(ms("lun-a", optimal, 2, 2), ms("lun-b", failed, 0, 2))),
				node("n2", maps(ms("lun-a", optimal, 2, 2), ms("lun-b", optimal, 2, 2))),
				node("n3", maps(ms("lun-a", degraded, 1, 2), ms("lun-c", optimal, 2, 2))),
				node("n4", notReady, maps(ms("lun-a", optimal, 2, 2))),
			},
			want: []mpv1alpha1.LUNHealth{
				{State: failed, Nodes: "1/2", Counts: counts(1, 0, 1, 0, 0), NonOptimal: []mpv1alpha1.NodeHealth{nh("n1", failed, 0, 2)}},
				{State: degraded, Nodes: "2/4", Counts: counts(2, 1, 0, 0, 1), NonOptimal: []mpv1alpha1.NodeHealth{nh("n3", degraded, 1, 2), nh("n4", unknown, 0, 0)}},
				{State: optimal, Nodes: "1/1", Counts: counts(1, 0, 0, 0, 0)},
			},
		},
		"two LUNs with the same WWID (a conflict the webhook refuses) each get a result": {
			luns: []health.LUN{
				{WWID: "LUN-A", ExpectedNodes: []string{"n1"}},
				{WWID: "lun-a", ExpectedNodes: []string{"n1", "n2"}},
			},
			nodes: []health.Node{node("n1", maps(ms("lun-a", optimal, 2, 2))), node("n2")},
			want: []mpv1alpha1.LUNHealth{
				{State: optimal, Nodes: "1/1", Counts: counts(1, 0, 0, 0, 0)},
				{State: missing, Nodes: "1/2", Counts: counts(1, 0, 0, 1, 0), NonOptimal: []mpv1alpha1.NodeHealth{nh("n2", missing, 0, 0)}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := health.Rollup(tc.luns, tc.nodes, now)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Rollup =\n%+v\nwant\n%+v", got, tc.want)
			}
			if ref := reference(tc.luns, tc.nodes, now); !reflect.DeepEqual(got, ref) {
				t.Errorf("Rollup disagrees with the cell-by-cell reference:\n%+v\n%+v", got, ref)
			}
		})
	}
}

func TestRollupBoundsNonOptimalWorstFirstThenByName(t *testing.T) {
	var (
		nodes    []health.Node
		expected []string
	)
	for i := range 40 {
		name := fmt.Sprintf("node-%02d", 39-i) // given in reverse order
		expected = append(expected, name)
		switch i % 4 {
		case 0:
			nodes = append(nodes, node(name, maps(ms(w, degraded, 1, 2))))
		case 1:
			nodes = append(nodes, node(name, notReady))
		case 2:
			nodes = append(nodes, node(name, maps(ms(w, failed, 0, 2))))
		case 3:
			nodes = append(nodes, node(name))
		}
	}
	got := health.Rollup([]health.LUN{{WWID: w, ExpectedNodes: expected}}, nodes, now)[0]
	if got.State != failed || got.Nodes != "0/40" || got.Counts != counts(0, 10, 10, 10, 10) || len(got.NonOptimal) != health.MaxNonOptimal {
		t.Fatalf("got state %s nodes %s counts %+v, %d listed", got.State, got.Nodes, got.Counts, len(got.NonOptimal))
	}
	var want []mpv1alpha1.NodeHealth
	for _, st := range []mpv1alpha1.MapState{failed, missing, degraded, unknown} {
		for i := range 40 {
			name := fmt.Sprintf("node-%02d", i)
			switch {
			case st == failed && (39-i)%4 == 2:
				want = append(want, nh(name, failed, 0, 2))
			case st == missing && (39-i)%4 == 3:
				want = append(want, nh(name, missing, 0, 0))
			case st == degraded && (39-i)%4 == 0:
				want = append(want, nh(name, degraded, 1, 2))
			case st == unknown && (39-i)%4 == 1:
				want = append(want, nh(name, unknown, 0, 0))
			}
		}
	}
	// 10 failed, 10 missing, 10 degraded, then only the first 2 unknowns by name fit.
	want = want[:health.MaxNonOptimal]
	if !reflect.DeepEqual(got.NonOptimal, want) {
		t.Errorf("NonOptimal =\n%v\nwant\n%v", got.NonOptimal, want)
	}
}

func TestNodeTrusted(t *testing.T) {
	tests := map[string]struct {
		n      health.Node
		ok     bool
		reason string
	}{
		"a Ready node that reported 5 s ago":     {n: node("a"), ok: true},
		"a NotReady node":                        {n: node("a", notReady), reason: "node is not Ready"},
		"an agent that never reported":           {n: node("a", notReported), reason: "agent has not reported"},
		"no heartbeat":                           {n: node("a", func(n *health.Node) { n.LastHeartbeat = time.Time{} }), reason: "agent has no heartbeat"},
		"a zero refresh interval":                {n: node("a", func(n *health.Node) { n.RefreshInterval = 0 }), reason: "agent refresh interval is not valid"},
		"a negative refresh interval":            {n: node("a", func(n *health.Node) { n.RefreshInterval = -time.Second }), reason: "agent refresh interval is not valid"},
		"a refresh interval that would overflow": {n: node("a", func(n *health.Node) { n.RefreshInterval = 1 << 62 }), reason: "agent refresh interval is not valid"},
		"three intervals old exactly":            {n: node("a", heartbeatAgo(30*time.Second)), ok: true},
		"older than three intervals":             {n: node("a", heartbeatAgo(31*time.Second)), reason: "agent report is older than 3 refresh intervals"},
		"a little clock skew":                    {n: node("a", heartbeatAgo(-20*time.Second)), ok: true},
		"a heartbeat far in the future":          {n: node("a", heartbeatAgo(-31*time.Second)), reason: "agent heartbeat is in the future"},
		"within the Lease":                       {n: node("a", heartbeatAgo(14*time.Second), func(n *health.Node) { n.LeaseDuration = 15 * time.Second }), ok: true},
		"past the Lease":                         {n: node("a", heartbeatAgo(16*time.Second), func(n *health.Node) { n.LeaseDuration = 15 * time.Second }), reason: "agent Lease has expired"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, reason := health.NodeTrusted(&tc.n, now)
			if ok != tc.ok || reason != tc.reason {
				t.Errorf("NodeTrusted = %t %q, want %t %q", ok, reason, tc.ok, tc.reason)
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	order := []mpv1alpha1.MapState{optimal, unknown, degraded, missing, failed}
	for i, s := range order {
		if health.Severity(s) != i {
			t.Errorf("Severity(%s) = %d, want %d", s, health.Severity(s), i)
		}
	}
	if health.Severity("bogus") != health.Severity(unknown) || health.Severity("") != health.Severity(unknown) {
		t.Error("a state outside the enum must rank as unknown")
	}
	if health.Worse(degraded, unknown) != degraded || health.Worse(unknown, degraded) != degraded || health.Worse(missing, failed) != failed {
		t.Error("Worse does not follow Severity")
	}
}

func TestCountLUNs(t *testing.T) {
	got := health.CountLUNs([]mpv1alpha1.LUNHealth{{State: optimal}, {State: optimal}, {State: failed}, {State: unknown}, {State: "bogus"}, {State: missing}, {State: degraded}})
	if want := counts(2, 1, 1, 1, 2); got != want {
		t.Errorf("CountLUNs = %+v, want %+v", got, want)
	}
}

// reference rolls up cell by cell with NodeState and sorts at the end: slow, obviously right.
func reference(luns []health.LUN, nodes []health.Node, now time.Time) []mpv1alpha1.LUNHealth {
	byName := map[string][]int{}
	for i := range nodes {
		byName[nodes[i].Name] = append(byName[nodes[i].Name], i)
	}
	out := make([]mpv1alpha1.LUNHealth, len(luns))
	for l, lun := range luns {
		var cells []mpv1alpha1.NodeHealth
		seen := map[string]bool{}
		for _, name := range lun.ExpectedNodes {
			if seen[name] {
				continue
			}
			seen[name] = true
			idx := byName[name]
			if len(idx) != 1 {
				cells = append(cells, nh(name, unknown, 0, 0))
				continue
			}
			cells = append(cells, health.NodeState(&nodes[idx[0]], lun.WWID, now))
		}
		var h mpv1alpha1.LUNHealth
		opt := 0
		for _, c := range cells {
			switch c.State {
			case optimal:
				h.Counts.Optimal++
				opt++
			case degraded:
				h.Counts.Degraded++
			case failed:
				h.Counts.Failed++
			case missing:
				h.Counts.Missing++
			default:
				h.Counts.Unknown++
			}
			if h.State == "" {
				h.State = c.State
			}
			h.State = health.Worse(h.State, c.State)
			if c.State != optimal {
				h.NonOptimal = append(h.NonOptimal, c)
			}
		}
		slices.SortFunc(h.NonOptimal, func(a, b mpv1alpha1.NodeHealth) int {
			if d := health.Severity(b.State) - health.Severity(a.State); d != 0 {
				return d
			}
			if a.Node < b.Node {
				return -1
			}
			return 1
		})
		if len(h.NonOptimal) > health.MaxNonOptimal {
			h.NonOptimal = h.NonOptimal[:health.MaxNonOptimal]
		}
		if len(cells) == 0 {
			h.State = unknown
		}
		h.Nodes = strconv.Itoa(opt) + "/" + strconv.Itoa(len(cells))
		out[l] = h
	}
	return out
}

// Random clusters: the indexed roll-up agrees with the cell-by-cell reference.
func TestRollupMatchesReferenceOnRandomClusters(t *testing.T) {
	states := []mpv1alpha1.MapState{optimal, optimal, optimal, degraded, failed, unknown, "weird"}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 42))
		nNodes, nLUNs := 1+r.IntN(80), 1+r.IntN(30)
		wwid := func(i int) string {
			s := fmt.Sprintf("3600a%04d", i)
			if r.IntN(4) == 0 {
				s = fmt.Sprintf("3600A%04d", i)
			}
			return s
		}
		var nodes []health.Node
		var names []string
		for i := range nNodes {
			name := fmt.Sprintf("n%03d", i)
			if r.IntN(30) == 0 && i > 0 {
				name = names[r.IntN(len(names))] // a duplicate node entry
			}
			names = append(names, name)
			n := node(name, heartbeatAgo(time.Duration(r.IntN(40))*time.Second))
			n.Ready = r.IntN(20) != 0
			n.Reported = r.IntN(25) != 0
			for l := range nLUNs {
				if r.IntN(5) == 0 {
					continue
				}
				total := int32(r.IntN(5))
				n.Maps = append(n.Maps, ms(wwid(l), states[r.IntN(len(states))], int32(r.IntN(int(total)+2))-1, total))
				if r.IntN(40) == 0 {
					n.Maps = append(n.Maps, ms(wwid(l), optimal, 2, 2))
				}
			}
			r.Shuffle(len(n.Maps), func(i, j int) { n.Maps[i], n.Maps[j] = n.Maps[j], n.Maps[i] })
			nodes = append(nodes, n)
		}
		shared := append([]string(nil), names...)
		var luns []health.LUN
		for l := range nLUNs {
			lun := health.LUN{WWID: wwid(l)}
			switch r.IntN(4) {
			case 0:
				lun.ExpectedNodes = shared
			case 1:
				for range r.IntN(8) {
					lun.ExpectedNodes = append(lun.ExpectedNodes, names[r.IntN(len(names))])
				}
			case 2:
				lun.ExpectedNodes = append(lun.ExpectedNodes, "absent", names[0])
			}
			luns = append(luns, lun)
		}
		got, want := health.Rollup(luns, nodes, now), reference(luns, nodes, now)
		if !reflect.DeepEqual(got, want) {
			for l := range got {
				if !reflect.DeepEqual(got[l], want[l]) {
					t.Fatalf("seed %d, LUN %d (%s):\n got %+v\nwant %+v", seed, l, luns[l].WWID, got[l], want[l])
				}
			}
		}
	}
}
