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

package agent

import (
	"fmt"
	"reflect"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

func TestUnmanagedDevicesGroupsAndLeavesOutManaged(t *testing.T) {
	paths := []multipathd.PathInfo{
		{WWID: "36001", Dev: "sdc", Size: "10G", Vendor: "LIO-ORG", Product: "disk0"},
		{WWID: "36001", Dev: "sdb", Size: "10G", Vendor: "LIO-ORG", Product: "disk0"},
		{WWID: "36002", Dev: "sdd", Size: "1.0T", Map: "mpatha", Vendor: "HP", Product: "HSV210"},
		{WWID: "3600A", Dev: "sde", Size: "5G", Map: "data"}, // managed, in another case
		{WWID: "", Dev: "sdf"}, // no WWID: left out
	}
	got := unmanagedDevices(paths, map[string]bool{"3600a": true})
	want := &unmanagedReport{count: 2, devices: []mpv1alpha1.UnmanagedDevice{
		{WWID: "36001", Vendor: "LIO-ORG", Product: "disk0", Size: "10G", PathCount: 2, Devices: []string{"sdb", "sdc"}},
		{WWID: "36002", Vendor: "HP", Product: "HSV210", Size: "1.0T", PathCount: 1, Devices: []string{"sdd"}, InMap: "mpatha"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unmanagedDevices:\n got %+v\nwant %+v", got, want)
	}
	if got := unmanagedDevices(nil, nil); got == nil || got.devices != nil || got.count != 0 {
		t.Errorf("no paths: got %+v, want an empty report (known: none)", got)
	}
}

// The lower-cased managed set is built once per config: kept while the config is the same,
// built anew for another one.
func TestManagedSetFollowsTheConfig(t *testing.T) {
	var m managedSet
	a := &multipathconf.Rendered{Hash: "a", Names: map[string]string{"3600A": "data"}}
	b := &multipathconf.Rendered{Hash: "b", Names: map[string]string{"3600B": "logs"}}
	first := m.of(a)
	if !reflect.DeepEqual(first, map[string]bool{"3600a": true}) {
		t.Errorf("managed set of a = %v, want its WWID lower-cased", first)
	}
	if again := m.of(a); reflect.ValueOf(again).UnsafePointer() != reflect.ValueOf(first).UnsafePointer() {
		t.Error("the set of the same config was built again")
	}
	if got := m.of(b); !reflect.DeepEqual(got, map[string]bool{"3600b": true}) {
		t.Errorf("managed set of b = %v, want b's WWID", got)
	}
}

func TestUnmanagedDevicesIsBounded(t *testing.T) {
	var paths []multipathd.PathInfo
	for i := range 300 {
		for j := range 10 {
			paths = append(paths, multipathd.PathInfo{WWID: fmt.Sprintf("36%05d", i), Dev: fmt.Sprintf("sd%02d", j)})
		}
	}
	got := unmanagedDevices(paths, nil)
	if got.count != 300 || len(got.devices) != maxUnmanagedDevices {
		t.Fatalf("count %d, %d entries; want 300, %d", got.count, len(got.devices), maxUnmanagedDevices)
	}
	d := got.devices[maxUnmanagedDevices-1]
	if d.WWID != fmt.Sprintf("36%05d", maxUnmanagedDevices-1) || d.PathCount != 10 || len(d.Devices) != maxUnmanagedPaths {
		t.Errorf("last entry %+v: want the %dth WWID, 10 paths, %d devices", d, maxUnmanagedDevices, maxUnmanagedPaths)
	}
	if long := unmanagedDevices([]multipathd.PathInfo{{WWID: "3", Vendor: string(make([]byte, 100))}}, nil); len(long.devices[0].Vendor) != 64 {
		t.Errorf("vendor of 100 bytes kept %d, want 64 (the API's MaxLength)", len(long.devices[0].Vendor))
	}
}
