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

package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// TestInUseOnANode: a node's agent reports the map mounted, the render controller copies it
// into status.openOn, and admission refuses deleting the LUN naming the node, the map and the
// mount; a forced deletion is admitted and recorded with the requesting user. (That a dry run
// records nothing is proved by TestForcedChangeRecordsTheUser: here an identical event would
// only raise a series count that the recorder sends later.)
func TestInUseOnANode(t *testing.T) {
	ctx := context.Background()
	const wwid = "3600a098038303053453000000000f0a1"
	w := lun("lun-open", wwid, withAlias("mounted"))
	state := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "worker-open"}}
	create(t, w, state)
	state.Status.Maps = []mpv1alpha1.MapStatus{{WWID: wwid, Name: "mounted", State: mpv1alpha1.MapOptimal, OpenCount: 1,
		Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/mnt/data"}}}}
	if err := k8s.Status().Update(ctx, state); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		cur := &mpv1alpha1.MultipathWWID{}
		if err := cached.Get(ctx, client.ObjectKey{Name: "lun-open"}, cur); err != nil {
			return err
		}
		if len(cur.Status.OpenOn) != 1 || !hasFinalizer(cur, mpv1alpha1.InUseFinalizer) {
			return fmt.Errorf("status.openOn = %+v, finalizers %v: not seen open yet", cur.Status.OpenOn, cur.Finalizers)
		}
		return nil
	})

	err := k8s.Delete(ctx, &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "lun-open"}})
	want := `"lun-open" is forbidden: the LUN is open on a node (/dev/mapper/mounted is mounted at /mnt/data on node worker-open): deleting it would remove /dev/mapper/mounted from every node`
	if err == nil || !strings.Contains(errorText(err), want) {
		t.Fatalf("delete: %s\nwant refused with %s", errorText(err), want)
	}
	err = k8s.Update(ctx, func() *mpv1alpha1.MultipathWWID {
		cur := &mpv1alpha1.MultipathWWID{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: "lun-open"}, cur); err != nil {
			t.Fatal(err)
		}
		cur.Spec.Alias = "elsewhere"
		return cur
	}(), client.DryRunAll)
	if err == nil || !strings.Contains(errorText(err), "spec.alias: Forbidden: the LUN is open on a node (/dev/mapper/mounted is mounted at /mnt/data on node worker-open)") {
		t.Fatalf("rename: %s", errorText(err))
	}

	// Forced: a dry run records nothing, the real deletion records who forced it.
	cur := &mpv1alpha1.MultipathWWID{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "lun-open"}, cur); err != nil {
		t.Fatal(err)
	}
	before := cur.DeepCopy()
	metav1.SetMetaDataAnnotation(&cur.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
	if err := k8s.Patch(ctx, cur, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	seen(t, cur)
	eventually(t, func() error {
		got := &mpv1alpha1.MultipathWWID{}
		if err := cached.Get(ctx, client.ObjectKey{Name: "lun-open"}, got); err != nil {
			return err
		}
		if got.Annotations[mpv1alpha1.ForceRemoveAnnotation] != "true" {
			return fmt.Errorf("the cache does not see the annotation yet")
		}
		return nil
	})
	if err := k8s.Delete(ctx, cur, client.DryRunAll); err != nil {
		t.Fatalf("a forced dry-run deletion was refused: %s", errorText(err))
	}
	if err := k8s.Delete(ctx, cur); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("a forced deletion was refused: %s", errorText(err))
	}
	var forced []corev1.Event
	eventually(t, func() error {
		events := &corev1.EventList{}
		if err := k8s.List(ctx, events); err != nil {
			return err
		}
		forced = nil
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "lun-open" && e.Reason == mpv1alpha1.ForcedReason && strings.Contains(e.Message, "forced the deletion of in-use MultipathWWID lun-open") {
				forced = append(forced, e)
			}
		}
		if len(forced) == 0 {
			return fmt.Errorf("no Forced event from admission")
		}
		return nil
	})
	if len(forced) != 1 || !strings.Contains(forced[0].Message, "/dev/mapper/mounted is mounted at /mnt/data on node worker-open") {
		t.Errorf("Forced events = %+v, want one naming the node", forced)
	}
	t.Logf("recorded: %s", forced[0].Message)
}
