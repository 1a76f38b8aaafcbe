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
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/scheme"
)

// gather lists MultipathNodeStates without copying them out of the informer cache: the
// writes must leave what the cache holds alone (the patch response included), and still show
// the pass what they wrote.
func TestWritesLeaveTheCachedObjectAlone(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "new-uid"}}
	for name, write := range map[string]func(r *Reconciler, st *mpv1alpha1.MultipathNodeState) error{
		"setDesired": func(r *Reconciler, st *mpv1alpha1.MultipathNodeState) error {
			return r.setDesired(context.Background(), st, mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-b", Hash: "b"})
		},
		"adoptState": func(r *Reconciler, st *mpv1alpha1.MultipathNodeState) error {
			return r.adoptState(context.Background(), st, node)
		},
	} {
		t.Run(name, func(t *testing.T) {
			stored := &mpv1alpha1.MultipathNodeState{
				ObjectMeta: metav1.ObjectMeta{Name: "n1", OwnerReferences: []metav1.OwnerReference{
					{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "old-uid"}}},
				Spec: mpv1alpha1.MultipathNodeStateSpec{DesiredConfig: &mpv1alpha1.RenderedConfigRef{Name: "multipath-rendered-a", Hash: "a"}},
			}
			c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(stored).Build()
			cached := &mpv1alpha1.MultipathNodeState{}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(stored), cached); err != nil {
				t.Fatal(err)
			}
			want := cached.DeepCopy()
			// What gather hands a pass: a struct of its own pointing into the cache's object.
			pass := *cached
			if err := write(&Reconciler{Client: c}, &pass); err != nil {
				t.Fatal(err)
			}
			if !apiequality.Semantic.DeepEqual(cached, want) {
				t.Errorf("the cached object changed:\n got %+v\nwant %+v", cached, want)
			}
			if pass.ResourceVersion == want.ResourceVersion {
				t.Errorf("the pass does not see its write (resourceVersion %s)", pass.ResourceVersion)
			}
		})
	}
}
