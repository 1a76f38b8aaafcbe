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
	"context"
	"testing"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/scheme"
)

// gather lists MultipathWWIDs without copying them out of the informer cache, so writeWWID
// must never change the object it is given: a change would be in every later read of the cache.
func TestWriteWWIDLeavesTheCachedObjectAlone(t *testing.T) {
	for name, o := range map[string]lunOutcome{
		"finalizer and status": {consumers: []string{"pv-a"}, rendered: true, renderedAlias: "data1", keepFinalizer: true},
		"status only":          {rendered: true, renderedAlias: "data1"},
		"finalizer removed":    {rendered: false},
		"invalid":              {invalid: "spec.alias: bad", rendered: false},
	} {
		t.Run(name, func(t *testing.T) {
			cached := &mpv1alpha1.MultipathWWID{
				ObjectMeta: metav1.ObjectMeta{Name: "lun", Generation: 2, Finalizers: []string{mpv1alpha1.InUseFinalizer}},
				Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: "3600a098038303053453f463045736f41", Alias: "data1"},
				Status: mpv1alpha1.MultipathWWIDStatus{Conditions: []metav1.Condition{{
					Type: mpv1alpha1.InUseCondition, Status: metav1.ConditionFalse, Reason: mpv1alpha1.NotConsumedReason, Message: "old",
				}}},
			}
			c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(cached.DeepCopy()).
				WithStatusSubresource(&mpv1alpha1.MultipathWWID{}).Build()
			// The fake client's resourceVersion, as an informer would hold it.
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(cached), cached); err != nil {
				t.Fatal(err)
			}
			want := cached.DeepCopy()
			r := &Reconciler{Client: c, Recorder: events.NewFakeRecorder(10), Namespace: "ns"}
			if err := r.writeWWID(context.Background(), cached, o, true, func() bool { return true }); err != nil {
				t.Fatal(err)
			}
			if !apiequality.Semantic.DeepEqual(cached, want) {
				t.Errorf("writeWWID changed the object it was given:\n got %+v\nwant %+v", cached, want)
			}
			got := &mpv1alpha1.MultipathWWID{}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(cached), got); err != nil {
				t.Fatal(err)
			}
			if got.ResourceVersion == want.ResourceVersion {
				t.Errorf("nothing was written (the case does not exercise a write)")
			}
			if upToDate(want, o, true) {
				t.Error("upToDate says the object before the write needed none")
			}
			// Written, the object is up to date: upToDate says so without changing it, and a
			// second writeWWID writes nothing.
			written := got.DeepCopy()
			if !upToDate(got, o, true) {
				t.Errorf("upToDate says the written object needs another write: %+v", got.Status)
			}
			if !apiequality.Semantic.DeepEqual(got, written) {
				t.Errorf("upToDate changed the object it was given:\n got %+v\nwant %+v", got, written)
			}
			if err := r.writeWWID(context.Background(), got, o, true, func() bool { return true }); err != nil {
				t.Fatal(err)
			}
			again := &mpv1alpha1.MultipathWWID{}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(cached), again); err != nil {
				t.Fatal(err)
			}
			if again.ResourceVersion != written.ResourceVersion {
				t.Errorf("a second writeWWID of an up-to-date object wrote it: %+v", again.Status)
			}
		})
	}
}

// When another controller wrote the MultipathConfig's status first (the health roll-up races
// the render of a new LUN), the render reads it again and writes its fields on top at once,
// keeping the other controller's, instead of waiting for another whole pass.
func TestWriteConfigRetriesAConflictOnAFreshRead(t *testing.T) {
	ctx := context.Background()
	rendered, err := multipathconf.Render(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each case has its own fake client: one case's write must not be what the next one reads.
	for _, withReader := range []bool{false, true} {
		t.Run(map[bool]string{false: "without an APIReader", true: "with an APIReader"}[withReader], func(t *testing.T) {
			cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName, Generation: 1}}
			c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(cfg).
				WithStatusSubresource(&mpv1alpha1.MultipathConfig{}).Build()
			stale := &mpv1alpha1.MultipathConfig{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(cfg), stale); err != nil {
				t.Fatal(err)
			}
			// The other writer: a condition the render does not own, after the render read the object.
			other := stale.DeepCopy()
			other.Status.Conditions = []metav1.Condition{{Type: "OtherWriter", Status: metav1.ConditionTrue, Reason: "Set", LastTransitionTime: metav1.Now()}}
			if err := c.Status().Update(ctx, other); err != nil {
				t.Fatal(err)
			}
			var reader client.Reader
			if withReader {
				reader = c
			}
			r := &Reconciler{Client: c, Recorder: events.NewFakeRecorder(10), Namespace: "ns", APIReader: reader}
			err := r.writeConfig(ctx, stale.DeepCopy(), rendered, nil, &decision{})
			got := &mpv1alpha1.MultipathConfig{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(cfg), got); err != nil {
				t.Fatal(err)
			}
			if !withReader {
				if !apierrors.IsConflict(err) || got.Status.RenderedConfig != nil {
					t.Fatalf("without a reader the conflict is returned and nothing written; got %v, %+v", err, got.Status.RenderedConfig)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.RenderedConfig == nil || got.Status.RenderedConfig.Hash != rendered.Hash {
				t.Errorf("renderedConfig = %+v, want %s", got.Status.RenderedConfig, rendered.Hash)
			}
			if conditions.Get(got, "OtherWriter") == nil || conditions.Get(got, mpv1alpha1.RenderedCondition) == nil {
				t.Errorf("conditions = %+v, want the other writer's and Rendered", got.Status.Conditions)
			}
		})
	}
}
