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

package agent_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

func TestAgentReportsUnmanagedDevicesAndWritesNothingWhenUnchanged(t *testing.T) {
	name := "node-unmanaged"
	paths := strings.Join([]string{
		wwidA + "|sdb|1:0:0:1|10G|" + wwidA + "|LIO-ORG,disk0,4.0", // managed: left out
		"36001405aaaaaaaaaaaaaaaaaaaaaaaaa|sdd|8:0:0:1|100G|[orphan]|Nimble,Server",
		"36001405aaaaaaaaaaaaaaaaaaaaaaaaa|sdc|7:0:0:1|100G|[orphan]|Nimble,Server",
		"3600508b400105e210000900000490000|sda|0:0:0:1|1.0T|mpatha|HP,HSV210,6000",
		"|sdf|3:0:0:0|0|[orphan]|##,##,##", // no WWID: left out
	}, "\n") + "\n"
	n := startAgent(t, name, func(n *node) {
		n.daemon.SetReply(multipathd.CmdShowPathsRaw, multipathdtest.Reply{Body: paths})
	})
	_, ref := publish(t, wwidA)
	createState(t, name, &ref)
	applied(t, name, ref)

	want := []mpv1alpha1.UnmanagedDevice{
		{WWID: "36001405aaaaaaaaaaaaaaaaaaaaaaaaa", Vendor: "Nimble", Product: "Server", Size: "100G", PathCount: 2, Devices: []string{"sdc", "sdd"}},
		{WWID: "3600508b400105e210000900000490000", Vendor: "HP", Product: "HSV210", Size: "1.0T", PathCount: 1, Devices: []string{"sda"}, InMap: "mpatha"},
	}
	eventually(t, func() error {
		st := getState(t, name)
		if !reflect.DeepEqual(st.Status.UnmanagedDevices, want) || st.Status.UnmanagedDeviceCount != 2 {
			return fmt.Errorf("unmanagedDevices %+v (count %d), want %+v (2)", st.Status.UnmanagedDevices, st.Status.UnmanagedDeviceCount, want)
		}
		return nil
	})

	// Steady state: the paths are read on every pass, the status is not written.
	time.Sleep(700 * time.Millisecond)
	rv := getState(t, name).ResourceVersion
	asked := n.daemon.Received(multipathd.CmdShowPathsRaw)
	time.Sleep(1500 * time.Millisecond) // five refresh intervals
	if got := getState(t, name).ResourceVersion; got != rv {
		t.Errorf("status written while the paths did not change: resourceVersion %s -> %s", rv, got)
	}
	if !n.daemon.Received(multipathd.CmdShowPathsRaw).After(asked) {
		t.Error("multipathd's paths were not read again")
	}

	// A new LUN appears: reported on the next pass.
	n.daemon.SetReply(multipathd.CmdShowPathsRaw, multipathdtest.Reply{Body: paths + "36001405bbbbbbbbbbbbbbbbbbbbbbbbb|sdg|9:0:0:2|5G|[orphan]|LIO-ORG,disk1,4.0\n"})
	eventually(t, func() error {
		st := getState(t, name)
		if st.Status.UnmanagedDeviceCount != 3 || len(st.Status.UnmanagedDevices) != 3 || st.Status.UnmanagedDevices[1].WWID != "36001405bbbbbbbbbbbbbbbbbbbbbbbbb" {
			return fmt.Errorf("unmanagedDevices %+v (count %d), want the new LUN second of 3", st.Status.UnmanagedDevices, st.Status.UnmanagedDeviceCount)
		}
		return nil
	})

	// multipathd cannot list paths this pass: what was reported stays.
	n.daemon.SetReply(multipathd.CmdShowPathsRaw, multipathdtest.Reply{Body: multipathdtest.Fail})
	time.Sleep(700 * time.Millisecond)
	if st := getState(t, name); st.Status.UnmanagedDeviceCount != 3 {
		t.Errorf("after a failed listing: count %d, want the 3 reported before", st.Status.UnmanagedDeviceCount)
	}
}
