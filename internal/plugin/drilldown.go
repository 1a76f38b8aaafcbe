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
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/rollup"
)

// drillOptions are the flags and argument of `status lun` and `status node`.
type drillOptions struct {
	IOStreams
	cluster  *clusterFlags
	output   string
	allNodes bool
	name     string
}

// maxEvents bounds the Events a drill-down prints.
const maxEvents = 10

func (o *drillOptions) validate(args []string, what string) error {
	if len(args) != 1 || args[0] == "" {
		return fmt.Errorf("exactly one %s is required", what)
	}
	o.name = args[0]
	switch outputFormat(o.output) {
	case outputTable, outputJSON, outputYAML:
	default:
		return fmt.Errorf("--output %q is not supported: use json or yaml", o.output)
	}
	return o.cluster.validate()
}

func (o *drillOptions) print(v any, text func() string) error {
	switch outputFormat(o.output) {
	case outputJSON:
		return printJSON(o.Out, v)
	case outputYAML:
		return printYAML(o.Out, v)
	}
	_, err := io.WriteString(o.Out, text())
	return err
}

// lunCommand builds `status lun NAME`.
func lunCommand(o *drillOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lun NAME",
		Short: "Show one LUN: its spec, conditions, users, health on each node with the paths, and its Events",
		Long: `status lun shows one MultipathWWID (NAME is its name, its alias or its WWID): its WWID and
alias (and the former aliases a PersistentVolume still names), where it is expected, its health
worked out now by the operator's rules beside the operator's last roll-up, its conditions, what
uses it (the PersistentVolumes that consume it, the nodes where its map is open and what holds
it), and its recent Events.

Beneath, every node where the LUN is not optimal, with the map as its agent reports it and each
path: device, SCSI host:channel:id:lun, device-mapper state, path checker state, kernel device
state (--all-nodes lists the optimal nodes too). A node whose report is not trusted is unknown,
with the state it last reported beside it. The paths are grouped as "multipath -ll" lists them:
each path group with its number, path selector, priority and status, then its paths with their
priorities.`,
		Example: `  kubectl multipath status lun oradata01
  kubectl multipath status lun 3600a098038303053453f463045727a01 -o yaml`,
		Args:    cobra.ExactArgs(1),
		PreRunE: func(_ *cobra.Command, args []string) error { return o.validate(args, "LUN") },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.runLUN(cmd.Context()) },
	}
	o.cluster.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format: json or yaml.")
	cmd.Flags().BoolVar(&o.allNodes, "all-nodes", false, "List every node expected to carry the LUN, not only those where it is not optimal.")
	return cmd
}

// nodeCommand builds `status node NAME`.
func nodeCommand(o *drillOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node NAME",
		Short: "Show one node: its config, conditions, host conflicts, maps with their paths, and its Events",
		Long: `status node shows one node's MultipathNodeState: whether its report is trusted, the config
it should apply and the one it applied, its last apply error, its conditions, the conflicts of its
own multipath configuration, every map with its users and paths (as "multipath -ll" lists them:
each path group with its number, path selector, priority and status, then its paths with device,
SCSI host:channel:id:lun, device-mapper state, path checker state, kernel device state and
priority), the LUNs expected on it that it does not have, and the recent Events of its
MultipathNodeState.`,
		Example: `  kubectl multipath status node worker-3`,
		Args:    cobra.ExactArgs(1),
		PreRunE: func(_ *cobra.Command, args []string) error { return o.validate(args, "NODE") },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.runNode(cmd.Context()) },
	}
	o.cluster.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format: json or yaml.")
	return cmd
}

// EventReport is one Event about an object, as events.k8s.io/v1 records it.
type EventReport struct {
	Type   string      `json:"type"`
	Reason string      `json:"reason"`
	Action string      `json:"action,omitempty"`
	From   string      `json:"from,omitempty"`
	Note   string      `json:"note,omitempty"`
	Count  int32       `json:"count"`
	Last   metav1.Time `json:"last"`
}

// listEvents reads the Events about one cluster-scoped object (every component of kube-multipath
// records events.k8s.io/v1 Events; the API server keeps those of a cluster-scoped object in
// namespace default): across namespaces, else in default, else, for a user whose role grants
// only the core Events (as the built-in view does), the same Events through core/v1. Events of
// an older object of the same name are left out by uid. It returns why the Events could not be
// read instead of failing: they are an aid, not the answer.
func listEvents(ctx context.Context, c client.Reader, kind, name string, uid types.UID) ([]EventReport, string) {
	list := &eventsv1.EventList{}
	fields := client.MatchingFields{"regarding.kind": kind, "regarding.name": name}
	err := c.List(ctx, list, fields)
	if apierrors.IsForbidden(err) {
		list = &eventsv1.EventList{}
		err = c.List(ctx, list, fields, client.InNamespace(metav1.NamespaceDefault))
	}
	if apierrors.IsForbidden(err) {
		core := &corev1.EventList{}
		if cerr := c.List(ctx, core, client.MatchingFields{"involvedObject.kind": kind, "involvedObject.name": name}, client.InNamespace(metav1.NamespaceDefault)); cerr == nil {
			list.Items = list.Items[:0]
			for i := range core.Items {
				list.Items = append(list.Items, coreToEvent(&core.Items[i]))
			}
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Sprintf("Events could not be read: %v", err)
	}
	out := make([]EventReport, 0, len(list.Items))
	for i := range list.Items {
		e := &list.Items[i]
		if e.Regarding.Kind != kind || e.Regarding.Name != name || uid != "" && e.Regarding.UID != "" && e.Regarding.UID != uid {
			continue
		}
		out = append(out, eventReport(e))
	}
	SortEvents(out)
	return out, ""
}

// coreToEvent reads a core/v1 Event as the events.k8s.io/v1 one it is stored as.
func coreToEvent(e *corev1.Event) eventsv1.Event {
	out := eventsv1.Event{ObjectMeta: e.ObjectMeta, EventTime: e.EventTime, ReportingController: e.ReportingController,
		ReportingInstance: e.ReportingInstance, Action: e.Action, Reason: e.Reason, Regarding: e.InvolvedObject, Note: e.Message,
		Type: e.Type, DeprecatedSource: e.Source, DeprecatedFirstTimestamp: e.FirstTimestamp, DeprecatedLastTimestamp: e.LastTimestamp,
		DeprecatedCount: e.Count}
	if e.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}

func eventReport(e *eventsv1.Event) EventReport {
	r := EventReport{Type: e.Type, Reason: e.Reason, Action: e.Action, From: e.ReportingController, Note: e.Note, Count: 1}
	switch {
	case e.Series != nil:
		r.Count, r.Last = e.Series.Count, metav1.NewTime(e.Series.LastObservedTime.Time)
	case !e.EventTime.IsZero():
		r.Last = metav1.NewTime(e.EventTime.Time)
	case !e.DeprecatedLastTimestamp.IsZero():
		r.Last = e.DeprecatedLastTimestamp
	default:
		r.Last = e.CreationTimestamp
	}
	if e.DeprecatedCount > r.Count {
		r.Count = e.DeprecatedCount
	}
	if r.From == "" {
		r.From = e.DeprecatedSource.Component
	}
	return r
}

// SortEvents orders Events newest first.
func SortEvents(events []EventReport) {
	slices.SortStableFunc(events, func(a, b EventReport) int { return b.Last.Compare(a.Last.Time) })
}

// formatEvents writes the newest Events, kubectl-describe-like.
func formatEvents(b *strings.Builder, events []EventReport, why string, now time.Time, color bool) {
	switch {
	case why != "":
		fmt.Fprintf(b, "\nEvents: %s\n", why)
		return
	case len(events) == 0:
		b.WriteString("\nEvents: none (the API server keeps them for an hour by default)\n")
		return
	}
	fmt.Fprintf(b, "\nEvents (newest first):\n")
	rows := [][]styled{{{text: "TYPE"}, {text: "REASON"}, {text: "AGE"}, {text: "FROM"}, {text: "MESSAGE"}}}
	for _, e := range events[:min(len(events), maxEvents)] {
		age := "-"
		if !e.Last.IsZero() {
			age = duration.HumanDuration(now.Sub(e.Last.Time))
		}
		if e.Count > 1 {
			age += fmt.Sprintf(" (x%d)", e.Count)
		}
		code := ""
		if e.Type == corev1.EventTypeWarning {
			code = sgrYellow
		}
		rows = append(rows, []styled{{text: e.Type, color: code}, {text: e.Reason}, {text: age}, {text: dash(e.From)}, {text: oneLine(e.Note)}})
	}
	writeTable(b, rows, color)
	if more := len(events) - maxEvents; more > 0 {
		fmt.Fprintf(b, "  ... and %d older (-o yaml lists them)\n", more)
	}
}

// formatConditions writes an object's conditions.
func formatConditions(b *strings.Builder, conds []metav1.Condition, now time.Time, color bool) {
	if len(conds) == 0 {
		b.WriteString("\nConditions: none written yet\n")
		return
	}
	b.WriteString("\nConditions:\n")
	rows := [][]styled{{{text: "TYPE"}, {text: "STATUS"}, {text: "REASON"}, {text: "AGE"}, {text: "MESSAGE"}}}
	for _, c := range conds {
		age := "-"
		if !c.LastTransitionTime.IsZero() {
			age = duration.HumanDuration(now.Sub(c.LastTransitionTime.Time))
		}
		rows = append(rows, []styled{{text: c.Type}, {text: string(c.Status)}, {text: dash(c.Reason)}, {text: age}, {text: oneLine(c.Message)}})
	}
	writeTable(b, rows, color)
}

// LUNDetail is what `status lun` shows.
type LUNDetail struct {
	Time          metav1.Time `json:"time"`
	Name          string      `json:"name"`
	WWID          string      `json:"wwid"`
	Alias         string      `json:"alias,omitempty"`
	RenderedAlias *string     `json:"renderedAlias,omitempty"`
	FormerAliases []string    `json:"formerAliases,omitempty"`
	// Expected says which nodes are expected to carry the LUN, and why.
	Expected    string `json:"expected"`
	ExpectError string `json:"expectError,omitempty"`
	Deleting    bool   `json:"deleting,omitempty"`
	// Health is the roll-up worked out now; Recorded the operator's last (status.health).
	Health        mpv1alpha1.LUNHealth `json:"health"`
	Recorded      mpv1alpha1.LUNHealth `json:"recorded,omitzero"`
	Conditions    []metav1.Condition   `json:"conditions,omitempty"`
	Consumers     []string             `json:"consumers,omitempty"`
	ConsumerCount int32                `json:"consumerCount"`
	OpenOn        []mpv1alpha1.NodeUse `json:"openOn,omitempty"`
	// Nodes are the LUN's cells, each with the map its node reported.
	Nodes       []LUNNode     `json:"nodes"`
	Events      []EventReport `json:"events"`
	EventsError string        `json:"eventsError,omitempty"`
}

// LUNNode is the LUN on one node: its state now, and the map the node reported, even when the
// report is not trusted (the last known state, kept beside unknown).
type LUNNode struct {
	Cell `json:",inline"`
	// Untrusted is why the node's report is not believed; empty when it is.
	Untrusted string `json:"untrusted,omitempty"`
	// Map is the LUN's map in the node's report; nil when the report has none.
	Map *mpv1alpha1.MapStatus `json:"map,omitempty"`
}

// findLUN finds the MultipathWWID named name, else the one with that alias, else that WWID.
func findLUN(wwids []mpv1alpha1.MultipathWWID, name string) (int, error) {
	for _, match := range []func(w *mpv1alpha1.MultipathWWID) bool{
		func(w *mpv1alpha1.MultipathWWID) bool { return w.Name == name },
		func(w *mpv1alpha1.MultipathWWID) bool { return w.Spec.Alias == name },
		func(w *mpv1alpha1.MultipathWWID) bool { return strings.EqualFold(w.Spec.WWID, name) },
	} {
		for i := range wwids {
			if match(&wwids[i]) {
				return i, nil
			}
		}
	}
	return -1, fmt.Errorf("no MultipathWWID is named %q, has it as alias or as WWID (kubectl get mpwwid lists them)", name)
}

// BuildLUN lays out one LUN of the inputs (in.WWIDs[l]) at now. It is pure but for the Events,
// which the caller adds.
func BuildLUN(in *rollup.Inputs, l int, now time.Time, interval time.Duration) *LUNDetail {
	w := &in.WWIDs[l]
	one := *in
	one.WWIDs = in.WWIDs[l : l+1]
	out := rollup.Decide(&one, now, interval)
	r := BuildStatus(&one, out, now)
	lr := r.LUNs[0]
	d := &LUNDetail{Time: metav1.NewTime(now), Name: w.Name, WWID: w.Spec.WWID, Alias: w.Spec.Alias, RenderedAlias: w.Status.RenderedAlias,
		FormerAliases: w.Status.FormerAliases, ExpectError: lr.ExpectError, Deleting: !w.DeletionTimestamp.IsZero(),
		Health: lr.Health, Recorded: lr.Recorded, Conditions: w.Status.Conditions,
		Consumers: w.Status.Consumers, ConsumerCount: w.Status.ConsumerCount, OpenOn: w.Status.OpenOn, Events: []EventReport{}}
	switch {
	case w.Spec.NodeSelector != nil:
		d.Expected = "the managed nodes matching " + describeSelector(w.Spec.NodeSelector)
	case w.Status.ConsumerCount > 0:
		d.Expected = "the managed nodes its PersistentVolumes' node affinity allows (every managed node when none restricts it)"
	default:
		d.Expected = "every managed node"
	}
	untrusted := map[string]string{}
	for _, n := range r.Nodes {
		if !n.Trusted {
			untrusted[n.Name] = n.Reason
		}
	}
	states := make(map[string]*mpv1alpha1.MultipathNodeState, len(in.States))
	for i := range in.States {
		states[in.States[i].Name] = &in.States[i]
	}
	for _, c := range lr.Cells {
		ln := LUNNode{Cell: c, Untrusted: untrusted[c.Node]}
		if s := states[c.Node]; s != nil {
			for i := range s.Status.Maps {
				if strings.EqualFold(s.Status.Maps[i].WWID, w.Spec.WWID) {
					m := s.Status.Maps[i]
					ln.Map = &m
					break
				}
			}
		}
		d.Nodes = append(d.Nodes, ln)
	}
	return d
}

// describeSelector writes a label selector as kubectl does ("san=fc,zone in (a,b)").
func describeSelector(s *metav1.LabelSelector) string {
	if sel, err := metav1.LabelSelectorAsSelector(s); err == nil {
		if text := sel.String(); text != "" {
			return text
		}
		return "(every node: the selector is empty)"
	}
	return metav1.FormatLabelSelector(s)
}

// FormatLUN renders the LUN as text. It is pure.
func FormatLUN(d *LUNDetail, allNodes, color bool) string {
	var b strings.Builder
	now := d.Time.Time
	name := d.Name
	if d.Deleting {
		name += " (being deleted)"
	}
	fmt.Fprintf(&b, "LUN:        %s\n", name)
	fmt.Fprintf(&b, "WWID:       %s\n", d.WWID)
	alias := dash(d.Alias)
	if d.RenderedAlias != nil && *d.RenderedAlias != d.Alias {
		alias += fmt.Sprintf(" (the nodes still use %q: the change was refused or is not rendered yet)", dash(*d.RenderedAlias))
	}
	fmt.Fprintf(&b, "Alias:      %s\n", alias)
	if len(d.FormerAliases) > 0 {
		fmt.Fprintf(&b, "Formerly:   %s (a PersistentVolume still names it)\n", strings.Join(d.FormerAliases, ", "))
	}
	fmt.Fprintf(&b, "Expected:   on %s\n", d.Expected)
	if d.ExpectError != "" {
		fmt.Fprintf(&b, "            %s\n", oneLine(d.ExpectError))
	}
	state, code := healthText(d.Health)
	if color && code != "" {
		state = "\x1b[" + code + "m" + state + "\x1b[0m"
	}
	fmt.Fprintf(&b, "Health:     %s %s (optimal/expected nodes)\n", state, d.Health.Nodes)
	if d.Recorded.State != d.Health.State || d.Recorded.Nodes != d.Health.Nodes {
		rec := "none yet"
		if d.Recorded.State != "" {
			rec = string(d.Recorded.State) + " " + d.Recorded.Nodes
		}
		fmt.Fprintf(&b, "Operator:   %s (its last roll-up: it runs every refresh interval, or is not running)\n", rec)
	}
	users := "no PersistentVolume"
	if d.ConsumerCount > 0 {
		users = fmt.Sprintf("%d %s: %s", d.ConsumerCount, plural(int(d.ConsumerCount), "PersistentVolume", "PersistentVolumes"), strings.Join(d.Consumers, ", "))
		if more := int(d.ConsumerCount) - len(d.Consumers); more > 0 {
			users += fmt.Sprintf(" and %d more", more)
		}
	}
	fmt.Fprintf(&b, "Used by:    %s\n", users)
	for i, u := range d.OpenOn {
		label := "Open on:   "
		if i > 0 {
			label = "           "
		}
		m := mpv1alpha1.MapStatus{Users: u.Users}
		fmt.Fprintf(&b, "%s %s as %s: %s\n", label, u.Node, dash(u.Name), usersText(&m))
	}
	formatConditions(&b, d.Conditions, now, color)

	listed := 0
	rows := [][]styled{append([]styled{{text: "NODE"}, {text: "STATE"}, {text: "MAP"}, {text: "USERS"}}, pathHeader()...)}
	for _, n := range d.Nodes {
		if !allNodes && n.Expected && n.State == mpv1alpha1.MapOptimal {
			continue
		}
		listed++
		text, code := cellText(&n.Cell)
		switch {
		case n.Untrusted != "" && n.Map != nil:
			text += fmt.Sprintf(" (%s; last reported %s %d/%d)", n.Untrusted, n.Map.State, n.Map.ActivePaths, n.Map.TotalPaths)
		case n.Untrusted != "":
			text += fmt.Sprintf(" (%s; no map last reported)", n.Untrusted)
		case !n.Expected:
			text += " not expected here"
		}
		head := []styled{{text: n.Node}, {text: text, color: code}}
		if n.Map == nil {
			rows = append(rows, append(head, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}))
			continue
		}
		head = append(head, styled{text: dash(n.Map.Name)}, styled{text: usersText(n.Map)})
		rows = appendPaths(rows, head, n.Map)
	}
	expected := 0
	for _, n := range d.Nodes {
		if n.Expected {
			expected++
		}
	}
	fmt.Fprintf(&b, "\nNodes (%d expected", expected)
	if hidden := len(d.Nodes) - listed; hidden > 0 {
		fmt.Fprintf(&b, "; %d optimal not listed, --all-nodes lists them", hidden)
	}
	b.WriteString("):\n")
	if listed > 0 {
		writeTable(&b, rows, color)
	}
	formatEvents(&b, d.Events, d.EventsError, now, color)
	return b.String()
}

// pathHeader is the header of the path columns appendPaths fills.
func pathHeader() []styled {
	return []styled{{text: "GROUP"}, {text: "DEVICE"}, {text: "HCIL"}, {text: "DM"}, {text: "CHECKER"}, {text: "DEVICE STATE"}, {text: "PRIO"}}
}

// appendPaths adds a map's rows: head on the first path, blanks beneath. The paths are grouped
// as "multipath -ll" lists them: each path group in the daemon's order, its number, selector,
// priority and status on its first path, then the paths the agent listed in it (those needing
// attention first); paths of no listed group (reports of older agents) come last, with "-".
// An optimal map's paths are not in the report (the agent lists them only for a map that is
// not optimal): its row says so rather than showing dashes.
func appendPaths(rows [][]styled, head []styled, m *mpv1alpha1.MapStatus) [][]styled {
	blank := make([]styled, len(head))
	if len(m.Paths) == 0 && m.State == mpv1alpha1.MapOptimal && m.TotalPaths > 0 {
		return append(rows, append(head, styled{text: "(paths listed when not optimal)"}, styled{}, styled{}, styled{}, styled{}, styled{}, styled{}))
	}
	if len(m.Paths) == 0 {
		return append(rows, append(head, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}, styled{text: "-"}))
	}
	listed := map[int32]bool{}
	first := true
	add := func(group styled, p *mpv1alpha1.PathStatus) {
		row := blank
		if first {
			row, first = head, false
		}
		prio := "-"
		if p.Group != 0 && p.Priority >= 0 {
			prio = strconv.Itoa(int(p.Priority))
		}
		rows = append(rows, append(append([]styled(nil), row...), group,
			styled{text: p.Device}, styled{text: dash(p.HCIL)},
			styled{text: dash(p.DMState), color: pathColor(p.DMState, "active")},
			styled{text: dash(p.CheckerState), color: pathColor(p.CheckerState, "ready", "ghost")},
			styled{text: dash(p.DeviceState), color: pathColor(p.DeviceState, "running", "")},
			styled{text: prio}))
	}
	for _, g := range m.PathGroups {
		listed[g.Group] = true
		label := styled{text: groupText(&g), color: pathColor(g.State, "active", "enabled", "")}
		for i := range m.Paths {
			if m.Paths[i].Group == g.Group {
				add(label, &m.Paths[i])
				label = styled{}
			}
		}
	}
	for i := range m.Paths {
		if !listed[m.Paths[i].Group] {
			add(styled{text: "-"}, &m.Paths[i])
		}
	}
	if more := int(m.TotalPaths) - len(m.Paths); more > 0 {
		rows = append(rows, append(append([]styled(nil), blank...), styled{}, styled{text: fmt.Sprintf("(+%d more)", more)}))
	}
	return rows
}

// groupText is a path group as "multipath -ll" heads it: "1 service-time 0 prio=50 active".
func groupText(g *mpv1alpha1.PathGroupStatus) string {
	prio := "-"
	if g.Priority >= 0 {
		prio = strconv.Itoa(int(g.Priority))
	}
	return fmt.Sprintf("%d %s prio=%s %s", g.Group, dash(oneLine(g.Selector)), prio, dash(oneLine(g.State)))
}

func (o *drillOptions) runLUN(ctx context.Context) error {
	c, err := o.cluster.reader()
	if err != nil {
		return err
	}
	in, err := rollup.Gather(ctx, c, rollup.GatherOptions{Namespace: o.cluster.namespace, ListPVs: true})
	if err != nil {
		return err
	}
	l, err := findLUN(in.WWIDs, o.name)
	if err != nil {
		return err
	}
	d := BuildLUN(in, l, o.cluster.now(), o.cluster.refreshInterval)
	if events, why := listEvents(ctx, c, "MultipathWWID", d.Name, in.WWIDs[l].UID); why != "" {
		d.EventsError = why
	} else {
		d.Events = events
	}
	return o.print(d, func() string { return FormatLUN(d, o.allNodes, detectTerminal(o.Out).color) })
}

// NodeDetail is what `status node` shows: the node's maps (as `maps` shows them) and more.
type NodeDetail struct {
	*MapsReport `json:",inline"`
	Conditions  []metav1.Condition `json:"conditions,omitempty"`
	// Missing are the LUNs expected on the node that it does not have, by MultipathWWID name.
	Missing     []string      `json:"missing,omitempty"`
	Events      []EventReport `json:"events"`
	EventsError string        `json:"eventsError,omitempty"`
}

// BuildNode lays out one node (state.Name) of the inputs at now. It is pure but for the Events.
func BuildNode(in *rollup.Inputs, state *mpv1alpha1.MultipathNodeState, now time.Time, interval time.Duration) *NodeDetail {
	var node *corev1.Node
	for i := range in.Nodes {
		if in.Nodes[i].Name == state.Name {
			node = &in.Nodes[i]
		}
	}
	var lease *coordinationv1.Lease
	for i := range in.Leases {
		if in.Leases[i].Name == rules.LeaseName(state.Name) {
			lease = &in.Leases[i]
		}
	}
	d := &NodeDetail{MapsReport: BuildMaps(node, state, lease, in.WWIDs, now, interval), Conditions: state.Status.Conditions, Events: []EventReport{}}
	r := BuildStatus(in, rollup.Decide(in, now, interval), now)
	for _, l := range r.LUNs {
		for _, c := range l.Cells {
			if c.Node == state.Name && c.State == mpv1alpha1.MapMissing {
				d.Missing = append(d.Missing, l.Name)
			}
		}
	}
	slices.Sort(d.Missing)
	return d
}

// FormatNode renders the node as text. It is pure.
func FormatNode(d *NodeDetail, color bool) string {
	var b strings.Builder
	b.WriteString(FormatMaps(d.MapsReport, color))
	if len(d.Missing) > 0 {
		fmt.Fprintf(&b, "\nMissing:    %s (expected here, no map)\n", strings.Join(d.Missing, ", "))
	}
	formatConditions(&b, d.Conditions, d.Time.Time, color)
	formatEvents(&b, d.Events, d.EventsError, d.Time.Time, color)
	return b.String()
}

func (o *drillOptions) runNode(ctx context.Context) error {
	c, err := o.cluster.reader()
	if err != nil {
		return err
	}
	in, err := rollup.Gather(ctx, c, rollup.GatherOptions{Namespace: o.cluster.namespace, ListPVs: true})
	if err != nil {
		return err
	}
	i := slices.IndexFunc(in.States, func(s mpv1alpha1.MultipathNodeState) bool { return s.Name == o.name })
	if i < 0 {
		return fmt.Errorf("node %s has no MultipathNodeState: it is not managed by kube-multipath, or the operator has not reached it yet", o.name)
	}
	d := BuildNode(in, &in.States[i], o.cluster.now(), o.cluster.refreshInterval)
	if events, why := listEvents(ctx, c, "MultipathNodeState", o.name, in.States[i].UID); why != "" {
		d.EventsError = why
	} else {
		d.Events = events
	}
	return o.print(d, func() string { return FormatNode(d, detectTerminal(o.Out).color) })
}
