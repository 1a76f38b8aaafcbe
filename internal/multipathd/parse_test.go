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
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// digest renders the fields a reader of a map cares about, one line per map and one per group,
// so that a table can assert the whole parse in a few lines.
func digest(maps []multipathd.Map) string {
	var b strings.Builder
	for _, m := range maps {
		fmt.Fprintf(&b, "%s uuid=%s %s dm=%q paths=%d q=%q feat=%q hw=%q vend=%q prod=%q malformed=%t\n",
			m.Name, m.UUID, m.Sysfs, m.DMState, m.UsablePaths, m.Queueing, m.Features, m.HWHandler, m.Vendor, m.Product, m.Malformed)
		for _, g := range m.PathGroups {
			fmt.Fprintf(&b, "  g%d %s pri=%d:", g.Number, g.DMState, g.Priority)
			for _, p := range g.Paths {
				fmt.Fprintf(&b, " [%s %s %s %s/%s/%s]", p.HCIL, p.Dev, p.DevT, p.DMState, p.CheckerState, p.DevState)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestParseMapsJSONFixtures(t *testing.T) {
	tests := map[string]struct {
		file string
		want string
	}{
		"one iSCSI map whose only path failed (0.6-0.8 era, no marginal_st or lun_hex)": {
			file: "maps-json-ibm-ubiquity-iscsi-one-path-faulty.json",
			want: `mpathp uuid=360050768029b8168e000000000006247 dm-3 dm="active" paths=0 q="5 chk" feat="0" hw="0" vend="IBM     " prod="2145            " malformed=false
  g1 active pri=0: [ sdb 8:16 failed/faulty/running]
`,
		},
		"the single-map envelope of show map X json reads like show maps json": {
			file: "map-json-ibm-ubiquity-iscsi-one-path-faulty.json",
			want: `mpathp uuid=360050768029b8168e000000000006247 dm-3 dm="active" paths=0 q="5 chk" feat="0" hw="0" vend="IBM     " prod="2145            " malformed=false
  g1 active pri=0: [ sdb 8:16 failed/faulty/running]
`,
		},
		"a healthy 16-path FC ALUA map in two groups": {
			file: "maps-json-proxmox-san-fenced-huawei-16paths-healthy.json",
			want: `mpatha uuid=368caaaaaaaaae2069fb9e3e1000001c4 dm-6 dm="active" paths=16 q="15 chk" feat="1 queue_if_no_path" hw="1 alua" vend="HUAWEI" prod="XSG1" malformed=false
  g1 active pri=50: [ sdc 8:32 active/ready/running] [ sdq 65:0 active/ready/running]
  g2 enabled pri=10: [ sdb 8:16 active/ready/running] [ sdj 8:144 active/ready/running] [ sdd 8:48 active/ready/running] [ sdk 8:160 active/ready/running] [ sde 8:64 active/ready/running] [ sdl 8:176 active/ready/running] [ sdf 8:80 active/ready/running] [ sdm 8:192 active/ready/running] [ sdg 8:96 active/ready/running] [ sdn 8:208 active/ready/running] [ sdh 8:112 active/ready/running] [ sdo 8:224 active/ready/running] [ sdi 8:128 active/ready/running] [ sdp 8:240 active/ready/running]
`,
		},
		"the same map with every path timing out and queueing expired": {
			file: "maps-json-proxmox-san-fenced-huawei-all-paths-io-timeout.json",
			want: `mpatha uuid=368caaaaaaaaae2069fb9e3e1000001c4 dm-6 dm="active" paths=0 q="off" feat="0" hw="1 alua" vend="HUAWEI" prod="XSG1" malformed=false
  g1 active pri=0: [ sdi 8:128 failed/i/o timeout/running] [ sdq 65:0 failed/i/o timeout/running]
  g2 enabled pri=0: [ sdb 8:16 failed/i/o timeout/running] [ sdj 8:144 failed/i/o timeout/running] [ sdc 8:32 failed/i/o timeout/running] [ sdk 8:160 failed/i/o timeout/running] [ sdd 8:48 failed/i/o timeout/running] [ sdl 8:176 failed/i/o timeout/running] [ sde 8:64 failed/i/o timeout/running] [ sdn 8:208 failed/i/o timeout/running] [ sdf 8:80 failed/i/o timeout/running] [ sdm 8:192 failed/i/o timeout/running] [ sdg 8:96 failed/i/o timeout/running] [ sdo 8:224 failed/i/o timeout/running] [ sdh 8:112 failed/i/o timeout/running] [ sdp 8:240 failed/i/o timeout/running]
`,
		},
		"two maps, one healthy and one with every path failed (assembled, not captured)": {
			file: "maps-json-proxmox-san-fenced-DERIVED-2maps-one-all-failed.json",
			want: `mpatha uuid=368caaaaaaaaae2069fb9e3e1000001c4 dm-6 dm="active" paths=16 q="15 chk" feat="1 queue_if_no_path" hw="1 alua" vend="HUAWEI" prod="XSG1" malformed=false
  g1 active pri=50: [ sdc 8:32 active/ready/running] [ sdq 65:0 active/ready/running]
  g2 enabled pri=10: [ sdb 8:16 active/ready/running] [ sdj 8:144 active/ready/running] [ sdd 8:48 active/ready/running] [ sdk 8:160 active/ready/running] [ sde 8:64 active/ready/running] [ sdl 8:176 active/ready/running] [ sdf 8:80 active/ready/running] [ sdm 8:192 active/ready/running] [ sdg 8:96 active/ready/running] [ sdn 8:208 active/ready/running] [ sdh 8:112 active/ready/running] [ sdo 8:224 active/ready/running] [ sdi 8:128 active/ready/running] [ sdp 8:240 active/ready/running]
mpathb uuid=368cbbbbbbbbe2069fb9e3e1000001bb dm-7 dm="active" paths=0 q="off" feat="0" hw="1 alua" vend="HUAWEI" prod="XSG1" malformed=false
  g1 active pri=0: [ sdy 66:112 failed/i/o timeout/running] [ sdag 66:240 failed/i/o timeout/running]
  g2 enabled pri=0: [ sdr 66:0 failed/i/o timeout/running] [ sdz 66:128 failed/i/o timeout/running] [ sds 66:16 failed/i/o timeout/running] [ sdaa 66:144 failed/i/o timeout/running] [ sdt 66:32 failed/i/o timeout/running] [ sdab 66:160 failed/i/o timeout/running] [ sdu 66:48 failed/i/o timeout/running] [ sdad 66:192 failed/i/o timeout/running] [ sdv 66:64 failed/i/o timeout/running] [ sdac 66:176 failed/i/o timeout/running] [ sdw 66:80 failed/i/o timeout/running] [ sdae 66:208 failed/i/o timeout/running] [ sdx 66:96 failed/i/o timeout/running] [ sdaf 66:224 failed/i/o timeout/running]
`,
		},
		"DERIVED: ALUA active/optimised paths beside ghost (standby) paths": {
			file: "maps-json-DERIVED-from-multipath-ll-sg3utils-issue62-3par-alua-ghost.json",
			want: `mpathax uuid=360002ac0000000000123456789012345 dm-29 dm="" paths=8 q="" feat="0" hw="1 alua" vend="3PARdata" prod="VV" malformed=false
  g1 active pri=50: [ sdhl 133:176 active/ready/running] [ sdij 135:48 active/ready/running] [ sdfd 129:240 active/ready/running] [ sdgm 132:32 active/ready/running]
  g2 enabled pri=1: [ sdae 65:224 active/ghost/running] [ sdbw 68:160 active/ghost/running] [ sdcp 69:208 active/ghost/running] [ sdeb 128:48 active/ghost/running]
`,
		},
		"DERIVED: the checker sees a path back before the kernel reinstates it": {
			file: "maps-json-DERIVED-from-multipath-ll-orealyz-lio-iscsi-recovering-failed-ready.json",
			want: `mpatha uuid=3600140557c66dd047214999a651eb037 dm-2 dm="" paths=2 q="" feat="1 queue_if_no_path" hw="1 alua" vend="LIO-ORG" prod="data-chunk2" malformed=false
  g1 active pri=50: [ sdd 8:48 failed/ready/running]
  g2 enabled pri=50: [ sde 8:64 active/ready/running]
mpathb uuid=3600140532c8eec0828442df8df844bb1 dm-3 dm="" paths=2 q="" feat="1 queue_if_no_path" hw="1 alua" vend="LIO-ORG" prod="data-chunk2" malformed=false
  g1 enabled pri=50: [ sdb 8:16 failed/ready/running]
  g2 active pri=50: [ sdc 8:32 active/ready/running]
`,
		},
		"DERIVED: the kernel still has every path active while the checker sees them all down": {
			file: "maps-json-DERIVED-from-multipath-v4-ll-insights-core-rdac-mpathe-all-paths-faulty.json",
			want: `mpathe uuid=36f01faf000da3761000004323aa6fbce dm-4 dm="" paths=0 q="" feat="3 queue_if_no_path pg_init_retries 55" hw="1 rdac" vend="DELL" prod="MD36xxi" malformed=false
  g1 active pri=0: [ sdg 8:96 active/faulty/running] [ sdm 8:192 active/faulty/running] [ sds 65:32 active/faulty/running] [ sdy 65:128 active/faulty/running]
  g2 enabled pri=0: [ sdd 8:48 active/faulty/running] [ sdj 8:144 active/faulty/running] [ sdp 8:240 active/faulty/running] [ sdw 65:96 active/faulty/running]
`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			maps, err := multipathd.ParseMapsJSON([]byte(readTestdata(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if got := digest(maps); got != tc.want {
				t.Errorf("parse of %s:\n%s\nwant:\n%s", tc.file, got, tc.want)
			}
		})
	}
}

// Every field of one real map and one real path, so that no field is silently misnamed.
func TestParseMapsJSONReadsEveryField(t *testing.T) {
	maps, err := multipathd.ParseMapsJSON([]byte(readTestdata(t, "maps-json-proxmox-san-fenced-huawei-all-paths-io-timeout.json")))
	if err != nil || len(maps) != 1 {
		t.Fatalf("maps = %d, %v", len(maps), err)
	}
	m := maps[0]
	first := m.PathGroups[0].Paths[0]
	m.PathGroups = nil
	wantMap := multipathd.Map{
		Name: "mpatha", UUID: "368caaaaaaaaae2069fb9e3e1000001c4", Sysfs: "dm-6", Failback: "immediate",
		Queueing: "off", UsablePaths: 0, WriteProt: "rw", DMState: "active", Features: "0", HWHandler: "1 alua",
		Action: "create", PathFaults: 48, Vendor: "HUAWEI", Product: "XSG1", Revision: "4507", SwitchGroup: 0,
		MapLoads: 1, TotalQueueSec: 76, QueueTimeouts: 1,
	}
	if !reflect.DeepEqual(m, wantMap) {
		t.Errorf("map fields:\n got %+v\nwant %+v", m, wantMap)
	}
	wantPath := multipathd.Path{
		Dev: "sdi", DevT: "8:128", DMState: "failed", DevState: "running", CheckerState: "i/o timeout", Checker: "tur",
		Priority: 50, HostWWNN: "0x51402ec001bd6559", TargetWWNN: "0x21008c426dfae206", HostWWPN: "0x51402ec001bd6558",
		TargetWWPN: "0x20388c426dfae206", HostAdapter: "0000:00:03.0", LUNHex: "0x0001000000000000", MarginalState: "normal",
	}
	if !reflect.DeepEqual(first, wantPath) {
		t.Errorf("path fields:\n got %+v\nwant %+v", first, wantPath)
	}
	g := maps[0].PathGroups
	if g[1].Selector != "round-robin 0" || g[1].MarginalState != "normal" || g[1].Number != 2 || len(g[1].Paths) != 14 {
		t.Errorf("group 2 = %+v", g[1])
	}
}

// Inputs built from FORMAT.md: the tolerance rules, one sentence each.
func TestParseMapsJSONTolerance(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    string
		wantErr string
	}{
		"built from FORMAT.md: no maps is an empty list": {
			in: `{"major_version": 0, "minor_version": 1, "maps": []}`, want: "",
		},
		"built from FORMAT.md: maps null is an empty list": {
			in: `{"maps": null}`, want: "",
		},
		"built from FORMAT.md: map null is an empty list": {
			in: `{"map": null}`, want: "",
		},
		"built from FORMAT.md: unknown fields, at every level, are ignored": {
			in: `{"major_version": 9, "new": {"x": [1]}, "maps": [{"name": "a", "uuid": "u", "future": true,
			      "path_groups": [{"dm_st": "active", "weight": 3, "paths": [{"dev": "sda", "dm_st": "active", "chk_st": "ready", "dev_st": "running", "speed": "fast"}]}]}]}`,
			want: "a uuid=u  dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=false\n  g0 active pri=0: [ sda  active/ready/running]\n",
		},
		"built from FORMAT.md: missing fields stay zero": {
			in:   `{"maps": [{"uuid": "u"}]}`,
			want: " uuid=u  dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=false\n",
		},
		"built from FORMAT.md: negative counts are clamped to zero and priorities to -1": {
			in:   `{"maps": [{"uuid": "u", "paths": -4, "path_groups": [{"pri": -77, "group": -1, "paths": [{"dev": "sda", "pri": -9}]}]}]}`,
			want: " uuid=u  dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=false\n  g0  pri=-1: [ sda  //]\n",
		},
		"built from FORMAT.md: huge counts are clamped to MaxInt32": {
			in:   `{"maps": [{"uuid": "u", "paths": 9000000000000, "path_groups": [{"pri": 9000000000000}]}]}`,
			want: " uuid=u  dm=\"\" paths=2147483647 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=false\n  g0  pri=2147483647:\n",
		},
		"built from FORMAT.md: a number where a string belongs marks only that map malformed": {
			in: `{"maps": [{"uuid": "u1", "dm_st": 7, "name": "a"}, {"uuid": "u2", "name": "b"}]}`,
			want: "a uuid=u1  dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=true\n" +
				"b uuid=u2  dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=false\n",
		},
		"built from FORMAT.md: a string where a number belongs marks the map malformed": {
			in:   `{"maps": [{"uuid": "u", "paths": "16"}]}`,
			want: " uuid=u  dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=true\n",
		},
		"built from FORMAT.md: a fraction where an integer belongs marks the map malformed": {
			in:   `{"maps": [{"uuid": "u", "path_groups": [{"paths": [{"dev": "sda", "pri": 1.5}]}]}]}`,
			want: " uuid=u  dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=true\n  g0  pri=0: [ sda  //]\n",
		},
		"built from FORMAT.md: path groups that are not an array mark the map malformed": {
			in:   `{"maps": [{"uuid": "u", "path_groups": "none"}]}`,
			want: " uuid=u  dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=true\n",
		},
		"built from FORMAT.md: a null map is kept as a malformed map": {
			in:   `{"maps": [null]}`,
			want: " uuid=  dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=true\n",
		},
		"a reply cut in the middle of a string (hpe-storage/csi-driver issue 461) is an error": {
			in: `{"major_version": 0, "minor_version": 1, "maps": [{"name": "mpatha", "uuid": "3600`, wantErr: "unexpected end of JSON input",
		},
		"a fail reply is an error": {
			in: "fail\n", wantErr: "invalid character",
		},
		"an empty reply is an error": {
			in: "", wantErr: "unexpected end of JSON input",
		},
		"two concatenated replies are an error": {
			in: `{"maps": []}{"maps": []}`, wantErr: "after top-level value",
		},
		"junk after the reply is an error": {
			in: `{"maps": []} x`, wantErr: "after top-level value",
		},
		"an array at the top is an error": {
			in: `[{"name": "a"}]`, wantErr: "not a JSON object",
		},
		"an envelope with neither maps nor map is an error": {
			in: `{"major_version": 0, "minor_version": 1}`, wantErr: "neither",
		},
		"maps that is not an array is an error": {
			in: `{"maps": {"name": "a"}}`, wantErr: "not an array",
		},
		"an unescaped quote in a vendor string (the daemon does not escape) is an error": {
			in: `{"maps": [{"uuid": "u", "vend": "AC"ME"}]}`, wantErr: "invalid character",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			maps, err := multipathd.ParseMapsJSON([]byte(tc.in))
			if tc.wantErr != "" {
				if !errors.Is(err, multipathd.ErrMalformedJSON) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrMalformedJSON containing %q", err, tc.wantErr)
				}
				if maps != nil {
					t.Fatalf("maps = %v with an error", maps)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := digest(maps); got != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func TestParseTopologyFixtures(t *testing.T) {
	tests := map[string]struct {
		file string
		want string
	}{
		"show topology with an action prefix on the header": {
			file: "show-topology-proxmox-san-fenced-huawei-16paths-healthy.txt",
			want: `mpatha uuid=368caaaaaaaaae2069fb9e3e1000001c4 dm-6 dm="" paths=0 q="" feat="1 queue_if_no_path" hw="1 alua" vend="HUAWEI" prod="XSG1" malformed=false
  g1 active pri=50: [1:0:1:1 sdc 8:32 active/ready/running] [2:0:7:1 sdq 65:0 active/ready/running]
  g2 enabled pri=10: [1:0:0:1 sdb 8:16 active/ready/running] [2:0:0:1 sdj 8:144 active/ready/running] [1:0:2:1 sdd 8:48 active/ready/running] [2:0:1:1 sdk 8:160 active/ready/running] [1:0:3:1 sde 8:64 active/ready/running] [2:0:2:1 sdl 8:176 active/ready/running] [1:0:4:1 sdf 8:80 active/ready/running] [2:0:3:1 sdm 8:192 active/ready/running] [1:0:5:1 sdg 8:96 active/ready/running] [2:0:4:1 sdn 8:208 active/ready/running] [1:0:6:1 sdh 8:112 active/ready/running] [2:0:5:1 sdo 8:224 active/ready/running] [1:0:7:1 sdi 8:128 active/ready/running] [2:0:6:1 sdp 8:240 active/ready/running]
`,
		},
		"ALUA ghost paths": {
			file: "multipath-ll-sg3utils-issue62-3par-alua-ghost.txt",
			want: `mpathax uuid=360002ac0000000000123456789012345 dm-29 dm="" paths=0 q="" feat="0" hw="1 alua" vend="3PARdata" prod="VV" malformed=false
  g1 active pri=50: [0:0:7:27 sdhl 133:176 active/ready/running] [1:0:7:27 sdij 135:48 active/ready/running] [0:0:6:27 sdfd 129:240 active/ready/running] [1:0:5:27 sdgm 132:32 active/ready/running]
  g2 enabled pri=1: [0:0:2:27 sdae 65:224 active/ghost/running] [1:0:2:27 sdbw 68:160 active/ghost/running] [0:0:3:27 sdcp 69:208 active/ghost/running] [1:0:3:27 sdeb 128:48 active/ghost/running]
`,
		},
		"log lines are skipped and a map without groups keeps its header": {
			file: "multipath-ll-opensvc-issue12-stale-map-without-paths.txt",
			want: `36006016040203100d2fba8d4190de711 uuid=36006016040203100d2fba8d4190de711 dm-6 dm="" paths=0 q="" feat="0" hw="1 alua" vend="DGC" prod="VRAID" malformed=false
  g1 active pri=50: [1:0:1:1 sdg 8:96 active/ready/running] [2:0:4:1 sdc 8:32 active/ready/running]
  g2 enabled pri=10: [1:0:5:1 sds 65:32 active/ready/running] [2:0:5:1 sdu 65:64 active/ready/running]
36006016022f04400e3e62561e0efe3a6 uuid=36006016022f04400e3e62561e0efe3a6 dm-12 dm="" paths=0 q="" feat="0" hw="1 alua" vend="##" prod="##" malformed=false
`,
		},
		"vendor padding is kept and the active group need not come first": {
			file: "multipath-ll-opensvc-issue6-ibm2145-four-pgs.txt",
			want: `DATA01 uuid=3600507640081011a000000000000001e dm-4 dm="" paths=0 q="" feat="1 queue_if_no_path" hw="0" vend="IBM     " prod="2145            " malformed=false
  g1 enabled pri=50: [8:0:1:0 sdj 8:144 active/ready/running]
  g2 active pri=50: [10:0:1:0 sdn 8:208 active/ready/running]
  g3 enabled pri=10: [8:0:0:0 sdc 8:32 active/ready/running]
  g4 enabled pri=10: [10:0:0:0 sdb 8:16 active/ready/running]
`,
		},
		"one failed path per map, and a config warning line before them": {
			file: "multipath-ll-orealyz-lio-iscsi-one-path-failed-per-map.txt",
			want: `mpatha uuid=3600140557c66dd047214999a651eb037 dm-2 dm="" paths=0 q="" feat="1 queue_if_no_path" hw="1 alua" vend="LIO-ORG" prod="data-chunk2" malformed=false
  g1 active pri=0: [5:0:0:0 sdd 8:48 failed/faulty/running]
  g2 enabled pri=50: [6:0:0:0 sde 8:64 active/ready/running]
mpathb uuid=3600140532c8eec0828442df8df844bb1 dm-3 dm="" paths=0 q="" feat="1 queue_if_no_path" hw="1 alua" vend="LIO-ORG" prod="data-chunk2" malformed=false
  g1 enabled pri=0: [7:0:0:0 sdb 8:16 failed/faulty/running]
  g2 active pri=50: [8:0:0:0 sdc 8:32 active/ready/running]
`,
		},
		"a warning line in monotonic-timestamp form is skipped": {
			file: "multipath-ll-orealyz-lio-iscsi-healthy-with-config-warning.txt",
			want: `mpatha uuid=3600140557c66dd047214999a651eb037 dm-2 dm="" paths=0 q="" feat="1 queue_if_no_path" hw="1 alua" vend="LIO-ORG" prod="data-chunk2" malformed=false
  g1 active pri=50: [5:0:0:0 sdd 8:48 active/ready/running]
  g2 enabled pri=50: [6:0:0:0 sde 8:64 active/ready/running]
mpathb uuid=3600140532c8eec0828442df8df844bb1 dm-3 dm="" paths=0 q="" feat="1 queue_if_no_path" hw="1 alua" vend="LIO-ORG" prod="data-chunk2" malformed=false
  g1 enabled pri=50: [7:0:0:0 sdb 8:16 active/ready/running]
  g2 active pri=50: [8:0:0:0 sdc 8:32 active/ready/running]
`,
		},
		"two maps with no paths and an empty vendor field": {
			file: "multipath-l-check-multipath-two-maps-no-paths.txt",
			want: `mpathb uuid=36000d774000045f655ea91cb4ea41d6f dm-1 dm="" paths=0 q="" feat="1 queue_if_no_path" hw="0" vend="" prod="" malformed=false
mpatha uuid=36000d77b000048d117c68c81bf7c160a dm-0 dm="" paths=0 q="" feat="1 queue_if_no_path" hw="0" vend="" prod="" malformed=false
`,
		},
		"a placeholder path of a vanished device": {
			file: "multipath-l-check-multipath-netapp-placeholder-path.txt",
			want: `foobar_postgresql_lun0 uuid=360a98aaaa470505a684a656930385a4a dm-2 dm="" paths=0 q="" feat="1 queue_if_no_path" hw="0" vend="NETAPP" prod="LUN" malformed=false
  g1 enabled pri=0: [#:#:#:# - #:# active/faulty/running]
`,
		},
		"a map named after its WWID prints no WWID, and a padded checker column": {
			file: "multipath-ll-check-multipath-iet-one-failed-faulty.txt",
			want: `1STORAGE_server_target2 uuid=1STORAGE_server_target2 dm-2 dm="" paths=0 q="" feat="0" hw="0" vend="IET" prod="VIRTUAL-DISK" malformed=false
  g1 active pri=1: [9:0:0:1 sdc 8:32 active/ready/running] [10:0:0:1 sdd 8:48 failed/faulty/running]
`,
		},
		"the -v4 paths list and debug lines are skipped": {
			file: "multipath-v4-ll-insights-core-rdac-all-paths-faulty.txt",
			want: `mpathg uuid=36f01faf000da360b0000033c528fea6d dm-2 dm="" paths=0 q="" feat="3 queue_if_no_path pg_init_retries 50" hw="1 rdac" vend="DELL" prod="MD36xxi" malformed=false
  g1 active pri=0: [12:0:0:1 sdc 8:32 active/ready/running] [11:0:0:1 sdi 8:128 active/ready/running] [15:0:0:1 sdo 8:224 active/ready/running] [17:0:0:1 sdv 65:80 active/ready/running]
  g2 enabled pri=0: [13:0:0:1 sdf 8:80 active/ready/running] [14:0:0:1 sdl 8:176 active/ready/running] [16:0:0:1 sdr 65:16 active/ready/running] [18:0:0:1 sdx 65:112 active/ready/running]
mpathe uuid=36f01faf000da3761000004323aa6fbce dm-4 dm="" paths=0 q="" feat="3 queue_if_no_path pg_init_retries 55" hw="1 rdac" vend="DELL" prod="MD36xxi" malformed=false
  g1 active pri=0: [13:0:0:2 sdg 8:96 active/faulty/running] [14:0:0:2 sdm 8:192 active/faulty/running] [16:0:0:2 sds 65:32 active/faulty/running] [18:0:0:2 sdy 65:128 active/faulty/running]
  g2 enabled pri=0: [12:0:0:2 sdd 8:48 active/faulty/running] [11:0:0:2 sdj 8:144 active/faulty/running] [15:0:0:2 sdp 8:240 active/faulty/running] [17:0:0:2 sdw 65:96 active/faulty/running]
36001405b1629f80d52a4c898f8856e43 uuid=36001405b1629f80d52a4c898f8856e43 dm-5 dm="" paths=0 q="" feat="0" hw="0" vend="LIO-ORG " prod="block0_sdb" malformed=false
  g1 active pri=1: [3:0:0:0 sdc 8:32 active/ready/running]
  g2 enabled pri=1: [4:0:0:0 sdb 8:16 active/ready/running]
`,
		},
		"NVMe native maps: ANA states in the path columns": {
			file: "multipath-ll-scaleoutsean-netapp-eseries-nvme-native-ana.txt",
			want: `eui.00000a0669af8e91d039ea0000493a26 uuid=eui.00000a0669af8e91d039ea0000493a26 [nvme]:nvme1n1 dm="" paths=0 q="" feat="n/a" hw="ANA" vend="NVMe" prod="NetApp E-Series" malformed=false
  g1 non-optimized pri=10: [1:1:1 nvme1c1n1 0:0 n/a/non-optimized/live]
  g2 non-optimized pri=10: [1:2:1 nvme1c2n1 0:0 n/a/non-optimized/live]
  g3 optimized pri=50: [1:3:1 nvme1c3n1 0:0 n/a/optimized/live]
  g4 optimized pri=50: [1:4:1 nvme1c4n1 0:0 n/a/optimized/live]
`,
		},
		"NVMe native, two namespaces (the buggy output the dm-devel patch fixed)": {
			file: "multipath-ll-dmdevel-huawei-nvme-native-two-namespaces.txt",
			want: `eui.710032e8fb22a86c24a52c1000000db8 uuid=eui.710032e8fb22a86c24a52c1000000db8 [nvme]:nvme1n1 dm="" paths=0 q="" feat="n/a" hw="ANA" vend="NVMe" prod="Huawei-XSG1" malformed=false
  g1 optimized pri=50: [1:4:1 nvme1c4n1 0:0 n/a/optimized/live]
  g2 optimized pri=50: [1:9:1 nvme1c9n1 0:0 n/a/optimized/live]
eui.710032e8fb22a86b24a52c7c00000db7 uuid=eui.710032e8fb22a86b24a52c7c00000db7 [nvme]:nvme1n2 dm="" paths=0 q="" feat="n/a" hw="ANA" vend="NVMe" prod="Huawei-XSG1" malformed=false
  g1 optimized pri=50: [1:4:1 nvme1c4n1 0:0 n/a/optimized/live]
  g2 optimized pri=50: [1:9:1 nvme1c9n1 0:0 n/a/optimized/live]
`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := digest(multipathd.ParseTopology([]byte(readTestdata(t, tc.file)))); got != tc.want {
				t.Errorf("parse of %s:\n%s\nwant:\n%s", tc.file, got, tc.want)
			}
		})
	}
}

func TestParseTopologyEdgeCases(t *testing.T) {
	in := "garbage before any map\n" +
		"|- 1:0:0:1 sdz 8:0 active ready running\n" + // a path before any map: skipped
		"m1 (w1) dm-1 V,P\r\n" +
		"|- 1:0:0:1 sdy 8:0 active ready running\n" + // a path before any group: skipped
		"`-+- policy='round-robin 0' prio=-1 status=active\n" +
		"  |- 1:0:0:2 sda 8:0 active i/o pending running\n" +
		"  `- 1:0:0:3 sdb\n" + // too few columns: skipped
		"m2 dm-2\n"
	want := "m1 uuid=w1 dm-1 dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"V\" prod=\"P\" malformed=false\n" +
		"  g1 active pri=-1: [1:0:0:2 sda 8:0 active/i/o pending/running]\n" +
		"m2 uuid=m2 dm-2 dm=\"\" paths=0 q=\"\" feat=\"\" hw=\"\" vend=\"\" prod=\"\" malformed=false\n"
	if got := digest(multipathd.ParseTopology([]byte(in))); got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
	if got := multipathd.ParseTopology(nil); got != nil {
		t.Errorf("ParseTopology(nil) = %v", got)
	}
}

// Each DERIVED JSON file says in JSON what its text source says: both convert to the same API
// status once the HCIL, which the JSON lacks, and the paths' priorities, which the text lacks,
// are set aside.
func TestDerivedJSONAgreesWithItsTextSource(t *testing.T) {
	tests := map[string]struct {
		json, text string
		only       string // a map name, when the JSON carries one map of the text
	}{
		"ALUA ghost": {
			json: "maps-json-DERIVED-from-multipath-ll-sg3utils-issue62-3par-alua-ghost.json",
			text: "multipath-ll-sg3utils-issue62-3par-alua-ghost.txt",
		},
		"failed ready": {
			json: "maps-json-DERIVED-from-multipath-ll-orealyz-lio-iscsi-recovering-failed-ready.json",
			text: "multipath-ll-orealyz-lio-iscsi-recovering-failed-ready.txt",
		},
		"active faulty": {
			json: "maps-json-DERIVED-from-multipath-v4-ll-insights-core-rdac-mpathe-all-paths-faulty.json",
			text: "multipath-v4-ll-insights-core-rdac-all-paths-faulty.txt", only: "mpathe",
		},
		"the healthy 16-path capture exists as JSON and as show topology": {
			json: "maps-json-proxmox-san-fenced-huawei-16paths-healthy.json",
			text: "show-topology-proxmox-san-fenced-huawei-16paths-healthy.txt",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fromJSON, err := multipathd.ParseMapsJSON([]byte(readTestdata(t, tc.json)))
			if err != nil {
				t.Fatal(err)
			}
			// The text's path lines carry no priority (the group lines do): set it aside too.
			for mi := range fromJSON {
				for gi := range fromJSON[mi].PathGroups {
					for pi := range fromJSON[mi].PathGroups[gi].Paths {
						fromJSON[mi].PathGroups[gi].Paths[pi].Priority = 0
					}
				}
			}
			var fromText []multipathd.Map
			for _, m := range multipathd.ParseTopology([]byte(readTestdata(t, tc.text))) {
				if tc.only == "" || m.Name == tc.only {
					for gi := range m.PathGroups {
						for pi := range m.PathGroups[gi].Paths {
							m.PathGroups[gi].Paths[pi].HCIL = ""
						}
					}
					fromText = append(fromText, m)
				}
			}
			a, b := mapstatus.FromMaps(fromJSON), mapstatus.FromMaps(fromText)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("JSON gives\n%+v\ntext gives\n%+v", a, b)
			}
		})
	}
}

func FuzzParseMapsJSON(f *testing.F) {
	for _, name := range []string{
		"maps-json-ibm-ubiquity-iscsi-one-path-faulty.json",
		"map-json-ibm-ubiquity-iscsi-one-path-faulty.json",
		"maps-json-DERIVED-from-multipath-ll-sg3utils-issue62-3par-alua-ghost.json",
	} {
		f.Add([]byte(readTestdata(f, name)))
	}
	f.Add([]byte(`{"maps":[{"uuid":"u","path_groups":[{"paths":[{"dev":"\u0000\u00ff"}]}]}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		maps, err := multipathd.ParseMapsJSON(in)
		if err != nil {
			return
		}
		checkAPIBounds(t, mapstatus.FromMaps(maps))
	})
}

// DecodeMaps gives what ParseMapsJSON returns, map by map, from a reader that hands out one
// byte at a time (the socket gives the reply in pieces of any size).
func TestDecodeMapsStreamsWhatParseMapsJSONReturns(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		files++
		data := readTestdata(t, e.Name())
		want, err := multipathd.ParseMapsJSON([]byte(data))
		if err != nil || len(want) == 0 {
			t.Fatalf("%s: %d maps, %v", e.Name(), len(want), err)
		}
		var got []multipathd.Map
		if err := multipathd.DecodeMaps(iotest.OneByteReader(strings.NewReader(data)), func(m multipathd.Map) error {
			got = append(got, m)
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: DecodeMaps gave\n%s\nParseMapsJSON\n%s", e.Name(), digest(got), digest(want))
		}
	}
	if files < 5 {
		t.Fatalf("only %d JSON fixtures", files)
	}
}

func TestDecodeMapsEnvelopeAndErrors(t *testing.T) {
	collect := func(in string) (string, error) {
		var maps []multipathd.Map
		err := multipathd.DecodeMaps(strings.NewReader(in), func(m multipathd.Map) error {
			maps = append(maps, m)
			return nil
		})
		return digest(maps), err
	}
	// "maps" is read when both keys are there, in either order, as encoding/json would.
	for _, in := range []string{
		`{"map": {"uuid": "single"}, "maps": [{"uuid": "u1"}]}`,
		`{"maps": [{"uuid": "u1"}], "map": {"uuid": "single"}}`,
		`{"MAPS": [{"uuid": "u1"}]}`,
	} {
		if got, err := collect(in); err != nil || !strings.Contains(got, "uuid=u1") || strings.Contains(got, "single") {
			t.Errorf("%s: got %q, %v; want the map of \"maps\" only", in, got, err)
		}
	}
	// An error from each stops the decoding and comes back as it is.
	stop := errors.New("stop")
	calls := 0
	err := multipathd.DecodeMaps(strings.NewReader(`{"maps": [{"uuid": "u1"}, {"uuid": "u2"}]}`), func(multipathd.Map) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("each failing: err = %v after %d calls, want stop after 1", err, calls)
	}
	// The reader's own failure is not malformed JSON: the daemon may have sent good JSON.
	broken := errors.New("connection reset")
	err = multipathd.DecodeMaps(io.MultiReader(strings.NewReader(`{"maps": [{"uuid": "u1"}, `), iotest.ErrReader(broken)),
		func(multipathd.Map) error { return nil })
	if !errors.Is(err, broken) || errors.Is(err, multipathd.ErrMalformedJSON) {
		t.Errorf("reader failing: err = %v, want the reader's error, not ErrMalformedJSON", err)
	}
	// A reply cut short is malformed, whatever was given before it.
	if _, err := collect(`{"maps": [{"uuid": "u1"}, {"uuid": "u2"`); !errors.Is(err, multipathd.ErrMalformedJSON) {
		t.Errorf("cut short: err = %v, want ErrMalformedJSON", err)
	}
}
