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

package plugin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/scheme"
)

const (
	orphanWWID  = "36001405aaaaaaaaaaaaaaaaaaaaaaaaa"
	hostMapWWID = "3600508b400105e210000900000490000"
	inFlight    = "36001405cccccccccccccccccccccccccc"
)

func unmanagedStates() []client.Object {
	st := func(name string, count int32, devs ...mpv1alpha1.UnmanagedDevice) *mpv1alpha1.MultipathNodeState {
		return &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: mpv1alpha1.MultipathNodeStateStatus{UnmanagedDevices: devs, UnmanagedDeviceCount: count}}
	}
	orphan := mpv1alpha1.UnmanagedDevice{WWID: orphanWWID, Vendor: "Nimble", Product: "Server", Size: "100G", PathCount: 2, Devices: []string{"sdc", "sdd"}}
	hostMap := mpv1alpha1.UnmanagedDevice{WWID: hostMapWWID, Vendor: "HP", Product: "HSV210", Size: "1.0T", PathCount: 4, Devices: []string{"sda", "sdb", "sde", "sdf"}, InMap: "mpatha"}
	objs := []client.Object{
		st("worker-2", 3, orphan, hostMap, mpv1alpha1.UnmanagedDevice{WWID: inFlight, Size: "5G", PathCount: 1}),
		st("worker-1", 1, orphan),
		st("worker-3", 300, orphan, mpv1alpha1.UnmanagedDevice{WWID: strings.ToUpper(hostMapWWID), Vendor: "HP", Product: "HSV210", Size: "1.0T", PathCount: 2, InMap: "mpathb"}),
		st("worker-4", 0),
	}
	for i := 5; i <= 6; i++ {
		objs = append(objs, st(fmt.Sprintf("worker-%d", i), 1, orphan))
	}
	return append(objs, &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "just-created"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: inFlight}})
}

func TestDiscoverGolden(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(unmanagedStates()...).Build()
	r, err := discover(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Devices) != 3 {
		t.Fatalf("%d devices, want 3 (the upper-case WWID of worker-3 is the same LUN): %+v", len(r.Devices), r.Devices)
	}
	if d := r.Devices[0]; d.WWID != orphanWWID || d.NodeCount != 5 || d.Paths != 2 || d.LUN != "" {
		t.Errorf("orphan: %+v, want 5 nodes, 2 paths, no LUN", d)
	}
	if d := r.Devices[2]; d.NodeCount != 2 || d.Paths != 4 || strings.Join(d.HostMaps, ",") != "mpatha,mpathb" {
		t.Errorf("host map: %+v, want 2 nodes, 4 paths, host maps mpatha,mpathb", d)
	}
	if d := r.Devices[1]; d.LUN != "just-created" {
		t.Errorf("in flight: LUN %q, want just-created", d.LUN)
	}
	golden(t, "discover.golden", FormatDiscover(r))
	var y bytes.Buffer
	if err := printYAML(&y, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "discover.yaml.golden", y.String())
}

func TestDiscoverNothing(t *testing.T) {
	got := FormatDiscover(BuildDiscover(nil, nil))
	if got != "No node reports a multipath device that no MultipathWWID manages.\n" {
		t.Errorf("empty discover: %q", got)
	}
}

func TestDiscoverValidate(t *testing.T) {
	for args, wantErr := range map[string]string{"": "", "-o yaml": "", "-o wide": `--output "wide" is not supported`, "extra": `unknown command "extra"`} {
		cmd := discoverCommand(&discoverOptions{IOStreams: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, cluster: newClusterFlags()})
		cmd.RunE = func(*cobra.Command, []string) error { return nil }
		cmd.SetArgs(strings.Fields(args))
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if (wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("discover %s: err = %v, want %q", args, err, wantErr)
		}
	}
}

func runAdopt(t *testing.T, c client.Client, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	o := &adoptOptions{IOStreams: IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}, cluster: newClusterFlags()}
	o.newClient = func() (client.Client, error) { return c, nil }
	cmd := adoptCommand(o)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestAdoptCreatesTheMultipathWWID(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(unmanagedStates()...).Build()
	out, err := runAdopt(t, c, orphanWWID, "--alias", "data01")
	if err != nil {
		t.Fatal(err)
	}
	if out != "multipathwwid/data01 created\n" {
		t.Errorf("output %q", out)
	}
	w := &mpv1alpha1.MultipathWWID{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "data01"}, w); err != nil {
		t.Fatal(err)
	}
	if w.Spec.WWID != orphanWWID || w.Spec.Alias != "data01" {
		t.Errorf("created spec %+v", w.Spec)
	}

	// Adopting it again is refused: a MultipathWWID manages it now.
	if _, err := runAdopt(t, c, strings.ToUpper(orphanWWID), "--alias", "other"); err == nil ||
		err.Error() != "WWID "+strings.ToUpper(orphanWWID)+" is already managed by MultipathWWID data01: nothing to adopt" {
		t.Errorf("adopting a managed WWID: err = %v", err)
	}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "other"}, &mpv1alpha1.MultipathWWID{}); err == nil {
		t.Error("the refused adopt created MultipathWWID other")
	}
}

func TestAdoptHostMapSaysItMayBeHeld(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(unmanagedStates()...).Build()
	out, err := runAdopt(t, c, hostMapWWID)
	if err != nil {
		t.Fatal(err)
	}
	// Without an alias the object is named after the WWID.
	golden(t, "adopt-host-map.golden", out)
	if err := c.Get(context.Background(), client.ObjectKey{Name: hostMapWWID}, &mpv1alpha1.MultipathWWID{}); err != nil {
		t.Errorf("MultipathWWID named after the WWID: %v", err)
	}
}

func TestAdoptYAMLAndDryRunWriteNothing(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(unmanagedStates()...).Build()
	out, err := runAdopt(t, c, orphanWWID, "--alias", "data01", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "adopt.yaml.golden", out)
	out, err = runAdopt(t, c, orphanWWID, "--alias", "data01", "--dry-run")
	if err != nil || out != "multipathwwid/data01 created (server dry run)\n" {
		t.Errorf("--dry-run: %q, %v", out, err)
	}
	list := &mpv1alpha1.MultipathWWIDList{}
	if err := c.List(context.Background(), list); err != nil || len(list.Items) != 1 {
		t.Errorf("after -o yaml and --dry-run: %d MultipathWWIDs (%v), want only the one in flight", len(list.Items), err)
	}
}

func TestAdoptRefusesWhatAdmissionRefuses(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(unmanagedStates()...).Build()
	_, err := runAdopt(t, c, orphanWWID, "--alias", "mpathc")
	if err == nil || !strings.HasPrefix(err.Error(), "MultipathWWID mpathc would be refused: spec.alias") {
		t.Errorf("alias mpathc: err = %v, want a spec.alias refusal", err)
	}
	_, err = runAdopt(t, c, "not a wwid", "--alias", "data02")
	if err == nil || !strings.Contains(err.Error(), "spec.wwid") {
		t.Errorf("bad WWID: err = %v, want a spec.wwid refusal", err)
	}
	if _, err := runAdopt(t, c, orphanWWID, "-o", "json"); err == nil || !strings.Contains(err.Error(), `--output "json" is not supported`) {
		t.Errorf("-o json: err = %v", err)
	}
}
