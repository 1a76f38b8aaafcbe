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
}

// Input is everything the planner decides from.
type Input struct {
	// Target is the rendered config the nodes should run.
	Target mpv1alpha1.RenderedConfigRef
	// MaxUnavailable is spec.rollout.maxUnavailable; nil means 1.
	MaxUnavailable *intstr.IntOrString
	// Paused is spec.rollout.paused.
	Paused bool
	// Nodes are the selected nodes, in any order.
	Nodes []Node
}

// Plan is what to write now, and the rollout's status.
type Plan struct {
	// Start are the nodes whose spec.desiredConfig is set to the target now, in pick order. Each
	// uses a unit of maxUnavailable.
	Start []string
	// Adopt are the nodes that already run the target but whose spec.desiredConfig differs: set it
	// to the target as well. Sorted by name; they use no budget.
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
	// Paused echoes Input.Paused.
	Paused bool
	// Stalled is true when the rollout cannot go on without a person.
	Stalled bool
	// Complete is true when every selected node applied the target.
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

// Compute plans the next step of the rollout of in.Target over in.Nodes. It errors on malformed
// input: an empty target name or hash, an empty or repeated node name, or a bad maxUnavailable.
func Compute(in Input) (Plan, error) {
	if in.Target.Name == "" || in.Target.Hash == "" {
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
	}
	budget, err := MaxUnavailable(in.MaxUnavailable, len(in.Nodes))
	if err != nil {
		return Plan{}, err
	}

	target := in.Target
	is := func(r *mpv1alpha1.RenderedConfigRef) bool { return r != nil && *r == target }

	var (
		plan      Plan
		st        = &plan.Status
		startable []Node
	)
	st.Selected = int32(len(in.Nodes))
	st.MaxUnavailable = int32(budget)
	st.Paused = in.Paused
	for _, n := range in.Nodes {
		if !n.Ready {
			st.Unknown++
		}
		switch {
		case is(n.Desired) && n.Failed:
			st.Failed++
			st.FailedNodes = append(st.FailedNodes, n.Name)
		case is(n.Applied):
			st.Updated++
			if !is(n.Desired) {
				plan.Adopt = append(plan.Adopt, n.Name)
			}
		case is(n.Desired):
			st.InProgress++
		default:
			st.Pending++
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

	exhausted := int(st.Failed) >= budget
	if !in.Paused && !exhausted {
		free := budget - int(st.Failed) - int(st.InProgress)
		for _, n := range startable[:max(0, min(free, len(startable)))] {
			plan.Start = append(plan.Start, n.Name)
		}
	}
	st.InProgress += int32(len(plan.Start))
	st.Pending -= int32(len(plan.Start))
	waiting := len(startable) - len(plan.Start)

	st.Complete = st.Updated == st.Selected
	stuck := st.InProgress == 0 && waiting == 0 && !in.Paused
	st.Stalled = st.Failed > 0 && (exhausted || stuck)
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
