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
	"regexp"
	"strconv"
	"strings"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// Every multipath-tools a node may run prints "show maps json" from its own PRINT_JSON_*
// templates (testdata/show-maps-json-templates-<version>.txt, copied from each release's
// libmultipath/print.c) with the values its code can print. The fields differ (lun_hex only
// from 0.8.9) and so do values: map failback "-" up to 0.9.8, "manual", "undef" and
// "deferred:N" from 0.9.9; map dm_st "undef" from 0.9.x (0.9.4 among the tested); chk_st
// "disconnected" from 0.14.0. These tests print each reply as that release would and check
// that the parser reads it and the health rules count it as DESIGN.md section 4 says: failback
// is a policy, never a state, so it does not count; "undef" and "disconnected" are known
// states that are not usable; a map whose dm_st is "undef" is unknown, never healthy.

// jsonTemplates are one release's PRINT_JSON_* macros, string values unescaped.
type jsonTemplates struct {
	version string
	defs    map[string]string
}

var cString = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)

func loadJSONTemplates(t *testing.T, version string) jsonTemplates {
	t.Helper()
	text := readTestdata(t, "show-maps-json-templates-"+version+".txt")
	tp := jsonTemplates{version: version, defs: map[string]string{}}
	var name, body string
	flush := func() {
		if name == "" {
			return
		}
		lits := cString.FindAllStringSubmatch(body, -1)
		if len(lits) == 0 {
			tp.defs[name] = strings.TrimSpace(body) // a number
		} else {
			var s strings.Builder
			for _, l := range lits {
				u, err := strconv.Unquote(`"` + l[1] + `"`)
				if err != nil {
					t.Fatalf("%s: %s: %v", version, name, err)
				}
				s.WriteString(u)
			}
			tp.defs[name] = s.String()
		}
		name, body = "", ""
	}
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "#define "); ok {
			flush()
			f := strings.Fields(rest)
			name, body = f[0], strings.TrimPrefix(strings.TrimSpace(rest), f[0])
		} else if name != "" {
			body += "\n" + line
		}
		if !strings.HasSuffix(strings.TrimSpace(line), `\`) {
			flush()
		}
	}
	for _, need := range []string{"PRINT_JSON_START_ELEM", "PRINT_JSON_START_VERSION", "PRINT_JSON_START_MAPS", "PRINT_JSON_MAP",
		"PRINT_JSON_START_GROUPS", "PRINT_JSON_GROUP", "PRINT_JSON_GROUP_NUM", "PRINT_JSON_START_PATHS", "PRINT_JSON_PATH",
		"PRINT_JSON_END_ELEM", "PRINT_JSON_END_LAST_ELEM", "PRINT_JSON_END_ARRAY", "PRINT_JSON_END_LAST"} {
		if _, ok := tp.defs[need]; !ok {
			t.Fatalf("%s: no %s in the templates", version, need)
		}
	}
	return tp
}

// indent is n levels: PRINT_JSON_INDENT_N spaces each from 0.8.7, the PRINT_JSON_INDENT string before.
func (tp jsonTemplates) indent(t *testing.T, n int) string {
	if s, ok := tp.defs["PRINT_JSON_INDENT_N"]; ok {
		w, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: PRINT_JSON_INDENT_N %q", tp.version, s)
		}
		return strings.Repeat(" ", n*w)
	}
	return strings.Repeat(tp.defs["PRINT_JSON_INDENT"], n)
}

// fill expands a template's %X wildcards from vals, failing on one the test does not know:
// a release that prints a new field makes this test name it.
func (tp jsonTemplates) fill(t *testing.T, def string, vals map[byte]string) string {
	t.Helper()
	format := tp.defs[def]
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		i++
		v, ok := vals[format[i]]
		if !ok {
			t.Fatalf("%s: %s: wildcard %%%c unknown to the test", tp.version, def, format[i])
		}
		b.WriteString(v)
	}
	return b.String()
}

func (tp jsonTemplates) has(def string, wildcard byte) bool {
	return strings.Contains(tp.defs[def], "%"+string(wildcard))
}

// fakeMap is one map to print: group by group, path by path, wildcard values.
type fakeMap struct {
	vals   map[byte]string
	groups []fakeGroup
}

type fakeGroup struct {
	vals  map[byte]string
	paths []map[byte]string
}

// print prints "show maps json" as snprint_multipath_topology_json does (snprint_multipath,
// snprint_pathgroup and snprint_path end each filled template with a newline).
func (tp jsonTemplates) print(t *testing.T, maps []fakeMap) string {
	t.Helper()
	d := tp.defs
	footer := func(n int, last bool) string {
		if last {
			return tp.indent(t, n) + d["PRINT_JSON_END_LAST_ELEM"]
		}
		return tp.indent(t, n) + d["PRINT_JSON_END_ELEM"]
	}
	var b strings.Builder
	b.WriteString(d["PRINT_JSON_START_ELEM"])
	fmt.Fprintf(&b, d["PRINT_JSON_START_VERSION"], 0, 1)
	b.WriteString(tp.indent(t, 1) + d["PRINT_JSON_START_MAPS"])
	for mi, m := range maps {
		b.WriteString(tp.fill(t, "PRINT_JSON_MAP", m.vals) + "\n")
		b.WriteString(tp.indent(t, 2) + d["PRINT_JSON_START_GROUPS"])
		for gi, g := range m.groups {
			b.WriteString(tp.fill(t, "PRINT_JSON_GROUP", g.vals) + "\n")
			fmt.Fprintf(&b, d["PRINT_JSON_GROUP_NUM"], gi+1)
			b.WriteString(tp.indent(t, 3) + d["PRINT_JSON_START_PATHS"])
			for pi, p := range g.paths {
				b.WriteString(tp.fill(t, "PRINT_JSON_PATH", p) + "\n")
				b.WriteString(footer(3, pi+1 == len(g.paths)))
			}
			b.WriteString(d["PRINT_JSON_END_ARRAY"] + footer(2, gi+1 == len(m.groups)))
		}
		b.WriteString(d["PRINT_JSON_END_ARRAY"] + footer(1, mi+1 == len(maps)))
	}
	b.WriteString(d["PRINT_JSON_END_ARRAY"] + d["PRINT_JSON_END_LAST"])
	return b.String()
}

// versionCase is a map state some releases print. from and before bound the releases that
// can print it ("" leaves that side open).
type versionCase struct {
	name         string
	from, before string
	failback     string
	mapDM        string
	paths        [][2]string // dm_st, chk_st of each path, all in one active group
	want         mpv1alpha1.MapState
	wantUsable   int32
}

var twoReady = [][2]string{{"active", "ready"}, {"active", "ready"}}

var versionCases = []versionCase{
	// failback is printed, kept, and never counted.
	{name: "failback - (manual, or deferred without a tick)", before: "0.9.9", failback: "-", paths: twoReady, want: mpv1alpha1.MapOptimal, wantUsable: 2},
	{name: "failback manual", from: "0.9.9", failback: "manual", paths: twoReady, want: mpv1alpha1.MapOptimal, wantUsable: 2},
	{name: "failback undef", from: "0.9.9", failback: "undef", paths: twoReady, want: mpv1alpha1.MapOptimal, wantUsable: 2},
	{name: "failback deferred:N", from: "0.9.9", failback: "deferred:10", paths: twoReady, want: mpv1alpha1.MapOptimal, wantUsable: 2},
	{name: "failback immediate", failback: "immediate", paths: twoReady, want: mpv1alpha1.MapOptimal, wantUsable: 2},
	{name: "failback followover", failback: "followover", paths: twoReady, want: mpv1alpha1.MapOptimal, wantUsable: 2},
	{name: "failback in progress", failback: "XXXXX..... 5/10", paths: twoReady, want: mpv1alpha1.MapOptimal, wantUsable: 2},
	// map dm_st
	{name: "map dm_st undef is unknown, never healthy", from: "0.9.4", failback: "immediate", mapDM: "undef", paths: twoReady, want: mpv1alpha1.MapUnknown, wantUsable: 2},
	{name: "map suspended", failback: "immediate", mapDM: "suspend", paths: twoReady, want: mpv1alpha1.MapDegraded, wantUsable: 2},
	// path dm_st undef: a path not (yet) in the kernel's table carries no I/O
	{name: "one path undef", failback: "immediate", paths: [][2]string{{"active", "ready"}, {"undef", "undef"}}, want: mpv1alpha1.MapDegraded, wantUsable: 1},
	{name: "every path undef", failback: "immediate", paths: [][2]string{{"undef", "undef"}, {"undef", "undef"}}, want: mpv1alpha1.MapFailed, wantUsable: 0},
	// chk_st disconnected (0.14.0): the path's transport is gone; not usable
	{name: "one path disconnected", from: "0.14.0", failback: "manual", paths: [][2]string{{"active", "ready"}, {"failed", "disconnected"}}, want: mpv1alpha1.MapDegraded, wantUsable: 1},
	{name: "every path disconnected", from: "0.14.0", failback: "manual", paths: [][2]string{{"failed", "disconnected"}, {"active", "disconnected"}}, want: mpv1alpha1.MapFailed, wantUsable: 0},
}

func (c versionCase) printedBy(version string) bool {
	return (c.from == "" || multipathconf.CompareVersions(version, c.from) >= 0) &&
		(c.before == "" || multipathconf.CompareVersions(version, c.before) < 0)
}

func (c versionCase) fakeMap(wwid string) fakeMap {
	usable := 0
	group := fakeGroup{vals: map[byte]string{'s': "service-time 0", 'p': "50", 't': "active", 'M': "normal"}}
	for i, p := range c.paths {
		if p[0] == "active" && (p[1] == "ready" || p[1] == "ghost") {
			usable++
		}
		group.paths = append(group.paths, map[byte]string{
			'd': fmt.Sprintf("sd%c", 'b'+i), 'D': fmt.Sprintf("8:%d", 16*(i+1)), 't': p[0], 'o': "running", 'T': p[1],
			'c': "tur", 'p': "50", 'N': "[undef]", 'n': "[undef]", 'R': "[undef]", 'r': "[undef]", 'a': "[undef]",
			'L': "0x0001", 'M': "normal",
		})
	}
	dm := c.mapDM
	if dm == "" {
		dm = "active"
	}
	return fakeMap{
		vals: map[byte]string{
			'n': wwid, 'w': wwid, 'd': "dm-0", 'F': c.failback, 'Q': "-", 'N': strconv.Itoa(usable), 'r': "rw", 't': dm,
			'f': "0", 'h': "0", 'A': "", '0': "0", 'v': "LIO-ORG ", 'p': "disk            ", 'e': "4.0 ",
			'1': "1", '2': "1", '3': "0", '4': "0",
		},
		groups: []fakeGroup{group},
	}
}

func TestParseMapsJSONOfEveryVersion(t *testing.T) {
	for _, version := range multipathconf.TestedVersions {
		t.Run(version, func(t *testing.T) {
			tp := loadJSONTemplates(t, version)
			withLUN := tp.has("PRINT_JSON_PATH", 'L')
			if want := multipathconf.CompareVersions(version, "0.8.9") >= 0; withLUN != want {
				t.Errorf("lun_hex in the templates: %v, want %v (0.8.9+)", withLUN, want)
			}
			var cases []versionCase
			var fakes []fakeMap
			for i, c := range versionCases {
				if c.printedBy(version) {
					cases = append(cases, c)
					fakes = append(fakes, c.fakeMap(fmt.Sprintf("36001405000000000000000000000%04d", i)))
				}
			}
			reply := tp.print(t, fakes)
			maps, err := multipathd.ParseMapsJSON([]byte(reply))
			if err != nil {
				t.Fatalf("%v\n%s", err, reply)
			}
			if len(maps) != len(cases) {
				t.Fatalf("%d maps, want %d\n%s", len(maps), len(cases), reply)
			}
			for i, c := range cases {
				m := maps[i]
				if m.Malformed || m.Failback != c.failback || len(m.PathGroups) != 1 || len(m.PathGroups[0].Paths) != len(c.paths) {
					t.Errorf("%s: parsed %+v", c.name, m)
					continue
				}
				for _, p := range m.PathGroups[0].Paths {
					if wantLUN := map[bool]string{true: "0x0001"}[withLUN]; p.LUNHex != wantLUN {
						t.Errorf("%s: lun_hex %q, want %q", c.name, p.LUNHex, wantLUN)
					}
				}
				st := mapstatus.FromMap(m)
				if want := []mpv1alpha1.PathGroupStatus{{Group: 1, Selector: "service-time 0", Priority: 50, State: "active"}}; !reflect.DeepEqual(st.PathGroups, want) {
					t.Errorf("%s: path groups %+v, want %+v", c.name, st.PathGroups, want)
				}
				for _, p := range st.Paths {
					if p.Group != 1 || p.Priority != 50 {
						t.Errorf("%s: path %s group %d priority %d, want 1 and 50", c.name, p.Device, p.Group, p.Priority)
					}
				}
				if st.State != c.want || st.ActivePaths != c.wantUsable || st.TotalPaths != int32(len(c.paths)) {
					t.Errorf("%s: %s %d/%d, want %s %d/%d", c.name, st.State, st.ActivePaths, st.TotalPaths, c.want, c.wantUsable, len(c.paths))
				}
			}
		})
	}
}

// Every case is printed by at least one tested version, and the newest prints the values the
// oldest cannot.
func TestVersionCasesAreReachable(t *testing.T) {
	for _, c := range versionCases {
		printed := false
		for _, v := range multipathconf.TestedVersions {
			printed = printed || c.printedBy(v)
		}
		if !printed {
			t.Errorf("%s: no tested version prints it", c.name)
		}
	}
}
