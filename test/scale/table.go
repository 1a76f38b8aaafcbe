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

package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
)

func printSize(out io.Writer, s size) {
	fmt.Fprintf(out, "  %d nodes: apply p50/p95/p99/max %.0f/%.0f/%.0f/%.0f ms, floor %.0f/%.0f/%.0f/%.0f ms, ratio p50 %.1fx max %.1fx; path failure %.0f ms; steady %s\n",
		s.Nodes, s.Apply.P50, s.Apply.P95, s.Apply.P99, s.Apply.Max, s.Floor.P50, s.Floor.P95, s.Floor.P99, s.Floor.Max,
		s.RatioP50, s.RatioMax, s.PathFailureMs, formatCounts(s.Steady))
}

func formatCounts(m map[string]float64) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// formatInts is formatCounts for whole counts, largest first.
func formatInts(m map[string]float64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// printTable prints the figures docs/performance.md quotes.
func printTable(out io.Writer, r *results) {
	fmt.Fprintf(out, "\nkube-multipath scale harness: %s\n", r.Machine)
	if r.Burst != nil {
		fmt.Fprintf(out, "\nBurst of %d MultipathWWID creations: %.0f renders, %.0f ConfigMap writes (goal <= 10); rendered after %.1f s\n",
			r.Burst.Creations, r.Burst.Renders, r.Burst.ConfigMapWrites, r.Burst.Seconds)
	}
	if r.Setup != nil {
		fmt.Fprintf(out, "Cluster: %d LUNs, %d PVs (created in %.1f s, rendered %d bytes after %.1f s, every status written after %.1f s)\n",
			r.Setup.LUNs, r.Setup.PVs, r.Setup.CreateSecs, r.Setup.RenderBytes, r.Setup.RenderSecs, r.Setup.SettledSecs)
	}
	fmt.Fprintln(out, "\napply -> every node applied (ms), against the floor (one update of a ConfigMap of the rendered config's size to N watchers):")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "nodes\tapply p50\tp95\tp99\tmax\tfloor p50\tp95\tp99\tmax\tratio p50\tratio p99\tratio max\tpath fail->status\tjoin (s)\tsettled (s)\tpayload\t")
	for _, s := range r.Sizes {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.1fx\t%.1fx\t%.1fx\t%.0f ms\t%.1f\t%.1f\t%d B\t\n", s.Nodes,
			s.Apply.P50, s.Apply.P95, s.Apply.P99, s.Apply.Max, s.Floor.P50, s.Floor.P95, s.Floor.P99, s.Floor.Max,
			s.RatioP50, s.RatioP99, s.RatioMax, s.PathFailureMs, s.JoinSeconds, s.SettledSeconds, s.PayloadBytes)
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\nThe floor with one confirmation per node (each watcher then applies its own Lease; the time is when one watch of the Leases sees it, as the rollout counts a node):")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "nodes	apply p99	floor+confirmation p50	p95	p99	max	ratio p99	")
	for _, s := range r.Sizes {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.1fx\t\n", s.Nodes, s.Apply.P99,
			s.FloorConfirmed.P50, s.FloorConfirmed.P95, s.FloorConfirmed.P99, s.FloorConfirmed.Max, s.RatioConfirmedP99)
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\nStages of apply (ms): created = the create request returned (admission included); rendered = the MultipathConfig names the new render; handed out = the rollout wave or each node's MultipathNodeState names it; reconfigured = its multipathd was told to reload the written files (one way, as the floor; ratio to the floor); applied = its agent confirmed it (Lease) or reported it, what the rollout counts; reported = its MultipathNodeState status names it:")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "nodes\tcreated\trendered\thanded out p50\tp95\tmax\treconfigured p50\tmax\tratio p50\tratio max\tapplied p50\tmax\treported p50\tmax\t")
	for _, s := range r.Sizes {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.1fx\t%.1fx\t%.0f\t%.0f\t%.0f\t%.0f\t\n", s.Nodes, s.CreatedMs, s.RenderedMs,
			s.Handout.P50, s.Handout.P95, s.Handout.Max, s.Reconfigured.P50, s.Reconfigured.Max, s.RatioReconfiguredP50, s.RatioReconfiguredMax, s.Apply.P50, s.Apply.Max, s.Reported.P50, s.Reported.Max)
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\nCPU seconds used from apply to every node applied (wall seconds; the machine has", runtime.NumCPU(), "CPUs):")
	for _, s := range r.Sizes {
		fmt.Fprintf(out, "  %5d nodes: %.1f s wall; %s\n", s.Nodes, s.ApplyWall, formatCounts(s.ApplyCPU))
	}
	fmt.Fprintln(out, "\nCPU seconds used by the floor with a confirmation, from its update to the last confirmation seen (wall seconds):")
	for _, s := range r.Sizes {
		fmt.Fprintf(out, "  %5d nodes: %.1f s wall; %s\n", s.Nodes, s.FloorConfirmedWall, formatCounts(s.FloorConfirmedCPU))
	}
	fmt.Fprintln(out, "\nRequests kube-apiserver served from apply to every node applied (watches counted when they end):")
	for _, s := range r.Sizes {
		fmt.Fprintf(out, "  %5d nodes: %s\n", s.Nodes, formatInts(s.ApplyRequests))
	}
	fmt.Fprintln(out, "\nSteady state, requests per node per minute at the agents (goal: the Lease heartbeat only), and the manager's per minute:")
	for _, s := range r.Sizes {
		fmt.Fprintf(out, "  %5d nodes: agents: %s; manager: %s; CPU s/min: %s\n", s.Nodes, formatCounts(s.Steady), formatCounts(s.ManagerSteady), formatCounts(s.SteadyCPU))
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(out, "\nMemory at %d nodes (%d with an agent), %d LUNs, %d PVs: manager RSS %.1f MiB (peak %.1f MiB, Go heap in use %.1f MiB; goal < 150 MiB); one agent process RSS %.1f MiB (peak %.1f MiB)\n",
			m.Nodes, m.AgentNodes, m.LUNs, m.PVs, m.ManagerRSSMiB, m.ManagerPeakMiB, m.ManagerHeapMiB, m.AgentRSSMiB, m.AgentPeakMiB)
		if len(m.ManagerRSSSamplesMiB) > 1 {
			ss := slices.Sorted(slices.Values(m.ManagerRSSSamplesMiB))
			fmt.Fprintf(out, "The manager's RSS over the next %d s: min %.1f, median %.1f, max %.1f MiB (%s)\n",
				len(ss)-1, ss[0], ss[len(ss)/2], ss[len(ss)-1], formatMiB(m.ManagerRSSSamplesMiB))
		}
	}
}

// formatMiB lists readings in MiB, in the order taken.
func formatMiB(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(parts, " ")
}
