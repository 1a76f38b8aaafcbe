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
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/rollup"
)

// fixtureEvents are what the operator recorded about a LUN.
func fixtureEvents() []EventReport {
	return []EventReport{
		{Type: corev1.EventTypeNormal, Reason: "Rendered", From: "kube-multipath-render", Note: "older", Count: 1, Last: metav1.NewTime(fixtureNow.Add(-50 * time.Minute))},
		{Type: corev1.EventTypeWarning, Reason: mpv1alpha1.AliasChangeRefusedReason, Action: "Render", From: "kube-multipath-render",
			Note: "alias change from oradata01 to ora01 refused: PersistentVolume pv-ora-1 uses the LUN", Count: 3, Last: metav1.NewTime(fixtureNow.Add(-2 * time.Minute))},
	}
}

// fixtureLUNInputs is the fixture cluster with oradata01 in use: two volumes consume it, it is
// mounted on worker-2, a refused rename left it with its former alias.
func fixtureLUNInputs() *rollup.Inputs {
	in := fixtureCluster()
	w := &in.WWIDs[0]
	w.Spec.Alias = "ora01"
	w.Status.RenderedAlias = ptr.To("oradata01")
	w.Status.Consumers = []string{"pv-ora-1", "pv-ora-2"}
	w.Status.OpenOn = []mpv1alpha1.NodeUse{{Node: "worker-2", Name: "oradata01", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/u01/oradata"}}}}
	w.Status.Conditions = []metav1.Condition{
		{Type: mpv1alpha1.ReadyCondition, Status: metav1.ConditionFalse, Reason: mpv1alpha1.AliasChangeRefusedReason, Message: "alias change refused", LastTransitionTime: metav1.NewTime(fixtureNow.Add(-2 * time.Minute))},
		{Type: mpv1alpha1.InUseCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.ConsumedReason, Message: "2 PersistentVolumes use the LUN", LastTransitionTime: metav1.NewTime(fixtureNow.Add(-3 * time.Hour))},
	}
	in.States[1].Status.Maps[0].Users = w.Status.OpenOn[0].Users
	in.States[1].Status.Maps[0].OpenCount = 1
	// worker-4 is not trusted; its last report had the LUN degraded.
	in.States[3].Status.Maps[0] = fxMap(wwid01, "oradata01", mpv1alpha1.MapDegraded, 1, 2)
	return in
}

func TestFormatLUN(t *testing.T) {
	in := fixtureLUNInputs()
	l, err := findLUN(in.WWIDs, "oradata01")
	if err != nil {
		t.Fatal(err)
	}
	d := BuildLUN(in, l, fixtureNow, rules.DefaultRefreshInterval)
	d.Events = fixtureEvents()
	SortEvents(d.Events)
	golden(t, "status-lun.golden", FormatLUN(d, false, false))
	golden(t, "status-lun-all-nodes.golden", FormatLUN(d, true, false))

	// The cells are the matrix's: the LUN drill-down and `status` never disagree.
	row := fixtureReport(in).LUNs
	for _, lr := range row {
		if lr.Name != "oradata01" {
			continue
		}
		if lr.Health.State != d.Health.State || lr.Health.Nodes != d.Health.Nodes || len(lr.Cells) != len(d.Nodes) {
			t.Errorf("status says %+v over %d cells, status lun %+v over %d", lr.Health, len(lr.Cells), d.Health, len(d.Nodes))
		}
	}
	for _, n := range d.Nodes {
		if n.Node == "worker-4" && (n.State != mpv1alpha1.MapUnknown || n.Map == nil || n.Map.State != mpv1alpha1.MapDegraded || n.Untrusted == "") {
			t.Errorf("an untrusted node is unknown, with its last report kept beside: %+v", n)
		}
	}
}

func TestFindLUN(t *testing.T) {
	in := fixtureCluster()
	for arg, want := range map[string]string{"oradata01": "oradata01", "lun-a03": "lun-a03", "scratch": "scratch", strings.ToUpper(wwid03): "lun-a03"} {
		i, err := findLUN(in.WWIDs, arg)
		if err != nil || in.WWIDs[i].Name != want {
			t.Errorf("findLUN(%q) = %d, %v; want %s", arg, i, err, want)
		}
	}
	in.WWIDs[1].Spec.Alias = "oradata01" // an alias that is another object's name: the name wins
	if i, _ := findLUN(in.WWIDs, "oradata01"); in.WWIDs[i].Name != "oradata01" {
		t.Errorf("the object's name comes before an alias: got %s", in.WWIDs[i].Name)
	}
	if _, err := findLUN(in.WWIDs, "nope"); err == nil || !strings.Contains(err.Error(), `no MultipathWWID is named "nope"`) {
		t.Errorf("unknown LUN: %v", err)
	}
}

func TestFormatNode(t *testing.T) {
	in := fixtureCluster()
	d := BuildNode(in, &in.States[2], fixtureNow, rules.DefaultRefreshInterval) // worker-3
	if strings.Join(d.Missing, ",") != "oralog01" {
		t.Errorf("worker-3 lacks oralog01 only: %v", d.Missing)
	}
	d.Events = []EventReport{{Type: corev1.EventTypeWarning, Reason: mpv1alpha1.ApplyFailedReason, Action: "Apply", From: "kube-multipath-agent",
		Note: "multipath -t refused the rendered config: line 12: invalid value for no_path_retry; rolled back", Count: 4, Last: metav1.NewTime(fixtureNow.Add(-time.Minute))}}
	golden(t, "status-node.golden", FormatNode(d, false))

	d.Events, d.EventsError = nil, "Events could not be read: forbidden"
	if out := FormatNode(d, false); !strings.Contains(out, "\nEvents: Events could not be read: forbidden\n") {
		t.Errorf("why the Events are missing must be said:\n%s", out)
	}
}

func TestSortEventsAndTheirCount(t *testing.T) {
	events := fixtureEvents()
	SortEvents(events)
	if events[0].Reason != mpv1alpha1.AliasChangeRefusedReason {
		t.Errorf("newest first: %+v", events)
	}
	var b strings.Builder
	formatEvents(&b, events, "", fixtureNow, false)
	if !strings.Contains(b.String(), "2m (x3)") {
		t.Errorf("a repeated Event shows its count:\n%s", b.String())
	}
}

func TestDrillDownStructuredOutput(t *testing.T) {
	in := fixtureLUNInputs()
	lun := BuildLUN(in, 0, fixtureNow, rules.DefaultRefreshInterval)
	node := BuildNode(in, &in.States[2], fixtureNow, rules.DefaultRefreshInterval)
	for name, tc := range map[string]struct {
		v    any
		want []string
	}{
		"lun":  {lun, []string{`"name": "oradata01"`, `"node": "worker-4"`, `"untrusted": "agent report is older than 3 refresh intervals"`, `"state": "degraded"`, `"events": []`}},
		"node": {node, []string{`"node": "worker-3"`, `"missing": [`, `"conditions": [`, `"maps": [`}},
	} {
		t.Run(name, func(t *testing.T) {
			o := &drillOptions{IOStreams: IOStreams{Out: &strings.Builder{}}, output: "json"}
			if err := o.print(tc.v, func() string { t.Fatal("text asked for with -o json"); return "" }); err != nil {
				t.Fatal(err)
			}
			out := o.Out.(*strings.Builder).String()
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("-o json lacks %s:\n%s", want, out)
				}
			}
		})
	}
}

// Paths grouped as multipath -ll lists them: the group's line on its first path only, an
// undefined priority as "-", the paths of no listed group (an older agent's report) last with
// "-" for group and priority, and a disabled group in red.
func TestAppendPathsGroupsPaths(t *testing.T) {
	m := &mpv1alpha1.MapStatus{TotalPaths: 5, Paths: []mpv1alpha1.PathStatus{
		{Device: "sdc", DMState: "failed", CheckerState: "faulty", Group: 2, Priority: -1},
		{Device: "sdb", DMState: "active", CheckerState: "ready", Group: 1, Priority: 50},
		{Device: "sdd", DMState: "active", CheckerState: "ready", Group: 2, Priority: 0},
		{Device: "sde", DMState: "active", CheckerState: "ready"},
	}, PathGroups: []mpv1alpha1.PathGroupStatus{
		{Group: 1, Selector: "round-robin 0", Priority: 50, State: "active"},
		{Group: 2, Selector: "round-robin 0", Priority: -1, State: "disabled"},
	}}
	rows := appendPaths(nil, []styled{{text: "head"}}, m)
	var got []string
	for _, r := range rows {
		var cells []string
		for _, c := range r {
			cells = append(cells, c.text)
		}
		got = append(got, strings.Join(cells, "|"))
	}
	want := []string{
		"head|1 round-robin 0 prio=50 active|sdb|-|active|ready|-|50",
		"|2 round-robin 0 prio=- disabled|sdc|-|failed|faulty|-|-",
		"||sdd|-|active|ready|-|0",
		"|-|sde|-|active|ready|-|-",
		"||(+1 more)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rows[1][1].color != sgrRed || rows[0][1].color != "" {
		t.Errorf("group colours %q (disabled) and %q (active), want red and none", rows[1][1].color, rows[0][1].color)
	}
}

// A current agent lists no paths of an optimal map: the row says so. A map that is not optimal
// and has none listed (cut to fit the status) keeps its dashes.
func TestAppendPathsOfMapsWithoutPaths(t *testing.T) {
	text := func(m *mpv1alpha1.MapStatus) string {
		var cells []string
		for _, c := range appendPaths(nil, []styled{{text: "head"}}, m)[0] {
			cells = append(cells, c.text)
		}
		return strings.Join(cells, "|")
	}
	if got, want := text(&mpv1alpha1.MapStatus{State: mpv1alpha1.MapOptimal, ActivePaths: 4, TotalPaths: 4}), "head|(paths listed when not optimal)||||||"; got != want {
		t.Errorf("optimal map: %q, want %q", got, want)
	}
	if got, want := text(&mpv1alpha1.MapStatus{State: mpv1alpha1.MapDegraded, ActivePaths: 3, TotalPaths: 4}), "head|-|-|-|-|-|-|-"; got != want {
		t.Errorf("degraded map without its paths: %q, want %q", got, want)
	}
}
