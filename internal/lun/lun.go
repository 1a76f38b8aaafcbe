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

// Package lun holds the facts about one MultipathWWID that the render controller, the admission
// webhook, the rollout controller and the kubectl plugin all need, written once: the name its map
// has on the nodes, the names it claims, and whether the force annotation asks to override a
// protection. It reads only the object; it has no client.
package lun

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
)

// MapName is the device-mapper name of a map: its alias, else its WWID (the render gives every
// managed map one or the other as its alias, whatever the host's user_friendly_names).
func MapName(wwid, alias string) string {
	if alias != "" {
		return alias
	}
	return wwid
}

// CurrentAlias is the alias the nodes have now: the last rendered one, or the desired one
// before the first render.
func CurrentAlias(w *mpv1alpha1.MultipathWWID) string {
	if w.Status.RenderedAlias != nil {
		return *w.Status.RenderedAlias
	}
	return w.Spec.Alias
}

// Names are the names a LUN claims, as consumers.Keys, each once: its WWID, its desired alias, its
// rendered alias and the former aliases volumes may still name. A PersistentVolume naming any of
// them uses the LUN, and no other LUN may take one.
func Names(w *mpv1alpha1.MultipathWWID) []string {
	keys := make([]string, 0, 3+len(w.Status.FormerAliases))
	add := func(name string) {
		if name == "" {
			return
		}
		k := consumers.Key(name)
		for _, have := range keys {
			if have == k {
				return
			}
		}
		keys = append(keys, k)
	}
	add(w.Spec.WWID)
	add(w.Spec.Alias)
	if w.Status.RenderedAlias != nil {
		add(*w.Status.RenderedAlias)
	}
	for _, a := range w.Status.FormerAliases {
		add(a)
	}
	return keys
}

// Forced says whether the object carries the force annotation
// (multipath.kube-multipath.io/force-remove: "true"), which lets an in-use LUN be renamed or
// removed and a MultipathConfig be torn down while LUNs are held.
func Forced(o metav1.Object) bool {
	return o.GetAnnotations()[mpv1alpha1.ForceRemoveAnnotation] == "true"
}

// Aliases are the (WWID, alias) pairs under which a PersistentVolume uses the LUN, for
// consumers.NewIndex: the alias the nodes have now, the desired one, and the former aliases a
// forced rename left volumes naming. Any of them protects the LUN.
func Aliases(w *mpv1alpha1.MultipathWWID) []consumers.LUN {
	current := CurrentAlias(w)
	out := make([]consumers.LUN, 0, 2+len(w.Status.FormerAliases))
	out = append(out, consumers.LUN{WWID: w.Spec.WWID, Alias: current})
	if w.Spec.Alias != "" && w.Spec.Alias != current {
		out = append(out, consumers.LUN{WWID: w.Spec.WWID, Alias: w.Spec.Alias})
	}
	for _, a := range w.Status.FormerAliases {
		out = append(out, consumers.LUN{WWID: w.Spec.WWID, Alias: a})
	}
	return out
}

// RenameHarms tells what renaming the LUN's map does to a volume that names refs
// (consumers.Refs): it breaks a volume that names the LUN by its WWID or by the name the nodes
// have now; a volume that names only a former alias (a forced rename left it behind) is not
// broken further, and former is that alias. A volume that names only the desired alias is neither.
func RenameHarms(w *mpv1alpha1.MultipathWWID, refs []string) (harmed bool, former string) {
	if slices.Contains(refs, consumers.Key(w.Spec.WWID)) {
		return true, ""
	}
	if current := CurrentAlias(w); current != "" && slices.Contains(refs, consumers.Key(current)) {
		return true, ""
	}
	for _, a := range w.Status.FormerAliases {
		if slices.Contains(refs, consumers.Key(a)) {
			return false, a
		}
	}
	return false, ""
}
