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

package multipathconf

import (
	"slices"
	"strconv"
	"strings"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Conflict says why a MultipathWWID is left out of the render.
type Conflict struct {
	// Winner is the name of the MultipathWWID that keeps the WWID or alias.
	Winner string
	// Reason is mpv1alpha1.DuplicateWWIDReason or mpv1alpha1.DuplicateAliasReason.
	Reason string
	// Message is a sentence naming the winner, for the Conflict condition.
	Message string
}

// Resolution is the outcome of ResolveConflicts.
type Resolution struct {
	// Winners are the objects to render, oldest first.
	Winners []mpv1alpha1.MultipathWWID
	// Conflicts holds, per losing object name, why it lost.
	Conflicts map[string]Conflict
}

// ResolveConflicts decides which MultipathWWIDs own their WWID and alias. Two objects conflict
// when they share a WWID, share an alias, or when one's alias is the other's WWID: multipathd
// would otherwise merge two LUN entries, or name two maps the same. Comparisons ignore case (the
// API compares WWIDs that way, and the consumers package matches aliases that way). The oldest
// object wins (creationTimestamp, then name); one without a creationTimestamp (not yet created,
// as at admission) counts as the newest. An object being deleted still holds its WWID and alias
// until it is gone, so a newcomer cannot take a name a node may still be using. A loser claims
// nothing, so an object that conflicts only with a loser still wins.
func ResolveConflicts(wwids []mpv1alpha1.MultipathWWID) Resolution {
	order := make([]int, len(wwids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareAge(&wwids[a], &wwids[b]) })

	type claim struct {
		holder  *mpv1alpha1.MultipathWWID
		isAlias bool
	}
	claims := make(map[string]claim, 2*len(wwids))
	res := Resolution{Winners: make([]mpv1alpha1.MultipathWWID, 0, len(wwids))}
	lose := func(w *mpv1alpha1.MultipathWWID, c claim, reason, msg string) {
		if res.Conflicts == nil {
			res.Conflicts = map[string]Conflict{}
		}
		res.Conflicts[w.Name] = Conflict{Winner: c.holder.Name, Reason: reason,
			Message: msg + " MultipathWWID " + strconv.Quote(c.holder.Name) + precedence(c.holder, w)}
	}
	for _, i := range order {
		w := &wwids[i]
		wwid, alias := strings.ToLower(w.Spec.WWID), strings.ToLower(w.Spec.Alias)
		if c, taken := claims[wwid]; taken {
			if c.isAlias {
				lose(w, c, mpv1alpha1.DuplicateAliasReason, "WWID "+w.Spec.WWID+" is"+spelled(c.holder.Spec.Alias, w.Spec.WWID)+" the alias of")
			} else {
				lose(w, c, mpv1alpha1.DuplicateWWIDReason, "WWID "+w.Spec.WWID+" is"+spelled(c.holder.Spec.WWID, w.Spec.WWID)+" already allow-listed by")
			}
			continue
		}
		if c, taken := claims[alias]; alias != "" && alias != wwid && taken {
			if c.isAlias {
				lose(w, c, mpv1alpha1.DuplicateAliasReason, "alias "+strconv.Quote(w.Spec.Alias)+" is"+spelled(c.holder.Spec.Alias, w.Spec.Alias)+" already the alias of")
			} else {
				lose(w, c, mpv1alpha1.DuplicateAliasReason, "alias "+strconv.Quote(w.Spec.Alias)+" is"+spelled(c.holder.Spec.WWID, w.Spec.Alias)+" the WWID of")
			}
			continue
		}
		claims[wwid] = claim{holder: w}
		if alias != "" && alias != wwid {
			claims[alias] = claim{holder: w, isAlias: true}
		}
		res.Winners = append(res.Winners, *w)
	}
	return res
}

// spelled notes, when the two spellings differ only in case, that they are compared ignoring it.
func spelled(held, claimed string) string {
	if held == claimed {
		return ""
	}
	return " (as " + held + ", ignoring case)"
}

// precedence says why the winner won, to end a conflict message.
func precedence(winner, loser *mpv1alpha1.MultipathWWID) string {
	if winner.CreationTimestamp.Equal(&loser.CreationTimestamp) {
		return ", which has the same creation time and a name that sorts first"
	}
	return ", which is older"
}

// compareAge orders the oldest first: by creationTimestamp (unset last), then by name.
func compareAge(a, b *mpv1alpha1.MultipathWWID) int {
	ta, tb := a.CreationTimestamp, b.CreationTimestamp
	switch {
	case ta.IsZero() != tb.IsZero():
		if ta.IsZero() {
			return 1
		}
		return -1
	case !ta.Equal(&tb):
		if ta.Before(&tb) {
			return -1
		}
		return 1
	}
	return strings.Compare(a.Name, b.Name)
}
