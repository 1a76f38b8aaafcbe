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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/rollup"
)

// fixtureNow is when the fixture cluster's reports are judged.
var fixtureNow = time.Date(2026, time.March, 4, 5, 6, 7, 0, time.UTC)

const (
	wwid01 = "3600a098038303053453f463045727a01"
	wwid02 = "3600a098038303053453f463045727a02"
	wwid03 = "3600a098038303053453f463045727a03"
	wwid04 = "3600a098038303053453f463045727a04"
	wwid05 = "3600a098038303053453f463045727a05"
)

// golden compares got with testdata/name, or rewrites the file when UPDATE_GOLDEN=true.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") == "true" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=true to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (UPDATE_GOLDEN=true rewrites it; review the diff):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff shows the lines that differ, enough to read a failure.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want: %q\n  got:  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// The fixture cluster's objects, built as the API server would return them.

func fxNode(name string, ready bool, labels ...string) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"san": "fc", corev1.LabelHostname: name}}}
	for i := 0; i+1 < len(labels); i += 2 {
		n.Labels[labels[i]] = labels[i+1]
	}
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
	return n
}

func fxLease(node string, ago time.Duration) coordinationv1.Lease {
	return coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: rules.LeaseName(node), Namespace: defaultOperatorNamespace},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), LeaseDurationSeconds: ptr.To[int32](40),
			RenewTime: ptr.To(metav1.NewMicroTime(fixtureNow.Add(-ago)))},
	}
}

func path(dev, hcil, dm, checker string) mpv1alpha1.PathStatus {
	return mpv1alpha1.PathStatus{Device: dev, HCIL: hcil, DMState: dm, CheckerState: checker, DeviceState: "running"}
}

// fxMap is a map on a node: healthy with two ready paths unless states say otherwise.
func fxMap(wwid, name string, st mpv1alpha1.MapState, active, total int32) mpv1alpha1.MapStatus {
	m := mpv1alpha1.MapStatus{WWID: wwid, Name: name, State: st, ActivePaths: active, TotalPaths: total}
	for i := range total {
		dm, checker := "active", "ready"
		if i >= active {
			dm, checker = "failed", "faulty"
		}
		p := path(fmt.Sprintf("sd%c", 'b'+rune(i)), fmt.Sprintf("%d:0:0:%s", 3+i, strings.TrimLeft(wwid[len(wwid)-2:], "0")), dm, checker)
		// ALUA: even paths optimized (group 1, prio 50), odd ones not (group 2, prio 10).
		p.Group, p.Priority = 1+i%2, 50-40*(i%2)
		m.Paths = append(m.Paths, p)
	}
	if total > 0 {
		m.PathGroups = []mpv1alpha1.PathGroupStatus{{Group: 1, Selector: "service-time 0", Priority: 50, State: "active"}}
	}
	if total > 1 {
		m.PathGroups = append(m.PathGroups, mpv1alpha1.PathGroupStatus{Group: 2, Selector: "service-time 0", Priority: 10, State: "enabled"})
	}
	return m
}

func fxState(node string, maps ...mpv1alpha1.MapStatus) mpv1alpha1.MultipathNodeState {
	s := mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: node, Generation: 2}}
	s.Spec.DesiredConfig = &mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-8c1f0d2e", Hash: "8c1f0d2e"}
	s.Status = mpv1alpha1.MultipathNodeStateStatus{ObservedGeneration: 2, AppliedConfig: &mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-8c1f0d2e", Hash: "8c1f0d2e"},
		MultipathToolsVersion: "0.9.4", MapCount: int32(len(maps)), Maps: maps}
	return s
}

func fxWWID(name, wwid, alias string, consumers int32, recorded mpv1alpha1.LUNHealth, sel *metav1.LabelSelector) mpv1alpha1.MultipathWWID {
	w := mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid, Alias: alias, NodeSelector: sel}}
	w.Status.ConsumerCount = consumers
	w.Status.Health = recorded
	return w
}

// fixtureCluster is a small cluster with one of each problem:
//
//	worker-1, worker-6, worker-7  every map optimal
//	worker-2  oradata01 degraded (1/2), scratch malformed (optimal with a path down)
//	worker-3  oralog01 missing, archive failed, 3600...a03 failed though not expected there,
//	          and its last apply failed
//	worker-4  its agent's Lease is 45 s old: untrusted
//	worker-5  not managed (san=iscsi)
//
// The operator's recorded roll-up of oralog01 is stale (it still says optimal).
func fixtureCluster() *rollup.Inputs {
	all := func(except ...string) []mpv1alpha1.MapStatus {
		ms := []mpv1alpha1.MapStatus{
			fxMap(wwid01, "oradata01", mpv1alpha1.MapOptimal, 2, 2),
			fxMap(wwid02, "oralog01", mpv1alpha1.MapOptimal, 2, 2),
			fxMap(wwid04, "scratch", mpv1alpha1.MapOptimal, 2, 2),
			fxMap(wwid05, "archive", mpv1alpha1.MapOptimal, 2, 2),
		}
		out := ms[:0:0]
		for _, m := range ms {
			if !strings.Contains(strings.Join(except, ","), m.Name) {
				out = append(out, m)
			}
		}
		return out
	}
	w2 := fxState("worker-2", fxMap(wwid01, "oradata01", mpv1alpha1.MapDegraded, 1, 2), fxMap(wwid02, "oralog01", mpv1alpha1.MapOptimal, 2, 2),
		fxMap(wwid03, wwid03, mpv1alpha1.MapOptimal, 2, 2), fxMap(wwid04, "scratch", mpv1alpha1.MapOptimal, 1, 2),
		fxMap(wwid05, "archive", mpv1alpha1.MapOptimal, 2, 2), fxMap("36001405deadbeef00000000000000001", "mpath-local", mpv1alpha1.MapOptimal, 2, 2))
	w2.Status.Maps[5].Paths = nil // a map the agent listed without its paths
	w3 := fxState("worker-3", append(all("oralog01", "archive"), fxMap(wwid05, "archive", mpv1alpha1.MapFailed, 0, 2), fxMap(wwid03, wwid03, mpv1alpha1.MapFailed, 0, 2))...)
	w3.Status.Conditions = []metav1.Condition{{Type: mpv1alpha1.DegradedCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.ApplyFailedReason,
		Message: "multipath -t refused the rendered config:\nline 12: invalid value for no_path_retry", LastTransitionTime: metav1.NewTime(fixtureNow.Add(-5 * time.Minute))}}
	// worker-4's agent went silent after reporting archive failed there.
	w4 := fxState("worker-4", append(all("archive"), fxMap(wwid05, "archive", mpv1alpha1.MapFailed, 0, 2))...)
	w1 := fxState("worker-1", append(all(), fxMap(wwid03, wwid03, mpv1alpha1.MapOptimal, 2, 2))...)
	twoNodes := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: corev1.LabelHostname, Operator: metav1.LabelSelectorOpIn, Values: []string{"worker-1", "worker-2"}}}}
	return &rollup.Inputs{
		Config: fxConfig(),
		Nodes: []corev1.Node{fxNode("worker-1", true), fxNode("worker-2", true), fxNode("worker-3", true), fxNode("worker-4", true),
			fxNode("worker-5", true, "san", "iscsi"), fxNode("worker-6", true), fxNode("worker-7", true)},
		States: []mpv1alpha1.MultipathNodeState{w1, w2, w3, w4, fxState("worker-5"), fxState("worker-6", all()...), fxState("worker-7", all()...)},
		Leases: []coordinationv1.Lease{fxLease("worker-1", 2*time.Second), fxLease("worker-2", 4*time.Second), fxLease("worker-3", time.Second),
			fxLease("worker-4", 45*time.Second), fxLease("worker-6", 3*time.Second), fxLease("worker-7", 9*time.Second)},
		WWIDs: []mpv1alpha1.MultipathWWID{
			fxWWID("oradata01", wwid01, "oradata01", 2, mpv1alpha1.LUNHealth{State: mpv1alpha1.MapDegraded, Nodes: "4/6"}, nil),
			fxWWID("oralog01", wwid02, "oralog01", 1, mpv1alpha1.LUNHealth{State: mpv1alpha1.MapOptimal, Nodes: "6/6"}, nil),
			fxWWID("lun-a03", wwid03, "", 0, mpv1alpha1.LUNHealth{State: mpv1alpha1.MapOptimal, Nodes: "2/2"}, twoNodes),
			fxWWID("scratch", wwid04, "scratch", 0, mpv1alpha1.LUNHealth{State: mpv1alpha1.MapUnknown, Nodes: "4/6"}, nil),
			fxWWID("archive", wwid05, "archive", 3, mpv1alpha1.LUNHealth{State: mpv1alpha1.MapFailed, Nodes: "4/6"}, nil),
		},
		PVs: map[string]*corev1.PersistentVolume{},
	}
}

// fxConfig is the MultipathConfig of the fixture cluster, its rollout under way as the rollout
// controller writes it: worker-3 failed to apply, the others did.
func fxConfig() *mpv1alpha1.MultipathConfig {
	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName, Generation: 3},
		Spec: mpv1alpha1.MultipathConfigSpec{NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"san": "fc"}}}}
	cfg.Status.ObservedGeneration = 3
	cfg.Status.RenderedConfig = &mpv1alpha1.RenderedConfigStatus{RenderedConfigRef: mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-8c1f0d2e", Hash: "8c1f0d2e"}, LUNs: 5}
	cfg.Status.Nodes = mpv1alpha1.NodeCounts{Selected: 6, Updated: 5, Failed: 1}
	cfg.Status.Conditions = []metav1.Condition{
		{Type: mpv1alpha1.ReadyCondition, Status: metav1.ConditionFalse, Reason: mpv1alpha1.RolloutInProgressReason,
			Message: "Rolling out config multipath-rendered-8c1f0d2e: 5 of 6 nodes applied it; 0 applying, 1 failed, 0 waiting (maxUnavailable 2)."},
		{Type: mpv1alpha1.ReconcilingCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.RolloutInProgressReason,
			Message: "Rolling out config multipath-rendered-8c1f0d2e: 5 of 6 nodes applied it; 0 applying, 1 failed, 0 waiting (maxUnavailable 2)."},
	}
	return cfg
}

func fixtureReport(in *rollup.Inputs) *StatusReport {
	return BuildStatus(in, rollup.Decide(in, fixtureNow, rules.DefaultRefreshInterval), fixtureNow)
}

// bigCluster has 200 managed nodes and 30 LUNs; three nodes have a problem.
func bigCluster() *rollup.Inputs { return clusterOf(200, 30) }

// clusterOf has nodes managed nodes carrying luns LUNs: node 7 has a degraded map, node 99
// lacks the first LUN, node 150 is NotReady.
func clusterOf(nodes, luns int) *rollup.Inputs {
	in := &rollup.Inputs{Config: &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}}}
	var maps []mpv1alpha1.MapStatus
	for l := range luns {
		w := fmt.Sprintf("3600a0980383030534530000000%06d", l)
		alias := fmt.Sprintf("vol%02d", l)
		in.WWIDs = append(in.WWIDs, fxWWID(alias, w, alias, 1, mpv1alpha1.LUNHealth{}, nil))
		maps = append(maps, fxMap(w, alias, mpv1alpha1.MapOptimal, 4, 4))
	}
	for i := range nodes {
		name := fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i/50, 10+i%50)
		in.Nodes = append(in.Nodes, fxNode(name, i != 150))
		ms := maps
		switch i {
		case 7:
			ms = append([]mpv1alpha1.MapStatus(nil), maps...)
			ms[3] = fxMap(ms[3].WWID, ms[3].Name, mpv1alpha1.MapDegraded, 2, 4)
		case 99:
			ms = maps[1:]
		}
		in.States = append(in.States, fxState(name, ms...))
		in.Leases = append(in.Leases, fxLease(name, time.Second))
	}
	out := rollup.Decide(in, fixtureNow, rules.DefaultRefreshInterval)
	for i := range in.WWIDs {
		in.WWIDs[i].Status.Health = out.Health[i]
	}
	return in
}

// BenchmarkStatus is what `status` does once the objects are fetched: the roll-up, the matrix and
// its text, at the scale of a large cluster.
func BenchmarkStatus(b *testing.B) {
	for _, bc := range []struct{ nodes, luns int }{{200, 1000}, {1000, 1000}} {
		b.Run(fmt.Sprintf("%dnodes_x_%dLUNs", bc.nodes, bc.luns), func(b *testing.B) {
			in := clusterOf(bc.nodes, bc.luns)
			b.ReportAllocs()
			var text string
			for b.Loop() {
				text = FormatStatus(fixtureReport(in), StatusFormat{Width: 200})
			}
			b.ReportMetric(float64(len(text)), "bytes-out")
		})
	}
}

// fixtureHostConflicts are what an agent reports of a RHEL node's own configuration.
func fixtureHostConflicts() []mpv1alpha1.HostConflict {
	return []mpv1alpha1.HostConflict{
		{Type: mpv1alpha1.HostConflictBlacklisted, WWID: "3600a098038303053453f463045727a04", File: "/etc/multipath.conf", Line: 23,
			Message: `/etc/multipath.conf:23 blacklists managed WWID 3600a098038303053453f463045727a04 (wwid ".*") and no host blacklist_exceptions entry excepts it`},
		{Type: mpv1alpha1.HostConflictAliasDiffers, WWID: "3600a098038303053453f463045727a01", Alias: "legacy_ora", File: "/etc/multipath/conf.d/50-dba.conf", Line: 4,
			Message: `/etc/multipath/conf.d/50-dba.conf:4 names managed WWID 3600a098038303053453f463045727a01 "legacy_ora" where the operator names it "oradata01"`},
	}
}

func TestFormatStatus(t *testing.T) {
	tests := map[string]struct {
		in     func() *rollup.Inputs
		format StatusFormat
		golden string
	}{
		"the matrix shows the nodes with a problem, worst LUN first": {
			in: fixtureCluster, golden: "status.golden",
		},
		"a narrow terminal cuts the node columns and counts them": {
			in: fixtureCluster, format: StatusFormat{Width: 80}, golden: "status-narrow.golden",
		},
		"a wide terminal shows every column that has something to say": {
			in: fixtureCluster, format: StatusFormat{Width: 200}, golden: "status.golden",
		},
		"-o wide adds the WWID and the operator's last roll-up": {
			in: fixtureCluster, format: StatusFormat{Wide: true, Width: 64}, golden: "status-o-wide.golden",
		},
		"--all-nodes shows every managed node": {
			in: fixtureCluster, format: StatusFormat{AllNodes: true}, golden: "status-all-nodes.golden",
		},
		"colour on a terminal paints the states, and keeps the columns aligned": {
			in: fixtureCluster, format: StatusFormat{Color: true}, golden: "status-color.golden",
		},
		"200 nodes: only the three with a problem get a column": {
			in: bigCluster, format: StatusFormat{Width: 120}, golden: "status-200-nodes.golden",
		},
		"without a MultipathConfig nothing is expected anywhere": {
			in:     func() *rollup.Inputs { in := fixtureCluster(); in.Config = nil; return in },
			golden: "status-no-config.golden",
		},
		"host configuration conflicts are listed per node with file and line": {
			in: func() *rollup.Inputs {
				in := fixtureCluster()
				in.States[1].Status.HostConflicts = fixtureHostConflicts()
				return in
			},
			golden: "status-host-conflicts.golden",
		},
		"without a MultipathWWID there is no matrix": {
			in:     func() *rollup.Inputs { in := fixtureCluster(); in.WWIDs = nil; return in },
			golden: "status-no-luns.golden",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			golden(t, tc.golden, FormatStatus(fixtureReport(tc.in()), tc.format))
		})
	}
}

func TestStatusStructuredOutput(t *testing.T) {
	for format, file := range map[outputFormat]string{outputJSON: "status.json.golden", outputYAML: "status.yaml.golden"} {
		t.Run(string(format), func(t *testing.T) {
			var b bytes.Buffer
			if err := printStatus(&b, fixtureReport(fixtureCluster()), format, false, terminal{color: true}); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), "\x1b[") {
				t.Error("structured output must never be coloured")
			}
			golden(t, file, b.String())
		})
	}
}

func TestBuildStatus(t *testing.T) {
	r := fixtureReport(fixtureCluster())
	rows := map[string]LUNReport{}
	order := make([]string, 0, len(r.LUNs))
	for _, l := range r.LUNs {
		rows[l.label()] = l
		order = append(order, l.label())
	}
	cell := func(lun, node string) string {
		for _, c := range rows[lun].Cells {
			if c.Node == node {
				return fmt.Sprintf("%s %d/%d expected=%v", c.State, c.ActivePaths, c.TotalPaths, c.Expected)
			}
		}
		return "none"
	}
	tests := map[string]struct {
		got, want string
	}{
		"rows are worst first: failed, missing, degraded, unknown, optimal": {
			got: strings.Join(order, " "), want: "archive oralog01 oradata01 scratch " + wwid03,
		},
		"a degraded map shows its paths":                       {got: cell("oradata01", "worker-2"), want: "degraded 1/2 expected=true"},
		"a trusted node without the map has it missing":        {got: cell("oralog01", "worker-3"), want: "missing 0/0 expected=true"},
		"a malformed report is unknown":                        {got: cell("scratch", "worker-2"), want: "unknown 0/0 expected=true"},
		"an untrusted node is unknown whatever it reported":    {got: cell("oradata01", "worker-4"), want: "unknown 0/0 expected=true"},
		"a map on a node not expected to carry it is shown":    {got: cell(wwid03, "worker-3"), want: "failed 0/2 expected=false"},
		"a node neither expected nor carrying the map is none": {got: cell(wwid03, "worker-6"), want: "none"},
		"an unmanaged node never appears":                      {got: cell("oradata01", "worker-5"), want: "none"},
		"the cells agree with the roll-up": {
			got: fmt.Sprintf("%s %s", rows["oradata01"].Health.State, rows["oradata01"].Health.Nodes), want: "degraded 4/6",
		},
		"the operator's recorded roll-up is kept beside": {
			got: string(rows["oralog01"].Recorded.State), want: "optimal",
		},
		"an untrusted node keeps its last known failure beside unknown": {
			got: fmt.Sprintf("%s %+v", cell("archive", "worker-4"), r.Nodes[3].LastReported), want: "unknown 0/0 expected=true [{LUN:archive State:failed ActivePaths:0 TotalPaths:2}]",
		},
		"a trusted node has no last report kept": {
			got: fmt.Sprint(len(r.Nodes[2].LastReported)), want: "0",
		},
		"the apply errors are listed": {
			got: fmt.Sprintf("%d %s", r.NodeErrorCount, r.NodeErrors[0].Node), want: "1 worker-3",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestBuildStatusContradictions(t *testing.T) {
	in := fixtureCluster()
	// worker-1 reports oradata01 twice (in two cases), and a second MultipathWWID claims the
	// same WWID: the rules make the cell unknown, for both objects.
	twin := in.States[0].Status.Maps[0]
	twin.WWID = strings.ToUpper(twin.WWID)
	in.States[0].Status.Maps = append(in.States[0].Status.Maps, twin)
	in.WWIDs = append(in.WWIDs, fxWWID("oradata01-copy", wwid01, "", 0, mpv1alpha1.LUNHealth{}, nil))
	r := fixtureReport(in)
	for _, l := range r.LUNs {
		if l.WWID != wwid01 {
			continue
		}
		if l.Cells[0].Node != "worker-1" || l.Cells[0].State != mpv1alpha1.MapUnknown || l.Health.State != mpv1alpha1.MapDegraded {
			t.Errorf("%s: worker-1 cell %+v, health %s", l.Name, l.Cells[0], l.Health.State)
		}
	}
}

func TestStatusValidate(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"no flags are fine":                   {},
		"-o wide is fine":                     {args: []string{"-o", "wide"}},
		"an unknown output format is refused": {args: []string{"-o", "table"}, wantErr: `--output "table" is not supported`},
		"a zero refresh interval is refused":  {args: []string{"--refresh-interval", "0s"}, wantErr: "--refresh-interval must be positive"},
		"an empty namespace is refused":       {args: []string{"-n", ""}, wantErr: "--namespace must not be empty"},
		"arguments are refused":               {args: []string{"extra"}, wantErr: `unknown command "extra"`},
		"--fail-on takes a level":             {args: []string{"--fail-on", "missing"}},
		"--fail-on refuses what is no level":  {args: []string{"--fail-on", "optimal"}, wantErr: `--fail-on "optimal" is not a level`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cmd := statusCommand(&statusOptions{IOStreams: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, cluster: newClusterFlags()})
			// Run is replaced: these cases must not reach a cluster.
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

func TestDetectTerminal(t *testing.T) {
	if got := detectTerminal(&bytes.Buffer{}); got != (terminal{}) {
		t.Errorf("a buffer is not a terminal: %+v", got)
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := detectTerminal(f); got != (terminal{}) {
		t.Errorf("a file is not a terminal: %+v", got)
	}
}

func TestCommandsAreRegistered(t *testing.T) {
	root := NewCommand(t.Context(), IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	for _, name := range []string{"render", "diff", "status", "maps", "version"} {
		if c, _, err := root.Find([]string{name}); err != nil || c.Name() != name {
			t.Errorf("subcommand %s not registered: %v", name, err)
		}
	}
}

func TestFailOn(t *testing.T) {
	r := fixtureReport(fixtureCluster())
	tests := map[mpv1alpha1.MapState]string{
		"":                     "",
		mpv1alpha1.MapFailed:   "1 LUN is failed or worse: archive (failed 4/6)",
		mpv1alpha1.MapMissing:  "2 LUNs are missing or worse: archive (failed 4/6), oralog01 (missing 4/6)",
		mpv1alpha1.MapDegraded: "3 LUNs are degraded or worse: archive (failed 4/6), oralog01 (missing 4/6), oradata01 (degraded 4/6)",
		mpv1alpha1.MapUnknown:  "4 LUNs are unknown or worse: archive (failed 4/6), oralog01 (missing 4/6), oradata01 (degraded 4/6), scratch (unknown 4/6)",
	}
	for level, want := range tests {
		t.Run(string(level), func(t *testing.T) {
			err := FailOn(r, level)
			if want == "" {
				if err != nil {
					t.Fatalf("no level, no failure: %v", err)
				}
				return
			}
			var exit *ExitError
			if !errors.As(err, &exit) || exit.Code != ExitCodeThreshold || err.Error() != want {
				t.Errorf("err = %v (%T), want exit %d %q", err, err, ExitCodeThreshold, want)
			}
		})
	}
	healthy := &StatusReport{LUNs: []LUNReport{{Name: "a", Health: mpv1alpha1.LUNHealth{State: mpv1alpha1.MapOptimal, Nodes: "3/3"}}}}
	if err := FailOn(healthy, mpv1alpha1.MapUnknown); err != nil {
		t.Errorf("an optimal LUN never fails: %v", err)
	}
}
