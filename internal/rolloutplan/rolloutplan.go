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
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Node is one selected node's rollout state, from its MultipathNodeState.
type Node struct {
	// Name is the node name.
	Name string
	// Desired is spec.desiredConfig; nil when the node was never handed a config.
	Desired *mpv1alpha1.RenderedConfigRef
	// Applied is status.appliedConfig; nil when the agent applied nothing yet.
	Applied *mpv1alpha1.RenderedConfigRef
	// Failed is true when the agent's last apply of Desired failed (Degraded True for the
	// current generation).
	Failed bool
	// Ready is true when the node is Ready and its agent reports in time.
	Ready bool
	// Teardown, when set, marks a node being torn down (no longer selected, or left over from a
	// MultipathConfig that is gone): it is handed this config (the held config, or the empty
	// one) instead of the target, through the same budget.
	Teardown *mpv1alpha1.RenderedConfigRef
}

// Input is everything the planner decides from.
type Input struct {
	// Target is the rendered config the selected nodes should run. It may be empty only when
	// every node is being torn down.
	Target mpv1alpha1.RenderedConfigRef
	// MaxUnavailable is spec.rollout.maxUnavailable; nil means 1.
	MaxUnavailable *intstr.IntOrString
	// Paused is spec.rollout.paused.
	Paused bool
	// Nodes are the selected nodes and the nodes being torn down, in any order.
	Nodes []Node
}

// Plan is what to write now, and the rollout's status.
type Plan struct {
	// Start are the nodes whose spec.desiredConfig is set now, in pick order: to the target, or
	// for a node being torn down to its Teardown config. Each uses a unit of maxUnavailable.
	Start []string
	// Adopt are the nodes that already run their config (the target, or their Teardown config)
	// but whose spec.desiredConfig differs: set it as well. Sorted by name; they use no budget.
	Adopt []string
	// Status summarises the rollout once Start and Adopt are written.
	Status Status
}

// Status summarises the rollout.
type Status struct {
	// Selected is the number of selected nodes.
	Selected int32
	// Updated counts nodes that applied the target.
	Updated int32
	// InProgress counts nodes handed the target that have not applied it yet, Start included.
	InProgress int32
	// Failed counts nodes that failed to apply the target.
	Failed int32
	// Pending counts nodes not handed the target yet.
	Pending int32
	// Unknown counts nodes that are not Ready, whatever their progress; they are also counted
	// in one of the counts above.
	Unknown int32
	// MaxUnavailable is the resolved budget.
	MaxUnavailable int32
	// FailedNodes are the names of the failed nodes, sorted.
	FailedNodes []string
	// Leaving counts the nodes being torn down; the counts above are of selected nodes only.
	Leaving int32
	// LeavingDone counts the nodes being torn down that applied their Teardown config.
	LeavingDone int32
	// LeavingInProgress counts those handed it that have not applied it yet, Start included.
	LeavingInProgress int32
	// LeavingFailed counts those that failed to apply it; FailedNodes names them too.
	LeavingFailed int32
	// Paused echoes Input.Paused.
	Paused bool
	// Stalled is true when the rollout cannot go on without a person.
	Stalled bool
	// Complete is true when every selected node applied the target and every node being torn
	// down applied its Teardown config.
	Complete bool
	// Reason is a condition reason: RolloutFailed when stalled, else RolloutPaused when paused
	// and not complete, else RolloutInProgress when not complete, else Rendered.
	Reason string
	// Message is a sentence for a person saying where the rollout is and what to do.
	Message string
}

// NodeCounts returns the counts as MultipathConfig status.nodes.
func (s Status) NodeCounts() mpv1alpha1.NodeCounts {
	return mpv1alpha1.NodeCounts{Selected: s.Selected, Updated: s.Updated, Failed: s.Failed, Unknown: s.Unknown}
}

// MaxUnavailable resolves maxUnavailable against the number of selected nodes: nil is 1; a
// number must be at least 1; a percentage is "N%" with N from 1 to 100, taken of selected and
// rounded down, at least 1. Anything else is an error.
func MaxUnavailable(v *intstr.IntOrString, selected int) (int, error) {
	if selected < 0 {
		return 0, fmt.Errorf("selected nodes must not be negative, got %d", selected)
	}
	if v == nil {
		return 1, nil
	}
	switch v.Type {
	case intstr.Int:
		if v.IntVal < 1 {
			return 0, fmt.Errorf("maxUnavailable must be at least 1, got %d", v.IntVal)
		}
		return int(v.IntVal), nil
	case intstr.String:
		pct, err := parsePercent(v.StrVal)
		if err != nil {
			return 0, err
		}
		return max(pct*selected/100, 1), nil
	default:
		return 0, fmt.Errorf("maxUnavailable has an unknown type %d", v.Type)
	}
}

// parsePercent accepts exactly what the API's CEL rule accepts: ^([1-9][0-9]?|100)%$.
func parsePercent(s string) (int, error) {
	digits, ok := strings.CutSuffix(s, "%")
	bad := fmt.Errorf("maxUnavailable %q must be a number of nodes or a percentage from 1%% to 100%%", s)
	if !ok || digits == "" || digits[0] == '0' || len(digits) > 3 {
		return 0, bad
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, bad
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || n > 100 {
		return 0, bad
	}
	return n, nil
}

// maxListed bounds the node names a message lists.
const maxListed = 5

// Compute plans the next step of the rollout of in.Target over in.Nodes, and of the teardown of
// the nodes that carry a Teardown config, under one budget. It errors on malformed input: an
// empty target name or hash while a node is selected, an empty Teardown name or hash, an empty
// or repeated node name, or a bad maxUnavailable.
func Compute(in Input) (Plan, error) {
	targetSet := in.Target.Name != "" && in.Target.Hash != ""
	if !targetSet && (in.Target != mpv1alpha1.RenderedConfigRef{} || len(in.Nodes) == 0) {
		return Plan{}, errors.New("target config must have a name and a hash")
	}
	seen := make(map[string]struct{}, len(in.Nodes))
	for _, n := range in.Nodes {
		if n.Name == "" {
			return Plan{}, errors.New("node with an empty name")
		}
		if _, dup := seen[n.Name]; dup {
			return Plan{}, fmt.Errorf("node %s is listed twice", n.Name)
		}
		seen[n.Name] = struct{}{}
		switch {
		case n.Teardown == nil && !targetSet:
			return Plan{}, errors.New("target config must have a name and a hash")
		case n.Teardown != nil && (n.Teardown.Name == "" || n.Teardown.Hash == ""):
			return Plan{}, fmt.Errorf("teardown config of node %s must have a name and a hash", n.Name)
		}
	}
	budget, err := MaxUnavailable(in.MaxUnavailable, len(in.Nodes))
	if err != nil {
		return Plan{}, err
	}

	target := in.Target
	is := func(r, want *mpv1alpha1.RenderedConfigRef) bool { return r != nil && *r == *want }

	var (
		plan      Plan
		st        = &plan.Status
		startable []Node
	)
	st.MaxUnavailable = int32(budget)
	st.Paused = in.Paused
	for _, n := range in.Nodes {
		want := &target
		if n.Teardown != nil {
			want = n.Teardown
			st.Leaving++
		} else {
			st.Selected++
			if !n.Ready {
				st.Unknown++
			}
		}
		failed, done, inProgress, pending := &st.Failed, &st.Updated, &st.InProgress, &st.Pending
		if n.Teardown != nil {
			failed, done, inProgress, pending = &st.LeavingFailed, &st.LeavingDone, &st.LeavingInProgress, new(int32)
		}
		switch {
		case is(n.Desired, want) && n.Failed:
			*failed++
			st.FailedNodes = append(st.FailedNodes, n.Name)
		case is(n.Applied, want):
			*done++
			if !is(n.Desired, want) {
				plan.Adopt = append(plan.Adopt, n.Name)
			}
		case is(n.Desired, want):
			*inProgress++
		default:
			*pending++
			if n.Ready {
				startable = append(startable, n)
			}
		}
	}
	slices.Sort(st.FailedNodes)
	slices.Sort(plan.Adopt)
	slices.SortFunc(startable, func(a, b Node) int {
		return cmp.Or(cmp.Compare(pickGroup(a), pickGroup(b)), strings.Compare(a.Name, b.Name))
	})

	failedAll := int(st.Failed + st.LeavingFailed)
	exhausted := failedAll >= budget
	if !in.Paused && !exhausted {
		free := budget - failedAll - int(st.InProgress+st.LeavingInProgress)
		for _, n := range startable[:max(0, min(free, len(startable)))] {
			plan.Start = append(plan.Start, n.Name)
			if n.Teardown != nil {
				st.LeavingInProgress++
			} else {
				st.InProgress++
				st.Pending--
			}
		}
	}
	waiting := len(startable) - len(plan.Start)

	st.Complete = st.Updated == st.Selected && st.LeavingDone == st.Leaving
	stuck := st.InProgress+st.LeavingInProgress == 0 && waiting == 0 && !in.Paused
	st.Stalled = failedAll > 0 && (exhausted || stuck)
	st.Reason, st.Message = summarise(target, st)
	return plan, nil
}

// pickGroup orders pending nodes: never handed a config, then failed their last one, then the rest.
func pickGroup(n Node) int {
	switch {
	case n.Desired == nil:
		return 0
	case n.Failed:
		return 1
	default:
		return 2
	}
}

func summarise(target mpv1alpha1.RenderedConfigRef, st *Status) (reason, message string) {
	if st.Leaving > 0 {
		return summariseTeardown(target, st)
	}
	progress := fmt.Sprintf("%d of %d nodes applied it", st.Updated, st.Selected)
	switch {
	case st.Stalled:
		why := "reaching maxUnavailable " + strconv.Itoa(int(st.MaxUnavailable))
		if st.Failed < st.MaxUnavailable {
			why = "and no other node can proceed"
		}
		return mpv1alpha1.RolloutFailedReason, fmt.Sprintf(
			"Rollout of config %s stopped: %s failed to apply it (%s), %s; %s. Read the Degraded condition of their MultipathNodeStates, then fix the nodes or the config, or roll back.",
			target.Name, plural(st.Failed, "node"), list(st.FailedNodes), why, progress)
	case st.Complete && st.Selected == 0:
		return mpv1alpha1.RenderedReason, fmt.Sprintf("No node is selected; config %s is ready for the nodes that join.", target.Name)
	case st.Complete:
		return mpv1alpha1.RenderedReason, fmt.Sprintf("All %s applied config %s.", plural(st.Selected, "node"), target.Name)
	case st.Paused:
		return mpv1alpha1.RolloutPausedReason, fmt.Sprintf(
			"Rollout of config %s is paused: %s. Set spec.rollout.paused to false to continue.", target.Name, progress)
	default:
		msg := fmt.Sprintf("Rolling out config %s: %s; %d applying, %d failed, %d waiting (maxUnavailable %d).",
			target.Name, progress, st.InProgress, st.Failed, st.Pending, st.MaxUnavailable)
		if st.Unknown > 0 {
			msg += fmt.Sprintf(" %s not reporting; waiting nodes get the config once they are Ready.", plural(st.Unknown, "node"))
		}
		return mpv1alpha1.RolloutInProgressReason, msg
	}
}

// summariseTeardown is summarise with nodes being torn down: the same reasons, with the teardown
// counted beside the rollout.
func summariseTeardown(target mpv1alpha1.RenderedConfigRef, st *Status) (reason, message string) {
	var parts []string
	if st.Selected > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d selected nodes applied config %s", st.Updated, st.Selected, target.Name))
	}
	parts = append(parts, fmt.Sprintf("%d of %d nodes being torn down applied their teardown config", st.LeavingDone, st.Leaving))
	progress := strings.Join(parts, "; ")
	failed := st.Failed + st.LeavingFailed
	switch {
	case st.Stalled:
		why := "reaching maxUnavailable " + strconv.Itoa(int(st.MaxUnavailable))
		if failed < st.MaxUnavailable {
			why = "and no other node can proceed"
		}
		return mpv1alpha1.RolloutFailedReason, fmt.Sprintf(
			"Rollout and teardown stopped: %s failed to apply their config (%s), %s; %s. Read the Degraded condition of their MultipathNodeStates, then fix the nodes or the config.",
			plural(failed, "node"), list(st.FailedNodes), why, progress)
	case st.Complete:
		return mpv1alpha1.RenderedReason, progress + "."
	case st.Paused:
		return mpv1alpha1.RolloutPausedReason, fmt.Sprintf(
			"Rollout and teardown are paused: %s. Set spec.rollout.paused to false to continue.", progress)
	default:
		waiting := st.Pending + st.Leaving - st.LeavingDone - st.LeavingInProgress - st.LeavingFailed
		msg := fmt.Sprintf("Rolling out and tearing down: %s; %d applying, %d failed, %d waiting (maxUnavailable %d).",
			progress, st.InProgress+st.LeavingInProgress, failed, waiting, st.MaxUnavailable)
		if st.Unknown > 0 {
			msg += fmt.Sprintf(" %s not reporting; waiting nodes get the config once they are Ready.", plural(st.Unknown, "node"))
		}
		return mpv1alpha1.RolloutInProgressReason, msg
	}
}

func plural(n int32, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func list(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
}
