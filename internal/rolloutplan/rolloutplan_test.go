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

package rolloutplan

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

var (
	cOld = &mpv1alpha1.RenderedConfigRef{Name: "multipath-1a2b", Hash: "1a2b"}
	cNew = &mpv1alpha1.RenderedConfigRef{Name: "multipath-2b3c", Hash: "2b3c"}
)

type nodeOption func(*Node)

var (
	failed   nodeOption = func(n *Node) { n.Failed = true }
	notReady nodeOption = func(n *Node) { n.Ready = false }
)

// leaving marks a node being torn down with the config c.
func leaving(c *mpv1alpha1.RenderedConfigRef) nodeOption {
	return func(n *Node) { n.Teardown = c }
}

var (
	cEmpty = &mpv1alpha1.RenderedConfigRef{Name: "multipath-e0e0", Hash: "e0e0"}
	cHeld  = &mpv1alpha1.RenderedConfigRef{Name: "multipath-4d5e", Hash: "4d5e"}
	cHeld2 = &mpv1alpha1.RenderedConfigRef{Name: "multipath-5e6f", Hash: "5e6f"}
)

func node(name string, desired, applied *mpv1alpha1.RenderedConfigRef, opts ...nodeOption) Node {
	n := Node{Name: name, Desired: desired, Applied: applied, Ready: true}
	for _, o := range opts {
		o(&n)
	}
	return n
}

func TestMaxUnavailable(t *testing.T) {
	tests := map[string]struct {
		value    *intstr.IntOrString
		selected int
		want     int
		wantErr  string
	}{
		"unset means one node":                     {selected: 10, want: 1},
		"a number is taken as is":                  {value: new(intstr.FromInt32(3)), selected: 10, want: 3},
		"a number above the node count is kept":    {value: new(intstr.FromInt32(30)), selected: 10, want: 30},
		"a percentage is rounded down":             {value: new(intstr.FromString("50%")), selected: 7, want: 3},
		"a percentage below one node is one node":  {value: new(intstr.FromString("10%")), selected: 5, want: 1},
		"100% is every node":                       {value: new(intstr.FromString("100%")), selected: 9, want: 9},
		"a percentage of no nodes is still one":    {value: new(intstr.FromString("50%")), selected: 0, want: 1},
		"zero is refused":                          {value: new(intstr.FromInt32(0)), selected: 5, wantErr: "maxUnavailable must be at least 1, got 0"},
		"a negative number is refused":             {value: new(intstr.FromInt32(-2)), selected: 5, wantErr: "maxUnavailable must be at least 1, got -2"},
		"0% is refused":                            {value: new(intstr.FromString("0%")), selected: 5, wantErr: `maxUnavailable "0%" must be a number of nodes or a percentage from 1% to 100%`},
		"more than 100% is refused":                {value: new(intstr.FromString("101%")), selected: 5, wantErr: `maxUnavailable "101%" must be a number of nodes or a percentage from 1% to 100%`},
		"a leading zero is refused, as in the CRD": {value: new(intstr.FromString("05%")), selected: 5, wantErr: `maxUnavailable "05%" must be a number of nodes or a percentage from 1% to 100%`},
		"a number in a string is refused":          {value: new(intstr.FromString("2")), selected: 5, wantErr: `maxUnavailable "2" must be a number of nodes or a percentage from 1% to 100%`},
		"a bare percent sign is refused":           {value: new(intstr.FromString("%")), selected: 5, wantErr: `maxUnavailable "%" must be a number of nodes or a percentage from 1% to 100%`},
		"a signed percentage is refused":           {value: new(intstr.FromString("+5%")), selected: 5, wantErr: `maxUnavailable "+5%" must be a number of nodes or a percentage from 1% to 100%`},
		"a decimal percentage is refused":          {value: new(intstr.FromString("2.5%")), selected: 5, wantErr: `maxUnavailable "2.5%" must be a number of nodes or a percentage from 1% to 100%`},
		"an unknown type is refused":               {value: &intstr.IntOrString{Type: 7}, selected: 5, wantErr: "maxUnavailable has an unknown type 7"},
		"a negative node count is refused":         {selected: -1, wantErr: "selected nodes must not be negative, got -1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := MaxUnavailable(tc.value, tc.selected)
			if errString(err) != tc.wantErr {
				t.Fatalf("error = %q, want %q", errString(err), tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("MaxUnavailable = %d, want %d", got, tc.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCompute(t *testing.T) {
	two := new(intstr.FromInt32(2))
	tests := map[string]struct {
		in      Input
		want    Plan
		wantErr string
	}{
		"a fresh rollout hands the target to one node, nodes without a config first, then by name": {
			in: Input{Target: *cNew, Nodes: []Node{
				node("node-c", cOld, cOld), node("node-b", cOld, cOld), node("node-z", nil, nil),
			}},
			want: Plan{
				Start: []string{"node-z"},
				Status: Status{Selected: 3, InProgress: 1, Pending: 2, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 0 of 3 nodes applied it; 1 applying, 0 failed, 2 waiting (maxUnavailable 1).",
				},
			},
		},
		"in-progress nodes use the budget: nothing new while one applies with maxUnavailable 1": {
			in: Input{Target: *cNew, Nodes: []Node{
				node("node-a", cNew, cNew), node("node-b", cNew, cOld), node("node-c", cOld, cOld),
			}},
			want: Plan{
				Status: Status{Selected: 3, Updated: 1, InProgress: 1, Pending: 1, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 1 of 3 nodes applied it; 1 applying, 0 failed, 1 waiting (maxUnavailable 1).",
				},
			},
		},
		"updated nodes free the budget: the next node by name starts": {
			in: Input{Target: *cNew, MaxUnavailable: two, Nodes: []Node{
				node("node-d", cOld, cOld), node("node-a", cNew, cNew), node("node-b", cNew, cOld), node("node-c", cOld, cOld),
			}},
			want: Plan{
				Start: []string{"node-c"},
				Status: Status{Selected: 4, Updated: 1, InProgress: 2, Pending: 1, MaxUnavailable: 2,
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 1 of 4 nodes applied it; 2 applying, 0 failed, 1 waiting (maxUnavailable 2).",
				},
			},
		},
		"a failed node uses the budget but the rollout goes on below maxUnavailable": {
			in: Input{Target: *cNew, MaxUnavailable: two, Nodes: []Node{
				node("node-a", cNew, cOld, failed), node("node-b", cOld, cOld), node("node-c", cOld, cOld),
			}},
			want: Plan{
				Start: []string{"node-b"},
				Status: Status{Selected: 3, InProgress: 1, Failed: 1, Pending: 1, MaxUnavailable: 2, FailedNodes: []string{"node-a"},
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 0 of 3 nodes applied it; 1 applying, 1 failed, 1 waiting (maxUnavailable 2).",
				},
			},
		},
		"failed nodes reaching maxUnavailable stall the rollout and hand out nothing": {
			in: Input{Target: *cNew, MaxUnavailable: two, Nodes: []Node{
				node("node-b", cNew, cOld, failed), node("node-a", cNew, cOld, failed), node("node-c", cOld, cOld), node("node-d", cNew, cNew),
			}},
			want: Plan{
				Status: Status{Selected: 4, Updated: 1, Failed: 2, Pending: 1, MaxUnavailable: 2, FailedNodes: []string{"node-a", "node-b"}, Stalled: true,
					Reason:  "RolloutFailed",
					Message: "Rollout of config multipath-2b3c stopped: 2 nodes failed to apply it (node-a, node-b), reaching maxUnavailable 2; 1 of 4 nodes applied it. Read the Degraded condition of their MultipathNodeStates, then fix the nodes or the config, or roll back.",
				},
			},
		},
		"a failure below maxUnavailable stalls once no other node can proceed": {
			in: Input{Target: *cNew, MaxUnavailable: two, Nodes: []Node{
				node("node-a", cNew, cOld, failed), node("node-b", cNew, cNew), node("node-c", cNew, cNew),
			}},
			want: Plan{
				Status: Status{Selected: 3, Updated: 2, Failed: 1, MaxUnavailable: 2, FailedNodes: []string{"node-a"}, Stalled: true,
					Reason:  "RolloutFailed",
					Message: "Rollout of config multipath-2b3c stopped: 1 node failed to apply it (node-a), and no other node can proceed; 2 of 3 nodes applied it. Read the Degraded condition of their MultipathNodeStates, then fix the nodes or the config, or roll back.",
				},
			},
		},
		"a failure of an earlier config does not count; that node gets the new config before the others": {
			in: Input{Target: *cNew, Nodes: []Node{
				node("node-a", cOld, cOld), node("node-b", cOld, nil, failed),
			}},
			want: Plan{
				Start: []string{"node-b"},
				Status: Status{Selected: 2, InProgress: 1, Pending: 1, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 0 of 2 nodes applied it; 1 applying, 0 failed, 1 waiting (maxUnavailable 1).",
				},
			},
		},
		"paused hands out nothing new; in-progress nodes go on": {
			in: Input{Target: *cNew, MaxUnavailable: two, Paused: true, Nodes: []Node{
				node("node-a", cNew, cOld), node("node-b", cOld, cOld), node("node-c", cNew, cNew),
			}},
			want: Plan{
				Status: Status{Selected: 3, Updated: 1, InProgress: 1, Pending: 1, MaxUnavailable: 2, Paused: true,
					Reason:  "RolloutPaused",
					Message: "Rollout of config multipath-2b3c is paused: 1 of 3 nodes applied it. Set spec.rollout.paused to false to continue.",
				},
			},
		},
		"paused with a failure below maxUnavailable is paused, not stalled": {
			in: Input{Target: *cNew, MaxUnavailable: two, Paused: true, Nodes: []Node{
				node("node-a", cNew, cOld, failed), node("node-b", cOld, cOld),
			}},
			want: Plan{
				Status: Status{Selected: 2, Failed: 1, Pending: 1, MaxUnavailable: 2, FailedNodes: []string{"node-a"}, Paused: true,
					Reason:  "RolloutPaused",
					Message: "Rollout of config multipath-2b3c is paused: 0 of 2 nodes applied it. Set spec.rollout.paused to false to continue.",
				},
			},
		},
		"nodes that applied the target without desiring it are adopted, even while paused, at no cost": {
			in: Input{Target: *cNew, Paused: true, Nodes: []Node{
				node("node-b", nil, cNew), node("node-a", cOld, cNew, failed), node("node-c", cNew, cNew),
			}},
			want: Plan{
				Adopt: []string{"node-a", "node-b"},
				Status: Status{Selected: 3, Updated: 3, MaxUnavailable: 1, Paused: true, Complete: true,
					Reason:  "Rendered",
					Message: "All 3 nodes applied config multipath-2b3c.",
				},
			},
		},
		"adoption does not use the budget: another node starts in the same step": {
			in: Input{Target: *cNew, Nodes: []Node{
				node("node-a", cOld, cNew), node("node-b", cOld, cOld),
			}},
			want: Plan{
				Start: []string{"node-b"},
				Adopt: []string{"node-a"},
				Status: Status{Selected: 2, Updated: 1, InProgress: 1, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 1 of 2 nodes applied it; 1 applying, 0 failed, 0 waiting (maxUnavailable 1).",
				},
			},
		},
		"a node that failed to re-apply the target it runs counts as failed, not updated": {
			in: Input{Target: *cNew, Nodes: []Node{node("node-a", cNew, cNew, failed)}},
			want: Plan{
				Status: Status{Selected: 1, Failed: 1, MaxUnavailable: 1, FailedNodes: []string{"node-a"}, Stalled: true,
					Reason:  "RolloutFailed",
					Message: "Rollout of config multipath-2b3c stopped: 1 node failed to apply it (node-a), reaching maxUnavailable 1; 0 of 1 nodes applied it. Read the Degraded condition of their MultipathNodeStates, then fix the nodes or the config, or roll back.",
				},
			},
		},
		"a node that is not ready is skipped and counted unknown; the next ready node starts": {
			in: Input{Target: *cNew, Nodes: []Node{
				node("node-a", nil, nil, notReady), node("node-b", cOld, cOld),
			}},
			want: Plan{
				Start: []string{"node-b"},
				Status: Status{Selected: 2, InProgress: 1, Pending: 1, Unknown: 1, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 0 of 2 nodes applied it; 1 applying, 0 failed, 1 waiting (maxUnavailable 1). 1 node not reporting; waiting nodes get the config once they are Ready.",
				},
			},
		},
		"an in-progress node that stops reporting keeps its unit of the budget": {
			in: Input{Target: *cNew, Nodes: []Node{
				node("node-a", cNew, cOld, notReady), node("node-b", cOld, cOld),
			}},
			want: Plan{
				Status: Status{Selected: 2, InProgress: 1, Pending: 1, Unknown: 1, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 0 of 2 nodes applied it; 1 applying, 0 failed, 1 waiting (maxUnavailable 1). 1 node not reporting; waiting nodes get the config once they are Ready.",
				},
			},
		},
		"50% of 7 nodes starts 3 at once": {
			in: Input{Target: *cNew, MaxUnavailable: new(intstr.FromString("50%")), Nodes: []Node{
				node("n1", cOld, cOld), node("n2", cOld, cOld), node("n3", cOld, cOld), node("n4", cOld, cOld),
				node("n5", cOld, cOld), node("n6", cOld, cOld), node("n7", cOld, cOld),
			}},
			want: Plan{
				Start: []string{"n1", "n2", "n3"},
				Status: Status{Selected: 7, InProgress: 3, Pending: 4, MaxUnavailable: 3,
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 0 of 7 nodes applied it; 3 applying, 0 failed, 4 waiting (maxUnavailable 3).",
				},
			},
		},
		"a stalled message lists at most five failed nodes": {
			in: Input{Target: *cNew, MaxUnavailable: new(intstr.FromInt32(10)), Nodes: []Node{
				node("n1", cNew, cOld, failed), node("n2", cNew, cOld, failed), node("n3", cNew, cOld, failed),
				node("n4", cNew, cOld, failed), node("n5", cNew, cOld, failed), node("n6", cNew, cOld, failed), node("n7", cNew, cOld, failed),
			}},
			want: Plan{
				Status: Status{Selected: 7, Failed: 7, MaxUnavailable: 10, FailedNodes: []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7"}, Stalled: true,
					Reason:  "RolloutFailed",
					Message: "Rollout of config multipath-2b3c stopped: 7 nodes failed to apply it (n1, n2, n3, n4, n5 and 2 more), and no other node can proceed; 0 of 7 nodes applied it. Read the Degraded condition of their MultipathNodeStates, then fix the nodes or the config, or roll back.",
				},
			},
		},
		"no selected node is complete": {
			in: Input{Target: *cNew},
			want: Plan{
				Status: Status{MaxUnavailable: 1, Complete: true,
					Reason:  "Rendered",
					Message: "No node is selected; config multipath-2b3c is ready for the nodes that join.",
				},
			},
		},
		"a config with the same name but another hash is not the target": {
			in: Input{Target: *cNew, Nodes: []Node{node("node-a", nil, &mpv1alpha1.RenderedConfigRef{Name: cNew.Name, Hash: "ffff"})}},
			want: Plan{
				Start: []string{"node-a"},
				Status: Status{Selected: 1, InProgress: 1, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out config multipath-2b3c: 0 of 1 nodes applied it; 1 applying, 0 failed, 0 waiting (maxUnavailable 1).",
				},
			},
		},
		"a node being torn down shares the budget with the rollout: one at a time with maxUnavailable 1": {
			in: Input{Target: *cNew, Nodes: []Node{
				node("node-b", cOld, cOld, leaving(cEmpty)), node("node-a", cOld, cOld),
			}},
			want: Plan{
				Start: []string{"node-a"},
				Status: Status{Selected: 1, InProgress: 1, Leaving: 1, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out and tearing down: 0 of 1 selected nodes applied config multipath-2b3c; 0 of 1 nodes being torn down applied their teardown config; 1 applying, 0 failed, 1 waiting (maxUnavailable 1).",
				},
			},
		},
		"a node being torn down that has not applied its teardown config holds a unit of the budget": {
			in: Input{Target: *cNew, MaxUnavailable: two, Nodes: []Node{
				node("node-a", cOld, cOld), node("node-b", cOld, cOld), node("node-c", cEmpty, cOld, leaving(cEmpty)),
			}},
			want: Plan{
				Start: []string{"node-a"},
				Status: Status{Selected: 2, InProgress: 1, Pending: 1, Leaving: 1, LeavingInProgress: 1, MaxUnavailable: 2,
					Reason:  "RolloutInProgress",
					Message: "Rolling out and tearing down: 0 of 2 selected nodes applied config multipath-2b3c; 0 of 1 nodes being torn down applied their teardown config; 2 applying, 0 failed, 1 waiting (maxUnavailable 2).",
				},
			},
		},
		"every node torn down without a target: maxUnavailable at a time, by name": {
			in: Input{MaxUnavailable: two, Nodes: []Node{
				node("node-c", cOld, cOld, leaving(cEmpty)), node("node-a", cOld, cOld, leaving(cEmpty)), node("node-b", cOld, cOld, leaving(cEmpty)),
			}},
			want: Plan{
				Start: []string{"node-a", "node-b"},
				Status: Status{Leaving: 3, LeavingInProgress: 2, MaxUnavailable: 2,
					Reason:  "RolloutInProgress",
					Message: "Rolling out and tearing down: 0 of 3 nodes being torn down applied their teardown config; 2 applying, 0 failed, 1 waiting (maxUnavailable 2).",
				},
			},
		},
		"a node holding the held config is done and keeps it": {
			in: Input{Target: *cNew, Nodes: []Node{node("node-a", cNew, cNew), node("node-b", cHeld, cHeld, leaving(cHeld))}},
			want: Plan{
				Status: Status{Selected: 1, Updated: 1, Leaving: 1, LeavingDone: 1, MaxUnavailable: 1, Complete: true,
					Reason:  "Rendered",
					Message: "1 of 1 selected nodes applied config multipath-2b3c; 1 of 1 nodes being torn down applied their teardown config.",
				},
			},
		},
		"a changed held config goes to the held node through the budget": {
			in: Input{Target: *cNew, Nodes: []Node{node("node-a", cNew, cNew), node("node-b", cHeld, cHeld, leaving(cHeld2))}},
			want: Plan{
				Start: []string{"node-b"},
				Status: Status{Selected: 1, Updated: 1, Leaving: 1, LeavingInProgress: 1, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out and tearing down: 1 of 1 selected nodes applied config multipath-2b3c; 0 of 1 nodes being torn down applied their teardown config; 1 applying, 0 failed, 0 waiting (maxUnavailable 1).",
				},
			},
		},
		"a failed teardown stops the rollout and the teardown like a failed apply": {
			in: Input{Target: *cNew, Nodes: []Node{node("node-a", cOld, cOld), node("node-b", cEmpty, cOld, failed, leaving(cEmpty))}},
			want: Plan{
				Status: Status{Selected: 1, Pending: 1, Leaving: 1, LeavingFailed: 1, MaxUnavailable: 1, FailedNodes: []string{"node-b"}, Stalled: true,
					Reason:  "RolloutFailed",
					Message: "Rollout and teardown stopped: 1 node failed to apply their config (node-b), reaching maxUnavailable 1; 0 of 1 selected nodes applied config multipath-2b3c; 0 of 1 nodes being torn down applied their teardown config. Read the Degraded condition of their MultipathNodeStates, then fix the nodes or the config.",
				},
			},
		},
		"a paused rollout tears nothing down either": {
			in: Input{Target: *cNew, Paused: true, Nodes: []Node{node("node-a", cNew, cNew), node("node-b", cOld, cOld, leaving(cEmpty))}},
			want: Plan{
				Status: Status{Selected: 1, Updated: 1, Leaving: 1, MaxUnavailable: 1, Paused: true,
					Reason:  "RolloutPaused",
					Message: "Rollout and teardown are paused: 1 of 1 selected nodes applied config multipath-2b3c; 0 of 1 nodes being torn down applied their teardown config. Set spec.rollout.paused to false to continue.",
				},
			},
		},
		"a node that already applied its teardown config is adopted without budget": {
			in: Input{Target: *cNew, Nodes: []Node{node("node-a", cOld, cOld), node("node-b", cOld, cEmpty, leaving(cEmpty))}},
			want: Plan{
				Start: []string{"node-a"},
				Adopt: []string{"node-b"},
				Status: Status{Selected: 1, InProgress: 1, Leaving: 1, LeavingDone: 1, MaxUnavailable: 1,
					Reason:  "RolloutInProgress",
					Message: "Rolling out and tearing down: 0 of 1 selected nodes applied config multipath-2b3c; 1 of 1 nodes being torn down applied their teardown config; 1 applying, 0 failed, 0 waiting (maxUnavailable 1).",
				},
			},
		},
		"a selected node without a target is refused": {
			in:      Input{Nodes: []Node{node("node-a", nil, nil), node("node-b", cOld, cOld, leaving(cEmpty))}},
			wantErr: "target config must have a name and a hash",
		},
		"a teardown config without a hash is refused": {
			in:      Input{Target: *cNew, Nodes: []Node{node("node-a", cOld, cOld, leaving(&mpv1alpha1.RenderedConfigRef{Name: "multipath-e0e0"}))}},
			wantErr: "teardown config of node node-a must have a name and a hash",
		},
		"a target without a hash is refused": {
			in:      Input{Target: mpv1alpha1.RenderedConfigRef{Name: "multipath-2b3c"}},
			wantErr: "target config must have a name and a hash",
		},
		"a node without a name is refused": {
			in:      Input{Target: *cNew, Nodes: []Node{node("", nil, nil)}},
			wantErr: "node with an empty name",
		},
		"a node listed twice is refused": {
			in:      Input{Target: *cNew, Nodes: []Node{node("node-a", nil, nil), node("node-a", cOld, cOld)}},
			wantErr: "node node-a is listed twice",
		},
		"a malformed maxUnavailable is refused": {
			in:      Input{Target: *cNew, MaxUnavailable: new(intstr.FromString("half")), Nodes: []Node{node("node-a", nil, nil)}},
			wantErr: `maxUnavailable "half" must be a number of nodes or a percentage from 1% to 100%`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Compute(tc.in)
			if errString(err) != tc.wantErr {
				t.Fatalf("error = %q, want %q", errString(err), tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Compute =\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

func TestNodeCounts(t *testing.T) {
	s := Status{Selected: 9, Updated: 4, InProgress: 2, Failed: 1, Pending: 2, Unknown: 3}
	want := mpv1alpha1.NodeCounts{Selected: 9, Updated: 4, Failed: 1, Unknown: 3}
	if got := s.NodeCounts(); got != want {
		t.Errorf("NodeCounts = %+v, want %+v", got, want)
	}
}
