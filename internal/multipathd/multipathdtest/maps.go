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

package multipathdtest

import (
	"encoding/json"
	"fmt"
)

// Path is one path of a generated map.
type Path struct {
	Dev    string
	Failed bool
}

// Map is one generated multipath map.
type Map struct {
	WWID, Alias string
	Paths       []Path
}

// HealthyMap is a map with n running paths sdX..
func HealthyMap(wwid, alias string, n int) Map {
	m := Map{WWID: wwid, Alias: alias}
	for i := range n {
		m.Paths = append(m.Paths, Path{Dev: fmt.Sprintf("sd%c%c", 'a'+i/26, 'a'+i%26)})
	}
	return m
}

// MapsJSON is multipathd 0.9.4's `show maps json` for maps, in its field names.
func MapsJSON(maps []Map) string {
	type path struct {
		Dev     string `json:"dev"`
		DevT    string `json:"dev_t"`
		DMState string `json:"dm_st"`
		DevSt   string `json:"dev_st"`
		ChkSt   string `json:"chk_st"`
		Checker string `json:"checker"`
		Pri     int    `json:"pri"`
	}
	type group struct {
		Selector string `json:"selector"`
		Pri      int    `json:"pri"`
		DMState  string `json:"dm_st"`
		Group    int    `json:"group"`
		Paths    []path `json:"paths"`
	}
	type mp struct {
		Name       string  `json:"name"`
		UUID       string  `json:"uuid"`
		Sysfs      string  `json:"sysfs"`
		Failback   string  `json:"failback"`
		Queueing   string  `json:"queueing"`
		Paths      int     `json:"paths"`
		WriteProt  string  `json:"write_prot"`
		DMState    string  `json:"dm_st"`
		Features   string  `json:"features"`
		HWHandler  string  `json:"hwhandler"`
		PathFaults int     `json:"path_faults"`
		Vendor     string  `json:"vend"`
		Product    string  `json:"prod"`
		Groups     []group `json:"path_groups"`
	}
	doc := struct {
		Major int  `json:"major_version"`
		Minor int  `json:"minor_version"`
		Maps  []mp `json:"maps"`
	}{Minor: 1, Maps: []mp{}}
	for i, m := range maps {
		g := group{Selector: "service-time 0", Pri: 50, DMState: "active", Group: 1, Paths: []path{}}
		faults := 0
		for j, p := range m.Paths {
			jp := path{Dev: p.Dev, DevT: fmt.Sprintf("8:%d", 16*j), DMState: "active", DevSt: "running", ChkSt: "ready", Checker: "tur", Pri: 50}
			if p.Failed {
				jp.DMState, jp.ChkSt = "failed", "faulty"
				faults++
			}
			g.Paths = append(g.Paths, jp)
		}
		doc.Maps = append(doc.Maps, mp{
			Name: m.Alias, UUID: m.WWID, Sysfs: fmt.Sprintf("dm-%d", i), Failback: "immediate", Queueing: "-",
			Paths: len(m.Paths) - faults, WriteProt: "rw", DMState: "active", Features: "1 queue_if_no_path", HWHandler: "1 alua",
			PathFaults: faults, Vendor: "NETAPP", Product: "LUN C-Mode", Groups: []group{g},
		})
	}
	out, err := json.Marshal(doc)
	if err != nil {
		panic(err) // only plain strings and ints above
	}
	return string(out)
}
