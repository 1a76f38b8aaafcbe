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
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/conditions/conditionstest"
)

func TestSetStatus(t *testing.T) {
	t.Parallel()
	cfg1 := &mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-1111111111111111", Hash: strings.Repeat("1", 64)}
	cfg2 := &mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-2222222222222222", Hash: strings.Repeat("2", 64)}
	maps := &mapsReport{version: "0.9.4", mapCount: 1, maps: []mpv1alpha1.MapStatus{{WWID: "w", State: mpv1alpha1.MapOptimal}}}
	type want struct {
		ready, readyReason string
		degraded           bool
		reconciling        bool
		mapCount           int32
	}
	tests := map[string]struct {
		desired *mpv1alpha1.RenderedConfigRef
		in      statusInput
		want    want
	}{
		"the node runs the desired config": {
			desired: cfg2, in: statusInput{applied: cfg2, maps: maps},
			want: want{ready: "True", readyReason: mpv1alpha1.AppliedReason, mapCount: 1},
		},
		"a failed apply is Degraded, keeps the previous config and is not Ready": {
			desired: cfg2, in: statusInput{applied: cfg1, applyErr: errors.New("Reconfigure failed"), maps: maps},
			want: want{ready: "False", readyReason: mpv1alpha1.ApplyFailedReason, degraded: true, mapCount: 1},
		},
		"multipathd down without an apply pending is not Ready, not Degraded": {
			desired: cfg2, in: statusInput{applied: cfg2, daemonErr: errors.New("multipathd is not reachable")},
			want: want{ready: "False", readyReason: mpv1alpha1.MultipathdUnavailableReason},
		},
		"nothing handed out yet": {
			in:   statusInput{maps: maps},
			want: want{ready: "False", readyReason: mpv1alpha1.WaitingForConfigReason, mapCount: 1},
		},
		"applying is Reconciling": {
			desired: cfg2, in: statusInput{applied: cfg1, applying: true},
			want: want{ready: "False", readyReason: mpv1alpha1.ApplyingReason, reconciling: true},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n", Generation: 4}}
			st.Spec.DesiredConfig = tc.desired
			setStatus(st, tc.in)
			conditionstest.AssertKstatusInvariants(t, st)
			ready := conditions.Get(st, mpv1alpha1.ReadyCondition)
			if string(ready.Status) != tc.want.ready || ready.Reason != tc.want.readyReason {
				t.Errorf("Ready = %s %s, want %s %s", ready.Status, ready.Reason, tc.want.ready, tc.want.readyReason)
			}
			deg := conditions.Get(st, mpv1alpha1.DegradedCondition)
			if (deg != nil) != tc.want.degraded {
				t.Errorf("Degraded = %+v, want present: %v", deg, tc.want.degraded)
			}
			if deg != nil && (deg.Status != metav1.ConditionTrue || deg.Reason != mpv1alpha1.ApplyFailedReason || deg.ObservedGeneration != 4 ||
				!strings.Contains(deg.Message, cfg1.Name) || !strings.Contains(deg.Message, "Reconfigure failed")) {
				t.Errorf("Degraded = %+v", deg)
			}
			if conditions.IsTrue(st, mpv1alpha1.ReconcilingCondition) != tc.want.reconciling {
				t.Errorf("Reconciling = %+v", conditions.Get(st, mpv1alpha1.ReconcilingCondition))
			}
			if st.Status.ObservedGeneration != 4 || st.Status.MapCount != tc.want.mapCount {
				t.Errorf("observedGeneration %d, mapCount %d", st.Status.ObservedGeneration, st.Status.MapCount)
			}
			if got := st.Status.AppliedConfig; (got == nil) != (tc.in.applied == nil) || (got != nil && *got != *tc.in.applied) {
				t.Errorf("appliedConfig = %+v, want %+v", got, tc.in.applied)
			}
		})
	}
}

func TestSetStatusKeepsTheLastMapsWhenMultipathdCannotBeRead(t *testing.T) {
	t.Parallel()
	st := &mpv1alpha1.MultipathNodeState{}
	setStatus(st, statusInput{maps: &mapsReport{version: "0.9.4", mapCount: 1, maps: []mpv1alpha1.MapStatus{{WWID: "w"}}}})
	setStatus(st, statusInput{daemonErr: errors.New("down")})
	if st.Status.MapCount != 1 || len(st.Status.Maps) != 1 || st.Status.MultipathToolsVersion != "0.9.4" {
		t.Errorf("status = %+v", st.Status)
	}
}

func TestLongMessagesAreCut(t *testing.T) {
	t.Parallel()
	st := &mpv1alpha1.MultipathNodeState{}
	st.Spec.DesiredConfig = &mpv1alpha1.RenderedConfigRef{Name: "c"}
	setStatus(st, statusInput{applyErr: errors.New(strings.Repeat("é", 40000))})
	conditionstest.AssertKstatusInvariants(t, st)
	if m := conditions.Get(st, mpv1alpha1.DegradedCondition).Message; len(m) > maxMessage || !strings.HasSuffix(m, "...") {
		t.Errorf("message of %d bytes", len(m))
	}
}

func TestApplyBackoffDoublesUpToFiveMinutesAndResetsForAnotherConfig(t *testing.T) {
	t.Parallel()
	var b applyBackoff
	now := time.Unix(1000, 0)
	err := errors.New("boom")
	var waits []time.Duration
	for range 12 {
		waits = append(waits, b.failed("h1", err, now))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300}
	for i, w := range want {
		if waits[i] != w*time.Second {
			t.Fatalf("waits = %v", waits)
		}
	}
	if d, last := b.wait("h1", now.Add(299*time.Second)); d != time.Second || last != err {
		t.Errorf("wait = %v, %v", d, last)
	}
	if d, _ := b.wait("h2", now); d != 0 {
		t.Errorf("another config waits %v", d)
	}
	if d := b.failed("h2", err, now); d != time.Second {
		t.Errorf("first failure of another config waits %v", d)
	}
}

func TestIsDeviceMapperUevent(t *testing.T) {
	t.Parallel()
	msg := func(fields ...string) []byte { return []byte(strings.Join(fields, "\x00") + "\x00") }
	tests := map[string]struct {
		msg  []byte
		want bool
	}{
		"dm-multipath path failed": {msg("change@/devices/virtual/block/dm-3", "ACTION=change", "DEVPATH=/devices/virtual/block/dm-3",
			"SUBSYSTEM=block", "DM_TARGET=multipath", "DM_ACTION=PATH_FAILED", "DM_SEQNUM=1", "DM_PATH=8:32", "DM_NR_VALID_PATHS=1",
			"DEVNAME=dm-3", "DEVTYPE=disk"), true},
		"a map created": {msg("add@/devices/virtual/block/dm-7", "ACTION=add", "DEVPATH=/devices/virtual/block/dm-7", "SUBSYSTEM=block",
			"DEVNAME=dm-7", "DEVTYPE=disk"), true},
		"a SCSI disk, not device-mapper": {msg("change@/devices/pci0000:00/host2/target2:0:0/2:0:0:1/block/sdc", "ACTION=change",
			"SUBSYSTEM=block", "DEVNAME=sdc"), false},
		"not a block device":    {msg("add@/devices/virtual/net/dm-0", "ACTION=add", "SUBSYSTEM=net"), false},
		"libudev's rebroadcast": {[]byte("libudev\x00\xfe\xed\xca\xfe"), false},
		"empty":                 {nil, false},
	}
	for name, tc := range tests {
		if got := IsDeviceMapperUevent(tc.msg); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

// A registry refuses a scrape with two series of the same labels: placeholder paths and a
// WWID reported twice must add up, not break the scrape.
func TestMapsCollectorNeverRepeatsALabelSet(t *testing.T) {
	t.Parallel()
	c := &mapsCollector{}
	placeholder := mpv1alpha1.PathStatus{Device: "-", DMState: "failed", CheckerState: "faulty", DeviceState: "unknown"}
	m := mpv1alpha1.MapStatus{WWID: "w", Name: "n", State: mpv1alpha1.MapFailed, TotalPaths: 2, Paths: []mpv1alpha1.PathStatus{placeholder, placeholder}}
	c.set([]mpv1alpha1.MapStatus{m, m})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "kube_multipath_agent_path_state" && (len(f.Metric) != 1 || f.Metric[0].GetGauge().GetValue() != 4) {
			t.Errorf("path_state = %v", f.Metric)
		}
	}
}

// 10,000 maps of 4 paths are several MiB of status, more than etcd stores: the path lists of
// optimal maps go first, the others' stay.
func TestFitMapsKeepsEveryMapAndThePathsThatMatter(t *testing.T) {
	t.Parallel()
	maps := make([]mpv1alpha1.MapStatus, 10000)
	for i := range maps {
		m := &maps[i]
		m.WWID, m.Name, m.State, m.ActivePaths, m.TotalPaths = fmt.Sprintf("3600a098038303053%015d", i), fmt.Sprintf("data-%d", i), mpv1alpha1.MapOptimal, 4, 4
		if i%100 == 0 {
			m.State, m.ActivePaths = mpv1alpha1.MapDegraded, 3
		}
		for j := range 4 {
			m.Paths = append(m.Paths, mpv1alpha1.PathStatus{Device: fmt.Sprintf("sd%d", 4*i+j), HCIL: "1:0:0:1", DMState: "active", CheckerState: "ready", DeviceState: "running",
				Group: int32(1 + j/2), Priority: int32(50 - 40*(j/2))})
		}
		m.PathGroups = []mpv1alpha1.PathGroupStatus{
			{Group: 1, Selector: "service-time 0", Priority: 50, State: "active"},
			{Group: 2, Selector: "service-time 0", Priority: 10, State: "enabled"},
		}
	}
	got := fitMaps(maps, maxMapsBytes)
	b, _ := json.Marshal(got)
	full, _ := json.Marshal(maps)
	t.Logf("status.maps: %d KiB with every path, %d KiB fitted", len(full)>>10, len(b)>>10)
	if len(got) != len(maps) || len(b) > maxMapsBytes {
		t.Fatalf("%d maps, %d bytes", len(got), len(b))
	}
	if len(got[0].Paths) != 4 || len(got[1].Paths) != 0 || got[1].TotalPaths != 4 || len(maps[1].Paths) != 4 {
		t.Errorf("degraded map paths %d, optimal map paths %d (total %d), input changed: %v", len(got[0].Paths), len(got[1].Paths), got[1].TotalPaths, len(maps[1].Paths) != 4)
	}
	// The path groups go with the paths: kept for the degraded map, left out for the optimal one.
	if len(got[0].PathGroups) != 2 || len(got[1].PathGroups) != 0 || len(maps[1].PathGroups) != 2 {
		t.Errorf("degraded map groups %d, optimal map groups %d, input groups %d", len(got[0].PathGroups), len(got[1].PathGroups), len(maps[1].PathGroups))
	}
	// Maps without paths (the report of 10,000 optimal maps) are returned as they are, not
	// copied on every pass, even where the bound of their size is over the budget.
	bare := make([]mpv1alpha1.MapStatus, len(maps))
	for i := range maps {
		bare[i] = maps[i]
		bare[i].Paths, bare[i].PathGroups = nil, nil
	}
	if got := fitMaps(bare, 1000); &got[0] != &bare[0] || len(got) != len(bare) {
		t.Error("maps without paths were copied")
	}
	if small := fitMaps(maps[:10], maxMapsBytes); len(small[1].Paths) != 4 || len(small[1].PathGroups) != 2 {
		t.Error("paths or path groups left out of a status that fits")
	}
	// Near the budget the groups count: a budget just under the full size (which counts them)
	// leaves the optimal maps' paths out.
	few := maps[:200]
	full, _ = json.Marshal(few)
	if fitted := fitMaps(few, len(full)-1); len(fitted[1].Paths) != 0 || len(fitted[0].Paths) != 4 {
		t.Errorf("budget %d under the JSON's %d bytes: optimal map paths %d, degraded %d", len(full)-1, len(full), len(fitted[1].Paths), len(fitted[0].Paths))
	}
}

// jsonMapSize bounds a map's JSON with its open count and users too, escapes included: the
// budget of fitMaps holds for maps in use.
func TestJSONMapSizeBoundsMapsWithUsers(t *testing.T) {
	t.Parallel()
	maps := []mpv1alpha1.MapStatus{
		{WWID: "3600a", Name: "data", State: mpv1alpha1.MapOptimal, ActivePaths: 4, TotalPaths: 4},
		{WWID: "3600b", Name: "db", State: mpv1alpha1.MapOptimal, OpenCount: 12345, Users: []mpv1alpha1.MapUser{
			{Kind: mpv1alpha1.MapUserMount, Name: `/var/lib/"odd" <dir>\&`}, {Kind: mpv1alpha1.MapUserHolder, Name: "vg0-lv0"},
			{Kind: mpv1alpha1.MapUserLVMPhysicalVolume}, {Kind: mpv1alpha1.MapUserOpen},
		}},
	}
	for i := range maps {
		b, _ := json.Marshal(maps[i])
		if got := jsonMapSize(&maps[i]); got < len(b)+1 || got > len(b)+80 {
			t.Errorf("map %d: jsonMapSize %d for %d bytes of JSON (and a comma)", i, got, len(b))
		}
	}
}

// jsonPathsSize bounds the JSON of a map's paths and path groups, priorities and escapes
// included, and not by much more than it takes.
func TestJSONPathsSizeBoundsPathsAndGroups(t *testing.T) {
	t.Parallel()
	base := mpv1alpha1.MapStatus{WWID: "3600a", Name: "data", State: mpv1alpha1.MapDegraded, ActivePaths: 1, TotalPaths: 3}
	full := base
	full.Paths = []mpv1alpha1.PathStatus{
		{Device: "sdb", HCIL: "3:0:0:1", DMState: "active", CheckerState: "ready", DeviceState: "running", Group: 1, Priority: 50},
		{Device: "sdc", HCIL: "4:0:0:1", DMState: "failed", CheckerState: "faulty", DeviceState: "offline", Group: 1024, Priority: -1},
		{Device: "sd<&>", DMState: "active", CheckerState: "ghost"},
	}
	full.PathGroups = []mpv1alpha1.PathGroupStatus{
		{Group: 1, Selector: "service-time 0", Priority: 50, State: "active"},
		{Group: 1024, Selector: `round-robin "0"`, Priority: -1, State: "disabled"},
		{Group: 3},
	}
	b, _ := json.Marshal(full)
	without, _ := json.Marshal(base)
	got := jsonMapSize(&full) + jsonPathsSize(&full)
	if got < len(b)+1 || got > len(b)+120 {
		t.Errorf("jsonMapSize+jsonPathsSize %d for %d bytes of JSON (and a comma); %d without paths", got, len(b), len(without))
	}
	if jsonPathsSize(&base) != 0 {
		t.Errorf("a map without paths: %d", jsonPathsSize(&base))
	}
}

func TestSetHostConflicts(t *testing.T) {
	t.Parallel()
	st := &mpv1alpha1.MultipathNodeState{}
	hc := []mpv1alpha1.HostConflict{
		{Type: mpv1alpha1.HostConflictAliasDiffers, WWID: "3600a", Alias: "legacy", File: "/etc/multipath.conf", Line: 7, Message: "/etc/multipath.conf:7 names managed WWID 3600a \"legacy\""},
		{Type: mpv1alpha1.HostConflictBlacklisted, WWID: "3600b", File: "/etc/multipath.conf", Line: 11, Message: "/etc/multipath.conf:11 blacklists managed WWID 3600b"},
	}
	setHostConflicts(st, hc)
	c := conditions.Get(st, mpv1alpha1.HostConfigConflictCondition)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != mpv1alpha1.HostConfigConflictReason ||
		!strings.Contains(c.Message, "in 2 place(s)") || !strings.Contains(c.Message, hc[0].Message+"; "+hc[1].Message) {
		t.Fatalf("condition %+v", c)
	}
	if len(st.Status.HostConflicts) != 2 {
		t.Fatalf("hostConflicts %+v", st.Status.HostConflicts)
	}
	setHostConflicts(st, nil) // unknown this pass: kept
	if conditions.Get(st, mpv1alpha1.HostConfigConflictCondition) == nil || len(st.Status.HostConflicts) != 2 {
		t.Fatal("unknown facts dropped what was reported")
	}
	setHostConflicts(st, []mpv1alpha1.HostConflict{})
	if conditions.Get(st, mpv1alpha1.HostConfigConflictCondition) != nil || st.Status.HostConflicts != nil {
		t.Fatalf("no conflicts left, but %+v, %+v", st.Status.Conditions, st.Status.HostConflicts)
	}
}

// The cache keeps the agent's MultipathNodeState without its report and managed fields, and
// everything else as it is; other objects pass untouched.
func TestTrimOwnState(t *testing.T) {
	t.Parallel()
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: FieldOwner}}}}
	st.Spec.DesiredConfig = &mpv1alpha1.RenderedConfigRef{Name: "c", Hash: "h"}
	st.Status = mpv1alpha1.MultipathNodeStateStatus{MapCount: 1, Maps: []mpv1alpha1.MapStatus{{WWID: "3600a", State: mpv1alpha1.MapOptimal}},
		HostConflicts:    []mpv1alpha1.HostConflict{{Type: mpv1alpha1.HostConflictBlacklisted, WWID: "3600a"}},
		UnmanagedDevices: []mpv1alpha1.UnmanagedDevice{{WWID: "3600b"}}, UnmanagedDeviceCount: 1,
		Conditions: []metav1.Condition{{Type: mpv1alpha1.ReadyCondition, Status: metav1.ConditionTrue}}}
	want := st.DeepCopy()
	want.ManagedFields, want.Status.Maps = nil, nil
	got, err := TrimOwnState(st)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("TrimOwnState = %+v, %v; want %+v", got, err, want)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}}}
	if got, _ := TrimOwnState(cm); got != cm || len(cm.ManagedFields) != 1 {
		t.Errorf("a ConfigMap was changed: %+v", got)
	}
}

// What a write records: the report shared with the status written (10,000 maps are not copied
// on every write), the rest copied (the setters change conditions in place).
func TestRecordWrittenSharesTheReportAndCopiesTheRest(t *testing.T) {
	t.Parallel()
	r := &Reconciler{}
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n", UID: "u1"}}
	st.Status.Maps = []mpv1alpha1.MapStatus{{WWID: "3600a", State: mpv1alpha1.MapOptimal}}
	st.Status.Conditions = []metav1.Condition{{Type: mpv1alpha1.ReadyCondition, Status: metav1.ConditionTrue}}
	written := r.recordWritten(st)
	if &written.Maps[0] != &st.Status.Maps[0] || r.reported.uid != "u1" || &r.reported.maps[0] != &st.Status.Maps[0] {
		t.Errorf("the report was copied, or not recorded: %+v", r.reported)
	}
	st.Status.Conditions[0].Status = metav1.ConditionFalse
	if written.Conditions[0].Status != metav1.ConditionTrue {
		t.Error("the written copy shares its conditions with the status the setters change")
	}
}
