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
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// mapsJSON prints n maps of 4 paths each (2 groups) in multipathd 0.9.4's layout, for the
// agent-side cost at the design's scale.
func mapsJSON(n int) []byte {
	var b strings.Builder
	b.WriteString("{\n   \"major_version\": 0,\n   \"minor_version\": 1,\n   \"maps\": [")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{
      "name" : "3600a0980383030%018d",
      "uuid" : "3600a0980383030%018d",
      "sysfs" : "dm-%d",
      "failback" : "immediate",
      "queueing" : "15 chk",
      "paths" : 4,
      "write_prot" : "rw",
      "dm_st" : "active",
      "features" : "1 queue_if_no_path",
      "hwhandler" : "1 alua",
      "action" : "",
      "path_faults" : 0,
      "vend" : "NETAPP",
      "prod" : "LUN C-Mode",
      "rev" : "9141",
      "switch_grp" : 0,
      "map_loads" : 1,
      "total_q_time" : 0,
      "q_timeouts" : 0,
      "path_groups": [`, i, i, i)
		for g := range 2 {
			if g > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{
         "selector" : "service-time 0",
         "pri" : %d,
         "dm_st" : "active",
         "marginal_st" : "normal",
         "group" : %d,
         "paths": [`, 50-40*g, g+1)
			for p := range 2 {
				if p > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{
            "dev" : "sd%c%c",
            "dev_t" : "8:%d",
            "dm_st" : "active",
            "dev_st" : "running",
            "chk_st" : "ready",
            "checker" : "tur",
            "pri" : %d,
            "host_wwnn" : "0x20000024ff7f0b%02x",
            "target_wwnn" : "0x2001d039ea4a1b%02x",
            "host_wwpn" : "0x21000024ff7f0b%02x",
            "target_wwpn" : "0x2002d039ea4a1b%02x",
            "host_adapter" : "0000:3b:00.%d",
            "lun_hex" : "0x%04x000000000000",
            "marginal_st" : "normal"
         }`, 'a'+rune(i%26), 'a'+rune((g*2+p)%26), i%256, 50-40*g, p, g, p, g, p, i%65536)
			}
			b.WriteString("]\n      }")
		}
		b.WriteString("]\n   }")
	}
	b.WriteString("]\n}\n")
	return []byte(b.String())
}

func BenchmarkParseAndConvert10000Maps(b *testing.B) {
	data := mapsJSON(mapstatus.MaxMaps)
	b.ReportAllocs()
	for b.Loop() {
		maps, err := multipathd.ParseMapsJSON(data)
		if err != nil {
			b.Fatal(err)
		}
		if st := mapstatus.FromMaps(maps); len(st) != mapstatus.MaxMaps {
			b.Fatalf("%d statuses", len(st))
		}
	}
	b.ReportMetric(float64(len(data))/(1<<20), "MiB/reply")
}

// The agent's way: each map becomes its status as it is decoded (DecodeMaps, mapstatus.Report),
// and neither the decoded maps nor (from the socket) the reply are held whole.
func BenchmarkDecodeAndReport10000Maps(b *testing.B) {
	data := mapsJSON(mapstatus.MaxMaps)
	b.ReportAllocs()
	for b.Loop() {
		var report mapstatus.Report
		if err := multipathd.DecodeMaps(bytes.NewReader(data), func(m multipathd.Map) error {
			report.Add(m)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if st := report.Maps(); len(st) != mapstatus.MaxMaps {
			b.Fatalf("%d statuses", len(st))
		}
	}
	b.ReportMetric(float64(len(data))/(1<<20), "MiB/reply")
}

func TestScaleReplyFitsTheProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and parses a 30 MiB reply")
	}
	data := mapsJSON(mapstatus.MaxMaps)
	if len(data)+1 >= multipathd.MaxReplyLen {
		t.Fatalf("10,000 maps of 4 paths take %d bytes, over libmpathcmd's limit; revisit DefaultMaxReplyBytes' note", len(data))
	}
	maps, err := multipathd.ParseMapsJSON(data)
	if err != nil || len(maps) != mapstatus.MaxMaps {
		t.Fatalf("%d maps, %v", len(maps), err)
	}
	st := mapstatus.FromMaps(maps)
	checkAPIBounds(t, st)
	if st[0].State != "optimal" || st[0].ActivePaths != 4 || st[0].TotalPaths != 4 {
		t.Errorf("first map = %+v", st[0])
	}
	t.Logf("10,000 maps x 4 paths: %.1f MiB of JSON (limit %d MiB)", float64(len(data))/(1<<20), multipathd.MaxReplyLen>>20)
}
