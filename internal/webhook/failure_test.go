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
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// TestConcurrentAliasesNeverBothRendered creates two LUNs with the same alias at once, several
// times. Admission may refuse one (it saw the other in the cache) or admit both (neither was
// cached yet); either way the render controller renders only one, and the other carries
// Conflict.
func TestConcurrentAliasesNeverBothRendered(t *testing.T) {
	ctx := context.Background()
	const rounds = 6
	create(t, &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}})
	bothAdmitted := 0
	for round := range rounds {
		alias := fmt.Sprintf("race%d", round)
		luns := []*mpv1alpha1.MultipathWWID{
			lun(fmt.Sprintf("race-%d-a", round), fmt.Sprintf("36001405race%02da", round), withAlias(alias)),
			lun(fmt.Sprintf("race-%d-b", round), fmt.Sprintf("36001405race%02db", round), withAlias(alias)),
		}
		errs := make([]error, len(luns))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, w := range luns {
			wg.Go(func() {
				<-start
				errs[i] = k8s.Create(ctx, w)
			})
		}
		close(start)
		wg.Wait()

		var admitted []string
		for i, err := range errs {
			switch {
			case err == nil:
				admitted = append(admitted, luns[i].Name)
				t.Cleanup(func() { remove(t, luns[i]) })
			case strings.Contains(err.Error(), `alias "`+alias+`" is already the alias of MultipathWWID "`+luns[1-i].Name+`"`):
			default:
				t.Fatalf("round %d: %s refused for an unexpected reason: %v", round, luns[i].Name, err)
			}
		}
		if len(admitted) == 0 {
			t.Fatalf("round %d: both refused", round)
		}
		if len(admitted) == 2 {
			bothAdmitted++
		}

		// Each LUN's status is written by the pass that last saw it: one rendered alone by a
		// first pass still says so until the pass that sees both marks it in conflict (its
		// generation does not change), so poll until one pass's verdict covers both.
		for _, name := range admitted {
			waitRendered(t, name)
		}
		eventually(t, func() error {
			rendered, conflicts := 0, 0
			for _, name := range admitted {
				w := &mpv1alpha1.MultipathWWID{}
				if err := k8s.Get(ctx, client.ObjectKey{Name: name}, w); err != nil {
					return err
				}
				conflict := meta.FindStatusCondition(w.Status.Conditions, mpv1alpha1.ConflictCondition)
				switch {
				case w.Status.RenderedAlias != nil && *w.Status.RenderedAlias == alias:
					rendered++
				case conflict != nil && conflict.Status == metav1.ConditionTrue && conflict.Reason == mpv1alpha1.DuplicateAliasReason:
					conflicts++
				default:
					return fmt.Errorf("round %d: %s is neither rendered nor in conflict: %+v", round, name, w.Status)
				}
			}
			if rendered != 1 || rendered+conflicts != len(admitted) {
				return fmt.Errorf("round %d: %d LUNs rendered under alias %s, %d in conflict, want 1 rendered", round, rendered, alias, conflicts)
			}
			return nil
		})
		// The MultipathConfig's status follows the LUNs' in the same reconcile.
		eventually(t, func() error {
			switch n := strings.Count(renderedConfig(t), `alias "`+alias+`"`); {
			case n > 1:
				t.Fatalf("round %d: the rendered config names alias %s %d times", round, alias, n)
			case n == 0:
				return fmt.Errorf("round %d: alias %s not in the rendered config yet", round, alias)
			}
			return nil
		})
	}
	t.Logf("%d of %d rounds admitted both LUNs (neither in the cache yet); the render controller kept one each time", bothAdmitted, rounds)
}

// mainWebhookConfig is the configuration envtest installed from config/webhook/manifests.yaml.
const mainWebhookConfig = "validating-webhook-configuration"

// redirectWebhooks points every webhook of the main configuration at hostPort and returns a
// function that restores them.
func redirectWebhooks(t *testing.T, hostPort string) (restore func()) {
	t.Helper()
	ctx := context.Background()
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: mainWebhookConfig}, vwc); err != nil {
		t.Fatal(err)
	}
	orig := make([]admissionregistrationv1.WebhookClientConfig, len(vwc.Webhooks))
	for i := range vwc.Webhooks {
		cc := &vwc.Webhooks[i].ClientConfig
		orig[i] = *cc.DeepCopy()
		u, err := url.Parse(*cc.URL)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = hostPort
		cc.URL = ptr.To(u.String())
	}
	if err := k8s.Update(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	restored := false
	return func() {
		if restored {
			return
		}
		restored = true
		eventually(t, func() error {
			cur := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := k8s.Get(ctx, client.ObjectKey{Name: mainWebhookConfig}, cur); err != nil {
				return err
			}
			for i := range cur.Webhooks {
				cur.Webhooks[i].ClientConfig = orig[i]
			}
			return k8s.Update(ctx, cur)
		})
		// The API server reloads the configuration asynchronously.
		eventually(t, func() error {
			err := k8s.Create(ctx, lun("probe", "3600probe", withNodeSelector(badSelector())), client.DryRunAll)
			if err == nil || !strings.Contains(err.Error(), "denied the request") {
				return fmt.Errorf("webhook not called yet: %v", err)
			}
			return nil
		})
	}
}

// deadAddress is a loopback address nobody listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestWebhookUnavailable takes the webhook away from the API server: creates and spec updates
// are refused (fail closed); metadata updates still pass (the API server does not call the
// webhook for them); a consumed LUN's deletion is admitted (delete fails open) but the in-use
// finalizer keeps it, still rendered, until its volume is gone.
func TestWebhookUnavailable(t *testing.T) {
	ctx := context.Background()
	const usedWWID, freeWWID = "3600a0980383030534530000000d0wn1", "3600a0980383030534530000000d0wn2"
	used := lun("down-used", usedWWID, withAlias("downused"))
	volume := pvFC("pv-down", usedWWID)
	free := lun("down-free", freeWWID)
	create(t, used, volume, free, &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}})
	eventually(t, func() error {
		w := &mpv1alpha1.MultipathWWID{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: used.Name}, w); err != nil {
			return err
		}
		if !hasFinalizer(w, mpv1alpha1.InUseFinalizer) {
			return fmt.Errorf("no in-use finalizer on %s yet", w.Name)
		}
		return nil
	})

	restore := redirectWebhooks(t, deadAddress(t))
	t.Cleanup(restore)

	// Create: refused, fail closed (waiting for the API server to reload the configuration).
	eventually(t, func() error {
		err := k8s.Create(ctx, lun("down-new", "3600a0980383030534530000000d0wn3"), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), `failed calling webhook "validate.multipathwwids.multipath.kube-multipath.io"`) {
			return fmt.Errorf("create not refused for the unreachable webhook: %v", err)
		}
		return nil
	})
	// Spec update: refused.
	// Each write is retried on a resourceVersion conflict: the controllers write the same
	// objects' status meanwhile, and a conflict says nothing about admission.
	w := &mpv1alpha1.MultipathWWID{}
	err := retry.OnError(retry.DefaultRetry, apierrors.IsConflict, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Name: free.Name}, w); err != nil {
			return err
		}
		w.Spec.Alias = "freed"
		return k8s.Update(ctx, w, client.DryRunAll)
	})
	if err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
		t.Errorf("spec update with the webhook down: got %v, want refused", err)
	}
	// The MultipathConfig's spec: refused.
	cfg := &mpv1alpha1.MultipathConfig{}
	err = retry.OnError(retry.DefaultRetry, apierrors.IsConflict, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err != nil {
			return err
		}
		cfg.Spec.Overrides = "overrides {\n\tno_path_retry fail\n}\n"
		return k8s.Update(ctx, cfg, client.DryRunAll)
	})
	if err == nil ||
		!strings.Contains(err.Error(), `failed calling webhook "validate.multipathconfigs.multipath.kube-multipath.io"`) {
		t.Errorf("MultipathConfig update with the webhook down: got %v, want refused", err)
	}
	// Metadata-only update: admitted (the matchCondition keeps it from the webhook).
	if err := retry.OnError(retry.DefaultRetry, apierrors.IsConflict, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Name: free.Name}, w); err != nil {
			return err
		}
		metav1.SetMetaDataLabel(&w.ObjectMeta, "tier", "bronze")
		return k8s.Update(ctx, w)
	}); err != nil {
		t.Errorf("metadata update with the webhook down: %v", err)
	}

	// Delete of an unused LUN: admitted, gone.
	if err := k8s.Delete(ctx, free); err != nil {
		t.Errorf("deleting an unused LUN with the webhook down: %v", err)
	}
	// Delete of a used LUN: admitted, but the finalizer keeps it, rendered.
	if err := k8s.Delete(ctx, used); err != nil {
		t.Fatalf("deleting a used LUN with the webhook down: %v (the delete webhook fails open)", err)
	}
	eventually(t, func() error {
		w := &mpv1alpha1.MultipathWWID{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: used.Name}, w); err != nil {
			return err
		}
		stalled := meta.FindStatusCondition(w.Status.Conditions, mpv1alpha1.StalledCondition)
		if w.DeletionTimestamp.IsZero() || stalled == nil || !strings.Contains(stalled.Message, "PersistentVolume pv-down") {
			return fmt.Errorf("%s not held for its volume yet: %+v", w.Name, w.Status.Conditions)
		}
		return nil
	})
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		w := &mpv1alpha1.MultipathWWID{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: used.Name}, w); err != nil {
			t.Fatalf("the used LUN went away while its volume exists: %v", err)
		}
		if !strings.Contains(renderedConfig(t), `alias "downused"`) {
			t.Fatal("the used LUN left the rendered config while its volume exists")
		}
		time.Sleep(300 * time.Millisecond)
	}

	// Back up: the volume goes, and so does the LUN.
	restore()
	remove(t, volume)
	eventually(t, func() error {
		err := k8s.Get(ctx, client.ObjectKey{Name: used.Name}, &mpv1alpha1.MultipathWWID{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%s still there after its volume went: %v", used.Name, err)
	})
}
