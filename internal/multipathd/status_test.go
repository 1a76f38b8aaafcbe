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

package multipathd_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// checkAPIBounds fails when a status would be refused by the MultipathNodeState schema.
func checkAPIBounds(t *testing.T, st []mpv1alpha1.MapStatus) {
	t.Helper()
	if len(st) > mapstatus.MaxMaps {
		t.Fatalf("%d maps, MaxItems is %d", len(st), mapstatus.MaxMaps)
	}
	str := func(what, s string, minLen, maxLen int) {
		n := utf8.RuneCountInString(s)
		if n < minLen || n > maxLen || !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
			t.Fatalf("%s %q: %d characters, want %d..%d, valid UTF-8 without controls", what, s, n, minLen, maxLen)
		}
	}
	for i, m := range st {
		str("wwid", m.WWID, 1, 128)
		str("name", m.Name, 0, 128)
		switch m.State {
		case mpv1alpha1.MapOptimal, mpv1alpha1.MapDegraded, mpv1alpha1.MapFailed, mpv1alpha1.MapUnknown:
		default:
			t.Fatalf("map %d state %q", i, m.State)
		}
		if m.ActivePaths < 0 || m.ActivePaths > m.TotalPaths || len(m.Paths) > mapstatus.MaxPathsPerMap || int32(len(m.Paths)) > m.TotalPaths {
			t.Fatalf("map %d counts: active %d total %d listed %d", i, m.ActivePaths, m.TotalPaths, len(m.Paths))
		}
		for _, p := range m.Paths {
			str("device", p.Device, 1, 64)
			str("hcil", p.HCIL, 0, 64)
			str("dmState", p.DMState, 0, 32)
			str("checkerState", p.CheckerState, 0, 32)
			str("deviceState", p.DeviceState, 0, 32)
			if p.Group < 0 || p.Group > mapstatus.MaxPathGroupNumber || p.Priority < -1 {
				t.Fatalf("map %d path %s: group %d priority %d", i, p.Device, p.Group, p.Priority)
			}
		}
		if len(m.PathGroups) > mapstatus.MaxPathGroupsPerMap {
			t.Fatalf("map %d: %d path groups", i, len(m.PathGroups))
		}
		for _, g := range m.PathGroups {
			str("selector", g.Selector, 0, 64)
			str("group state", g.State, 0, 32)
			if g.Group < 1 || g.Group > mapstatus.MaxPathGroupNumber || g.Priority < -1 {
				t.Fatalf("map %d: group %d priority %d", i, g.Group, g.Priority)
			}
		}
		if i > 0 && strings.ToLower(st[i-1].WWID) > strings.ToLower(m.WWID) {
			t.Fatalf("maps not sorted by WWID: %q before %q", st[i-1].WWID, m.WWID)
		}
	}
}

func summary(st []mpv1alpha1.MapStatus) string {
	var b strings.Builder
	for _, m := range st {
		fmt.Fprintf(&b, "%s %s %s %d/%d;", m.WWID, m.Name, m.State, m.ActivePaths, m.TotalPaths)
	}
	return b.String()
}

// The health of every capture, through the path the agent uses (JSON) or the text parser.
func TestFromMapsOnFixtures(t *testing.T) {
	tests := map[string]struct {
		file string
		want string
	}{
		"a map whose only path failed is failed": {
			file: "maps-json-ibm-ubiquity-iscsi-one-path-faulty.json",
			want: "360050768029b8168e000000000006247 mpathp failed 0/1;",
		},
		"16 active ready paths are optimal": {
			file: "maps-json-proxmox-san-fenced-huawei-16paths-healthy.json",
			want: "368caaaaaaaaae2069fb9e3e1000001c4 mpatha optimal 16/16;",
		},
		"every path timing out is failed": {
			file: "maps-json-proxmox-san-fenced-huawei-all-paths-io-timeout.json",
			want: "368caaaaaaaaae2069fb9e3e1000001c4 mpatha failed 0/16;",
		},
		"a healthy and a failed map are reported apart, sorted by WWID": {
			file: "maps-json-proxmox-san-fenced-DERIVED-2maps-one-all-failed.json",
			want: "368caaaaaaaaae2069fb9e3e1000001c4 mpatha optimal 16/16;368cbbbbbbbbe2069fb9e3e1000001bb mpathb failed 0/16;",
		},
		"active ready paths beside ghost paths are optimal (ALUA standby is healthy)": {
			file: "maps-json-DERIVED-from-multipath-ll-sg3utils-issue62-3par-alua-ghost.json",
			want: "360002ac0000000000123456789012345 mpathax optimal 8/8;",
		},
		"a path the checker sees back but the kernel has not reinstated is not usable yet: degraded": {
			file: "maps-json-DERIVED-from-multipath-ll-orealyz-lio-iscsi-recovering-failed-ready.json",
			want: "3600140532c8eec0828442df8df844bb1 mpathb degraded 1/2;3600140557c66dd047214999a651eb037 mpatha degraded 1/2;",
		},
		"paths the kernel still has active but the checker sees down are not usable: failed": {
			file: "maps-json-DERIVED-from-multipath-v4-ll-insights-core-rdac-mpathe-all-paths-faulty.json",
			want: "36f01faf000da3761000004323aa6fbce mpathe failed 0/8;",
		},
		"text: one failed path of two is degraded": {
			file: "multipath-ll-orealyz-lio-iscsi-one-path-failed-per-map.txt",
			want: "3600140532c8eec0828442df8df844bb1 mpathb degraded 1/2;3600140557c66dd047214999a651eb037 mpatha degraded 1/2;",
		},
		"text: two healthy paths are optimal": {
			file: "multipath-ll-orealyz-lio-iscsi-healthy-with-config-warning.txt",
			want: "3600140532c8eec0828442df8df844bb1 mpathb optimal 2/2;3600140557c66dd047214999a651eb037 mpatha optimal 2/2;",
		},
		"text: a map with no paths at all is failed": {
			file: "multipath-l-check-multipath-two-maps-no-paths.txt",
			want: "36000d774000045f655ea91cb4ea41d6f mpathb failed 0/0;36000d77b000048d117c68c81bf7c160a mpatha failed 0/0;",
		},
		"text: a stale map without paths beside a healthy one": {
			file: "multipath-ll-opensvc-issue12-stale-map-without-paths.txt",
			want: "36006016022f04400e3e62561e0efe3a6 36006016022f04400e3e62561e0efe3a6 failed 0/0;36006016040203100d2fba8d4190de711 36006016040203100d2fba8d4190de711 optimal 4/4;",
		},
		"text: a vanished placeholder path is failed": {
			file: "multipath-l-check-multipath-netapp-placeholder-path.txt",
			want: "360a98aaaa470505a684a656930385a4a foobar_postgresql_lun0 failed 0/1;",
		},
		"text: four single-path groups, all up, are optimal": {
			file: "multipath-ll-opensvc-issue6-ibm2145-four-pgs.txt",
			want: "3600507640081011a000000000000001e DATA01 optimal 4/4;",
		},
		"text: a map with one path of two failed, named after its WWID": {
			file: "multipath-ll-check-multipath-iet-one-failed-faulty.txt",
			want: "1STORAGE_server_target2 1STORAGE_server_target2 degraded 1/2;",
		},
		"text: NVMe native states are not multipathd's dm states: unknown, never healthy": {
			file: "multipath-ll-scaleoutsean-netapp-eseries-nvme-native-ana.txt",
			want: "eui.00000a0669af8e91d039ea0000493a26 eui.00000a0669af8e91d039ea0000493a26 unknown 0/4;",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data := []byte(readTestdata(t, tc.file))
			var maps []multipathd.Map
			if strings.HasSuffix(tc.file, ".json") {
				var err error
				if maps, err = multipathd.ParseMapsJSON(data); err != nil {
					t.Fatal(err)
				}
			} else {
				maps = multipathd.ParseTopology(data)
			}
			st := mapstatus.FromMaps(maps)
			checkAPIBounds(t, st)
			if got := summary(st); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// path builds a path; extra sets dev_st and marginal_st as "running"/"normal" unless given.
func path(dev, dm, chk string, opts ...func(*multipathd.Path)) multipathd.Path {
	p := multipathd.Path{Dev: dev, DMState: dm, CheckerState: chk, DevState: "running", MarginalState: "normal"}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func group(dm string, paths ...multipathd.Path) multipathd.PathGroup {
	return multipathd.PathGroup{DMState: dm, Paths: paths}
}

func oneMap(dm string, groups ...multipathd.PathGroup) multipathd.Map {
	return multipathd.Map{Name: "lun", UUID: "3600a", DMState: dm, PathGroups: groups}
}

// States no capture shows, built from FORMAT.md: the whole MapStatus is asserted.
func TestFromMapBuiltFromFormat(t *testing.T) {
	offline := func(p *multipathd.Path) { p.DevState = "offline" }
	marginal := func(p *multipathd.Path) { p.MarginalState = "marginal" }
	ps := func(dev, dm, chk, devst string) mpv1alpha1.PathStatus {
		return mpv1alpha1.PathStatus{Device: dev, DMState: dm, CheckerState: chk, DeviceState: devst}
	}
	tests := map[string]struct {
		in   multipathd.Map
		want mpv1alpha1.MapStatus
	}{
		"built from FORMAT.md: only ghost paths left is degraded (usable after a port-group switch)": {
			in: oneMap("active", group("enabled", path("sdb", "active", "ghost"), path("sda", "active", "ghost")),
				group("active", path("sdc", "failed", "faulty"))),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapDegraded, ActivePaths: 2, TotalPaths: 3,
				Paths: []mpv1alpha1.PathStatus{ps("sdc", "failed", "faulty", "running"), ps("sda", "active", "ghost", "running"), ps("sdb", "active", "ghost", "running")}},
		},
		"built from FORMAT.md: an offline device is not usable": {
			in: oneMap("active", group("active", path("sda", "active", "ready"), path("sdb", "active", "ready", offline))),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapDegraded, ActivePaths: 1, TotalPaths: 2,
				Paths: []mpv1alpha1.PathStatus{ps("sdb", "active", "ready", "offline"), ps("sda", "active", "ready", "running")}},
		},
		"built from FORMAT.md: a checker still pending is not usable yet": {
			in: oneMap("active", group("active", path("sda", "active", "ready"), path("sdb", "active", "i/o pending"))),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapDegraded, ActivePaths: 1, TotalPaths: 2,
				Paths: []mpv1alpha1.PathStatus{ps("sdb", "active", "i/o pending", "running"), ps("sda", "active", "ready", "running")}},
		},
		"built from FORMAT.md: shaky and delayed paths are not usable": {
			in: oneMap("active", group("active", path("sda", "active", "shaky"), path("sdb", "active", "delayed"))),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapFailed, ActivePaths: 0, TotalPaths: 2,
				Paths: []mpv1alpha1.PathStatus{ps("sda", "active", "shaky", "running"), ps("sdb", "active", "delayed", "running")}},
		},
		"built from FORMAT.md: a disabled group keeps its paths usable but the map is degraded": {
			in: oneMap("active", group("active", path("sda", "active", "ready")), group("disabled", path("sdb", "active", "ready"))),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapDegraded, ActivePaths: 2, TotalPaths: 2,
				Paths: []mpv1alpha1.PathStatus{ps("sdb", "active", "ready", "running"), ps("sda", "active", "ready", "running")}},
		},
		"built from FORMAT.md: a marginal path is usable but the map is degraded": {
			in: oneMap("active", group("active", path("sda", "active", "ready")), group("enabled", path("sdb", "active", "ready", marginal))),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapDegraded, ActivePaths: 2, TotalPaths: 2,
				Paths: []mpv1alpha1.PathStatus{ps("sdb", "active", "ready", "running"), ps("sda", "active", "ready", "running")}},
		},
		"built from FORMAT.md: a suspended map with healthy paths is degraded (I/O is held)": {
			in: oneMap("suspend", group("active", path("sda", "active", "ready"), path("sdb", "active", "ready"))),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapDegraded, ActivePaths: 2, TotalPaths: 2,
				Paths: []mpv1alpha1.PathStatus{ps("sda", "active", "ready", "running"), ps("sdb", "active", "ready", "running")}},
		},
		"built from FORMAT.md: a map whose device-mapper state is undef is unknown": {
			in: oneMap("undef", group("active", path("sda", "active", "ready"), path("sdb", "active", "ready"))),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapUnknown, ActivePaths: 2, TotalPaths: 2,
				Paths: []mpv1alpha1.PathStatus{ps("sda", "active", "ready", "running"), ps("sdb", "active", "ready", "running")}},
		},
		"built from FORMAT.md: a single healthy path is degraded (only one left)": {
			in: oneMap("active", group("active", path("sda", "active", "ready"))),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapDegraded, ActivePaths: 1, TotalPaths: 1,
				Paths: []mpv1alpha1.PathStatus{ps("sda", "active", "ready", "running")}},
		},
		"a malformed map is unknown whatever its paths say": {
			in: func() multipathd.Map {
				m := oneMap("active", group("active", path("sda", "active", "ready"), path("sdb", "active", "ready")))
				m.Malformed = true
				return m
			}(),
			want: mpv1alpha1.MapStatus{WWID: "3600a", Name: "lun", State: mpv1alpha1.MapUnknown, ActivePaths: 2, TotalPaths: 2,
				Paths: []mpv1alpha1.PathStatus{ps("sda", "active", "ready", "running"), ps("sdb", "active", "ready", "running")}},
		},
		"strings are trimmed, cleaned and cut to the API's lengths; a missing device becomes -": {
			in: multipathd.Map{
				Name: "  " + strings.Repeat("n", 200), UUID: "3600a\x01" + strings.Repeat("é", 100),
				PathGroups: []multipathd.PathGroup{group("active",
					multipathd.Path{Dev: "", HCIL: strings.Repeat("1", 80), DMState: "active\xff", CheckerState: strings.Repeat("r", 40), DevState: "running\n"},
					path(strings.Repeat("s", 70), "active", "ready"))},
			},
			want: mpv1alpha1.MapStatus{
				WWID: "3600a?" + strings.Repeat("é", 61), Name: strings.Repeat("n", 128), State: mpv1alpha1.MapDegraded, ActivePaths: 1, TotalPaths: 2,
				Paths: []mpv1alpha1.PathStatus{
					{Device: "-", HCIL: strings.Repeat("1", 64), DMState: "active?", CheckerState: strings.Repeat("r", 32), DeviceState: "running"},
					ps(strings.Repeat("s", 64), "active", "ready", "running"),
				},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := mapstatus.FromMap(tc.in)
			// These cases are about health; groups and priorities have their own test.
			got.PathGroups = nil
			for i := range got.Paths {
				got.Paths[i].Group, got.Paths[i].Priority = 0, 0
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestFromMapBoundsPathsAndListsFailedFirst(t *testing.T) {
	var paths []multipathd.Path
	for i := range 100 {
		if i%25 == 7 {
			paths = append(paths, path(fmt.Sprintf("sdz%03d", i), "failed", "faulty"))
		} else {
			paths = append(paths, path(fmt.Sprintf("sda%03d", i), "active", "ready"))
		}
	}
	st := mapstatus.FromMap(oneMap("active", group("active", paths...)))
	if st.State != mpv1alpha1.MapDegraded || st.ActivePaths != 96 || st.TotalPaths != 100 || len(st.Paths) != 64 {
		t.Fatalf("state %s active %d total %d listed %d; want degraded 96/100, 64 listed", st.State, st.ActivePaths, st.TotalPaths, len(st.Paths))
	}
	for i, want := range []string{"sdz007", "sdz032", "sdz057", "sdz082", "sda000", "sda001"} {
		if st.Paths[i].Device != want {
			t.Errorf("path %d = %s, want %s (failed paths first, then by device)", i, st.Paths[i].Device, want)
		}
	}
	// Same input in another order, same output.
	rev := make([]multipathd.Path, len(paths))
	for i := range paths {
		rev[i] = paths[len(paths)-1-i]
	}
	if again := mapstatus.FromMap(oneMap("active", group("active", rev...))); !reflect.DeepEqual(again, st) {
		t.Error("the output depends on the daemon's path order")
	}
	checkAPIBounds(t, []mpv1alpha1.MapStatus{st})
}

func TestFromMaps(t *testing.T) {
	in := []multipathd.Map{
		oneMap("active", group("active", path("sda", "active", "ready"))),
		{Name: "no-uuid", PathGroups: []multipathd.PathGroup{group("active", path("sdb", "active", "ready"))}},
		{Name: "B", UUID: "3600B"},
		{Name: "a", UUID: "3600a0"},
		{Name: "spaces", UUID: "   "},
	}
	got := summary(mapstatus.FromMaps(in))
	want := "3600a lun degraded 1/1;3600a0 a failed 0/0;3600B B failed 0/0;"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	many := make([]multipathd.Map, mapstatus.MaxMaps+5)
	for i := range many {
		many[i] = multipathd.Map{UUID: fmt.Sprintf("36%08d", len(many)-i)}
	}
	st := mapstatus.FromMaps(many)
	checkAPIBounds(t, st)
	if len(st) != mapstatus.MaxMaps || st[0].WWID != "3600000001" {
		t.Errorf("%d maps starting at %s; want %d starting at the lowest WWID", len(st), st[0].WWID, mapstatus.MaxMaps)
	}
}

// Each path keeps its group's number and its priority, and the groups are listed as multipath
// -ll prints them: in the daemon's order, with selector, priority and dm state.
func TestFromMapPathGroupsAndPriorities(t *testing.T) {
	prio := func(n int) func(*multipathd.Path) { return func(p *multipathd.Path) { p.Priority = n } }
	g1 := group("active", path("sdb", "active", "ready", prio(50)), path("sdc", "failed", "faulty", prio(-1)))
	g1.Selector, g1.Priority, g1.Number = "service-time 0", 50, 1
	g2 := group("enabled", path("sda", "active", "ghost", prio(1)))
	g2.Selector, g2.Priority, g2.Number = " round-robin 0\n", 1, 2
	g3 := group("disabled", path("sdd", "active", "ready", prio(0))) // no "group" in the JSON: its place, 3
	g3.Priority = -1
	st := mapstatus.FromMap(oneMap("active", g1, g2, g3))
	wantGroups := []mpv1alpha1.PathGroupStatus{
		{Group: 1, Selector: "service-time 0", Priority: 50, State: "active"},
		{Group: 2, Selector: "round-robin 0", Priority: 1, State: "enabled"},
		{Group: 3, Priority: -1, State: "disabled"},
	}
	if !reflect.DeepEqual(st.PathGroups, wantGroups) {
		t.Errorf("groups\n%+v\nwant\n%+v", st.PathGroups, wantGroups)
	}
	got := map[string][2]int32{}
	for _, p := range st.Paths {
		got[p.Device] = [2]int32{p.Group, p.Priority}
	}
	want := map[string][2]int32{"sdb": {1, 50}, "sdc": {1, -1}, "sda": {2, 1}, "sdd": {3, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paths' group and priority %v, want %v", got, want)
	}
	checkAPIBounds(t, []mpv1alpha1.MapStatus{st})

	// More groups than the API lists (one path per group, as failover makes): the first 64
	// are listed, numbers beyond the API's maximum are cut to it.
	var many []multipathd.PathGroup
	for i := range 70 {
		g := group("enabled", path(fmt.Sprintf("sd%03d", i), "active", "ready"))
		g.Number = i + 1
		if i == 69 {
			g.Number = 5000
		}
		many = append(many, g)
	}
	st = mapstatus.FromMap(oneMap("active", many...))
	if len(st.PathGroups) != mapstatus.MaxPathGroupsPerMap || st.PathGroups[63].Group != 64 {
		t.Errorf("%d groups listed, last %+v", len(st.PathGroups), st.PathGroups[len(st.PathGroups)-1])
	}
	for _, p := range st.Paths {
		if p.Device == "sd069" && p.Group != mapstatus.MaxPathGroupNumber {
			t.Errorf("group 5000 reported as %d", p.Group)
		}
	}
	checkAPIBounds(t, []mpv1alpha1.MapStatus{st})
}

// The groups of the captures, as multipath -ll shows them, healthy maps' too.
func TestFromMapPathGroupsOnFixtures(t *testing.T) {
	tests := map[string]struct {
		file string
		want string // per map: group:selector:prio:state paths dev@group/prio
	}{
		"one group, the only path failed with its own priority": {
			file: "map-json-ibm-ubiquity-iscsi-one-path-faulty.json",
			want: "1:round-robin 0:0:active[sdb@1/50]",
		},
		"ALUA: optimized group active at 50, the ghost group enabled at 1": {
			file: "maps-json-DERIVED-from-multipath-ll-sg3utils-issue62-3par-alua-ghost.json",
			want: "1:round-robin 0:50:active[sdfd@1/0 sdgm@1/0 sdhl@1/0 sdij@1/0]2:round-robin 0:1:enabled[sdae@2/0 sdbw@2/0 sdcp@2/0 sdeb@2/0]",
		},
		"text: four single-path groups": {
			file: "multipath-ll-opensvc-issue6-ibm2145-four-pgs.txt",
			want: "1:service-time 0:50:enabled[sdj@1/0]2:service-time 0:50:active[sdn@2/0]3:service-time 0:10:enabled[sdc@3/0]4:service-time 0:10:enabled[sdb@4/0]",
		},
		"16 paths in two groups by priority, path priorities from the JSON": {
			file: "maps-json-proxmox-san-fenced-huawei-16paths-healthy.json",
			want: "1:round-robin 0:50:active[sdc@1/50 sdq@1/50]2:round-robin 0:10:enabled[sdb@2/10 sdd@2/10 sde@2/10 sdf@2/10 sdg@2/10 sdh@2/10 sdi@2/10 sdj@2/10 sdk@2/10 sdl@2/10 sdm@2/10 sdn@2/10 sdo@2/10 sdp@2/10]",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data := []byte(readTestdata(t, tc.file))
			var maps []multipathd.Map
			if strings.HasSuffix(tc.file, ".json") {
				var err error
				if maps, err = multipathd.ParseMapsJSON(data); err != nil {
					t.Fatal(err)
				}
			} else {
				maps = multipathd.ParseTopology(data)
			}
			// FromMap: the report (FromMaps) lists no groups of the healthy ones.
			var st []mpv1alpha1.MapStatus
			for _, m := range maps {
				st = append(st, mapstatus.FromMap(m))
			}
			checkAPIBounds(t, st)
			var b strings.Builder
			for _, m := range st {
				for _, g := range m.PathGroups {
					fmt.Fprintf(&b, "%d:%s:%d:%s[", g.Group, g.Selector, g.Priority, g.State)
					sep := ""
					for _, p := range m.Paths {
						if p.Group == g.Group {
							fmt.Fprintf(&b, "%s%s@%d/%d", sep, p.Device, p.Group, p.Priority)
							sep = " "
						}
					}
					b.WriteString("]")
				}
				b.WriteString(";")
			}
			if got := b.String(); got != tc.want+";" {
				t.Errorf("got  %s\nwant %s;", got, tc.want)
			}
		})
	}
}

// The report lists the paths and path groups of the maps that are not optimal only; FromMap
// (one map, for the agent's own checks) lists them always.
func TestFromMapsListsPathsOfMapsNotOptimal(t *testing.T) {
	optimal := multipathd.Map{Name: "a", UUID: "3600a1", DMState: "active", PathGroups: []multipathd.PathGroup{
		{DMState: "active", Selector: "service-time 0", Paths: []multipathd.Path{path("sda", "active", "ready"), path("sdb", "active", "ready")}},
		{DMState: "enabled", Selector: "service-time 0", Paths: []multipathd.Path{path("sdc", "active", "ghost")}},
	}}
	degraded := multipathd.Map{Name: "b", UUID: "3600a2", DMState: "active", PathGroups: []multipathd.PathGroup{
		{DMState: "active", Selector: "service-time 0", Paths: []multipathd.Path{path("sdd", "active", "ready"), path("sde", "failed", "faulty")}},
	}}
	st := mapstatus.FromMaps([]multipathd.Map{degraded, optimal})
	if len(st) != 2 || st[0].WWID != "3600a1" || st[1].WWID != "3600a2" {
		t.Fatalf("maps %+v", st)
	}
	if o := st[0]; o.State != mpv1alpha1.MapOptimal || o.ActivePaths != 3 || o.TotalPaths != 3 || o.Paths != nil || o.PathGroups != nil {
		t.Errorf("optimal map reported as %+v, want 3/3 without paths or groups", o)
	}
	if d := st[1]; d.State != mpv1alpha1.MapDegraded || d.ActivePaths != 1 || len(d.Paths) != 2 || d.Paths[0].Device != "sde" || len(d.PathGroups) != 1 {
		t.Errorf("degraded map reported as %+v, want 1/2 with both paths, the failed one first, and its group", d)
	}
	if one := mapstatus.FromMap(optimal); len(one.Paths) != 3 || len(one.PathGroups) != 2 {
		t.Errorf("FromMap of the optimal map: %d paths, %d groups, want 3 and 2", len(one.Paths), len(one.PathGroups))
	}
	if got := mapstatus.WWID(multipathd.Map{UUID: " 3600a1\n"}); got != "3600a1" {
		t.Errorf("WWID = %q", got)
	}
}
