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
	"strings"
	"testing"

	"github.com/spf13/cobra"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
)

// fixtureMaps builds the maps report of one node of the fixture cluster.
func fixtureMaps(node string, mutate func(*corev1.Node, *mpv1alpha1.MultipathNodeState, **coordinationv1.Lease)) *MapsReport {
	in := fixtureCluster()
	var (
		n     *corev1.Node
		state *mpv1alpha1.MultipathNodeState
		lease *coordinationv1.Lease
	)
	for i := range in.Nodes {
		if in.Nodes[i].Name == node {
			n = &in.Nodes[i]
		}
	}
	for i := range in.States {
		if in.States[i].Name == node {
			state = &in.States[i]
		}
	}
	for i := range in.Leases {
		if in.Leases[i].Name == rules.LeaseName(node) {
			lease = &in.Leases[i]
		}
	}
	if mutate != nil {
		mutate(n, state, &lease)
	}
	return BuildMaps(n, state, lease, in.WWIDs, fixtureNow, rules.DefaultRefreshInterval)
}

func TestFormatMaps(t *testing.T) {
	tests := map[string]struct {
		report *MapsReport
		color  bool
		golden string
	}{
		"a trusted node: every map and every path, the failed ones visible": {
			report: fixtureMaps("worker-2", func(_ *corev1.Node, s *mpv1alpha1.MultipathNodeState, _ **coordinationv1.Lease) {
				// Four paths, one listed only: the agent lists at most 64.
				s.Status.Maps[2].TotalPaths, s.Status.Maps[2].ActivePaths = 4, 4
				s.Status.Maps[2].Paths = s.Status.Maps[2].Paths[:1]
			}),
			golden: "maps.golden",
		},
		"what holds each map, and the node's host configuration conflicts": {
			report: fixtureMaps("worker-2", func(_ *corev1.Node, s *mpv1alpha1.MultipathNodeState, _ **coordinationv1.Lease) {
				s.Status.Maps[0].OpenCount, s.Status.Maps[0].Users = 2, []mpv1alpha1.MapUser{
					{Kind: mpv1alpha1.MapUserHolder, Name: "oravg-data"}, {Kind: mpv1alpha1.MapUserLVMPhysicalVolume}, {Kind: mpv1alpha1.MapUserMount, Name: "/u01/oradata"},
				}
				s.Status.Maps[5].OpenCount, s.Status.Maps[5].Users = 1, []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserOpen}}
				s.Status.HostConflicts = fixtureHostConflicts()
			}),
			golden: "maps-users.golden",
		},
		"an untrusted node says why, and its apply error": {
			report: fixtureMaps("worker-4", func(_ *corev1.Node, s *mpv1alpha1.MultipathNodeState, _ **coordinationv1.Lease) {
				s.Spec.DesiredConfig = &mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-77aa01bc", Hash: "77aa01bc"}
				s.Status.Conditions = fixtureCluster().States[2].Status.Conditions
			}),
			golden: "maps-untrusted.golden",
		},
		"a node whose agent never reported and has no Lease": {
			report: fixtureMaps("worker-4", func(_ *corev1.Node, s *mpv1alpha1.MultipathNodeState, l **coordinationv1.Lease) {
				s.Status = mpv1alpha1.MultipathNodeStateStatus{}
				*l = nil
			}),
			golden: "maps-never-reported.golden",
		},
		"colour on a terminal": {
			report: fixtureMaps("worker-3", nil), color: true, golden: "maps-color.golden",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			golden(t, tc.golden, FormatMaps(tc.report, tc.color))
		})
	}
	t.Run("json", func(t *testing.T) {
		var b bytes.Buffer
		if err := printJSON(&b, fixtureMaps("worker-2", nil)); err != nil {
			t.Fatal(err)
		}
		golden(t, "maps.json.golden", b.String())
	})
}

func TestBuildMaps(t *testing.T) {
	r := fixtureMaps("worker-2", nil)
	if !r.Trusted || !r.Ready || !r.NodeFound || r.MapCount != 6 || len(r.Maps) != 6 {
		t.Fatalf("report = %+v", r)
	}
	if r.Maps[0].LUN != "oradata01" || r.Maps[5].LUN != "" {
		t.Errorf("LUNs = %q, %q; want oradata01 and none (not allow-listed)", r.Maps[0].LUN, r.Maps[5].LUN)
	}
	if r.Maps[3].Judged != mpv1alpha1.MapUnknown || r.Maps[0].Judged != "" {
		t.Errorf("judged = %q, %q; want unknown for the malformed scratch, nothing for oradata01", r.Maps[3].Judged, r.Maps[0].Judged)
	}
	gone := BuildMaps(nil, &mpv1alpha1.MultipathNodeState{ObjectMeta: fixtureCluster().States[1].ObjectMeta}, nil, nil, fixtureNow, rules.DefaultRefreshInterval)
	if gone.NodeFound || gone.Trusted || gone.Reason != "node is not Ready" {
		t.Errorf("a MultipathNodeState without its Node = %+v", gone)
	}
}

func TestMapsValidate(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"one node is fine":                    {args: []string{"worker-1"}},
		"-o yaml is fine":                     {args: []string{"worker-1", "-o", "yaml"}},
		"no node is refused":                  {args: nil, wantErr: "accepts 1 arg(s), received 0"},
		"two nodes are refused":               {args: []string{"a", "b"}, wantErr: "accepts 1 arg(s), received 2"},
		"-o wide is not a maps format":        {args: []string{"worker-1", "-o", "wide"}, wantErr: `--output "wide" is not supported`},
		"a negative refresh interval refused": {args: []string{"worker-1", "--refresh-interval=-1s"}, wantErr: "--refresh-interval must be positive"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cmd := mapsCommand(&mapsOptions{IOStreams: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, cluster: newClusterFlags()})
			cmd.RunE = func(*cobra.Command, []string) error { return nil }
			cmd.SetArgs(tc.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if (err != nil) != (tc.wantErr != "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
