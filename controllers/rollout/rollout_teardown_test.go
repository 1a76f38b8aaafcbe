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

package rollout

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func TestHeldMessage(t *testing.T) {
	ref := mpv1alpha1.RenderedConfigRef{Name: "multipath-held0", Hash: "held0"}
	inUse := metav1.Condition{Type: mpv1alpha1.InUseCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.OpenOnNodeReason, Message: "Open on node-a."}
	tests := map[string]struct {
		nodes []string
		wwids []mpv1alpha1.MultipathWWID
		want  string
	}{
		"a LUN used by a volume and open on a node names both, and how to force": {
			nodes: []string{"node-a", "node-b"},
			wwids: []mpv1alpha1.MultipathWWID{{
				ObjectMeta: metav1.ObjectMeta{Name: "db01"},
				Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: "3600a0b", Alias: "db01"},
				Status: mpv1alpha1.MultipathWWIDStatus{Conditions: []metav1.Condition{inUse}, Consumers: []string{"pv-db"}, ConsumerCount: 1,
					OpenOn: []mpv1alpha1.NodeUse{{Node: "node-a", Name: "db01", Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv/db"}}}}},
			}, {
				ObjectMeta: metav1.ObjectMeta{Name: "free"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600a0c"},
			}},
			want: "Teardown of 2 nodes (node-a, node-b) is held on config multipath-held0: 1 LUN is in use: LUN db01 (alias db01), PersistentVolume pv-db, open on node-a (Mount /srv/db). Each node is torn down once they are free. To tear down anyway, annotate MultipathConfig cluster with multipath.kube-multipath.io/force-remove=true.",
		},
		"a LUN in use by what only the InUse condition says is named with that message": {
			nodes: []string{"node-a"},
			wwids: []mpv1alpha1.MultipathWWID{{ObjectMeta: metav1.ObjectMeta{Name: "lun1"}, Status: mpv1alpha1.MultipathWWIDStatus{Conditions: []metav1.Condition{inUse}}}},
			want:  "Teardown of 1 node (node-a) is held on config multipath-held0: 1 LUN is in use: LUN lun1, Open on node-a. Each node is torn down once they are free. To tear down anyway, annotate MultipathConfig cluster with multipath.kube-multipath.io/force-remove=true.",
		},
		"no LUN in use: the render has not released the LUNs yet": {
			nodes: []string{"node-a"},
			want:  "Teardown of 1 node (node-a) is held on config multipath-held0, which still carries LUNs; no MultipathWWID reports being in use: waiting for the render controller to release them. To tear down anyway, annotate MultipathConfig cluster with multipath.kube-multipath.io/force-remove=true.",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := heldMessage("cluster", tc.nodes, ref, tc.wwids); got != tc.want {
				t.Errorf("heldMessage =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestDeletionTarget(t *testing.T) {
	rendered := mpv1alpha1.RenderedConfigRef{Name: "multipath-1a2b", Hash: "1a2b"}
	tests := map[string]struct {
		cfg  mpv1alpha1.MultipathConfig
		want mpv1alpha1.RenderedConfigRef
	}{
		"the render with the in-use LUNs is kept": {
			cfg:  mpv1alpha1.MultipathConfig{Status: mpv1alpha1.MultipathConfigStatus{RenderedConfig: &mpv1alpha1.RenderedConfigStatus{RenderedConfigRef: rendered, LUNs: 2}}},
			want: rendered,
		},
		"a render without LUNs is the empty config": {
			cfg:  mpv1alpha1.MultipathConfig{Status: mpv1alpha1.MultipathConfigStatus{RenderedConfig: &mpv1alpha1.RenderedConfigStatus{RenderedConfigRef: rendered}}},
			want: emptyConfig(),
		},
		"no render is the empty config": {want: emptyConfig()},
		"forced is the empty config": {
			cfg: mpv1alpha1.MultipathConfig{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{mpv1alpha1.ForceRemoveAnnotation: "true"}},
				Status:     mpv1alpha1.MultipathConfigStatus{RenderedConfig: &mpv1alpha1.RenderedConfigStatus{RenderedConfigRef: rendered, LUNs: 2}},
			},
			want: emptyConfig(),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := &scope{config: &tc.cfg, deleting: true}
			if got := s.deletionTarget(); got != tc.want {
				t.Errorf("deletionTarget = %+v, want %+v", got, tc.want)
			}
		})
	}
}
