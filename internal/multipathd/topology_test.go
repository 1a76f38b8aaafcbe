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

package multipathd

import (
	"bufio"
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

var (
	// "[<action>: ]<name>[ (<wwid>)] <dm-N|[nvme]:nvmeXnY> <vendor>,<product>[,<rev>]"
	topoHeaderRE = regexp.MustCompile(`^(?:([a-z]+): )?(\S+)(?: \((\S+)\))? (dm-[0-9]+|\[nvme\]:\S+)(?: (.*))?$`)
	// "size=1.0T features='1 queue_if_no_path' hwhandler='1 alua' wp=rw"
	topoSizeRE = regexp.MustCompile(`^size=(\S*) features='([^']*)' hwhandler='([^']*)' wp=(\S*)`)
	// "|-+- policy='round-robin 0' prio=50 status=active"
	topoGroupRE = regexp.MustCompile("^[|` ]*[|`]-\\+- policy='([^']*)' prio=(-?[0-9]+) status=(\\S+)")
	// "| |- 1:0:1:1 sdc 8:32  active ready running"
	topoPathRE = regexp.MustCompile("^[|` ]*[|`]- (\\S+) (.+)$")
	// Log lines captured with stderr: "Aug 30 05:09:18 | ..." or "6996.373607 | ...".
	topoLogRE = regexp.MustCompile(`^(?:[A-Z][a-z]{2} +[0-9]+ [0-9:]{8}|[0-9]+\.[0-9]+) \| `)
)

// ParseTopology reads the text of "multipath -ll", "multipath -l" or "multipathd show topology"
// into the model ParseMapsJSON returns. The text carries less than the JSON: map
// dm_st, checker names, priorities of paths and all FC details are absent and stay zero; the
// HCIL is present (the JSON has none). Interleaved log lines, the "===== paths list =====" of
// -v4 and lines it does not recognise are skipped. A map whose paths are not listed (no groups)
// is returned with no groups. It never fails: text it cannot read yields fewer maps.
//
// The agent reads the JSON; this exists for the tests of text captures, so it lives in a test
// file (exported to the package's external tests).
func ParseTopology(text []byte) []Map {
	var (
		maps []Map
		cur  *Map
	)
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if topoLogRE.MatchString(line) || strings.TrimSpace(line) == "" {
			continue
		}
		if m := topoHeaderRE.FindStringSubmatch(line); m != nil {
			maps = append(maps, topoMap(m))
			cur = &maps[len(maps)-1]
			continue
		}
		if cur == nil {
			continue
		}
		if m := topoSizeRE.FindStringSubmatch(line); m != nil {
			cur.Features, cur.HWHandler, cur.WriteProt = m[2], m[3], m[4]
			continue
		}
		if m := topoGroupRE.FindStringSubmatch(line); m != nil {
			pri, _ := strconv.ParseInt(m[2], 10, 64)
			cur.PathGroups = append(cur.PathGroups, PathGroup{
				Selector: m[1], Priority: priority(pri), DMState: m[3], Number: len(cur.PathGroups) + 1,
			})
			continue
		}
		if m := topoPathRE.FindStringSubmatch(line); m != nil && len(cur.PathGroups) > 0 {
			if p, ok := topoPath(m[1], m[2]); ok {
				g := &cur.PathGroups[len(cur.PathGroups)-1]
				g.Paths = append(g.Paths, p)
			}
		}
	}
	return maps
}

func topoMap(m []string) Map {
	out := Map{Action: m[1], Name: m[2], UUID: m[3], Sysfs: m[4]}
	if out.UUID == "" {
		out.UUID = out.Name // the WWID is printed only when it differs from the name
	}
	vendor, product, _ := strings.Cut(m[5], ",")
	out.Vendor, out.Product = vendor, product
	if i := strings.IndexByte(out.Product, ','); i >= 0 && strings.HasPrefix(out.Sysfs, "[nvme]") {
		out.Product, out.Revision = out.Product[:i], out.Product[i+1:]
	}
	return out
}

// topoPath reads "<hcil> <dev> <dev_t> <dm_st> <chk_st> <dev_st>"; chk_st may hold a space
// ("i/o pending").
func topoPath(hcil, rest string) (Path, bool) {
	f := strings.Fields(rest)
	if len(f) < 5 {
		return Path{}, false
	}
	return Path{
		HCIL:         hcil,
		Dev:          f[0],
		DevT:         f[1],
		DMState:      f[2],
		CheckerState: strings.Join(f[3:len(f)-1], " "),
		DevState:     f[len(f)-1],
	}, true
}
