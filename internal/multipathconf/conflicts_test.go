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
	"math/rand/v2"
	"reflect"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func TestResolveConflicts(t *testing.T) {
	const dupWWID, dupAlias = mpv1alpha1.DuplicateWWIDReason, mpv1alpha1.DuplicateAliasReason
	tests := map[string]struct {
		luns      []mpv1alpha1.MultipathWWID
		winners   []string
		conflicts map[string]Conflict
	}{
		"no objects, no winners": {},
		"distinct WWIDs and aliases all win, oldest first": {
			luns:    []mpv1alpha1.MultipathWWID{lun("b", "3600b", withAlias("data"), createdAt(2)), lun("a", "3600a", withAlias("logs"), createdAt(1))},
			winners: []string{"a", "b"},
		},
		"a duplicate WWID: the older object wins": {
			luns:    []mpv1alpha1.MultipathWWID{lun("new", "3600a", createdAt(5)), lun("old", "3600a", createdAt(1))},
			winners: []string{"old"},
			conflicts: map[string]Conflict{"new": {Winner: "old", Reason: dupWWID,
				Message: `WWID 3600a is already allow-listed by MultipathWWID "old", which is older`}},
		},
		"a duplicate WWID differing in case: compared ignoring case": {
			luns:    []mpv1alpha1.MultipathWWID{lun("old", "3600a", createdAt(1)), lun("new", "3600A", createdAt(5))},
			winners: []string{"old"},
			conflicts: map[string]Conflict{"new": {Winner: "old", Reason: dupWWID,
				Message: `WWID 3600A is (as 3600a, ignoring case) already allow-listed by MultipathWWID "old", which is older`}},
		},
		"same creation time: the name that sorts first wins": {
			luns:    []mpv1alpha1.MultipathWWID{lun("lun-b", "3600a", createdAt(1)), lun("lun-a", "3600a", createdAt(1))},
			winners: []string{"lun-a"},
			conflicts: map[string]Conflict{"lun-b": {Winner: "lun-a", Reason: dupWWID,
				Message: `WWID 3600a is already allow-listed by MultipathWWID "lun-a", which has the same creation time and a name that sorts first`}},
		},
		"an object not yet created (admission) loses to an existing one": {
			luns:    []mpv1alpha1.MultipathWWID{lun("candidate", "3600a"), lun("zzz", "3600a", createdAt(1))},
			winners: []string{"zzz"},
			conflicts: map[string]Conflict{"candidate": {Winner: "zzz", Reason: dupWWID,
				Message: `WWID 3600a is already allow-listed by MultipathWWID "zzz", which is older`}},
		},
		"a duplicate alias: the older object wins": {
			luns:    []mpv1alpha1.MultipathWWID{lun("old", "3600a", withAlias("data"), createdAt(1)), lun("new", "3600b", withAlias("Data"), createdAt(2))},
			winners: []string{"old"},
			conflicts: map[string]Conflict{"new": {Winner: "old", Reason: dupAlias,
				Message: `alias "Data" is (as data, ignoring case) already the alias of MultipathWWID "old", which is older`}},
		},
		"an alias equal to an older LUN's WWID": {
			luns:    []mpv1alpha1.MultipathWWID{lun("old", "3600a", createdAt(1)), lun("new", "3600b", withAlias("3600A"), createdAt(2))},
			winners: []string{"old"},
			conflicts: map[string]Conflict{"new": {Winner: "old", Reason: dupAlias,
				Message: `alias "3600A" is (as 3600a, ignoring case) the WWID of MultipathWWID "old", which is older`}},
		},
		"a WWID equal to an older LUN's alias": {
			luns:    []mpv1alpha1.MultipathWWID{lun("old", "3600a", withAlias("data"), createdAt(1)), lun("new", "data", createdAt(2))},
			winners: []string{"old"},
			conflicts: map[string]Conflict{"new": {Winner: "old", Reason: dupAlias,
				Message: `WWID data is the alias of MultipathWWID "old", which is older`}},
		},
		"an alias equal to its own WWID is no conflict": {
			luns:    []mpv1alpha1.MultipathWWID{lun("a", "3600a", withAlias("3600A"), createdAt(1)), lun("b", "3600b", createdAt(2))},
			winners: []string{"a", "b"},
		},
		"an object being deleted still holds its WWID and alias": {
			luns: []mpv1alpha1.MultipathWWID{
				lun("leaving", "3600a", withAlias("data"), createdAt(1), deleting()),
				lun("same-wwid", "3600a", createdAt(2)),
				lun("same-alias", "3600c", withAlias("data"), createdAt(3)),
			},
			winners: []string{"leaving"},
			conflicts: map[string]Conflict{
				"same-wwid": {Winner: "leaving", Reason: dupWWID, Message: `WWID 3600a is already allow-listed by MultipathWWID "leaving", which is older`},
				"same-alias": {Winner: "leaving", Reason: dupAlias,
					Message: `alias "data" is already the alias of MultipathWWID "leaving", which is older`},
			},
		},
		"a loser claims nothing: an object conflicting only with a loser wins": {
			luns: []mpv1alpha1.MultipathWWID{
				lun("first", "3600a", createdAt(1)),
				lun("second", "3600a", withAlias("data"), createdAt(2)),
				lun("third", "3600c", withAlias("data"), createdAt(3)),
			},
			winners: []string{"first", "third"},
			conflicts: map[string]Conflict{"second": {Winner: "first", Reason: dupWWID,
				Message: `WWID 3600a is already allow-listed by MultipathWWID "first", which is older`}},
		},
		"the WWID conflict is reported before the alias conflict": {
			luns:    []mpv1alpha1.MultipathWWID{lun("a", "3600a", withAlias("data"), createdAt(1)), lun("b", "3600a", withAlias("data"), createdAt(2))},
			winners: []string{"a"},
			conflicts: map[string]Conflict{"b": {Winner: "a", Reason: dupWWID,
				Message: `WWID 3600a is already allow-listed by MultipathWWID "a", which is older`}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// The outcome must not depend on the input order.
			for round := range 5 {
				luns := append([]mpv1alpha1.MultipathWWID(nil), tc.luns...)
				rand.New(rand.NewPCG(uint64(round), 1)).Shuffle(len(luns), func(i, j int) { luns[i], luns[j] = luns[j], luns[i] })
				res := ResolveConflicts(luns)
				var winners []string
				for _, w := range res.Winners {
					winners = append(winners, w.Name)
				}
				if !reflect.DeepEqual(winners, tc.winners) {
					t.Errorf("round %d: winners = %v, want %v", round, winners, tc.winners)
				}
				if !reflect.DeepEqual(res.Conflicts, tc.conflicts) {
					t.Errorf("round %d: conflicts =\n%#v\nwant\n%#v", round, res.Conflicts, tc.conflicts)
				}
			}
		})
	}
}
