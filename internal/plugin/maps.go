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

package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/rollup"
)

// mapsOptions are the flags and argument of `maps`.
type mapsOptions struct {
	IOStreams
	cluster *clusterFlags
	output  string
	node    string
}

func newMapsCommand(_ context.Context, streams IOStreams) *cobra.Command {
	return mapsCommand(&mapsOptions{IOStreams: streams, cluster: newClusterFlags()})
}

// mapsCommand builds `maps` over o; tests pass options with a fixed clock.
func mapsCommand(o *mapsOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maps NODE",
		Short: "Show one node's multipath maps and every path, as its agent reports them",
		Long: `maps shows what the node's kube-multipath agent last reported (its MultipathNodeState):
every multipath map with its state and active/total paths, and every path with its device, SCSI
host:channel:id:lun (or NVMe controller and namespace), device-mapper state, path checker state
and kernel device state. LUN names the MultipathWWID that allow-lists the map.

The header says whether the report can be trusted (the node is Ready and its agent renewed its
Lease within three refresh intervals), which config the node applied, and its last apply error.`,
		Example: `  # The paths of one node
  kubectl multipath maps worker-3

  # For scripts
  kubectl multipath maps worker-3 -o json | jq '.maps[] | select(.state != "optimal")'`,
		Args:    cobra.ExactArgs(1),
		PreRunE: func(_ *cobra.Command, args []string) error { return o.Validate(args) },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
	}
	o.cluster.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format: json or yaml.")
	return cmd
}

// Validate checks the flags and the node argument.
func (o *mapsOptions) Validate(args []string) error {
	if len(args) != 1 || args[0] == "" {
		return errors.New("exactly one NODE is required")
	}
	o.node = args[0]
	switch outputFormat(o.output) {
	case outputTable, outputJSON, outputYAML:
	default:
		return fmt.Errorf("--output %q is not supported: use json or yaml", o.output)
	}
	return o.cluster.validate()
}

// Run fetches the node's objects and prints its maps.
func (o *mapsOptions) Run(ctx context.Context) error {
	c, err := o.cluster.reader()
	if err != nil {
		return err
	}
	state := &mpv1alpha1.MultipathNodeState{}
	if err := c.Get(ctx, client.ObjectKey{Name: o.node}, state); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("node %s has no MultipathNodeState: it is not managed by kube-multipath, or the operator has not reached it yet", o.node)
		}
		return fmt.Errorf("failed to get MultipathNodeState %s: %w", o.node, err)
	}
	node := &corev1.Node{}
	if err := c.Get(ctx, client.ObjectKey{Name: o.node}, node); err != nil {
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to get Node %s: %w", o.node, err)
		}
		node = nil
	}
	lease := &coordinationv1.Lease{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.cluster.namespace, Name: rules.LeaseName(o.node)}, lease); err != nil {
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to get Lease %s/%s: %w", o.cluster.namespace, rules.LeaseName(o.node), err)
		}
		lease = nil
	}
	wwids := &mpv1alpha1.MultipathWWIDList{}
	if err := c.List(ctx, wwids); err != nil {
		return fmt.Errorf("failed to list MultipathWWIDs: %w", err)
	}
	r := BuildMaps(node, state, lease, wwids.Items, o.cluster.now(), o.cluster.refreshInterval)
	switch outputFormat(o.output) {
	case outputJSON:
		return printJSON(o.Out, r)
	case outputYAML:
		return printYAML(o.Out, r)
	}
	_, err = io.WriteString(o.Out, FormatMaps(r, detectTerminal(o.Out).color))
	return err
}

// MapsReport is what `maps` shows of one node.
type MapsReport struct {
	Node string `json:"node"`
	// NodeFound is false when no Node of that name exists any more.
	NodeFound bool `json:"nodeFound"`
	Ready     bool `json:"ready"`
	// Trusted is whether the operator's rules believe the report now; Reason says why not.
	Trusted bool   `json:"trusted"`
	Reason  string `json:"reason,omitempty"`
	// LastHeartbeat is when the agent last renewed its Lease.
	LastHeartbeat *metav1.Time `json:"lastHeartbeat,omitempty"`
	// Time is when the report was judged.
	Time                  metav1.Time                   `json:"time"`
	DesiredConfig         *mpv1alpha1.RenderedConfigRef `json:"desiredConfig,omitempty"`
	AppliedConfig         *mpv1alpha1.RenderedConfigRef `json:"appliedConfig,omitempty"`
	MultipathToolsVersion string                        `json:"multipathToolsVersion,omitempty"`
	// ApplyError is the last apply error (Degraded True).
	ApplyError *mpv1alpha1.NodeError `json:"applyError,omitempty"`
	// MapCount is the number of maps on the node; Maps may list fewer.
	MapCount int32       `json:"mapCount"`
	Maps     []MapReport `json:"maps"`
	// HostConflicts are where the node's own multipath configuration contradicts the desired
	// state.
	HostConflicts []mpv1alpha1.HostConflict `json:"hostConflicts,omitempty"`
}

// MapReport is one map as the agent reported it, and the MultipathWWID that allow-lists it.
type MapReport struct {
	mpv1alpha1.MapStatus `json:",inline"`
	// LUN is the name of the MultipathWWID with this WWID; empty for a map kube-multipath does
	// not manage.
	LUN string `json:"lun,omitempty"`
	// Judged is the state the operator's rules give the map when it differs from the reported
	// one: unknown for a report an agent of ours could not have written (optimal with a path down,
	// more active paths than paths, the WWID twice). Set only when the node is trusted.
	Judged mpv1alpha1.MapState `json:"judged,omitempty"`
}

// BuildMaps lays out one node's report. It is pure; node and lease may be nil.
func BuildMaps(node *corev1.Node, state *mpv1alpha1.MultipathNodeState, lease *coordinationv1.Lease, wwids []mpv1alpha1.MultipathWWID, now time.Time, interval time.Duration) *MapsReport {
	n := rollup.Reporter(node, state, lease, interval)
	r := &MapsReport{
		Node: state.Name, NodeFound: node != nil, Ready: n.Ready, Time: metav1.NewTime(now),
		DesiredConfig: state.Spec.DesiredConfig, AppliedConfig: state.Status.AppliedConfig,
		MultipathToolsVersion: state.Status.MultipathToolsVersion, MapCount: state.Status.MapCount,
		HostConflicts: state.Status.HostConflicts,
	}
	r.Trusted, r.Reason = rules.NodeTrusted(&n, now)
	if !n.LastHeartbeat.IsZero() {
		r.LastHeartbeat = &metav1.Time{Time: n.LastHeartbeat}
	}
	if c := conditions.Get(state, mpv1alpha1.DegradedCondition); c != nil && c.Status == metav1.ConditionTrue {
		r.ApplyError = &mpv1alpha1.NodeError{Node: state.Name, Message: c.Message, LastTransitionTime: c.LastTransitionTime}
	}
	lun := make(map[string]string, len(wwids))
	for i := range wwids {
		lun[strings.ToLower(wwids[i].Spec.WWID)] = wwids[i].Name
	}
	r.Maps = make([]MapReport, 0, len(state.Status.Maps))
	for _, m := range state.Status.Maps {
		mr := MapReport{MapStatus: m, LUN: lun[strings.ToLower(m.WWID)]}
		if r.Trusted {
			if judged := rules.NodeState(&n, m.WWID, now); judged.State != m.State {
				mr.Judged = judged.State
			}
		}
		r.Maps = append(r.Maps, mr)
	}
	return r
}

// FormatMaps renders the report as text. It is pure.
func FormatMaps(r *MapsReport, color bool) string {
	var b strings.Builder
	ready := "Ready"
	switch {
	case !r.NodeFound:
		ready = "no such Node"
	case !r.Ready:
		ready = "NotReady"
	}
	fmt.Fprintf(&b, "Node:       %s (%s)\n", r.Node, ready)
	report := "trusted"
	if !r.Trusted {
		report = "NOT trusted, its LUNs are unknown: " + r.Reason
	}
	if r.LastHeartbeat != nil {
		report += fmt.Sprintf(" (Lease renewed %s ago)", duration.HumanDuration(r.Time.Sub(r.LastHeartbeat.Time)))
	}
	fmt.Fprintf(&b, "Report:     %s\n", report)
	config := "none applied"
	if r.AppliedConfig != nil {
		config = "applied " + r.AppliedConfig.Name
	}
	if d := r.DesiredConfig; d != nil && (r.AppliedConfig == nil || d.Name != r.AppliedConfig.Name) {
		config += ", moving to " + d.Name
	}
	fmt.Fprintf(&b, "Config:     %s\n", config)
	if r.MultipathToolsVersion != "" {
		fmt.Fprintf(&b, "Tools:      multipath-tools %s\n", r.MultipathToolsVersion)
	}
	if e := r.ApplyError; e != nil {
		since := ""
		if !e.LastTransitionTime.IsZero() {
			since = fmt.Sprintf(" (for %s)", duration.HumanDuration(r.Time.Sub(e.LastTransitionTime.Time)))
		}
		msg := oneLine(e.Message)
		if color {
			msg = "\x1b[" + sgrRed + "m" + msg + "\x1b[0m"
		}
		fmt.Fprintf(&b, "Apply:      failed%s: %s\n", since, msg)
	}
	fmt.Fprintf(&b, "Maps:       %d\n", r.MapCount)
	if len(r.HostConflicts) > 0 {
		formatHostConflicts(&b, []NodeHostConflicts{{Node: r.Node, Conflicts: r.HostConflicts}}, color)
	}
	if len(r.Maps) == 0 {
		return b.String()
	}
	b.WriteByte('\n')
	rows := [][]styled{append([]styled{{text: "MAP"}, {text: "LUN"}, {text: "WWID"}, {text: "STATE"}, {text: "PATHS"}, {text: "USERS"}}, pathHeader()...)}
	for _, m := range r.Maps {
		_, color := stateStyle(m.State)
		lun := m.LUN
		if lun == "" {
			lun = "-"
		}
		state := string(m.State)
		if m.Judged != "" {
			state = fmt.Sprintf("%s (reported %s)", m.Judged, m.State)
			_, color = stateStyle(m.Judged)
		}
		head := []styled{{text: dash(m.Name)}, {text: lun}, {text: m.WWID}, {text: state, color: color},
			{text: fmt.Sprintf("%d/%d", m.ActivePaths, m.TotalPaths)}, {text: usersText(&m.MapStatus)}}
		rows = appendPaths(rows, head, &m.MapStatus)
	}
	writeTable(&b, rows, color)
	if more := int(r.MapCount) - len(r.Maps); more > 0 {
		fmt.Fprintf(&b, "+%d %s not listed by the agent.\n", more, plural(more, "map", "maps"))
	}
	return b.String()
}

// usersText says what holds a map: "Mount /srv/a, Holder vg0-lv0 (open 2)", or "-".
func usersText(m *mpv1alpha1.MapStatus) string {
	if len(m.Users) == 0 && m.OpenCount == 0 {
		return "-"
	}
	parts := make([]string, 0, len(m.Users))
	for _, u := range m.Users {
		if u.Name == "" {
			parts = append(parts, string(u.Kind))
		} else {
			parts = append(parts, string(u.Kind)+" "+oneLine(u.Name))
		}
	}
	s := strings.Join(parts, ", ")
	if m.OpenCount > 0 {
		s = strings.TrimSpace(fmt.Sprintf("%s (open %d)", s, m.OpenCount))
	}
	return s
}

// pathColor is red for a path state other than the good ones.
func pathColor(state string, good ...string) string {
	for _, g := range good {
		if strings.EqualFold(strings.TrimSpace(state), g) {
			return ""
		}
	}
	return sgrRed
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
