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

package webhook

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// openOn is a LUN whose map the render controller reports mounted on a node.
func openOn(w *mpv1alpha1.MultipathWWID, node, name, at string) *mpv1alpha1.MultipathWWID {
	w.Status.OpenOn = append(w.Status.OpenOn, mpv1alpha1.NodeUse{Node: node, Name: name,
		Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: at}}})
	return w
}

func forcedLUN(w *mpv1alpha1.MultipathWWID) *mpv1alpha1.MultipathWWID {
	w.Annotations = map[string]string{mpv1alpha1.ForceRemoveAnnotation: "true"}
	return w
}

// asUser is the context admission gives a validator for a request by user.
func asUser(user string, dryRun bool) context.Context {
	return admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UserInfo: authenticationv1.UserInfo{Username: user}, DryRun: ptr.To(dryRun)}})
}

func drain(r *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// A LUN open on a node is in use exactly as one a volume uses: the refusal names the node, the
// map's name there and what holds it.
func TestOpenOnANodeRefuses(t *testing.T) {
	ctx := context.Background()
	lun := openOn(unitLUN("open", "3600a1", "data", ptr.To("data")), "worker-1", "data", "/mnt/data")
	v := &MultipathWWIDValidator{Reader: fakeCache(lun)}

	renamed := lun.DeepCopy()
	renamed.Spec.Alias = "data2"
	_, err := v.ValidateUpdate(ctx, lun, renamed)
	wantRefused(t, err, "spec.alias: Forbidden: the LUN is open on a node (/dev/mapper/data is mounted at /mnt/data on node worker-1): changing the alias would rename /dev/mapper/data on every node",
		"set the annotation multipath.kube-multipath.io/force-remove=true")

	_, err = v.ValidateDelete(ctx, lun)
	wantRefused(t, err, `"open" is forbidden: the LUN is open on a node (/dev/mapper/data is mounted at /mnt/data on node worker-1): deleting it would remove /dev/mapper/data from every node`)

	both := openOn(lun.DeepCopy(), "worker-2", "data", "/srv")
	v = &MultipathWWIDValidator{Reader: fakeCache(both, localPV("pv-data", "/dev/mapper/data"))}
	_, err = v.ValidateDelete(ctx, both)
	wantRefused(t, err, "the LUN is used by PersistentVolume pv-data and open on 2 nodes (/dev/mapper/data is mounted at /mnt/data on node worker-1; /dev/mapper/data is mounted at /srv on node worker-2)")
}

// A LUN never rendered, open on a node under the host's own name (held out of the render for
// an adoption): deleting it, or changing its alias, touches no map on any node, so admission
// lets both through. Open under the name the render would give it, it is in use as ever.
func TestNeverRenderedOpenUnderTheHostsName(t *testing.T) {
	ctx := context.Background()
	lun := openOn(unitLUN("adopt", "3600a1", "data", nil), "worker-1", "mpatha", "/mnt/host")
	v := &MultipathWWIDValidator{Reader: fakeCache(lun)}
	if _, err := v.ValidateDelete(ctx, lun); err != nil {
		t.Errorf("deleting a LUN never rendered, open only as the host's mpatha, was refused: %v", err)
	}
	other := lun.DeepCopy()
	other.Spec.Alias = "data2"
	if _, err := v.ValidateUpdate(ctx, lun, other); err != nil {
		t.Errorf("changing the alias of a LUN never rendered was refused: %v", err)
	}
	ours := openOn(unitLUN("ours", "3600a2", "data", nil), "worker-1", "data", "/mnt/data")
	v = &MultipathWWIDValidator{Reader: fakeCache(ours)}
	_, err := v.ValidateDelete(ctx, ours)
	wantRefused(t, err, "/dev/mapper/data is mounted at /mnt/data on node worker-1")
}

// After a forced rename a volume still names the old alias: renaming back restores its path and
// is no rename of anything it uses; deleting names the old path; no other LUN may take it.
func TestFormerAlias(t *testing.T) {
	ctx := context.Background()
	lun := unitLUN("renamed", "3600a1", "new", ptr.To("new"))
	lun.Status.FormerAliases = []string{"old"}
	v := &MultipathWWIDValidator{Reader: fakeCache(lun, localPV("pv-old", "/dev/mapper/old"))}

	back := lun.DeepCopy()
	back.Spec.Alias = "old"
	if _, err := v.ValidateUpdate(ctx, lun, back); err != nil {
		t.Fatalf("renaming back to the name the volume names was refused: %v", err)
	}
	third := lun.DeepCopy()
	third.Spec.Alias = "third"
	if _, err := v.ValidateUpdate(ctx, lun, third); err != nil {
		t.Fatalf("nothing uses /dev/mapper/new, yet the rename was refused: %v", err)
	}
	_, err := v.ValidateDelete(ctx, lun)
	wantRefused(t, err, "the LUN is used by PersistentVolume pv-old (PersistentVolume pv-old still names /dev/mapper/old, its name before a forced alias change): deleting it would remove /dev/mapper/new")
	_, err = v.ValidateCreate(ctx, unitLUN("thief", "3600a2", "old", nil))
	wantRefused(t, err, `spec.alias: Invalid value: "old": alias "old" is a former alias of MultipathWWID "renamed" that a PersistentVolume still names (/dev/mapper/old)`)
}

// A forced change of an in-use LUN records who forced what; a dry run records nothing.
func TestForcedChangeRecordsTheUser(t *testing.T) {
	lun := forcedLUN(openOn(unitLUN("open", "3600a1", "data", ptr.To("data")), "worker-1", "data", "/mnt/data"))
	rec := events.NewFakeRecorder(10)
	v := &MultipathWWIDValidator{Reader: fakeCache(lun, localPV("pv-data", "/dev/mapper/data")), Recorder: rec}
	renamed := lun.DeepCopy()
	renamed.Spec.Alias = "data2"

	if _, err := v.ValidateUpdate(asUser("alice", true), lun, renamed); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ValidateDelete(asUser("alice", true), lun); err != nil {
		t.Fatal(err)
	}
	if got := drain(rec); len(got) > 0 {
		t.Errorf("a dry run recorded %q", got)
	}

	warnings, err := v.ValidateUpdate(asUser("alice", false), lun, renamed)
	if err != nil || len(warnings) != 1 {
		t.Fatalf("got %q, %v; want admitted with one warning", warnings, err)
	}
	got := drain(rec)
	if len(got) != 1 || !strings.Contains(got[0], "Warning Forced alice forced the alias change of in-use MultipathWWID open (multipath.kube-multipath.io/force-remove=true): /dev/mapper/data becomes /dev/mapper/data2 on every node while the LUN is used by PersistentVolume pv-data and open on a node (/dev/mapper/data is mounted at /mnt/data on node worker-1)") {
		t.Errorf("events = %q", got)
	}
	if _, err := v.ValidateDelete(asUser("bob", false), lun); err != nil {
		t.Fatal(err)
	}
	got = drain(rec)
	if len(got) != 1 || !strings.Contains(got[0], "Warning Forced bob forced the deletion of in-use MultipathWWID open") {
		t.Errorf("events = %q", got)
	}

	// Not in use: nothing was forced, nothing is recorded.
	free := forcedLUN(unitLUN("free", "3600a3", "x", ptr.To("x")))
	v = &MultipathWWIDValidator{Reader: fakeCache(free), Recorder: rec}
	if _, err := v.ValidateDelete(asUser("carol", false), free); err != nil {
		t.Fatal(err)
	}
	if got := drain(rec); len(got) > 0 {
		t.Errorf("deleting an unused LUN recorded %q", got)
	}
}
