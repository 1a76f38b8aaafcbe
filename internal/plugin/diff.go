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
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// Exit codes of `diff`, as diff(1)'s.
const (
	DiffExitNoChanges = 0
	DiffExitChanges   = 1
	DiffExitTrouble   = 2
)

// diffOptions are the flags of `diff`.
type diffOptions struct {
	IOStreams
	cluster  *clusterFlags
	files    []string
	versions []string
	// newReader returns the cluster client; the kubeconfig flags' outside tests.
	newReader func() (client.Reader, error)
}

func newDiffCommand(_ context.Context, streams IOStreams) *cobra.Command {
	o := &diffOptions{IOStreams: streams, cluster: newClusterFlags()}
	o.newReader = o.cluster.reader
	return diffCommand(o)
}

// trouble makes err exit with DiffExitTrouble.
func trouble(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: DiffExitTrouble, Err: err}
}

func diffCommand(o *diffOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff [-f PATH...]",
		Short: "Show per node what a change would do: files, WWIDs added and removed, maps renamed, LUNs held",
		Long: `diff compares, for every node that has a MultipathNodeState, the config the node runs now
(status.appliedConfig) with the config it would get, and prints per group of nodes with the same
change: a unified diff of each managed file, the WWIDs added and removed, the maps renamed
(WWID: old name -> new name), and the LUNs held: a removed or renamed LUN that a
PersistentVolume uses or that some node holds open, which the operator will not remove or rename
while it is in use.

With -f, the config it would get is rendered from the manifests as "render" renders them, with
the same validation (an invalid manifest is printed as render prints it, and nothing is
compared). The manifests are the whole desired state, as a GitOps tool that prunes applies them:
a MultipathWWID not in them is removed. When they hold no MultipathConfig, the cluster's is used.
A node the MultipathConfig's nodeSelector does not select is compared with the empty config (it
would be torn down).

Without -f, the config it would get is the MultipathConfig's status.renderedConfig: what the
rollout hands out, so this shows what unpausing a paused rollout would do on each node.

The exit code is diff(1)'s: 0 when no node would change, 1 when some would, 2 on trouble
(invalid manifests, the cluster cannot be read).`,
		Example: `  # What merging this branch would do on each node
  kubectl multipath diff -f clusters/prod/multipath/

  # What unpausing the rollout would do
  kubectl multipath diff

  # From another tool
  kustomize build clusters/prod | kubectl multipath diff -f -`,
		Args: func(cmd *cobra.Command, args []string) error { return trouble(cobra.NoArgs(cmd, args)) },
		PreRunE: func(*cobra.Command, []string) error {
			return trouble(o.Validate())
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
		// The exit code is the answer: no usage, and the caller prints the errors.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return trouble(err) })
	o.cluster.addFlags(cmd.Flags())
	cmd.Flags().StringSliceVarP(&o.files, "filename", "f", nil, "Files or folders of manifests, or - for standard input (repeatable): the desired state to compare with.")
	cmd.Flags().StringSliceVar(&o.versions, "multipath-tools-version", nil,
		"With -f: multipath-tools versions the nodes run, as render takes them.")
	return cmd
}

// Validate checks the flags.
func (o *diffOptions) Validate() error {
	if len(o.files) > 0 {
		r := renderOptions{Files: o.files, Versions: o.versions}
		if err := r.Validate(); err != nil {
			return err
		}
	} else if len(o.versions) > 0 {
		return errors.New("--multipath-tools-version needs -f")
	}
	return o.cluster.validate()
}

// Run reads, compares and prints; the exit code says whether anything would change.
func (o *diffOptions) Run(ctx context.Context) error {
	c, err := o.newReader()
	if err != nil {
		return trouble(err)
	}
	in, err := gatherDiff(ctx, c, o.cluster.namespace)
	if err != nil {
		return trouble(err)
	}
	var target *multipathconf.Rendered
	var selector *metav1.LabelSelector
	source := ""
	if len(o.files) > 0 {
		objs, loadErrs := load(o.files, o.In)
		if !slices.ContainsFunc(objs, func(m manifest) bool { return m.config != nil }) && in.config != nil {
			live := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: in.config.Name}, Spec: in.config.Spec}
			objs = append(objs, manifest{source: "(cluster)", kind: "MultipathConfig", name: live.Name, config: live})
		}
		res, errs := Check(objs, o.versions...)
		if errs = append(loadErrs, errs...); len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintln(o.ErrOut, e)
			}
			fmt.Fprintf(o.ErrOut, "%s; nothing compared\n", count(len(errs), "error", "errors"))
			return &ExitError{Code: DiffExitTrouble, Err: ErrInvalid}
		}
		target, source = res.rendered, "the manifests"
		if res.config != nil {
			selector = res.config.Spec.NodeSelector
		}
	} else {
		if in.config == nil || in.config.Status.RenderedConfig == nil {
			return trouble(errors.New("the MultipathConfig cluster has no rendered config yet: nothing to roll out (diff -f PATH compares manifests)"))
		}
		ref := in.config.Status.RenderedConfig.RenderedConfigRef
		if target, err = in.configOf(ctx, c, &ref); err != nil {
			return trouble(err)
		}
		source = ref.Name
		selector = in.config.Spec.NodeSelector
	}
	report, err := BuildDiff(ctx, c, in, target, source, selector)
	if err != nil {
		return trouble(err)
	}
	if len(o.files) == 0 {
		report.Paused = in.config.Spec.Rollout.Paused
	}
	fmt.Fprint(o.Out, FormatDiff(report))
	if report.Changed > 0 {
		return &ExitError{Code: DiffExitChanges, Err: fmt.Errorf("%d %s would change", report.Changed, plural(report.Changed, "node", "nodes")), Quiet: true}
	}
	return nil
}

// diffInputs are the live objects diff reads.
type diffInputs struct {
	namespace string
	config    *mpv1alpha1.MultipathConfig
	states    []mpv1alpha1.MultipathNodeState
	wwids     []mpv1alpha1.MultipathWWID
	// configs caches the rendered configs read, by hash.
	configs map[string]*multipathconf.Rendered
}

func gatherDiff(ctx context.Context, c client.Reader, namespace string) (*diffInputs, error) {
	in := &diffInputs{namespace: namespace, configs: map[string]*multipathconf.Rendered{}}
	cfg := &mpv1alpha1.MultipathConfig{}
	switch err := c.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading MultipathConfig %s: %w", mpv1alpha1.ClusterConfigName, err)
	default:
		in.config = cfg
	}
	states := &mpv1alpha1.MultipathNodeStateList{}
	if err := c.List(ctx, states); err != nil {
		return nil, fmt.Errorf("listing MultipathNodeStates: %w", err)
	}
	in.states = states.Items
	slices.SortFunc(in.states, func(a, b mpv1alpha1.MultipathNodeState) int { return strings.Compare(a.Name, b.Name) })
	wwids := &mpv1alpha1.MultipathWWIDList{}
	if err := c.List(ctx, wwids); err != nil {
		return nil, fmt.Errorf("listing MultipathWWIDs: %w", err)
	}
	in.wwids = wwids.Items
	return in, nil
}

// configOf reads and verifies the rendered config ref names; nil ref is the empty config.
func (in *diffInputs) configOf(ctx context.Context, c client.Reader, ref *mpv1alpha1.RenderedConfigRef) (*multipathconf.Rendered, error) {
	if ref == nil {
		return emptyConfig(), nil
	}
	if r, ok := in.configs[ref.Hash]; ok {
		return r, nil
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: in.namespace, Name: ref.Name}, cm); err != nil {
		return nil, fmt.Errorf("reading rendered config %s/%s: %w", in.namespace, ref.Name, err)
	}
	r, err := multipathconf.Unpack(cm.Data, cm.BinaryData, ref.Hash)
	if err != nil {
		return nil, fmt.Errorf("rendered config %s/%s: %w", in.namespace, ref.Name, err)
	}
	in.configs[ref.Hash] = r
	return r, nil
}

func emptyConfig() *multipathconf.Rendered {
	r, err := multipathconf.Render(nil, nil)
	if err != nil {
		panic(fmt.Sprintf("rendering the empty config cannot fail: %v", err))
	}
	return r
}

// DiffReport is what `diff` shows.
type DiffReport struct {
	// Source names the desired config: "the manifests" or the rendered config's name.
	Source string
	// Groups are the nodes grouped by the config they run and the one they would get, the
	// changing ones first, then by first node.
	Groups []DiffGroup
	// Changed counts the nodes that would change; Nodes all the nodes compared.
	Changed, Nodes int
	// Paused: the rollout of the rendered config (Source, without -f) is paused.
	Paused bool
}

// DiffGroup is the change of nodes that run the same config and would get the same one.
type DiffGroup struct {
	Nodes []string
	// From is the config they run ("" for none applied yet), To the one they would get.
	From, To string
	// Deselected: the nodeSelector does not select them; they would be torn down.
	Deselected bool
	Files      []FileDiff
	Added      []string
	Removed    []string
	Renamed    []Rename
	Held       []Held
}

// Changed reports whether the group's nodes would change.
func (g *DiffGroup) Changed() bool { return len(g.Files) > 0 }

// FileDiff is one managed file's unified diff.
type FileDiff struct {
	Name string
	Diff string
}

// Rename is a map whose name changes.
type Rename struct {
	WWID     string
	Old, New string
}

// Held is a removed or renamed LUN in use.
type Held struct {
	WWID string
	// Name is its map's name now.
	Name string
	// Renamed: renamed rather than removed.
	Renamed bool
	// PVs are the PersistentVolumes that use it.
	PVs []string
	// OpenOn are the nodes that hold its map open, with what holds it.
	OpenOn []mpv1alpha1.NodeUse
}

// BuildDiff compares each node's applied config with target (the empty config for a node
// selector does not select).
func BuildDiff(ctx context.Context, c client.Reader, in *diffInputs, target *multipathconf.Rendered, source string, selector *metav1.LabelSelector) (*DiffReport, error) {
	selected := func(string) bool { return true }
	if selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			return nil, fmt.Errorf("the MultipathConfig's nodeSelector: %w", err)
		}
		nodes := &corev1.NodeList{}
		if err := c.List(ctx, nodes); err != nil {
			return nil, fmt.Errorf("listing Nodes for the nodeSelector: %w", err)
		}
		match := map[string]bool{}
		for i := range nodes.Items {
			match[nodes.Items[i].Name] = sel.Matches(labels.Set(nodes.Items[i].Labels))
		}
		selected = func(n string) bool { return match[n] }
	}
	empty := emptyConfig()
	wwidKeys := map[string]bool{}
	for i := range in.wwids {
		wwidKeys[consumers.Key(in.wwids[i].Spec.WWID)] = true
	}
	for _, s := range in.states {
		for _, m := range s.Status.Maps {
			wwidKeys[consumers.Key(m.WWID)] = true
		}
	}
	openOn := consumers.OpenOn(in.states, wwidKeys)
	pvs := map[string][]string{}
	for i := range in.wwids {
		w := &in.wwids[i]
		pvs[consumers.Key(w.Spec.WWID)] = append(pvs[consumers.Key(w.Spec.WWID)], w.Status.Consumers...)
	}

	report := &DiffReport{Source: source, Nodes: len(in.states)}
	byKey := map[string]int{}
	for i := range in.states {
		s := &in.states[i]
		from, err := in.configOf(ctx, c, s.Status.AppliedConfig)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", s.Name, err)
		}
		to, deselected := target, !selected(s.Name)
		if deselected {
			to = empty
		}
		fromName := ""
		if s.Status.AppliedConfig != nil {
			fromName = s.Status.AppliedConfig.Name
		}
		key := from.Hash + "/" + to.Hash + fmt.Sprint(deselected)
		if g, ok := byKey[key]; ok {
			report.Groups[g].Nodes = append(report.Groups[g].Nodes, s.Name)
			continue
		}
		byKey[key] = len(report.Groups)
		g := compareConfigs(from, to, openOn, pvs)
		g.Nodes, g.From, g.Deselected = []string{s.Name}, fromName, deselected
		g.To = to.ConfigMapName()
		if to == target && source == "the manifests" {
			g.To = source
		}
		report.Groups = append(report.Groups, g)
	}
	for i := range report.Groups {
		if report.Groups[i].Changed() {
			report.Changed += len(report.Groups[i].Nodes)
		}
	}
	slices.SortStableFunc(report.Groups, func(a, b DiffGroup) int {
		if a.Changed() != b.Changed() {
			if a.Changed() {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Nodes[0], b.Nodes[0])
	})
	return report, nil
}

// compareConfigs is the change from one rendered config to another.
func compareConfigs(from, to *multipathconf.Rendered, openOn map[string][]mpv1alpha1.NodeUse, pvs map[string][]string) DiffGroup {
	var g DiffGroup
	if from.Hash == to.Hash {
		return g
	}
	var names []string
	for _, f := range from.Files {
		names = append(names, f.Name)
	}
	for _, f := range to.Files {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		a, inA := from.File(name)
		b, inB := to.File(name)
		if inA && inB && a == b {
			continue
		}
		fromFile, toFile := "a/"+name, "b/"+name
		if !inA {
			fromFile = "/dev/null"
		}
		if !inB {
			toFile = "/dev/null"
		}
		text, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: lines(a), B: lines(b), FromFile: fromFile, ToFile: toFile, Context: 3})
		g.Files = append(g.Files, FileDiff{Name: name, Diff: text})
	}
	fromSet := map[string]bool{}
	for _, w := range from.WWIDs {
		fromSet[w] = true
	}
	toSet := map[string]bool{}
	for _, w := range to.WWIDs {
		toSet[w] = true
		if !fromSet[w] {
			g.Added = append(g.Added, w)
		}
	}
	held := func(wwid, name string, renamed bool) {
		k := consumers.Key(wwid)
		if len(pvs[k]) == 0 && len(openOn[k]) == 0 {
			return
		}
		g.Held = append(g.Held, Held{WWID: wwid, Name: name, Renamed: renamed, PVs: slices.Clone(pvs[k]), OpenOn: openOn[k]})
	}
	for _, w := range from.WWIDs {
		name := mapNameOf(from, w)
		switch {
		case !toSet[w]:
			g.Removed = append(g.Removed, w)
			held(w, name, false)
		case name != mapNameOf(to, w):
			g.Renamed = append(g.Renamed, Rename{WWID: w, Old: name, New: mapNameOf(to, w)})
			held(w, name, true)
		}
	}
	return g
}

// mapNameOf is the name r gives wwid's map: its alias, else the WWID.
func mapNameOf(r *multipathconf.Rendered, wwid string) string {
	if n := r.Names[wwid]; n != "" {
		return n
	}
	return wwid
}

// lines splits s into lines that keep their newline; a last line without one gets one, so the
// diff reads as diff(1)'s does.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		return out[:len(out)-1]
	}
	out[len(out)-1] += "\n"
	return out
}

// FormatDiff prints the report: per group of nodes, the file diffs, then the WWIDs added and
// removed, the maps renamed and the LUNs held; the unchanged nodes last, then a summary.
func FormatDiff(r *DiffReport) string {
	var b strings.Builder
	if r.Nodes == 0 {
		b.WriteString("No node has a MultipathNodeState: no agent runs, nothing to compare.\n")
		return b.String()
	}
	if r.Paused {
		fmt.Fprintf(&b, "The rollout is paused (spec.rollout.paused): unpausing hands %s to the nodes that would change.\n\n", r.Source)
	}
	for i := range r.Groups {
		g := &r.Groups[i]
		from := g.From
		if from == "" {
			from = "nothing applied"
		}
		nodes := strings.Join(g.Nodes, ", ")
		if !g.Changed() {
			fmt.Fprintf(&b, "%s %s: no changes (%s)\n", plural(len(g.Nodes), "Node", "Nodes"), nodes, from)
			continue
		}
		to := g.To
		if g.Deselected {
			to += ", the empty config: not selected by the nodeSelector, torn down"
		}
		fmt.Fprintf(&b, "%s %s: %s -> %s\n", plural(len(g.Nodes), "Node", "Nodes"), nodes, from, to)
		for _, f := range g.Files {
			b.WriteString(f.Diff)
		}
		if len(g.Added) > 0 {
			fmt.Fprintf(&b, "WWIDs added (%d): %s\n", len(g.Added), strings.Join(g.Added, " "))
		}
		if len(g.Removed) > 0 {
			fmt.Fprintf(&b, "WWIDs removed (%d): %s\n", len(g.Removed), strings.Join(g.Removed, " "))
		}
		if len(g.Renamed) > 0 {
			fmt.Fprintf(&b, "Maps renamed (%d):\n", len(g.Renamed))
			for _, rn := range g.Renamed {
				fmt.Fprintf(&b, "  %s: %s -> %s\n", rn.WWID, rn.Old, rn.New)
			}
		}
		if len(g.Held) > 0 {
			fmt.Fprintf(&b, "Held (%d):\n", len(g.Held))
			for _, h := range g.Held {
				b.WriteString("  " + heldText(&h) + "\n")
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%d of %d %s would change.\n", r.Changed, r.Nodes, plural(r.Nodes, "node", "nodes"))
	return b.String()
}

// heldText says why the operator keeps a removed or renamed LUN.
func heldText(h *Held) string {
	verb := "remove"
	if h.Renamed {
		verb = "rename"
	}
	name := h.WWID
	if h.Name != h.WWID {
		name += " (" + h.Name + ")"
	}
	var why []string
	if len(h.PVs) > 0 {
		why = append(why, fmt.Sprintf("%s %s %s", plural(len(h.PVs), "PersistentVolume", "PersistentVolumes"),
			strings.Join(h.PVs, ", "), plural(len(h.PVs), "uses it", "use it")))
	}
	for _, u := range h.OpenOn {
		m := mpv1alpha1.MapStatus{Users: u.Users}
		why = append(why, fmt.Sprintf("it is open on %s (%s)", u.Node, usersText(&m)))
	}
	return fmt.Sprintf("%s: the operator will not %s it while %s", name, verb, strings.Join(why, " and "))
}
