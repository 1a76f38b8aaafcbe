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

package drills

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// TestWebhookDownConsumedLUNDeleted deletes, with kubectl, a MultipathWWID a PersistentVolume
// uses while the manager runs without its webhook server. Admission fails open for deletions,
// so the API server takes it; the in-use finalizer must then hold the object (Terminating) and
// the LUN on every node until the volume is gone, and only then may the LUN go: from the
// render and the drop-in everywhere, from wwids where the agent had added it, and nowhere from
// wwids where the host had listed it itself.
func TestWebhookDownConsumedLUNDeleted(t *testing.T) {
	d := newDrill(t, "webhook", options{nodes: 3, luns: 4, consumed: 2, preListed: 0})
	x := d.first // consumed, and listed by hand in wwids on the even nodes
	lun, pv := sim.Alias(x), sim.PV(x).Name

	// With the webhook up, the deletion is refused and names the volume.
	out, err := deleteLUN(t, d.ctx, lun)
	if err == nil || !strings.Contains(out, pv) {
		t.Fatalf("kubectl delete of a consumed LUN with the webhook up: want a refusal naming %s, got %v: %s", pv, err, out)
	}

	if err := sys.restartManager(d.ctx, false); err != nil {
		t.Fatal(err)
	}
	w := d.startWatch()
	s := d.startSampling()
	// Fail closed for creations, so the API server does reach for the webhook and finds nobody.
	probe := sim.LUN(d.next + 100)
	if err := sys.c.Create(d.ctx, probe, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
		t.Fatalf("with the webhook down a creation must fail calling it, got %v", err)
	}

	out, err = deleteLUN(t, d.ctx, lun)
	if err != nil {
		t.Fatalf("kubectl delete with the webhook down: %v: %s", err, out)
	}
	t.Logf("kubectl delete with the webhook down: %s", strings.TrimSpace(out))
	// Terminating, held by the finalizer, and the render controller says why.
	if err := poll(d.ctx, 30*time.Second, func() error {
		cur := &mpv1alpha1.MultipathWWID{}
		if err := sys.c.Get(d.ctx, client.ObjectKey{Name: lun}, cur); err != nil {
			return err
		}
		if cur.DeletionTimestamp.IsZero() || !controllerutil.ContainsFinalizer(cur, mpv1alpha1.InUseFinalizer) {
			return fmt.Errorf("%s: deletionTimestamp %v, finalizers %v", lun, cur.DeletionTimestamp, cur.Finalizers)
		}
		c := meta.FindStatusCondition(cur.Status.Conditions, mpv1alpha1.StalledCondition)
		if c == nil || c.Reason != mpv1alpha1.ConsumedReason || !strings.Contains(c.Message, pv) {
			return fmt.Errorf("%s is Terminating but Stalled is %+v", lun, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Still rendered, still on every node, for a while.
	d.converge()
	s.waitSamples(5)
	d.converge()

	// The volume goes: then the LUN may go.
	d.release(x)
	removePV(d.ctx, sim.PV(x))
	if err := poll(d.ctx, 30*time.Second, func() error {
		err := sys.c.Get(d.ctx, client.ObjectKey{Name: lun}, &mpv1alpha1.MultipathWWID{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errors.Join(err, fmt.Errorf("%s is still there", lun))
	}); err != nil {
		t.Fatal(err)
	}
	d.forgetLUN(x)
	d.converge()
	for _, n := range d.nodes {
		conf, _ := n.ReadFile(confPath)
		wwids, _ := n.ReadFile(hostfs.WWIDsPath)
		if hasLUN(conf, sim.WWID(x)) {
			t.Errorf("%s: the deleted LUN is still in %s", n.Name, confPath)
		}
		switch listedByHost := n.k%2 == 0; {
		case listedByHost && !hasEntry(wwids, sim.WWID(x)):
			t.Errorf("%s: the host listed %s in wwids itself; the agent removed it", n.Name, sim.WWID(x))
		case !listedByHost && hasEntry(wwids, sim.WWID(x)):
			t.Errorf("%s: the agent added %s to wwids and did not remove it", n.Name, sim.WWID(x))
		}
	}

	s.finish()
	w.checkBudget()
	d.checkDaemons()
}

// deleteLUN runs `kubectl delete multipathwwid <name> --wait=false` against the control plane
// and returns its output. Without kubectl on the machine it sends the request kubectl sends (a
// DELETE with background propagation) and returns the error's message.
func deleteLUN(t *testing.T, ctx context.Context, name string) (string, error) {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		t.Logf("kubectl is not installed: deleting %s with the same request from the test's client", name)
		err := sys.c.Delete(ctx, &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name}}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil {
			return err.Error(), err
		}
		return "deleted", nil
	}
	out, err := exec.CommandContext(ctx, path, "--kubeconfig", sys.kubeconfig, "delete", "multipathwwid", name, "--wait=false").CombinedOutput()
	return string(out), err
}
