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

package rolloutplan

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// The rollout simulations below play the rollout controller (Compute, then write desiredConfig)
// and the node agents (apply what they are handed; some fail, by a seeded random choice or by
// name) in turns, in the style of cluster-api's machinedeployment rollout tests, and compare the
// log with testdata/<name>.test.log.golden. Regenerate with UPDATE_GOLDEN=true and review the diff.

var cV3 = &mpv1alpha1.RenderedConfigRef{Name: "multipath-3c4d", Hash: "3c4d"}

type event struct {
	desc string
	do   func(*simulation)
}

type scenario struct {
	name           string
	target         *mpv1alpha1.RenderedConfigRef
	maxUnavailable *intstr.IntOrString
	paused         bool
	nodes          []Node
	// seed drives the agents: whether a handed node applies in a given iteration, and whether
	// it fails with probability failRate.
	seed     uint64
	failRate float64
	// failOn are nodes whose every apply fails.
	failOn []string
	// events happen at the start of the iteration that keys them.
	events map[int][]event
	// want is how the rollout ends: "complete" or "stalled".
	want string
}

func nodes(names string, desired, applied *mpv1alpha1.RenderedConfigRef) []Node {
	var out []Node
	for n := range strings.FieldsSeq(names) {
		out = append(out, node(n, desired, applied))
	}
	return out
}

func scenarios() []scenario {
	return []scenario{{
		name:   "maxunavailable-1",
		target: cNew, maxUnavailable: new(intstr.FromInt32(1)),
		nodes: nodes("node-a node-b node-c node-d node-e", cOld, cOld),
		seed:  1,
		want:  "complete",
	}, {
		name:   "maxunavailable-2-node-without-config-first",
		target: cNew, maxUnavailable: new(intstr.FromInt32(2)),
		nodes: append(nodes("node-a node-b node-c node-d node-e", cOld, cOld), node("node-f", nil, nil)),
		seed:  2,
		want:  "complete",
	}, {
		name:   "maxunavailable-50-percent",
		target: cNew, maxUnavailable: new(intstr.FromString("50%")),
		nodes: nodes("node-a node-b node-c node-d node-e node-f node-g", cOld, cOld),
		seed:  3,
		want:  "complete",
	}, {
		name:   "maxunavailable-2-random-failures-stop",
		target: cNew, maxUnavailable: new(intstr.FromInt32(2)),
		nodes:    nodes("node-a node-b node-c node-d node-e node-f node-g node-h", cOld, cOld),
		seed:     4,
		failRate: 0.3,
		want:     "stalled",
	}, {
		name:   "maxunavailable-3-failure-shrinks-budget",
		target: cNew, maxUnavailable: new(intstr.FromInt32(3)),
		nodes:    nodes("node-a node-b node-c node-d node-e node-f node-g node-h node-i", cOld, cOld),
		seed:     13,
		failRate: 0.15,
		want:     "stalled",
	}, {
		name:   "maxunavailable-1-failure-stops-at-once",
		target: cNew, maxUnavailable: new(intstr.FromInt32(1)),
		nodes:  nodes("node-a node-b node-c node-d", cOld, cOld),
		seed:   5,
		failOn: []string{"node-b"},
		want:   "stalled",
	}, {
		name:   "paused-then-resumed",
		target: cNew, paused: true,
		nodes:  append(nodes("node-a node-b", cNew, cNew), nodes("node-c node-d node-e", cOld, cOld)...),
		seed:   6,
		events: map[int][]event{3: {{"spec.rollout.paused set to false", func(s *simulation) { s.paused = false }}}},
		want:   "complete",
	}, {
		name:   "operator-restart-adopts-updated-nodes",
		target: cNew,
		nodes: append([]Node{node("node-a", nil, cNew), node("node-b", cOld, cNew)},
			nodes("node-c node-d", cOld, cOld)...),
		seed: 8,
		want: "complete",
	}, {
		name:   "not-ready-node-waits",
		target: cNew,
		nodes: []Node{
			node("node-a", cOld, cOld), node("node-b", cOld, cOld, notReady), node("node-c", cOld, cOld), node("node-d", cOld, cOld),
		},
		seed:   9,
		events: map[int][]event{6: {{"node-b is Ready again", func(s *simulation) { s.node("node-b").Ready = true }}}},
		want:   "complete",
	}, {
		name:   "rollback-after-stall",
		target: cNew,
		nodes:  append([]Node{node("node-a", cNew, cOld, failed)}, nodes("node-b node-c", cOld, cOld)...),
		seed:   10,
		events: map[int][]event{2: {{"target rolled back to multipath-1a2b", func(s *simulation) { s.target = *cOld }}}},
		want:   "complete",
	}, {
		name:   "new-config-supersedes-failed-one",
		target: cNew,
		nodes: []Node{
			node("node-a", cNew, cNew), node("node-b", cOld, cOld), node("node-c", cNew, cOld, failed), node("node-d", cOld, cOld),
		},
		seed:   11,
		events: map[int][]event{2: {{"new target multipath-3c4d", func(s *simulation) { s.target = *cV3 }}}},
		want:   "complete",
	}, {
		name:           "teardown-of-every-node-maxunavailable-2",
		maxUnavailable: new(intstr.FromInt32(2)),
		nodes:          leavingNodes("node-a node-b node-c node-d node-e", cOld, cEmpty),
		seed:           12,
		want:           "complete",
	}, {
		name:   "deselected-nodes-keep-held-config-until-freed",
		target: cNew,
		nodes:  append(nodes("node-a node-b", cNew, cNew), leavingNodes("node-c node-d node-e", cNew, cHeld)...),
		seed:   14,
		events: map[int][]event{5: {{"the held LUNs are free: no held config, teardown to the empty config", func(s *simulation) {
			for i := range s.nodes {
				if s.nodes[i].Teardown != nil {
					s.nodes[i].Teardown = cEmpty
				}
			}
		}}}},
		want: "complete",
	}, {
		name:   "teardown-failure-stops-rollout-and-teardown",
		target: cNew, maxUnavailable: new(intstr.FromInt32(2)),
		nodes:  append(nodes("node-a node-b", cOld, cOld), leavingNodes("node-c node-d node-e", cOld, cEmpty)...),
		seed:   15,
		failOn: []string{"node-c", "node-d"},
		want:   "stalled",
	}}
}

// leavingNodes are nodes being torn down with teardown, each running c.
func leavingNodes(names string, c, teardown *mpv1alpha1.RenderedConfigRef) []Node {
	out := nodes(names, c, c)
	for i := range out {
		out[i].Teardown = teardown
	}
	return out
}

type simulation struct {
	target         mpv1alpha1.RenderedConfigRef
	maxUnavailable *intstr.IntOrString
	paused         bool
	nodes          []Node
	rng            *rand.Rand
	failRate       float64
	failOn         []string
	log            strings.Builder
}

func (s *simulation) node(name string) *Node {
	for i := range s.nodes {
		if s.nodes[i].Name == name {
			return &s.nodes[i]
		}
	}
	panic("no node " + name)
}

func (s *simulation) logf(format string, args ...any) { fmt.Fprintf(&s.log, format+"\n", args...) }

func refName(r *mpv1alpha1.RenderedConfigRef) string {
	if r == nil {
		return "-"
	}
	return r.Name
}

func (s *simulation) dumpNodes() {
	for _, n := range s.nodes {
		var notes []string
		if n.Failed {
			notes = append(notes, "failed")
		}
		if !n.Ready {
			notes = append(notes, "not ready")
		}
		if n.Teardown != nil {
			notes = append(notes, "torn down with "+n.Teardown.Name)
		}
		note := ""
		if len(notes) > 0 {
			note = " (" + strings.Join(notes, ", ") + ")"
		}
		s.logf("    %s: desired %s, applied %s%s", n.Name, refName(n.Desired), refName(n.Applied), note)
	}
}

// hasWork reports whether the node's agent would try to apply something.
func hasWork(n Node) bool {
	return n.Ready && n.Desired != nil && !n.Failed && (n.Applied == nil || *n.Applied != *n.Desired)
}

// agents lets each node with work apply it, or not yet, by the seeded random choice.
func (s *simulation) agents() bool {
	acted := false
	for i := range s.nodes {
		n := &s.nodes[i]
		if !hasWork(*n) {
			continue
		}
		if s.rng.Float64() < 0.4 {
			s.logf("[Agent] %s: still applying %s", n.Name, n.Desired.Name)
			continue
		}
		acted = true
		if slices.Contains(s.failOn, n.Name) || s.rng.Float64() < s.failRate {
			n.Failed = true
			s.logf("[Agent] %s: applying %s failed, rolled back to %s", n.Name, n.Desired.Name, refName(n.Applied))
			continue
		}
		n.Applied = new(*n.Desired)
		s.logf("[Agent] %s: applied %s", n.Name, n.Desired.Name)
	}
	return acted
}

const maxIterations = 40

func runScenario(t *testing.T, sc scenario) (string, Status) {
	var target mpv1alpha1.RenderedConfigRef
	if sc.target != nil {
		target = *sc.target
	}
	s := &simulation{
		target:         target,
		maxUnavailable: sc.maxUnavailable,
		paused:         sc.paused,
		nodes:          slices.Clone(sc.nodes),
		rng:            rand.New(rand.NewPCG(sc.seed, sc.seed)),
		failRate:       sc.failRate,
		failOn:         sc.failOn,
	}
	slices.SortFunc(s.nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	mu := "1 (default)"
	if sc.maxUnavailable != nil {
		mu = sc.maxUnavailable.String()
	}
	s.logf("## %s", sc.name)
	s.logf("")
	s.logf("[Test] Initial state")
	s.dumpNodes()
	s.logf("[Test] Roll out %s, maxUnavailable %s, paused %v, seed %d, failure rate %.2f, always failing %v",
		s.target.Name, mu, s.paused, sc.seed, sc.failRate, sc.failOn)

	lastEvent := 0
	for i := range sc.events {
		lastEvent = max(lastEvent, i)
	}
	var st Status
	for i := 1; ; i++ {
		if i > maxIterations {
			t.Fatalf("rollout did not settle in %d iterations", maxIterations)
		}
		for _, e := range sc.events[i] {
			s.logf("[Test] Iteration %d: %s", i, e.desc)
			e.do(s)
		}
		plan, err := Compute(Input{Target: s.target, MaxUnavailable: s.maxUnavailable, Paused: s.paused, Nodes: slices.Clone(s.nodes)})
		if err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		st = plan.Status
		s.logf("[Planner] Iteration %d", i)
		s.logf("    start: %s", orDash(plan.Start))
		s.logf("    adopt: %s", orDash(plan.Adopt))
		s.logf("    nodes: %d selected, %d updated, %d in progress, %d failed, %d pending, %d unknown; maxUnavailable %d",
			st.Selected, st.Updated, st.InProgress, st.Failed, st.Pending, st.Unknown, st.MaxUnavailable)
		if st.Leaving > 0 {
			s.logf("    torn down: %d leaving, %d done, %d in progress, %d failed", st.Leaving, st.LeavingDone, st.LeavingInProgress, st.LeavingFailed)
		}
		s.logf("    %s: %s", st.Reason, st.Message)
		checkInvariants(t, i, plan)
		for _, name := range append(slices.Clone(plan.Start), plan.Adopt...) {
			n := s.node(name)
			n.Desired = new(s.target)
			if n.Teardown != nil {
				n.Desired = new(*n.Teardown)
			}
			n.Failed = false // the agent's report was about the previous desiredConfig
		}
		acted := s.agents()
		settled := !acted && len(plan.Start) == 0 && len(plan.Adopt) == 0 && !slices.ContainsFunc(s.nodes, hasWork)
		if settled && i >= lastEvent {
			break
		}
	}
	s.logf("[Test] Final state")
	s.dumpNodes()
	return s.log.String(), st
}

func orDash(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ", ")
}

// checkInvariants holds whatever the input: the budget is never overdrawn by a hand-out, and
// paused, stalled and complete rollouts hand nothing out.
func checkInvariants(t *testing.T, i int, p Plan) {
	t.Helper()
	st := p.Status
	if busy := st.InProgress + st.Failed + st.LeavingInProgress + st.LeavingFailed; len(p.Start) > 0 && busy > st.MaxUnavailable {
		t.Errorf("iteration %d: started %v with %d in progress or failed (teardown included) over maxUnavailable %d", i, p.Start, busy, st.MaxUnavailable)
	}
	if len(p.Start) > 0 && (st.Paused || st.Stalled || st.Complete) {
		t.Errorf("iteration %d: started %v while paused=%v stalled=%v complete=%v", i, p.Start, st.Paused, st.Stalled, st.Complete)
	}
	if st.Stalled && st.Complete {
		t.Errorf("iteration %d: stalled and complete at once", i)
	}
	if sum := st.Updated + st.InProgress + st.Failed + st.Pending; sum != st.Selected {
		t.Errorf("iteration %d: updated+in progress+failed+pending = %d, want selected %d", i, sum, st.Selected)
	}
	if sum := st.LeavingDone + st.LeavingInProgress + st.LeavingFailed; sum > st.Leaving {
		t.Errorf("iteration %d: torn down+in progress+failed = %d, more than the %d nodes being torn down", i, sum, st.Leaving)
	}
}

func TestRolloutSimulation(t *testing.T) {
	update := os.Getenv("UPDATE_GOLDEN") == "true"
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			got, st := runScenario(t, sc)
			end := map[bool]string{true: "complete", false: "stalled"}[st.Complete]
			if !st.Complete && !st.Stalled {
				end = "neither complete nor stalled"
			}
			if end != sc.want {
				t.Errorf("rollout ended %s, want %s", end, sc.want)
			}
			golden := filepath.Join("testdata", sc.name+".test.log.golden")
			if update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with UPDATE_GOLDEN=true to create it)", err)
			}
			if got != string(want) {
				t.Errorf("log differs from %s (run with UPDATE_GOLDEN=true and review the diff):\n%s", golden, firstDiff(string(want), got))
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d\n  want: %s\n  got:  %s", i+1, wl, gl)
		}
	}
	return ""
}
