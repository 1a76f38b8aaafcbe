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

package render

import (
	"slices"
	"strings"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/lun"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// forceKind is the change to an in-use LUN that the force-remove annotation lets through.
type forceKind int

const (
	notForced forceKind = iota
	// forcedRename: the alias of an in-use LUN changes on the nodes in this render.
	forcedRename
	// forcedDeletion: an in-use LUN being deleted loses its finalizer and leaves the render.
	forcedDeletion
)

// maxFormerAliases is the API's bound on status.formerAliases.
const maxFormerAliases = 8

// lunOutcome is what the render decided for one MultipathWWID.
type lunOutcome struct {
	// consumers are the PersistentVolumes that use the LUN, by any of its names.
	consumers []string
	// harmed are the consumers that use the LUN by its WWID or the name the nodes have now: a
	// rename breaks them. The others name a former or the desired alias only.
	harmed []string
	// staleNames maps a consumer that names only a former alias to that alias.
	staleNames map[string]string
	// openOn are the nodes that hold the LUN's map open.
	openOn []mpv1alpha1.NodeUse
	// formerAliases is the next status.formerAliases.
	formerAliases []string
	rendered      bool
	renderedAlias string
	conflict      *multipathconf.Conflict
	invalid       string
	aliasRefused  bool
	// keepFinalizer: the object must carry the in-use finalizer.
	keepFinalizer bool
	// forced is the change to this in-use LUN the force annotation lets through in this pass.
	forced forceKind
	// previousAlias is the alias the nodes had before a forced rename.
	previousAlias string
	// teardown: the MultipathConfig is being deleted and this LUN, not in use, leaves the nodes.
	teardown bool
	// adoptionHeldOn are the nodes that hold the LUN's map open under a name the host gave it,
	// which the render would change (adoptionHolds): the LUN is left out of the render until
	// they free it.
	adoptionHeldOn []mpv1alpha1.NodeUse
	// adoptionName is the name the render would give the map.
	adoptionName string
}

func (o *lunOutcome) inUse() bool { return len(o.consumers) > 0 || len(o.openOn) > 0 }

type decision struct {
	// render is what status.renderedConfig renders: every LUN, or while the MultipathConfig is
	// being deleted only the held ones (none: the empty config).
	render []mpv1alpha1.MultipathWWID
	// held are the rendered LUNs in use (status.heldConfig); nil when none, or when a forced
	// teardown lets them go.
	held []mpv1alpha1.MultipathWWID
	luns map[string]lunOutcome
	// configErr is why the MultipathConfig cannot be rendered.
	configErr string
	// deleting: the MultipathConfig is being deleted.
	deleting bool
	// forcedTeardown: it is being deleted with the force annotation; forcedOut are the in-use
	// LUNs that the annotation removes from the nodes.
	forcedTeardown bool
	forcedOut      []string
}

// use is one PersistentVolume consuming a LUN, with every name it mentions (consumers.Refs).
type use struct {
	pv   string
	refs []string
}

// decide is pure: from the gathered objects to what to render and what each object says.
func decide(in inputs) decision {
	out := decision{luns: make(map[string]lunOutcome, len(in.wwids))}

	// Consumers are matched against the alias the nodes have now (the rendered one), the desired
	// one, and the names a forced rename left volumes naming: any of them protects the LUN.
	luns := make([]consumers.LUN, 0, 2*len(in.wwids))
	wwidKeys := make(map[string]bool, len(in.wwids))
	for i := range in.wwids {
		w := &in.wwids[i]
		wwidKeys[consumers.Key(w.Spec.WWID)] = true
		luns = append(luns, lun.Aliases(w)...)
	}
	idx := consumers.NewIndex(luns)
	byWWID := map[string][]use{}
	for i := range in.pvs {
		var refs []string
		for _, wwid := range idx.WWIDsOf(&in.pvs[i]) {
			if refs == nil {
				refs = consumers.Refs(&in.pvs[i])
			}
			k := consumers.Key(wwid)
			byWWID[k] = append(byWWID[k], use{pv: in.pvs[i].Name, refs: refs})
		}
	}
	openOn := consumers.OpenOn(in.states, wwidKeys)
	refused := refusedAdoptions(in.states, wwidKeys)
	out.deleting = in.config != nil && !in.config.DeletionTimestamp.IsZero()
	out.forcedTeardown = out.deleting && lun.Forced(in.config)

	candidates := make([]mpv1alpha1.MultipathWWID, 0, len(in.wwids))
	for i := range in.wwids {
		w := &in.wwids[i] // the cache's object: never changed here (a refused alias change copies it)
		key := consumers.Key(w.Spec.WWID)
		uses := byWWID[key]
		o := lunOutcome{openOn: openOn[key]}
		if len(o.openOn) > consumers.MaxOpenOn {
			o.openOn = o.openOn[:consumers.MaxOpenOn]
		}
		for _, u := range uses {
			o.consumers = append(o.consumers, u.pv)
			if harmed, a := lun.RenameHarms(w, u.refs); harmed {
				o.harmed = append(o.harmed, u.pv)
			} else if a != "" {
				if o.staleNames == nil {
					o.staleNames = map[string]string{}
				}
				o.staleNames[u.pv] = a
			}
		}
		o.consumers = sortedUnique(o.consumers)
		o.harmed = sortedUnique(o.harmed)
		forced := lun.Forced(w)
		deleting := !w.DeletionTimestamp.IsZero()
		// The finalizer stays on a forced LUN until it is deleted, so that the forced deletion
		// itself passes through this controller and is recorded.
		// What a never-rendered LUN finds open under the host's name is the host's map, which
		// deleting the LUN leaves alone: it holds no deletion (adoptionHolds keeps it out of
		// the render instead).
		held := len(o.consumers) > 0 || len(consumers.Disturbed(w, o.openOn)) > 0
		o.keepFinalizer = held && !(forced && deleting)
		if errs := multipathconf.ValidateMultipathWWID(w); len(errs) > 0 {
			o.invalid = errs.ToAggregate().Error()
			out.luns[w.Name] = o
			continue
		}
		if deleting && !o.keepFinalizer {
			if held {
				o.forced = forcedDeletion
			}
			out.luns[w.Name] = o // leaves the render; its finalizer is dropped
			continue
		}
		// A rename breaks what uses the map under its current name or its WWID, and what holds
		// it open on a node; a volume that names only the desired alias (renaming back after a
		// forced change) is not broken by it.
		if w.Status.RenderedAlias != nil && *w.Status.RenderedAlias != w.Spec.Alias && (len(o.harmed) > 0 || len(o.openOn) > 0) {
			if forced {
				o.forced, o.previousAlias = forcedRename, *w.Status.RenderedAlias
			} else {
				o.aliasRefused = true
				kept := *w
				kept.Spec.Alias = *w.Status.RenderedAlias
				w = &kept
			}
		}
		o.adoptionName = lun.MapName(w.Spec.WWID, w.Spec.Alias)
		if o.adoptionHeldOn = adoptionHolds(w, o.adoptionName, o.openOn, refused[key]); len(o.adoptionHeldOn) > 0 {
			o.forced = notForced // not rendered: nothing forced
			out.luns[w.Name] = o // left out of the render: the other LUNs roll out
			continue
		}
		out.luns[w.Name] = o
		candidates = append(candidates, *w)
	}

	res := multipathconf.ResolveConflicts(candidates)
	for name, c := range res.Conflicts {
		o := out.luns[name]
		o.conflict = &c
		if o.forced == forcedRename {
			o.forced = notForced // not rendered: nothing forced yet
		}
		out.luns[name] = o
	}
	var heldAt []int
	for i, w := range res.Winners {
		o := out.luns[w.Name]
		o.rendered = true
		o.renderedAlias = w.Spec.Alias
		out.luns[w.Name] = o
		if o.inUse() {
			heldAt = append(heldAt, i)
		}
	}
	out.render = res.Winners
	// The held LUNs keep the render's order. When every rendered LUN is in use (every LUN of a
	// cluster whose volumes all name one), they are the render itself: the same slice, not a
	// second copy of 10,000 objects in each pass.
	switch {
	case len(heldAt) == 0:
	case len(heldAt) == len(res.Winners):
		out.held = res.Winners
	default:
		out.held = make([]mpv1alpha1.MultipathWWID, len(heldAt))
		for k, i := range heldAt {
			out.held[k] = res.Winners[i]
		}
	}

	if out.deleting {
		// Teardown: only what is in use stays on the nodes, or nothing when forced.
		if out.forcedTeardown {
			for _, w := range out.held {
				out.forcedOut = append(out.forcedOut, w.Name)
			}
			out.held = nil
		}
		keep := make(map[string]bool, len(out.held))
		for _, w := range out.held {
			keep[w.Name] = true
		}
		for _, w := range res.Winners {
			if o := out.luns[w.Name]; !keep[w.Name] {
				o.rendered, o.renderedAlias, o.teardown = false, "", true
				if o.forced == forcedRename {
					o.forced = notForced
				}
				out.luns[w.Name] = o
			}
		}
		out.render = out.held
	}

	for i := range in.wwids {
		w := &in.wwids[i]
		o := out.luns[w.Name]
		uses := byWWID[consumers.Key(w.Spec.WWID)]
		o.formerAliases = formerAliases(w, &o, uses)
		if o.rendered {
			// Against the status this pass writes: a forced rename rendered now already leaves
			// the volumes that name the old alias naming a former one, and InUse says so in the
			// same write rather than one pass later.
			after := *w
			after.Status.RenderedAlias, after.Status.FormerAliases = &o.renderedAlias, o.formerAliases
			for _, u := range uses {
				if harmed, a := lun.RenameHarms(&after, u.refs); !harmed && a != "" {
					if o.staleNames == nil {
						o.staleNames = map[string]string{}
					}
					o.staleNames[u.pv] = a
				}
			}
		}
		for pv, a := range o.staleNames {
			if o.rendered && a == o.renderedAlias {
				delete(o.staleNames, pv) // renamed back: the volume's name is the map's again
			}
		}
		if len(o.staleNames) == 0 {
			o.staleNames = nil
		}
		out.luns[w.Name] = o
	}

	if in.config != nil {
		if errs := multipathconf.ValidateMultipathConfig(in.config, renderedWWIDs(res.Winners)); len(errs) > 0 {
			out.configErr = errs.ToAggregate().Error()
		}
	}
	return out
}

// refusedAdoptions collects, by Key(WWID), the nodes whose agent refused to rename an open
// map the host named (a WouldRename host conflict with users: hostfs.PredictAdoptions), as a
// NodeUse of the map's name now, with the users the node reports for it.
func refusedAdoptions(states []mpv1alpha1.MultipathNodeState, wwidKeys map[string]bool) map[string][]mpv1alpha1.NodeUse {
	var out map[string][]mpv1alpha1.NodeUse
	for i := range states {
		s := &states[i]
		for _, c := range s.Status.HostConflicts {
			k := consumers.Key(c.WWID)
			if c.Type != mpv1alpha1.HostConflictWouldRename || !wwidKeys[k] || c.Alias == "" {
				continue
			}
			u := mpv1alpha1.NodeUse{Node: s.Name, Name: c.Alias}
			for j := range s.Status.Maps {
				if m := &s.Status.Maps[j]; consumers.Key(m.WWID) == k && m.Name == c.Alias && consumers.IsOpen(m) {
					u = consumers.NodeUseOf(s.Name, m)
				}
			}
			if out == nil {
				out = map[string][]mpv1alpha1.NodeUse{}
			}
			out[k] = append(out[k], u)
		}
	}
	return out
}

// adoptionHolds returns the nodes that keep w out of the render because it would rename a map
// they hold open under a name the host gave it (user_friendly_names, its own bindings or
// alias): fstab, LVM or a process know the map by that name, and the operator never disturbs
// what it does not own. Such a map is one open under another name than name (what the render
// would call it) while w was never rendered (status.renderedAlias unset: no name on any node
// is the operator's), or one whose rename a node's agent refused (refused). A refusal does not
// take out a LUN that some node holds open under the name the operator gave it: leaving the
// render would rename that map instead. The force annotation does not let an adoption through:
// the agent, which cannot tell, would refuse the whole config on those nodes.
func adoptionHolds(w *mpv1alpha1.MultipathWWID, name string, openOn, refused []mpv1alpha1.NodeUse) []mpv1alpha1.NodeUse {
	differs := func(u mpv1alpha1.NodeUse) bool {
		return !consumers.NamedAs(u.Name, name, w.Spec.WWID)
	}
	var out []mpv1alpha1.NodeUse
	if w.Status.RenderedAlias == nil {
		for _, u := range openOn {
			if differs(u) {
				out = append(out, u)
			}
		}
	} else if ours := lun.MapName(w.Spec.WWID, *w.Status.RenderedAlias); slices.ContainsFunc(openOn, func(u mpv1alpha1.NodeUse) bool { return u.Name == ours }) {
		return nil
	}
	for _, u := range refused {
		if differs(u) && !slices.ContainsFunc(out, func(o mpv1alpha1.NodeUse) bool { return o.Node == u.Node }) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b mpv1alpha1.NodeUse) int { return strings.Compare(a.Node, b.Node) })
	if len(out) > consumers.MaxOpenOn {
		out = out[:consumers.MaxOpenOn]
	}
	return out
}

// formerAliases is the next status.formerAliases of w: its former aliases, and the alias a
// rename in this render leaves, that a consumer still names and the nodes do not have.
func formerAliases(w *mpv1alpha1.MultipathWWID, o *lunOutcome, uses []use) []string {
	candidates := slices.Clone(w.Status.FormerAliases)
	if a := w.Status.RenderedAlias; o.rendered && a != nil && *a != "" && *a != o.renderedAlias {
		candidates = append(candidates, *a)
	}
	var out []string
	for _, a := range candidates {
		if o.rendered && a == o.renderedAlias {
			continue
		}
		for _, u := range uses {
			if slices.Contains(u.refs, consumers.Key(a)) {
				out = append(out, a)
				break
			}
		}
	}
	out = sortedUnique(out)
	if len(out) > maxFormerAliases {
		out = out[:maxFormerAliases]
	}
	return out
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// noExpectedNodes reports whether the LUN's health, once the health controller wrote it,
// expects the LUN on no node ("optimal/expected" with expected 0).
func noExpectedNodes(w *mpv1alpha1.MultipathWWID) bool {
	return strings.HasSuffix(w.Status.Health.Nodes, "/0")
}
