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

package render

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/event"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/conditions/conditionstest"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

const (
	wwidA = "3600a098038303053453f463045720a01"
	wwidB = "3600a098038303053453f463045720b02"
)

type lunOpt func(*mpv1alpha1.MultipathWWID)

func testLUN(name, wwid string, opts ...lunOpt) mpv1alpha1.MultipathWWID {
	w := mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid}}
	for _, o := range opts {
		o(&w)
	}
	return w
}

func alias(a string) lunOpt { return func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = a } }

// onNodes says the nodes have the map under this name (status.renderedAlias).
func onNodes(a string) lunOpt {
	return func(w *mpv1alpha1.MultipathWWID) { w.Status.RenderedAlias = ptr.To(a) }
}

func former(a ...string) lunOpt {
	return func(w *mpv1alpha1.MultipathWWID) { w.Status.FormerAliases = a }
}

func forceAnnotated() lunOpt {
	return func(w *mpv1alpha1.MultipathWWID) {
		metav1.SetMetaDataAnnotation(&w.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
	}
}

func beingDeleted() lunOpt {
	return func(w *mpv1alpha1.MultipathWWID) {
		w.DeletionTimestamp = ptr.To(metav1.Now())
		w.Finalizers = []string{mpv1alpha1.InUseFinalizer}
	}
}

func mapperPV(name, mapName string) corev1.PersistentVolume {
	return corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/dev/mapper/" + mapName}}}}
}

func fcPV(name, wwid string) corev1.PersistentVolume {
	return corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{FC: &corev1.FCVolumeSource{WWIDs: []string{wwid}}}}}
}

// nodeState reports maps on a node.
func nodeState(node string, maps ...mpv1alpha1.MapStatus) mpv1alpha1.MultipathNodeState {
	return mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: mpv1alpha1.MultipathNodeStateStatus{Maps: maps}}
}

func mounted(wwid, name, at string) mpv1alpha1.MapStatus {
	return mpv1alpha1.MapStatus{WWID: wwid, Name: name, State: mpv1alpha1.MapOptimal, OpenCount: 1,
		Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: at}}}
}

// refusing adds to s the WouldRename host conflict of an agent that refused to rename the open
// map of wwid, named name by the host.
func refusing(s mpv1alpha1.MultipathNodeState, wwid, name string) mpv1alpha1.MultipathNodeState {
	s.Status.HostConflicts = append(s.Status.HostConflicts, mpv1alpha1.HostConflict{Type: mpv1alpha1.HostConflictWouldRename, WWID: wwid, Alias: name})
	return s
}

func cfg(opts ...func(*mpv1alpha1.MultipathConfig)) *mpv1alpha1.MultipathConfig {
	c := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}}
	for _, o := range opts {
		o(c)
	}
	return c
}

func deletingConfig(c *mpv1alpha1.MultipathConfig) {
	c.DeletionTimestamp = ptr.To(metav1.Now())
	c.Finalizers = []string{mpv1alpha1.TeardownFinalizer}
}

func forcedConfig(c *mpv1alpha1.MultipathConfig) {
	metav1.SetMetaDataAnnotation(&c.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
}

func names(ws []mpv1alpha1.MultipathWWID) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Name+"="+w.Spec.Alias)
	}
	return out
}

func TestDecide(t *testing.T) {
	type want struct {
		render, held  []string // name=alias
		deleting      bool
		forcedOut     []string
		lun           string // the LUN the fields below are about
		consumers     []string
		harmed        []string
		openOn        []mpv1alpha1.NodeUse
		renderedAlias string
		rendered      bool
		aliasRefused  bool
		keepFinalizer bool
		forced        forceKind
		formerAliases []string
		staleNames    map[string]string
		teardown      bool
		adoption      []mpv1alpha1.NodeUse
	}
	mpatha := []mpv1alpha1.NodeUse{{Node: "worker-1", Name: "mpatha", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv/a"}}}}
	tests := map[string]struct {
		in   inputs
		want want
	}{
		"a new LUN the host holds open as mpatha is left out of the render; the others roll out": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA), testLUN("b", wwidB)},
				states: []mpv1alpha1.MultipathNodeState{nodeState("worker-1", mounted(wwidA, "mpatha", "/srv/a"))}},
			want: want{render: []string{"b="}, lun: "a", openOn: mpatha, adoption: mpatha, keepFinalizer: false},
		},
		"a new LUN with an alias the host holds open as mpatha is left out too": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("foo"))},
				states: []mpv1alpha1.MultipathNodeState{nodeState("worker-1", mounted(wwidA, "mpatha", "/srv/a"))}},
			want: want{lun: "a", openOn: mpatha, adoption: mpatha, keepFinalizer: false},
		},
		"the force annotation does not let an adoption of an open map through": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("foo"), forceAnnotated())},
				states: []mpv1alpha1.MultipathNodeState{nodeState("worker-1", mounted(wwidA, "mpatha", "/srv/a"))}},
			want: want{lun: "a", openOn: mpatha, adoption: mpatha, keepFinalizer: false},
		},
		"a new LUN held for an adoption is deleted at once: the host's mpatha is not the operator's to hold": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("foo"), beingDeleted())},
				states: []mpv1alpha1.MultipathNodeState{nodeState("worker-1", mounted(wwidA, "mpatha", "/srv/a"))}},
			want: want{lun: "a", openOn: mpatha, keepFinalizer: false},
		},
		"a new LUN open under the name the render gives it is rendered (the alias set to the host's name)": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("legacy"))},
				states: []mpv1alpha1.MultipathNodeState{nodeState("worker-1", mounted(wwidA, "legacy", "/srv/a"))}},
			want: want{render: []string{"a=legacy"}, held: []string{"a=legacy"}, lun: "a", rendered: true, renderedAlias: "legacy", keepFinalizer: true,
				openOn: []mpv1alpha1.NodeUse{{Node: "worker-1", Name: "legacy", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv/a"}}}}},
		},
		"a node's refused adoption leaves a rendered LUN out, though the manager sees nothing open": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, onNodes("")), testLUN("b", wwidB)},
				states: []mpv1alpha1.MultipathNodeState{refusing(nodeState("worker-1"), wwidA, "mpatha")}},
			want: want{render: []string{"b="}, lun: "a", adoption: []mpv1alpha1.NodeUse{{Node: "worker-1", Name: "mpatha"}}},
		},
		"a refused adoption names what the node reports holding the map": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, onNodes(""))},
				states: []mpv1alpha1.MultipathNodeState{refusing(nodeState("worker-1", mounted(wwidA, "mpatha", "/srv/a")), wwidA, "mpatha")}},
			want: want{lun: "a", openOn: mpatha, adoption: mpatha, keepFinalizer: true},
		},
		"a refused adoption does not take out a LUN another node holds open under the operator's name": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, onNodes(""))},
				states: []mpv1alpha1.MultipathNodeState{refusing(nodeState("worker-1"), wwidA, "mpatha"), nodeState("worker-2", mounted(wwidA, wwidA, "/srv"))}},
			want: want{render: []string{"a="}, held: []string{"a="}, lun: "a", rendered: true, keepFinalizer: true,
				openOn: []mpv1alpha1.NodeUse{{Node: "worker-2", Name: wwidA, Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv"}}}}},
		},
		"a refusal under the name the render now gives is no reason to hold": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("legacy"))},
				states: []mpv1alpha1.MultipathNodeState{refusing(nodeState("worker-1"), wwidA, "legacy")}},
			want: want{render: []string{"a=legacy"}, lun: "a", rendered: true, renderedAlias: "legacy"},
		},
		"a LUN a volume consumes is in use, held, and keeps its finalizer": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("data"), onNodes("data")), testLUN("b", wwidB)},
				pvs: []corev1.PersistentVolume{mapperPV("pv-a", "data")}},
			want: want{render: []string{"a=data", "b="}, held: []string{"a=data"}, lun: "a", consumers: []string{"pv-a"}, harmed: []string{"pv-a"},
				rendered: true, renderedAlias: "data", keepFinalizer: true},
		},
		"a map mounted on a node is in use exactly like a consumed one": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("data"), onNodes("data")), testLUN("b", wwidB)},
				states: []mpv1alpha1.MultipathNodeState{
					nodeState("worker-2", mpv1alpha1.MapStatus{WWID: strings.ToUpper(wwidA), Name: "data", OpenCount: 2}),
					nodeState("worker-1", mounted(wwidA, "data", "/mnt/data"), mpv1alpha1.MapStatus{WWID: wwidB, Name: wwidB, State: mpv1alpha1.MapDegraded}),
				}},
			want: want{render: []string{"a=data", "b="}, held: []string{"a=data"}, lun: "a",
				openOn: []mpv1alpha1.NodeUse{
					{Node: "worker-1", Name: "data", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/mnt/data"}}},
					{Node: "worker-2", Name: "data", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserOpen}}},
				},
				rendered: true, renderedAlias: "data", keepFinalizer: true},
		},
		"a map that is only reported, not open, is not in use": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("b", wwidB)},
				states: []mpv1alpha1.MultipathNodeState{nodeState("worker-1", mpv1alpha1.MapStatus{WWID: wwidB, Name: wwidB, State: mpv1alpha1.MapFailed})}},
			want: want{render: []string{"b="}, lun: "b", rendered: true},
		},
		"renaming a LUN open on a node is refused: the nodes keep the name": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("new"), onNodes("data"))},
				states: []mpv1alpha1.MultipathNodeState{nodeState("worker-1", mounted(wwidA, "data", "/mnt/data"))}},
			want: want{render: []string{"a=data"}, held: []string{"a=data"}, lun: "a", rendered: true, renderedAlias: "data", aliasRefused: true, keepFinalizer: true,
				openOn: []mpv1alpha1.NodeUse{{Node: "worker-1", Name: "data", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/mnt/data"}}}}},
		},
		"a forced rename of a consumed LUN is rendered and the old name kept while the volume names it": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("new"), onNodes("old"), forceAnnotated())},
				pvs: []corev1.PersistentVolume{mapperPV("pv-a", "old")}},
			want: want{render: []string{"a=new"}, held: []string{"a=new"}, lun: "a", consumers: []string{"pv-a"}, harmed: []string{"pv-a"},
				rendered: true, renderedAlias: "new", keepFinalizer: true, forced: forcedRename, formerAliases: []string{"old"},
				// In the same pass: InUse names the old path at once.
				staleNames: map[string]string{"pv-a": "old"}},
		},
		"after a forced rename the volume naming the old name still consumes the LUN": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("new"), onNodes("new"), former("old"))},
				pvs: []corev1.PersistentVolume{mapperPV("pv-a", "old")}},
			want: want{render: []string{"a=new"}, held: []string{"a=new"}, lun: "a", consumers: []string{"pv-a"}, staleNames: map[string]string{"pv-a": "old"},
				rendered: true, renderedAlias: "new", keepFinalizer: true, formerAliases: []string{"old"}},
		},
		"renaming back to the name the volume still names is not refused": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("old"), onNodes("new"), former("old"))},
				pvs: []corev1.PersistentVolume{mapperPV("pv-a", "old")}},
			want: want{render: []string{"a=old"}, held: []string{"a=old"}, lun: "a", consumers: []string{"pv-a"},
				rendered: true, renderedAlias: "old", keepFinalizer: true, staleNames: nil},
		},
		"renaming back is refused for what uses the current name, and only for that": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("old"), onNodes("new"), former("old"))},
				pvs: []corev1.PersistentVolume{mapperPV("pv-a", "old"), fcPV("pv-fc", wwidA)}},
			want: want{render: []string{"a=new"}, held: []string{"a=new"}, lun: "a", consumers: []string{"pv-a", "pv-fc"}, harmed: []string{"pv-fc"},
				staleNames: map[string]string{"pv-a": "old"}, rendered: true, renderedAlias: "new", aliasRefused: true, keepFinalizer: true, formerAliases: []string{"old"}},
		},
		"a former name no volume names any more is forgotten": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("new"), onNodes("new"), former("old"))},
				pvs: []corev1.PersistentVolume{mapperPV("pv-a", "new")}},
			want: want{render: []string{"a=new"}, held: []string{"a=new"}, lun: "a", consumers: []string{"pv-a"}, harmed: []string{"pv-a"},
				rendered: true, renderedAlias: "new", keepFinalizer: true},
		},
		"a forced deletion of an in-use LUN drops the finalizer and the LUN": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, onNodes(""), forceAnnotated(), beingDeleted())},
				states: []mpv1alpha1.MultipathNodeState{nodeState("worker-1", mounted(wwidA, wwidA, "/srv"))}},
			want: want{lun: "a", forced: forcedDeletion,
				openOn: []mpv1alpha1.NodeUse{{Node: "worker-1", Name: wwidA, Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv"}}}}},
		},
		"a deletion of a LUN open on a node waits, rendered": {
			in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, onNodes(""), beingDeleted())},
				states: []mpv1alpha1.MultipathNodeState{nodeState("worker-1", mounted(wwidA, wwidA, "/srv"))}},
			want: want{render: []string{"a="}, held: []string{"a="}, lun: "a", rendered: true, keepFinalizer: true,
				openOn: []mpv1alpha1.NodeUse{{Node: "worker-1", Name: wwidA, Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv"}}}}},
		},
		"while the MultipathConfig is being deleted only in-use LUNs are rendered": {
			in: inputs{config: cfg(deletingConfig), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("data"), onNodes("data")), testLUN("b", wwidB, onNodes(""))},
				pvs: []corev1.PersistentVolume{mapperPV("pv-a", "data")}},
			want: want{render: []string{"a=data"}, held: []string{"a=data"}, deleting: true, lun: "b", teardown: true},
		},
		"a forced teardown renders nothing and names the in-use LUNs it lets go": {
			in: inputs{config: cfg(deletingConfig, forcedConfig), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("data"), onNodes("data")), testLUN("b", wwidB)},
				pvs: []corev1.PersistentVolume{mapperPV("pv-a", "data")}},
			// The LUN's own protection is the MultipathWWID's: its finalizer stays.
			want: want{deleting: true, forcedOut: []string{"a"}, lun: "a", consumers: []string{"pv-a"}, harmed: []string{"pv-a"}, keepFinalizer: true, teardown: true},
		},
		"the force annotation on a MultipathConfig that is not being deleted changes nothing": {
			in: inputs{config: cfg(forcedConfig), wwids: []mpv1alpha1.MultipathWWID{testLUN("a", wwidA, alias("data"), onNodes("data"))},
				pvs: []corev1.PersistentVolume{mapperPV("pv-a", "data")}},
			want: want{render: []string{"a=data"}, held: []string{"a=data"}, lun: "a", consumers: []string{"pv-a"}, harmed: []string{"pv-a"},
				rendered: true, renderedAlias: "data", keepFinalizer: true},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// decide reads the cache's own MultipathWWIDs (gather does not copy them): it must
			// leave them as they were, a refused alias change included.
			before := slices.Clone(tc.in.wwids)
			for i := range before {
				before[i] = *before[i].DeepCopy()
			}
			out := decide(tc.in)
			if !reflect.DeepEqual(tc.in.wwids, before) {
				t.Errorf("decide changed its input MultipathWWIDs:\n got %+v\nwant %+v", tc.in.wwids, before)
			}
			if got := names(out.render); !slices.Equal(got, tc.want.render) {
				t.Errorf("render = %v, want %v", got, tc.want.render)
			}
			if got := names(out.held); !slices.Equal(got, tc.want.held) {
				t.Errorf("held = %v, want %v", got, tc.want.held)
			}
			if out.deleting != tc.want.deleting || !slices.Equal(out.forcedOut, tc.want.forcedOut) {
				t.Errorf("deleting = %v, forcedOut = %v; want %v, %v", out.deleting, out.forcedOut, tc.want.deleting, tc.want.forcedOut)
			}
			o := out.luns[tc.want.lun]
			w := tc.want
			got := want{render: w.render, held: w.held, deleting: w.deleting, forcedOut: w.forcedOut, lun: w.lun,
				consumers: o.consumers, harmed: o.harmed, openOn: o.openOn, renderedAlias: o.renderedAlias, rendered: o.rendered,
				aliasRefused: o.aliasRefused, keepFinalizer: o.keepFinalizer, forced: o.forced, formerAliases: o.formerAliases,
				staleNames: o.staleNames, teardown: o.teardown, adoption: o.adoptionHeldOn}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("LUN %s:\n got %+v\nwant %+v", w.lun, got, w)
			}
			if out.configErr != "" {
				t.Errorf("configErr = %s", out.configErr)
			}
		})
	}
}

// The messages a person reads: what holds the LUN, where, and which path.
func TestWWIDConditions(t *testing.T) {
	openOn := []mpv1alpha1.NodeUse{{Node: "worker-1", Name: "data", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/mnt/data"}}}}
	type want struct {
		inUse, inUseReason string
		inUseMessage       []string
		ready              metav1.ConditionStatus
		readyReason        string
		readyMessage       []string
		kstatus            kstatus.Status
	}
	tests := map[string]struct {
		w    mpv1alpha1.MultipathWWID
		o    lunOutcome
		want want
	}{
		"open on a node only: OpenOnNode, naming the node, the device and the mount": {
			w: testLUN("a", wwidA, alias("data")), o: lunOutcome{openOn: openOn, rendered: true, renderedAlias: "data"},
			want: want{inUse: "True", inUseReason: mpv1alpha1.OpenOnNodeReason, inUseMessage: []string{"/dev/mapper/data is mounted at /mnt/data on node worker-1"},
				ready: metav1.ConditionTrue, readyReason: mpv1alpha1.RenderedReason, kstatus: kstatus.CurrentStatus},
		},
		"consumed and open: Consumed, naming both": {
			w: testLUN("a", wwidA, alias("data")), o: lunOutcome{consumers: []string{"pv-a"}, openOn: openOn, rendered: true, renderedAlias: "data"},
			want: want{inUse: "True", inUseReason: mpv1alpha1.ConsumedReason, inUseMessage: []string{"Used by PersistentVolume pv-a.", "mounted at /mnt/data on node worker-1"},
				ready: metav1.ConditionTrue, readyReason: mpv1alpha1.RenderedReason, kstatus: kstatus.CurrentStatus},
		},
		"a volume naming the name a forced rename left: the old path is named": {
			w: testLUN("a", wwidA, alias("new")), o: lunOutcome{consumers: []string{"pv-a"}, staleNames: map[string]string{"pv-a": "old"}, rendered: true, renderedAlias: "new"},
			want: want{inUse: "True", inUseReason: mpv1alpha1.ConsumedReason, inUseMessage: []string{"PersistentVolume pv-a still names /dev/mapper/old"},
				ready: metav1.ConditionTrue, readyReason: mpv1alpha1.RenderedReason, kstatus: kstatus.CurrentStatus},
		},
		"a refused rename names the path the nodes have and what holds it": {
			w: testLUN("a", wwidA, alias("old")), o: lunOutcome{consumers: []string{"pv-a", "pv-fc"}, harmed: []string{"pv-fc"}, openOn: openOn, rendered: true, renderedAlias: "new", aliasRefused: true},
			want: want{inUse: "True", inUseReason: mpv1alpha1.ConsumedReason, ready: metav1.ConditionFalse, readyReason: mpv1alpha1.AliasChangeRefusedReason,
				readyMessage: []string{`would rename /dev/mapper/new on every node, and PersistentVolume pv-fc uses it; /dev/mapper/data is mounted at /mnt/data on node worker-1`},
				kstatus:      kstatus.FailedStatus},
		},
		"held out for an adoption: the node, the host's name, what holds it, the new name and the fix": {
			w: testLUN("a", wwidA, alias("foo")), o: lunOutcome{openOn: openOn, adoptionName: "foo",
				adoptionHeldOn: []mpv1alpha1.NodeUse{{Node: "worker-1", Name: "legacy", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/mnt/data"}}}}},
			want: want{inUse: "False", inUseReason: mpv1alpha1.NotConsumedReason, inUseMessage: []string{"the maps open on nodes carry the host's own names (/dev/mapper/data is mounted at /mnt/data on node worker-1)"},
				ready: metav1.ConditionFalse, readyReason: mpv1alpha1.OpenOnNodeReason,
				readyMessage: []string{"The LUN is not rendered", "to /dev/mapper/foo", "/dev/mapper/legacy is mounted at /mnt/data on node worker-1", "unmount it", `set spec.alias to "legacy"`},
				kstatus:      kstatus.FailedStatus},
		},
		"held out for an adoption of mpatha: no alias hint (not a valid alias)": {
			w: testLUN("a", wwidA), o: lunOutcome{adoptionName: wwidA, adoptionHeldOn: []mpv1alpha1.NodeUse{{Node: "worker-1", Name: "mpatha"}}},
			want: want{inUse: "False", inUseReason: mpv1alpha1.NotConsumedReason, ready: metav1.ConditionFalse, readyReason: mpv1alpha1.OpenOnNodeReason,
				readyMessage: []string{"to /dev/mapper/" + wwidA, "/dev/mapper/mpatha is open (by a process or a virtual machine) on node worker-1", "the LUN is rendered."},
				kstatus:      kstatus.FailedStatus},
		},
		"rendered but expected on no node: never Ready": {
			w: testLUN("a", wwidA, func(w *mpv1alpha1.MultipathWWID) {
				w.Status.Health = mpv1alpha1.LUNHealth{State: mpv1alpha1.MapUnknown, Nodes: "0/0"}
			}), o: lunOutcome{rendered: true},
			want: want{inUse: "False", inUseReason: mpv1alpha1.NotConsumedReason, ready: metav1.ConditionFalse, readyReason: mpv1alpha1.NoExpectedNodesReason,
				readyMessage: []string{"no node is expected to carry it (nodes 0/0)"}, kstatus: kstatus.FailedStatus},
		},
		"rendered and expected on nodes, none optimal yet: Ready (health says the rest)": {
			w: testLUN("a", wwidA, func(w *mpv1alpha1.MultipathWWID) {
				w.Status.Health = mpv1alpha1.LUNHealth{State: mpv1alpha1.MapMissing, Nodes: "0/3", Counts: mpv1alpha1.HealthCounts{Missing: 3}}
			}), o: lunOutcome{rendered: true},
			want: want{inUse: "False", inUseReason: mpv1alpha1.NotConsumedReason, ready: metav1.ConditionTrue, readyReason: mpv1alpha1.RenderedReason, kstatus: kstatus.CurrentStatus},
		},
		"the MultipathConfig is being deleted: a LUN nothing uses leaves, and says so": {
			w: testLUN("a", wwidA), o: lunOutcome{teardown: true},
			want: want{inUse: "False", inUseReason: mpv1alpha1.NotConsumedReason, ready: metav1.ConditionFalse, readyReason: mpv1alpha1.ConfigDeletingReason,
				readyMessage: []string{"MultipathConfig cluster is being deleted"}, kstatus: kstatus.FailedStatus},
		},
		"a deletion held by a node names the node": {
			w: testLUN("a", wwidA, alias("data"), beingDeleted()), o: lunOutcome{openOn: openOn, rendered: true, renderedAlias: "data", keepFinalizer: true},
			want: want{inUse: "True", inUseReason: mpv1alpha1.OpenOnNodeReason, ready: metav1.ConditionFalse, readyReason: mpv1alpha1.OpenOnNodeReason,
				readyMessage: []string{"Deletion waits until the LUN is no longer in use (/dev/mapper/data is mounted at /mnt/data on node worker-1)"}, kstatus: kstatus.TerminatingStatus},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := tc.w.DeepCopy()
			setWWIDConditions(w, tc.o)
			w.Status.ObservedGeneration = w.Generation
			conditionstest.AssertKstatusInvariants(t, w)
			inUse := conditions.Get(w, mpv1alpha1.InUseCondition)
			if string(inUse.Status) != tc.want.inUse || inUse.Reason != tc.want.inUseReason {
				t.Errorf("InUse = %s %s (%s), want %s %s", inUse.Status, inUse.Reason, inUse.Message, tc.want.inUse, tc.want.inUseReason)
			}
			for _, m := range tc.want.inUseMessage {
				if !strings.Contains(inUse.Message, m) {
					t.Errorf("InUse message %q does not contain %q", inUse.Message, m)
				}
			}
			ready := conditions.Get(w, mpv1alpha1.ReadyCondition)
			if ready.Status != tc.want.ready || ready.Reason != tc.want.readyReason {
				t.Errorf("Ready = %s %s (%s), want %s %s", ready.Status, ready.Reason, ready.Message, tc.want.ready, tc.want.readyReason)
			}
			for _, m := range tc.want.readyMessage {
				if !strings.Contains(ready.Message, m) {
					t.Errorf("Ready message %q does not contain %q", ready.Message, m)
				}
			}
			raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(w)
			if err != nil {
				t.Fatal(err)
			}
			res, err := kstatus.Compute(&unstructured.Unstructured{Object: raw})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want.kstatus {
				t.Errorf("kstatus = %s (%s), want %s", res.Status, res.Message, tc.want.kstatus)
			}
		})
	}
}

// Without a MultipathConfig nothing changes from before: no held config, the render of every
// LUN; while it is being deleted the rendered config is the held one, or the empty one.
func TestRenderConfigs(t *testing.T) {
	r := &Reconciler{}
	a := testLUN("a", wwidA, alias("data"), onNodes("data"))
	pvs := []corev1.PersistentVolume{mapperPV("pv-a", "data")}
	for name, tc := range map[string]struct {
		in                  inputs
		wantLUNs, wantHeldN int // -1: nil
		wantEmpty           bool
	}{
		"no MultipathConfig: every LUN, no held config":             {in: inputs{wwids: []mpv1alpha1.MultipathWWID{a, testLUN("b", wwidB)}, pvs: pvs}, wantLUNs: 2, wantHeldN: -1},
		"a MultipathConfig: every LUN, and the in-use ones held":    {in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{a, testLUN("b", wwidB)}, pvs: pvs}, wantLUNs: 2, wantHeldN: 1},
		"nothing in use: no held config":                            {in: inputs{config: cfg(), wwids: []mpv1alpha1.MultipathWWID{a}}, wantLUNs: 1, wantHeldN: -1},
		"being deleted: the held config is the rendered one":        {in: inputs{config: cfg(deletingConfig), wwids: []mpv1alpha1.MultipathWWID{a, testLUN("b", wwidB)}, pvs: pvs}, wantLUNs: 1, wantHeldN: 1},
		"being deleted, nothing held: the empty config":             {in: inputs{config: cfg(deletingConfig), wwids: []mpv1alpha1.MultipathWWID{a}}, wantLUNs: 0, wantHeldN: -1, wantEmpty: true},
		"being deleted with the force annotation: the empty config": {in: inputs{config: cfg(deletingConfig, forcedConfig), wwids: []mpv1alpha1.MultipathWWID{a}, pvs: pvs}, wantLUNs: 0, wantHeldN: -1, wantEmpty: true},
	} {
		t.Run(name, func(t *testing.T) {
			out := decide(tc.in)
			rendered, held := r.renderConfigs(tc.in.config, &out)
			if rendered == nil {
				t.Fatalf("nothing rendered: %s", out.configErr)
			}
			if rendered.LUNs != tc.wantLUNs || rendered.Empty != tc.wantEmpty {
				t.Errorf("rendered %d LUNs (empty %v), want %d (empty %v)", rendered.LUNs, rendered.Empty, tc.wantLUNs, tc.wantEmpty)
			}
			if tc.wantEmpty && rendered.Hash != multipathconf.Empty().Hash {
				t.Errorf("rendered %s, want the empty config %s", rendered.ShortHash(), multipathconf.Empty().ShortHash())
			}
			switch {
			case tc.wantHeldN < 0 && held != nil:
				t.Errorf("held config %s with %d LUNs, want none", held.ShortHash(), held.LUNs)
			case tc.wantHeldN >= 0 && (held == nil || held.LUNs != tc.wantHeldN):
				t.Errorf("held config %+v, want %d LUNs", held, tc.wantHeldN)
			}
		})
	}
}

// Agents report path states often; only a change of what holds a map open re-renders.
func TestOpenMapsChanged(t *testing.T) {
	base := nodeState("worker-1", mounted(wwidA, "data", "/mnt/data"), mpv1alpha1.MapStatus{WWID: wwidB, Name: wwidB, State: mpv1alpha1.MapOptimal, ActivePaths: 2})
	change := func(f func(*mpv1alpha1.MultipathNodeState)) *mpv1alpha1.MultipathNodeState {
		s := base.DeepCopy()
		f(s)
		return s
	}
	for name, tc := range map[string]struct {
		to   *mpv1alpha1.MultipathNodeState
		want bool
	}{
		"a path state change": {change(func(s *mpv1alpha1.MultipathNodeState) {
			s.Status.Maps[1].ActivePaths, s.Status.Maps[1].State = 1, mpv1alpha1.MapDegraded
		}), false},
		"a map state change of an open map": {change(func(s *mpv1alpha1.MultipathNodeState) { s.Status.Maps[0].State = mpv1alpha1.MapFailed }), false},
		"a map gets opened":                 {change(func(s *mpv1alpha1.MultipathNodeState) { s.Status.Maps[1].OpenCount = 1 }), true},
		"a mount point changes":             {change(func(s *mpv1alpha1.MultipathNodeState) { s.Status.Maps[0].Users[0].Name = "/srv" }), true},
		"the open count changes":            {change(func(s *mpv1alpha1.MultipathNodeState) { s.Status.Maps[0].OpenCount = 3 }), true},
		"an open map is renamed":            {change(func(s *mpv1alpha1.MultipathNodeState) { s.Status.Maps[0].Name = "data2" }), true},
		"the open map is closed":            {change(func(s *mpv1alpha1.MultipathNodeState) { s.Status.Maps[0].OpenCount, s.Status.Maps[0].Users = 0, nil }), true},
		"a refused adoption is reported":    {change(func(s *mpv1alpha1.MultipathNodeState) { *s = refusing(*s, wwidB, "mpathb") }), true},
		"another host conflict is reported": {change(func(s *mpv1alpha1.MultipathNodeState) {
			s.Status.HostConflicts = []mpv1alpha1.HostConflict{{Type: mpv1alpha1.HostConflictBlacklisted, WWID: wwidB}}
		}), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := (openMapsChanged{}).Update(event.UpdateEvent{ObjectOld: &base, ObjectNew: tc.to}); got != tc.want {
				t.Errorf("Update = %v, want %v", got, tc.want)
			}
		})
	}
	if !(openMapsChanged{}).Create(event.CreateEvent{Object: &base}) || (openMapsChanged{}).Create(event.CreateEvent{Object: change(func(s *mpv1alpha1.MultipathNodeState) { s.Status.Maps = s.Status.Maps[1:] })}) {
		t.Error("Create must fire exactly when a map is open")
	}
}

// TestHeldConfigIsTheRenderWhenEveryLUNIsInUse: when every rendered LUN is in use, the held
// config is the render itself (one render, one slice, per pass); when only some are, it is a
// render of those alone, in the render's order.
func TestHeldConfigIsTheRenderWhenEveryLUNIsInUse(t *testing.T) {
	r := &Reconciler{}
	all := benchInputs(30) // every LUN has a volume
	out := decide(all)
	rendered, held := r.renderConfigs(all.config, &out)
	if rendered == nil || held != rendered {
		t.Fatalf("every LUN in use: held %p, want the render %p (%s)", held, rendered, out.configErr)
	}
	if &out.held[0] != &out.render[0] {
		t.Errorf("every LUN in use: decide copied the held LUNs instead of sharing the render's")
	}
	again, err := multipathconf.Render(all.config, slices.Clone(out.held))
	if err != nil || again.Hash != held.Hash {
		t.Errorf("held %s, a separate render of the same LUNs %v (%v)", held.Hash, again, err)
	}

	some := benchInputs(30)
	some.pvs = some.pvs[10:20]
	out = decide(some)
	rendered, held = r.renderConfigs(some.config, &out)
	if rendered == nil || held == nil || held == rendered || held.LUNs != 10 || rendered.LUNs != 30 {
		t.Fatalf("10 of 30 LUNs in use: rendered %+v, held %+v (%s)", rendered, held, out.configErr)
	}
	if got, want := names(out.held), names(out.render[10:20]); !slices.Equal(got, want) {
		t.Errorf("held %v, want %v (the render's order)", got, want)
	}
}
