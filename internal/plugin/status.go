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
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/lun"
	"github.com/kube-multipath/kube-multipath/internal/rollup"
	"github.com/kube-multipath/kube-multipath/internal/scheme"
)

// defaultOperatorNamespace is where config/default installs kube-multipath.
const defaultOperatorNamespace = "kube-multipath-system"

// clusterFlags are the flags of the commands that read a cluster: kubectl's kubeconfig flags
// (--kubeconfig, --context, --server, --token, --as, ...) and where the operator runs.
type clusterFlags struct {
	kube *genericclioptions.ConfigFlags
	// namespace is the operator's namespace, where the agents renew their Leases.
	namespace string
	// refreshInterval is the agents' refresh interval: a report older than three is not trusted.
	refreshInterval time.Duration
	// now tells the time reports are judged at; time.Now outside tests.
	now func() time.Time
}

func newClusterFlags() *clusterFlags {
	kube := genericclioptions.NewConfigFlags(true)
	// -n names the operator's namespace (below), not the context's default namespace.
	kube.Namespace = nil
	return &clusterFlags{kube: kube, namespace: defaultOperatorNamespace, refreshInterval: rules.DefaultRefreshInterval, now: time.Now}
}

func (f *clusterFlags) addFlags(fs *pflag.FlagSet) {
	f.kube.AddFlags(fs)
	fs.StringVarP(&f.namespace, "namespace", "n", f.namespace, "Namespace of the kube-multipath operator, where the agents renew their Leases.")
	fs.DurationVar(&f.refreshInterval, "refresh-interval", f.refreshInterval, "The agents' refresh interval, as the operator is configured: a report older than three intervals is not trusted.")
}

func (f *clusterFlags) validate() error {
	if f.namespace == "" {
		return errors.New("--namespace must not be empty")
	}
	if f.refreshInterval <= 0 {
		return fmt.Errorf("--refresh-interval must be positive, not %s", f.refreshInterval)
	}
	return nil
}

// reader returns a direct (uncached) client for the cluster the kubeconfig flags name.
func (f *clusterFlags) reader() (client.Reader, error) {
	return f.client()
}

// client returns a direct client that can also write, for the commands that do (adopt).
func (f *clusterFlags) client() (client.Client, error) {
	cfg, err := f.kube.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "kubectl-multipath"
	return client.New(cfg, client.Options{Scheme: scheme.New()})
}

// outputFormat is the value of -o.
type outputFormat string

const (
	outputTable outputFormat = ""
	outputWide  outputFormat = "wide"
	outputJSON  outputFormat = "json"
	outputYAML  outputFormat = "yaml"
)

// terminal describes where the output goes: colour and width only on a terminal.
type terminal struct {
	color bool
	// width is the terminal's width in columns, 0 when unknown or not a terminal.
	width int
}

// detectTerminal inspects w: colour when it is a terminal (and NO_COLOR is unset), its width when
// known.
func detectTerminal(w io.Writer) terminal {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return terminal{}
	}
	t := terminal{color: os.Getenv("NO_COLOR") == ""}
	if width, _, err := term.GetSize(int(f.Fd())); err == nil {
		t.width = width
	}
	return t
}

// statusOptions are the flags of `status`.
type statusOptions struct {
	IOStreams
	cluster  *clusterFlags
	output   string
	allNodes bool
	// failOn is the --fail-on level: empty, unknown, degraded, missing or failed.
	failOn string
}

// ExitCodeThreshold is the exit code of `status --fail-on` when some LUN is at or worse than the
// level; a command that fails exits 1.
const ExitCodeThreshold = 2

// ExitError is an error with its own exit code. Its message is printed like any error's.
type ExitError struct {
	Code int
	Err  error
	// Quiet: the output already said it (diff's exit 1); the message is not printed.
	Quiet bool
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// failOnLevels are the --fail-on levels, least severe first (rules.Severity's order).
var failOnLevels = []mpv1alpha1.MapState{mpv1alpha1.MapUnknown, mpv1alpha1.MapDegraded, mpv1alpha1.MapMissing, mpv1alpha1.MapFailed}

func newStatusCommand(_ context.Context, streams IOStreams) *cobra.Command {
	return statusCommand(&statusOptions{IOStreams: streams, cluster: newClusterFlags()})
}

// statusCommand builds `status` over o; tests pass options with a fixed clock.
func statusCommand(o *statusOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the health of every LUN on every node that should carry it",
		Long: `status answers "is every LUN healthy on every node that needs it?": one row per LUN
(its alias, or its WWID), one column per node, each cell the LUN's state on that node with its
active/total paths: ok 4/4, DEG 1/2 (a path failed, or one left), FAIL 0/2 (no usable path),
miss (the node should carry the map and has none), ? (the node is NotReady, or its agent is
silent or sent something unreadable), - (the node is not expected to carry the LUN; a state in
parentheses is a map it has anyway). HEALTH is the worst state over the expected nodes, NODES
optimal/expected. The nodes not trusted are listed beneath, each with the LUNs its last report
had not optimal: the last known failure, kept beside the ?.

Only the nodes where some LUN is not optimal get a column, the rest are counted beneath
(--all-nodes shows them all); on a terminal the columns are cut to its width. The nodes whose
last apply failed are listed beneath with their error.

The cells are worked out here, from the nodes' reports, by the operator's own rules; -o wide
adds the roll-up the operator last wrote (status.health) to tell a lagging operator apart. The
line above the matrix is the rollout of the rendered config, as the operator last wrote it
(complete, rolling out, paused, stopped, waiting for render, tearing down), and a held teardown.

--fail-on LEVEL makes the exit code say it: 2 when any LUN's health is LEVEL or worse (the
levels, least severe first: unknown, degraded, missing, failed), after printing the report as
usual; 0 when none is; 1 when the command itself fails (the cluster cannot be read).

Drill down with "status lun NAME" and "status node NAME".`,
		Example: `  # The LUN x node matrix
  kubectl multipath status

  # Every node, with each LUN's WWID and the operator's last roll-up
  kubectl multipath status --all-nodes -o wide

  # For scripts
  kubectl multipath status -o json | jq '.luns[] | select(.health.state != "optimal")'

  # In a check: exit 2 when a LUN is degraded, missing or failed somewhere it is expected
  kubectl multipath status --fail-on degraded`,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error { return o.Validate() },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
	}
	o.cluster.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format: wide, json or yaml.")
	cmd.Flags().BoolVar(&o.allNodes, "all-nodes", false, "Show a column for every managed node, not only those where some LUN is not optimal.")
	cmd.AddCommand(lunCommand(&drillOptions{IOStreams: o.IOStreams, cluster: o.cluster}), nodeCommand(&drillOptions{IOStreams: o.IOStreams, cluster: o.cluster}))
	cmd.Flags().StringVar(&o.failOn, "fail-on", "", "Exit 2 when any LUN's health is this level or worse: unknown, degraded, missing or failed (least severe first).")
	return cmd
}

// Validate checks the flags.
func (o *statusOptions) Validate() error {
	switch outputFormat(o.output) {
	case outputTable, outputWide, outputJSON, outputYAML:
	default:
		return fmt.Errorf("--output %q is not supported: use wide, json or yaml", o.output)
	}
	if o.failOn != "" && !slices.Contains(failOnLevels, mpv1alpha1.MapState(o.failOn)) {
		return fmt.Errorf("--fail-on %q is not a level: use unknown, degraded, missing or failed", o.failOn)
	}
	return o.cluster.validate()
}

// Run fetches, rolls up and prints.
func (o *statusOptions) Run(ctx context.Context) error {
	c, err := o.cluster.reader()
	if err != nil {
		return err
	}
	in, err := rollup.Gather(ctx, c, rollup.GatherOptions{Namespace: o.cluster.namespace, ListPVs: true})
	if err != nil {
		return err
	}
	now := o.cluster.now()
	report := BuildStatus(in, rollup.Decide(in, now, o.cluster.refreshInterval), now)
	if err := printStatus(o.Out, report, outputFormat(o.output), o.allNodes, detectTerminal(o.Out)); err != nil {
		return err
	}
	return FailOn(report, mpv1alpha1.MapState(o.failOn))
}

// FailOn returns an ExitError with ExitCodeThreshold when some LUN's health is level or worse
// (rules.Severity), naming them; nil when none is, or level is empty.
func FailOn(r *StatusReport, level mpv1alpha1.MapState) error {
	if level == "" {
		return nil
	}
	var bad []string
	for i := range r.LUNs {
		if l := &r.LUNs[i]; l.Health.State != "" && rules.Severity(l.Health.State) >= rules.Severity(level) {
			bad = append(bad, fmt.Sprintf("%s (%s %s)", l.label(), l.Health.State, l.Health.Nodes))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	listed := bad[:min(len(bad), maxListed)]
	msg := strings.Join(listed, ", ")
	if more := len(bad) - len(listed); more > 0 {
		msg += fmt.Sprintf(" and %d more", more)
	}
	return &ExitError{Code: ExitCodeThreshold, Err: fmt.Errorf("%d %s %s or worse: %s", len(bad), plural(len(bad), "LUN is", "LUNs are"), level, msg)}
}

// StatusReport is what `status` shows: the LUN x node matrix and the apply errors.
type StatusReport struct {
	// Time is when the reports were judged.
	Time metav1.Time `json:"time"`
	// ConfigMissing is true when the MultipathConfig `cluster` does not exist (or is being
	// deleted): no node is managed.
	ConfigMissing bool `json:"configMissing,omitempty"`
	// SelectorError is why the MultipathConfig's nodeSelector is unusable (every node then counts
	// as managed).
	SelectorError string `json:"selectorError,omitempty"`
	// Nodes are the managed nodes, sorted by name.
	Nodes []NodeReport `json:"nodes"`
	// LUNs are the allow-listed LUNs, worst first, then by name.
	LUNs []LUNReport `json:"luns"`
	// NodeErrors are the nodes whose last apply failed, newest first (at most 32).
	NodeErrors []mpv1alpha1.NodeError `json:"nodeErrors,omitempty"`
	// NodeErrorCount counts all of them.
	NodeErrorCount int `json:"nodeErrorCount,omitempty"`
	// HostConflicts are the facts of nodes' own multipath configuration that contradict the
	// desired state, as their agents report them, by node name.
	HostConflicts []NodeHostConflicts `json:"hostConflicts,omitempty"`
	// Rollout is the rollout of the rendered config as the operator last wrote it in the
	// MultipathConfig's status; nil without a MultipathConfig.
	Rollout *RolloutReport `json:"rollout,omitempty"`
}

// Rollout states, as `status` names them.
const (
	RolloutComplete    = "complete"
	RolloutProgressing = "rolling out"
	RolloutPaused      = "paused"
	RolloutStopped     = "stopped"
	RolloutPending     = "waiting for render"
	RolloutTearDown    = "tearing down"
	RolloutUnknown     = "unknown"
)

// RolloutReport is the rollout state of the MultipathConfig, read from its conditions.
type RolloutReport struct {
	// State is one of complete, rolling out, paused, stopped, waiting for render, tearing down,
	// unknown (the operator has written no status).
	State string `json:"state"`
	// Reason and Message are those of the condition that decided State.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Config is the rendered config the nodes are moving to.
	Config string `json:"config,omitempty"`
	// Nodes counts the selected nodes by progress (status.nodes).
	Nodes mpv1alpha1.NodeCounts `json:"nodes,omitzero"`
	// TeardownHeld is why nodes being torn down are held (in-use LUNs); empty when none is.
	TeardownHeld string `json:"teardownHeld,omitempty"`
	// Lagging is true when the operator has not acted on the MultipathConfig's latest
	// generation yet (status.observedGeneration is older).
	Lagging bool `json:"lagging,omitempty"`
}

// BuildRollout reads the rollout state from cfg's status, as the rollout controller writes it:
// Stalled (stopped), Reconciling (paused, rolling out, waiting for render, tearing down),
// Ready (complete), and TeardownHeld. It is nil for a nil cfg.
func BuildRollout(cfg *mpv1alpha1.MultipathConfig) *RolloutReport {
	if cfg == nil {
		return nil
	}
	r := &RolloutReport{State: RolloutUnknown, Nodes: cfg.Status.Nodes, Lagging: cfg.Status.ObservedGeneration < cfg.Generation}
	if rc := cfg.Status.RenderedConfig; rc != nil {
		r.Config = rc.Name
	}
	from := func(state string, c *metav1.Condition) {
		r.State, r.Reason, r.Message = state, c.Reason, c.Message
	}
	stalled := conditions.Get(cfg, mpv1alpha1.StalledCondition)
	reconciling := conditions.Get(cfg, mpv1alpha1.ReconcilingCondition)
	ready := conditions.Get(cfg, mpv1alpha1.ReadyCondition)
	switch {
	case stalled != nil && stalled.Status == metav1.ConditionTrue:
		from(RolloutStopped, stalled)
	case reconciling != nil && reconciling.Status == metav1.ConditionTrue:
		switch reconciling.Reason {
		case mpv1alpha1.RolloutPausedReason:
			from(RolloutPaused, reconciling)
		case mpv1alpha1.RenderPendingReason:
			from(RolloutPending, reconciling)
		case mpv1alpha1.TeardownInProgressReason:
			from(RolloutTearDown, reconciling)
		default:
			from(RolloutProgressing, reconciling)
		}
	case ready != nil && ready.Status == metav1.ConditionTrue:
		from(RolloutComplete, ready)
	case ready != nil:
		from(RolloutUnknown, ready)
	}
	if h := conditions.Get(cfg, mpv1alpha1.TeardownHeldCondition); h != nil && h.Status == metav1.ConditionTrue {
		r.TeardownHeld = h.Message
	}
	return r
}

// NodeHostConflicts are one node's host configuration conflicts.
type NodeHostConflicts struct {
	Node      string                    `json:"node"`
	Conflicts []mpv1alpha1.HostConflict `json:"conflicts"`
}

// NodeReport is whether a managed node's report is trusted.
type NodeReport struct {
	Name    string `json:"name"`
	Trusted bool   `json:"trusted"`
	// Reason is why the report is not trusted.
	Reason string `json:"reason,omitempty"`
	// LastReported are, for a node not trusted, the managed LUNs its last report had not optimal:
	// the last known failures, kept beside unknown.
	LastReported []LastReported `json:"lastReported,omitempty"`
}

// LastReported is one managed LUN's map as an untrusted node last reported it.
type LastReported struct {
	// LUN is the LUN's alias, else its WWID.
	LUN         string              `json:"lun"`
	State       mpv1alpha1.MapState `json:"state"`
	ActivePaths int32               `json:"activePaths"`
	TotalPaths  int32               `json:"totalPaths"`
}

// LUNReport is one row of the matrix.
type LUNReport struct {
	// Name is the MultipathWWID's name.
	Name  string `json:"name"`
	WWID  string `json:"wwid"`
	Alias string `json:"alias,omitempty"`
	// Consumers counts the PersistentVolumes that use the LUN.
	Consumers int32 `json:"consumers"`
	// Health is the roll-up worked out now, by the operator's rules.
	Health mpv1alpha1.LUNHealth `json:"health"`
	// Recorded is the roll-up the operator last wrote (status.health).
	Recorded mpv1alpha1.LUNHealth `json:"recorded,omitzero"`
	// ExpectError is why the expected nodes could not be fully worked out.
	ExpectError string `json:"expectError,omitempty"`
	// Cells are the LUN's state on each expected node, and on each managed node that carries the
	// map without being expected, sorted by node.
	Cells []Cell `json:"cells"`
}

// label is what the matrix calls the LUN: its alias, else its WWID.
func (l *LUNReport) label() string { return lun.MapName(l.WWID, l.Alias) }

// Cell is the state of one LUN on one node.
type Cell struct {
	Node        string              `json:"node"`
	State       mpv1alpha1.MapState `json:"state"`
	ActivePaths int32               `json:"activePaths"`
	TotalPaths  int32               `json:"totalPaths"`
	// Expected is false for a node that carries the map without being expected to; its state
	// never counts.
	Expected bool `json:"expected"`
}

// BuildStatus lays the roll-up out as a matrix. It is pure: each cell is rules.NodeState over the
// node's maps of that WWID, the same rule the operator's roll-up applies.
func BuildStatus(in *rollup.Inputs, out *rollup.Outcome, now time.Time) *StatusReport {
	r := &StatusReport{Time: metav1.NewTime(now), NodeErrors: out.NodeErrors, NodeErrorCount: out.ApplyFailing, HostConflicts: hostConflicts(in.States),
		Rollout: BuildRollout(in.Config)}
	r.ConfigMissing = in.Config == nil || !in.Config.DeletionTimestamp.IsZero()
	if out.SelectorErr != nil {
		r.SelectorError = out.SelectorErr.Error()
	}
	trusted := make([]bool, len(out.Nodes))
	index := make(map[string]int, len(out.Nodes))
	for j := range out.Nodes {
		ok, reason := rules.NodeTrusted(&out.Nodes[j], now)
		trusted[j] = ok
		r.Nodes = append(r.Nodes, NodeReport{Name: out.Nodes[j].Name, Trusted: ok, Reason: reason})
		index[out.Nodes[j].Name] = j
	}

	// One pass over every reported map, as the roll-up does: which node carries which LUN, and
	// where in its maps (WWIDs compare case-insensitively, as the rules do).
	lunsOf := make(map[string][]int, len(in.WWIDs))
	for l := range in.WWIDs {
		k := strings.ToLower(in.WWIDs[l].Spec.WWID)
		lunsOf[k] = append(lunsOf[k], l)
	}
	// What an untrusted node last said of the managed LUNs it had not optimal.
	for j := range out.Nodes {
		if trusted[j] {
			continue
		}
		for _, m := range out.Nodes[j].Maps {
			ls := lunsOf[strings.ToLower(m.WWID)]
			if len(ls) == 0 || m.State == mpv1alpha1.MapOptimal {
				continue
			}
			label := in.WWIDs[ls[0]].Spec.Alias
			if label == "" {
				label = in.WWIDs[ls[0]].Spec.WWID
			}
			r.Nodes[j].LastReported = append(r.Nodes[j].LastReported, LastReported{LUN: label, State: m.State, ActivePaths: m.ActivePaths, TotalPaths: m.TotalPaths})
		}
	}
	type carrier struct{ node, first, count int32 }
	carriers := make([][]carrier, len(in.WWIDs))
	for j := range out.Nodes {
		for mi, m := range out.Nodes[j].Maps {
			for _, l := range lunsOf[strings.ToLower(m.WWID)] {
				if c := carriers[l]; len(c) > 0 && c[len(c)-1].node == int32(j) {
					c[len(c)-1].count++ // the same WWID twice: the rules make it unknown
					continue
				}
				carriers[l] = append(carriers[l], carrier{node: int32(j), first: int32(mi), count: 1})
			}
		}
	}

	// Expected-node slices are shared by the LUNs expected everywhere: resolve each once.
	type sliceKey struct {
		first *string
		n     int
	}
	resolved := map[sliceKey][]int{}
	resolve := func(names []string) []int {
		if len(names) == 0 {
			return nil
		}
		key := sliceKey{&names[0], len(names)}
		if idx, ok := resolved[key]; ok {
			return idx
		}
		idx := make([]int, len(names))
		for i, name := range names {
			if j, ok := index[name]; ok {
				idx[i] = j
			} else {
				idx[i] = -1
			}
		}
		resolved[key] = idx
		return idx
	}

	// For the LUN at hand (stamp l+1): whether node j carries it (carries[j] == stamp), and its
	// maps there; whether it is expected there (expectedBy[j] == stamp).
	carries := make([]int, len(out.Nodes))
	carried := make([]carrier, len(out.Nodes))
	expectedBy := make([]int, len(out.Nodes))
	stamp := 0
	cell := func(j int, wwid string, expected bool) Cell {
		one := out.Nodes[j]
		switch c := carried[j]; {
		case carries[j] != stamp:
			one.Maps = nil
		default:
			one.Maps = one.Maps[c.first : c.first+1 : c.first+1]
			if c.count > 1 {
				one.Maps = slices.DeleteFunc(slices.Clone(out.Nodes[j].Maps), func(m mpv1alpha1.MapStatus) bool { return !strings.EqualFold(m.WWID, wwid) })
			}
		}
		h := rules.NodeState(&one, wwid, now)
		return Cell{Node: h.Node, State: h.State, ActivePaths: h.ActivePaths, TotalPaths: h.TotalPaths, Expected: expected}
	}
	for l := range in.WWIDs {
		w := &in.WWIDs[l]
		stamp = l + 1
		for _, c := range carriers[l] {
			carries[c.node], carried[c.node] = stamp, c
		}
		lr := LUNReport{Name: w.Name, WWID: w.Spec.WWID, Alias: w.Spec.Alias, Consumers: w.Status.ConsumerCount,
			Health: out.Health[l], Recorded: w.Status.Health}
		if err := out.ExpectErrors[w.Name]; err != nil {
			lr.ExpectError = err.Error()
		}
		names := out.LUNs[l].ExpectedNodes
		lr.Cells = make([]Cell, 0, len(names))
		var unnamed map[string]bool
		for i, j := range resolve(names) {
			switch {
			case j >= 0 && expectedBy[j] != stamp:
				expectedBy[j] = stamp
				lr.Cells = append(lr.Cells, cell(j, w.Spec.WWID, true))
			case j < 0 && !unnamed[names[i]]:
				if unnamed == nil {
					unnamed = map[string]bool{}
				}
				unnamed[names[i]] = true
				lr.Cells = append(lr.Cells, Cell{Node: names[i], State: mpv1alpha1.MapUnknown, Expected: true})
			}
		}
		for _, c := range carriers[l] {
			if expectedBy[c.node] != stamp && trusted[c.node] {
				lr.Cells = append(lr.Cells, cell(int(c.node), w.Spec.WWID, false))
			}
		}
		if !slices.IsSortedFunc(lr.Cells, compareCells) {
			slices.SortFunc(lr.Cells, compareCells)
		}
		r.LUNs = append(r.LUNs, lr)
	}
	slices.SortStableFunc(r.LUNs, func(a, b LUNReport) int {
		if sa, sb := rules.Severity(a.Health.State), rules.Severity(b.Health.State); sa != sb {
			return sb - sa
		}
		return strings.Compare(a.label(), b.label())
	})
	return r
}

func compareCells(a, b Cell) int { return strings.Compare(a.Node, b.Node) }

// hostConflicts collects the nodes' reported host conflicts, by node name.
func hostConflicts(states []mpv1alpha1.MultipathNodeState) []NodeHostConflicts {
	var out []NodeHostConflicts
	for i := range states {
		if hc := states[i].Status.HostConflicts; len(hc) > 0 {
			out = append(out, NodeHostConflicts{Node: states[i].Name, Conflicts: hc})
		}
	}
	slices.SortFunc(out, func(a, b NodeHostConflicts) int { return strings.Compare(a.Node, b.Node) })
	return out
}
