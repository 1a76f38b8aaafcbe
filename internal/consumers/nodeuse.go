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

package consumers

import (
	"slices"
	"strconv"
	"strings"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// MaxOpenOn is how many nodes MultipathWWID status.openOn lists (the API's bound).
const MaxOpenOn = 64

// maxNamedNodes is how many nodes a message names before "and N more nodes".
const maxNamedNodes = 10

// IsOpen reports whether the agent says something holds m on its node: users, or a non-zero
// open count.
func IsOpen(m *mpv1alpha1.MapStatus) bool {
	return len(m.Users) > 0 || m.OpenCount > 0
}

// Disturbed are the entries of openOn (w's status.openOn) that deleting w, or changing its
// alias, would disturb. Once the operator has rendered w (status.renderedAlias set) that is
// every one. Before, a map open under another name than the one the render gives w is the
// host's own, named by its user_friendly_names, bindings or alias: the operator never rendered
// it, deleting w or changing its alias leaves it alone, and the render holds w out rather than
// rename it (the adoption hold).
func Disturbed(w *mpv1alpha1.MultipathWWID, openOn []mpv1alpha1.NodeUse) []mpv1alpha1.NodeUse {
	if w.Status.RenderedAlias != nil || len(openOn) == 0 {
		return openOn
	}
	name := multipathconf.MapName(&w.Spec)
	var out []mpv1alpha1.NodeUse
	for _, u := range openOn {
		if NamedAs(u.Name, name, w.Spec.WWID) {
			out = append(out, u)
		}
	}
	return out
}

// NamedAs says whether a map a node calls mapName carries name, the name the render gives the
// LUN of wwid: the same string, or, when that name is the WWID itself, the WWID in another case.
func NamedAs(mapName, name, wwid string) bool {
	return mapName == name || name == wwid && strings.EqualFold(mapName, name)
}

// NodeUseOf is m, open on node, as MultipathWWID status.openOn lists it. An open count that no
// user explains becomes one Open user, so that the status always says what holds the map.
func NodeUseOf(node string, m *mpv1alpha1.MapStatus) mpv1alpha1.NodeUse {
	u := mpv1alpha1.NodeUse{Node: node, Name: m.Name, Users: slices.Clone(m.Users)}
	if len(u.Users) == 0 && m.OpenCount > 0 {
		u.Users = []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserOpen}}
	}
	return u
}

// OpenOn collects, from the node states, the maps of each allow-listed WWID that are open, by
// Key(WWID), each list sorted by node. states are read, never changed.
func OpenOn(states []mpv1alpha1.MultipathNodeState, wwidKeys map[string]bool) map[string][]mpv1alpha1.NodeUse {
	out := map[string][]mpv1alpha1.NodeUse{}
	for i := range states {
		s := &states[i]
		for j := range s.Status.Maps {
			m := &s.Status.Maps[j]
			if !IsOpen(m) {
				continue
			}
			if k := Key(m.WWID); wwidKeys[k] {
				out[k] = append(out[k], NodeUseOf(s.Name, m))
			}
		}
	}
	for k, uses := range out {
		slices.SortFunc(uses, func(a, b mpv1alpha1.NodeUse) int { return strings.Compare(a.Node, b.Node) })
		out[k] = uses
	}
	return out
}

// DescribeUser says what one user does with the map, for example "mounted at /mnt/data".
func DescribeUser(u mpv1alpha1.MapUser) string {
	switch u.Kind {
	case mpv1alpha1.MapUserMount:
		return "mounted at " + orUnnamed(u.Name, "a mount point")
	case mpv1alpha1.MapUserSwap:
		if u.Name == "" {
			return "active swap"
		}
		return "active swap (" + u.Name + ")"
	case mpv1alpha1.MapUserHolder:
		return "held by " + orUnnamed(u.Name, "another device")
	case mpv1alpha1.MapUserLVMPhysicalVolume:
		if u.Name == "" {
			return "an LVM physical volume"
		}
		return "an LVM physical volume of volume group " + u.Name
	default:
		return "open (by a process or a virtual machine)"
	}
}

// DescribeNodeUse says what holds the map on one node, naming the map's device, for example
// "/dev/mapper/data is mounted at /mnt/data on node worker-1".
func DescribeNodeUse(u mpv1alpha1.NodeUse) string {
	what := make([]string, 0, len(u.Users))
	for _, user := range u.Users {
		what = append(what, DescribeUser(user))
	}
	if len(what) == 0 {
		what = append(what, DescribeUser(mpv1alpha1.MapUser{Kind: mpv1alpha1.MapUserOpen}))
	}
	dev := "the map"
	if u.Name != "" {
		dev = "/dev/mapper/" + u.Name
	}
	return dev + " is " + joinAnd(what) + " on node " + u.Node
}

// DescribeOpenOn describes every node's use, at most maxNamedNodes of them, joined by "; ".
func DescribeOpenOn(uses []mpv1alpha1.NodeUse) string {
	parts := make([]string, 0, min(len(uses), maxNamedNodes)+1)
	for i, u := range uses {
		if i == maxNamedNodes {
			parts = append(parts, "and "+strconv.Itoa(len(uses)-i)+" more nodes")
			break
		}
		parts = append(parts, DescribeNodeUse(u))
	}
	return strings.Join(parts, "; ")
}

func orUnnamed(name, unnamed string) string {
	if name == "" {
		return unnamed
	}
	return name
}

// joinAnd reads "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
