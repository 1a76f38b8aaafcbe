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
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func TestDescribeNodeUse(t *testing.T) {
	tests := map[string]struct {
		use  mpv1alpha1.NodeUse
		want string
	}{
		"a mount": {mpv1alpha1.NodeUse{Node: "worker-1", Name: "data", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/mnt/data"}}},
			"/dev/mapper/data is mounted at /mnt/data on node worker-1"},
		"every kind, joined": {mpv1alpha1.NodeUse{Node: "n", Name: ibm, Users: []mpv1alpha1.MapUser{
			{Kind: mpv1alpha1.MapUserHolder, Name: "vg0-lv1"}, {Kind: mpv1alpha1.MapUserLVMPhysicalVolume, Name: "vg0"},
			{Kind: mpv1alpha1.MapUserSwap, Name: "/dev/mapper/" + ibm + "-part2"}, {Kind: mpv1alpha1.MapUserOpen}}},
			"/dev/mapper/" + ibm + " is held by vg0-lv1, an LVM physical volume of volume group vg0, active swap (/dev/mapper/" + ibm + "-part2) and open (by a process or a virtual machine) on node n"},
		"nameless users and map": {mpv1alpha1.NodeUse{Node: "n", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount}, {Kind: mpv1alpha1.MapUserLVMPhysicalVolume}}},
			"the map is mounted at a mount point and an LVM physical volume on node n"},
		"no user listed": {mpv1alpha1.NodeUse{Node: "n", Name: "x"}, "/dev/mapper/x is open (by a process or a virtual machine) on node n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := DescribeNodeUse(tc.use); got != tc.want {
				t.Errorf("DescribeNodeUse =\n %q\nwant\n %q", got, tc.want)
			}
		})
	}
	many := make([]mpv1alpha1.NodeUse, 12)
	for i := range many {
		many[i] = mpv1alpha1.NodeUse{Node: string(rune('a' + i)), Name: "x", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserOpen}}}
	}
	if got := DescribeOpenOn(many); strings.Count(got, "on node") != 10 || !strings.HasSuffix(got, "; and 2 more nodes") {
		t.Errorf("DescribeOpenOn names %d nodes: %q", strings.Count(got, "on node"), got)
	}
}

func TestOpenOn(t *testing.T) {
	state := func(node string, maps ...mpv1alpha1.MapStatus) mpv1alpha1.MultipathNodeState {
		return mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: mpv1alpha1.MultipathNodeStateStatus{Maps: maps}}
	}
	mount := []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/m"}}
	states := []mpv1alpha1.MultipathNodeState{
		state("b", mpv1alpha1.MapStatus{WWID: strings.ToUpper(ibm), Name: "db", Users: mount},
			mpv1alpha1.MapStatus{WWID: huawei, Name: huawei, State: mpv1alpha1.MapFailed},
			mpv1alpha1.MapStatus{WWID: "3600000000000000000000000000000ff", Name: "unmanaged", OpenCount: 1}),
		state("a", mpv1alpha1.MapStatus{WWID: ibm, Name: "db", OpenCount: 2}),
	}
	got := OpenOn(states, map[string]bool{Key(ibm): true, Key(huawei): true})
	want := map[string][]mpv1alpha1.NodeUse{Key(ibm): {
		{Node: "a", Name: "db", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserOpen}}},
		{Node: "b", Name: "db", Users: mount},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OpenOn =\n%+v\nwant\n%+v", got, want)
	}
	// The states are the cache's: OpenOn must not share the users' backing array.
	got[Key(ibm)][1].Users[0].Name = "changed"
	if states[0].Status.Maps[0].Users[0].Name != "/m" {
		t.Error("OpenOn's result shares its users with the node state")
	}
}

func TestDisturbed(t *testing.T) {
	mpatha := mpv1alpha1.NodeUse{Node: "n1", Name: "mpatha"}
	byWWID := mpv1alpha1.NodeUse{Node: "n2", Name: "3600A1"}
	data := mpv1alpha1.NodeUse{Node: "n3", Name: "data"}
	open := []mpv1alpha1.NodeUse{mpatha, byWWID, data}
	lun := func(alias string, rendered *string) *mpv1alpha1.MultipathWWID {
		return &mpv1alpha1.MultipathWWID{Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600a1", Alias: alias},
			Status: mpv1alpha1.MultipathWWIDStatus{RenderedAlias: rendered}}
	}
	for name, tc := range map[string]struct {
		w    *mpv1alpha1.MultipathWWID
		want []mpv1alpha1.NodeUse
	}{
		"rendered: every open map is the operator's":                  {lun("data", ptr.To("data")), open},
		"never rendered, with an alias: only the map under it":        {lun("data", nil), []mpv1alpha1.NodeUse{data}},
		"never rendered, no alias: only the map named by its WWID":    {lun("", nil), []mpv1alpha1.NodeUse{byWWID}},
		"never rendered, open only under host names: nothing to hold": {lun("other", nil), nil},
	} {
		if got := Disturbed(tc.w, open); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Disturbed = %+v, want %+v", name, got, tc.want)
		}
	}
}
