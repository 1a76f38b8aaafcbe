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

package rollup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
)

const (
	// MaxNodeErrors is MultipathConfig status.nodeErrors' MaxItems.
	MaxNodeErrors = 32
	// maxNodeErrorMessage is NodeError.message's MaxLength.
	maxNodeErrorMessage = 1024
)

// Inputs is everything one roll-up reads. Gather fills it from a cache or from the API server;
// tests build it by hand. Nodes, States and Leases may be shared with a cache: never modify them.
type Inputs struct {
	// Config is the MultipathConfig `cluster`; nil when it does not exist.
	Config *mpv1alpha1.MultipathConfig
	// Nodes are every Node.
	Nodes []corev1.Node
	// States are every MultipathNodeState.
	States []mpv1alpha1.MultipathNodeState
	// Leases are the Leases of the operator namespace; only those named rules.LeaseName(node) count.
	Leases []coordinationv1.Lease
	// WWIDs are every MultipathWWID.
	WWIDs []mpv1alpha1.MultipathWWID
	// PVs are the PersistentVolumes that some MultipathWWID's status.consumers names, by name.
	// Only spec.nodeAffinity is read.
	PVs map[string]*corev1.PersistentVolume
}

// GatherOptions tune Gather.
type GatherOptions struct {
	// Namespace is where the agents' Leases are (the operator namespace).
	Namespace string
	// ListPVs lists every PersistentVolume once instead of getting each consumer by name: better
	// through a direct client (one request), worse through a cache (a copy of every volume).
	ListPVs bool
	// PV, when set, looks a consumer volume up by name in place of a Get: a cache's own object,
	// never modified (nil and no error when there is none). A Get from a cache copies the
	// volume: 10,000 consumers were 7.5 MiB of every health pass.
	PV func(name string) (*corev1.PersistentVolume, error)
}

// Gather reads the inputs of a roll-up through c.
func Gather(ctx context.Context, c client.Reader, o GatherOptions) (*Inputs, error) {
	in := &Inputs{PVs: map[string]*corev1.PersistentVolume{}}
	cfg := &mpv1alpha1.MultipathConfig{}
	switch err := c.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("failed to get MultipathConfig %s: %w", mpv1alpha1.ClusterConfigName, err)
	default:
		in.Config = cfg
	}
	// Nodes, MultipathNodeStates and Leases are only read: from a cache they are not copied (a
	// thousand nodes reporting a thousand maps each are a million maps per pass).
	nodes := &corev1.NodeList{}
	if err := c.List(ctx, nodes, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("failed to list Nodes: %w", err)
	}
	in.Nodes = nodes.Items
	states := &mpv1alpha1.MultipathNodeStateList{}
	if err := c.List(ctx, states, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("failed to list MultipathNodeStates: %w", err)
	}
	in.States = states.Items
	leases := &coordinationv1.LeaseList{}
	if err := c.List(ctx, leases, client.InNamespace(o.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("failed to list Leases in namespace %s: %w", o.Namespace, err)
	}
	in.Leases = leases.Items
	// Like the lists above, the cache's own objects (a cache reader honours this, the API
	// client ignores it): 10,000 deep copies per pass were most of the pass's garbage. Nothing
	// here changes them; the controller copies a LUN before writing it.
	wwids := &mpv1alpha1.MultipathWWIDList{}
	if err := c.List(ctx, wwids, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("failed to list MultipathWWIDs: %w", err)
	}
	in.WWIDs = wwids.Items

	wanted := map[string]bool{}
	for i := range in.WWIDs {
		for _, name := range in.WWIDs[i].Status.Consumers {
			wanted[name] = true
		}
	}
	if len(wanted) == 0 {
		return in, nil
	}
	if o.ListPVs {
		pvs := &corev1.PersistentVolumeList{}
		if err := c.List(ctx, pvs, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("failed to list PersistentVolumes: %w", err)
		}
		for i := range pvs.Items {
			if wanted[pvs.Items[i].Name] {
				in.PVs[pvs.Items[i].Name] = &pvs.Items[i]
			}
		}
		return in, nil
	}
	if o.PV != nil {
		for name := range wanted {
			pv, err := o.PV(name)
			if err != nil {
				return nil, fmt.Errorf("failed to get PersistentVolume %s: %w", name, err)
			}
			if pv != nil {
				in.PVs[name] = pv
			}
		}
		return in, nil
	}
	for name := range wanted {
		pv := &corev1.PersistentVolume{}
		switch err := c.Get(ctx, client.ObjectKey{Name: name}, pv); {
		case apierrors.IsNotFound(err):
			// Gone since the render controller listed it: no longer a consumer.
		case err != nil:
			return nil, fmt.Errorf("failed to get PersistentVolume %s: %w", name, err)
		default:
			in.PVs[name] = pv
		}
	}
	return in, nil
}

// Outcome is what Decide worked out.
type Outcome struct {
	// Nodes are the managed nodes as the rules see them, sorted by name.
	Nodes []rules.Node
	// LUNs are the LUNs as the rules see them, index-aligned with Inputs.WWIDs.
	LUNs []rules.LUN
	// Health is each LUN's roll-up (MultipathWWID status.health), index-aligned with Inputs.WWIDs.
	Health []mpv1alpha1.LUNHealth
	// LUNCounts counts the LUNs by rolled-up state (MultipathConfig status.lunHealth).
	LUNCounts mpv1alpha1.HealthCounts
	// NodeErrors are the nodes whose last apply failed, newest first, at most MaxNodeErrors.
	NodeErrors []mpv1alpha1.NodeError
	// HostConflictErrors are the nodes whose own multipath configuration contradicts a managed
	// LUN, newest first (HostConflictErrors). The controller writes them into status.nodeErrors
	// after NodeErrors (ConfigNodeErrors); kubectl-multipath lists them in a section of its own.
	HostConflictErrors []mpv1alpha1.NodeError
	// ApplyFailing counts every node whose last apply failed; NodeErrors is bounded, this is not.
	ApplyFailing int
	// HostConflicting counts every node with a host config conflict on a managed LUN.
	HostConflicting int
	// Untrusted counts the managed nodes whose report is not trusted (rules.NodeTrusted): NotReady,
	// agent silent, Lease missing or expired, never reported. These are the stale reporters.
	Untrusted int
	// SelectorErr is why MultipathConfig spec.nodeSelector is unusable; every node is then
	// managed. Nil when it is fine.
	SelectorErr error
	// ExpectErrors are, by MultipathWWID name, why its expected nodes could not be fully worked
	// out (an invalid spec.nodeSelector, or a consumer's unusable node affinity).
	ExpectErrors map[string]error
}

// Decide rolls every LUN up at now, with the agents refreshing every interval. It is pure: the
// rules are internal/health's; Decide only turns the objects into the rules' input.
func Decide(in *Inputs, now time.Time, interval time.Duration) *Outcome {
	out := &Outcome{}
	managed, selErr := rules.ManagedNodes(in.Config, in.Nodes)
	deleting := in.Config != nil && !in.Config.DeletionTimestamp.IsZero()
	if deleting {
		managed, selErr = heldNodes(in.Config, in.Nodes, in.States)
	}
	out.SelectorErr = selErr
	out.Nodes = Reporters(managed, in.Nodes, in.States, in.Leases, interval)
	for i := range out.Nodes {
		if ok, _ := rules.NodeTrusted(&out.Nodes[i], now); !ok {
			out.Untrusted++
		}
	}

	set := rules.NewNodeSet(managed)
	out.LUNs = make([]rules.LUN, len(in.WWIDs))
	for i := range in.WWIDs {
		w := &in.WWIDs[i]
		if deleting && w.Status.RenderedAlias == nil {
			// Left out of the deletion's render (free): going from every node on purpose, so
			// expected nowhere rather than missing (its Ready says ConfigDeleting).
			out.LUNs[i] = rules.LUN{WWID: w.Spec.WWID}
			continue
		}
		expected, err := set.Expected(w.Spec.NodeSelector, ConsumerAffinities(w, in.PVs))
		if err != nil {
			if out.ExpectErrors == nil {
				out.ExpectErrors = map[string]error{}
			}
			out.ExpectErrors[w.Name] = err
		}
		out.LUNs[i] = rules.LUN{WWID: w.Spec.WWID, ExpectedNodes: expected}
	}
	out.Health = rules.Rollup(out.LUNs, out.Nodes, now)
	out.LUNCounts = rules.CountLUNs(out.Health)
	out.NodeErrors, out.ApplyFailing = NodeErrors(in.States)
	out.HostConflictErrors, out.HostConflicting = HostConflictErrors(in.States, in.WWIDs)
	return out
}

// ConfigNodeErrors is MultipathConfig status.nodeErrors: the apply errors, then the host config
// conflicts, at most MaxNodeErrors in all.
func (o *Outcome) ConfigNodeErrors() []mpv1alpha1.NodeError {
	room := MaxNodeErrors - len(o.NodeErrors)
	if room <= 0 || len(o.HostConflictErrors) == 0 {
		return o.NodeErrors
	}
	return append(slices.Clip(o.NodeErrors), o.HostConflictErrors[:min(room, len(o.HostConflictErrors))]...)
}

// heldNodes are the managed nodes of a MultipathConfig being deleted: those its selector still
// selects that the rollout has not torn down yet (their MultipathNodeState is live). They carry
// the LUNs still in use until these are free, and their health stays reported meanwhile rather
// than reading 0/0 while the LUN is mounted somewhere.
func heldNodes(cfg *mpv1alpha1.MultipathConfig, nodes []corev1.Node, states []mpv1alpha1.MultipathNodeState) ([]rules.ManagedNode, error) {
	live := cfg.DeepCopy()
	live.DeletionTimestamp = nil
	selected, err := rules.ManagedNodes(live, nodes)
	standing := make(map[string]bool, len(states))
	for i := range states {
		if states[i].DeletionTimestamp.IsZero() {
			standing[states[i].Name] = true
		}
	}
	out := selected[:0]
	for _, n := range selected {
		if standing[n.Name] {
			out = append(out, n)
		}
	}
	return out, err
}

// Reporters returns, sorted by name, each managed node as the rules see it: Ready from its Node,
// its maps from its MultipathNodeState, its heartbeat from its agent's Lease.
func Reporters(managed []rules.ManagedNode, nodes []corev1.Node, states []mpv1alpha1.MultipathNodeState, leases []coordinationv1.Lease, interval time.Duration) []rules.Node {
	nodeByName := make(map[string]*corev1.Node, len(nodes))
	for i := range nodes {
		nodeByName[nodes[i].Name] = &nodes[i]
	}
	stateByName := make(map[string]*mpv1alpha1.MultipathNodeState, len(states))
	for i := range states {
		stateByName[states[i].Name] = &states[i]
	}
	leaseByName := make(map[string]*coordinationv1.Lease, len(leases))
	for i := range leases {
		leaseByName[leases[i].Name] = &leases[i]
	}
	out := make([]rules.Node, 0, len(managed))
	for _, m := range managed {
		out = append(out, Reporter(nodeByName[m.Name], stateByName[m.Name], leaseByName[rules.LeaseName(m.Name)], interval))
		out[len(out)-1].Name = m.Name
	}
	slices.SortFunc(out, func(a, b rules.Node) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(out, func(a, b rules.Node) bool { return a.Name == b.Name })
}

// Reporter is one node as the rules see it. Any of the objects may be nil: a node without a Node
// is not Ready, without a MultipathNodeState status has not reported, without a Lease has no
// heartbeat; the rules do not trust such a node.
func Reporter(node *corev1.Node, state *mpv1alpha1.MultipathNodeState, lease *coordinationv1.Lease, interval time.Duration) rules.Node {
	n := rules.Node{RefreshInterval: interval}
	if node != nil {
		n.Name = node.Name
		n.Ready = rules.NodeReady(node)
	}
	if state != nil {
		n.Name = cmp.Or(n.Name, state.Name)
		n.Reported = Reported(state)
		n.Maps = state.Status.Maps
	}
	n.LastHeartbeat, n.LeaseDuration = rules.Heartbeat(lease)
	return n
}

// Reported reports whether the node's agent has written the MultipathNodeState's status.
func Reported(s *mpv1alpha1.MultipathNodeState) bool {
	st := &s.Status
	return st.ObservedGeneration != 0 || len(st.Conditions) > 0 || st.AppliedConfig != nil ||
		st.MultipathToolsVersion != "" || st.MapCount != 0 || len(st.Maps) > 0
}

// ConsumerAffinities returns the required node affinity of each PersistentVolume that consumes
// the LUN (status.consumers), for NodeSet.Expected: nil for a volume usable on any node. Volumes
// not in pvs are gone and skipped. When status.consumers is truncated (consumerCount is larger),
// the unlisted volumes could be usable anywhere, so a nil entry is added: every managed node is
// expected rather than too few.
func ConsumerAffinities(w *mpv1alpha1.MultipathWWID, pvs map[string]*corev1.PersistentVolume) []*corev1.NodeSelector {
	if len(w.Status.Consumers) == 0 && w.Status.ConsumerCount == 0 {
		return nil
	}
	out := make([]*corev1.NodeSelector, 0, len(w.Status.Consumers)+1)
	for _, name := range w.Status.Consumers {
		pv := pvs[name]
		if pv == nil {
			continue
		}
		var required *corev1.NodeSelector
		if a := pv.Spec.NodeAffinity; a != nil {
			required = a.Required
		}
		out = append(out, required)
	}
	if int(w.Status.ConsumerCount) > len(w.Status.Consumers) {
		out = append(out, nil)
	}
	return out
}

// NodeErrors returns the apply errors (Degraded True) of the MultipathNodeStates, newest first
// then by node name, at most MaxNodeErrors, and how many there are in all. A message longer than
// the API allows is cut; an empty one is replaced by the condition's reason.
func NodeErrors(states []mpv1alpha1.MultipathNodeState) ([]mpv1alpha1.NodeError, int) {
	var out []mpv1alpha1.NodeError
	for i := range states {
		c := conditions.Get(&states[i], mpv1alpha1.DegradedCondition)
		if c == nil || c.Status != metav1.ConditionTrue {
			continue
		}
		msg := cmp.Or(c.Message, c.Reason, "The last apply failed.")
		out = append(out, mpv1alpha1.NodeError{Node: states[i].Name, Message: conditions.Truncate(msg, maxNodeErrorMessage), LastTransitionTime: c.LastTransitionTime})
	}
	slices.SortFunc(out, func(a, b mpv1alpha1.NodeError) int {
		return cmp.Or(b.LastTransitionTime.Compare(a.LastTransitionTime.Time), strings.Compare(a.Node, b.Node))
	})
	total := len(out)
	if len(out) > MaxNodeErrors {
		out = out[:MaxNodeErrors:MaxNodeErrors]
	}
	return out, total
}

// HostConflictErrors returns, newest first then by node name, one NodeError per node whose agent
// reports host config conflicts (status.hostConflicts) on a managed LUN, or a conflict that
// would rename a map the operator does not manage, and how many nodes there are. Each message
// names the WWID, the file and line of each conflict. Reports about WWIDs no MultipathWWID
// names any more are stale and skipped.
//
// They go beside the apply errors, in status.nodeErrors, rather than into each LUN's health:
// that is where `kubectl multipath status` already shows per-node trouble beside the matrix (it
// calls Decide), it is one object written only when a message changes, and a conflict is about
// the node's own files, not the LUN's paths, whose health it would otherwise hide or muddle.
func HostConflictErrors(states []mpv1alpha1.MultipathNodeState, wwids []mpv1alpha1.MultipathWWID) ([]mpv1alpha1.NodeError, int) {
	var managed map[string]bool // built on the first conflict: most passes have none
	var out []mpv1alpha1.NodeError
	for i := range states {
		st := &states[i]
		if len(st.Status.HostConflicts) == 0 {
			continue
		}
		if managed == nil {
			managed = make(map[string]bool, len(wwids))
			for j := range wwids {
				managed[strings.ToLower(wwids[j].Spec.WWID)] = true
			}
		}
		var parts []string
		for _, c := range st.Status.HostConflicts {
			if c.Type == mpv1alpha1.HostConflictWouldRename || managed[strings.ToLower(c.WWID)] {
				parts = append(parts, describeConflict(c))
			}
		}
		if len(parts) == 0 {
			continue
		}
		e := mpv1alpha1.NodeError{Node: st.Name, Message: conditions.Truncate("Host configuration conflict: "+strings.Join(parts, "; ")+".", maxNodeErrorMessage)}
		if c := conditions.Get(st, mpv1alpha1.HostConfigConflictCondition); c != nil {
			e.LastTransitionTime = c.LastTransitionTime
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b mpv1alpha1.NodeError) int {
		return cmp.Or(b.LastTransitionTime.Compare(a.LastTransitionTime.Time), strings.Compare(a.Node, b.Node))
	})
	return out, len(out)
}

// describeConflict says one conflict in words, with its file and line.
func describeConflict(c mpv1alpha1.HostConflict) string {
	msg := strings.TrimSuffix(c.Message, ".")
	if msg == "" {
		switch c.Type {
		case mpv1alpha1.HostConflictBlacklisted:
			msg = fmt.Sprintf("managed WWID %s is blacklisted by the host", c.WWID)
		case mpv1alpha1.HostConflictAliasTaken:
			msg = fmt.Sprintf("the host gives alias %s of managed WWID %s to another WWID", c.Alias, c.WWID)
		case mpv1alpha1.HostConflictAliasDiffers:
			msg = fmt.Sprintf("the host names managed WWID %s %s", c.WWID, c.Alias)
		case mpv1alpha1.HostConflictWouldRename:
			msg = fmt.Sprintf("applying would rename map %s (WWID %s), which the operator does not manage", c.Alias, c.WWID)
		default:
			msg = fmt.Sprintf("%s on WWID %s", c.Type, c.WWID)
		}
	}
	switch {
	case c.File == "" || strings.Contains(msg, c.File):
	case c.Line > 0:
		msg += fmt.Sprintf(" (%s:%d)", c.File, c.Line)
	default:
		msg += " (" + c.File + ")"
	}
	return string(c.Type) + ": " + msg
}
