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

package hostfs

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilptr "k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/testing/realdaemon"
)

// countingClient counts the reconfigures sent to the daemon.
type countingClient struct {
	multipathd.Client
	reconfigures atomic.Int32
}

func (c *countingClient) Reconfigure(ctx context.Context) error {
	c.reconfigures.Add(1)
	return c.Client.Reconfigure(ctx)
}

// showConfig waits until the daemon's merged configuration satisfies ok, and returns it.
func showConfig(t *testing.T, c multipathd.Client, ok func(*mptest.Config) error) *mptest.Config {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := c.Command(context.Background(), "show", "config")
		if err != nil {
			t.Fatalf("show config: %v", err)
		}
		cfg, err := mptest.ParseOutput(string(out))
		if err != nil {
			t.Fatalf("show config output: %v", err)
		}
		if err = ok(cfg); err == nil {
			return cfg
		}
		if time.Now().After(deadline) {
			t.Fatalf("multipathd's config: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The agent's transaction against the real multipathd: after the apply, the daemon's own
// configuration holds the aliases and knobs; a second apply of the same config does not
// reconfigure; the teardown takes them out again.
func TestRealMultipathdRunsTheAppliedConfig(t *testing.T) {
	t.Parallel()
	th := newHost(t)
	d := realdaemon.Start(t, th.path(EtcMultipathDir))
	t.Logf("multipathd ready in %s", d.Ready.Round(time.Millisecond))
	client := &countingClient{Client: d.Client}
	th.Client = client
	if mptest.Available() == nil {
		th.Validator = &ParserValidator{Root: "/"}
	}

	cfg := &mpv1alpha1.MultipathConfig{
		ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
		Spec: mpv1alpha1.MultipathConfigSpec{
			Defaults:  mpv1alpha1.MultipathDefaults{PollingInterval: utilptr.To[int32](7)},
			Overrides: "overrides {\n\tdev_loss_tmo 120\n}\n",
		},
	}
	lun := mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: "lun-a"},
		Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwidA, Alias: "data-a",
			LUNKnobs: mpv1alpha1.LUNKnobs{NoPathRetry: utilptr.To(intstr.FromInt32(12))}},
	}
	r, err := multipathconf.Render(cfg, []mpv1alpha1.MultipathWWID{lun})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := mustApply(t, th, r)
	applied := time.Since(start)
	if !res.Reconfigured || client.reconfigures.Load() != 1 {
		t.Fatalf("apply: %+v, %d reconfigures", res, client.reconfigures.Load())
	}
	showConfig(t, d.Client, func(c *mptest.Config) error {
		mp := c.Multipaths[wwidA]
		switch {
		case mp.Get("alias") != "data-a" || mp.Get("no_path_retry") != "12":
			return fmt.Errorf("multipath %s = %v", wwidA, mp)
		case c.Sections["defaults"].Get("polling_interval") != "7" || !slices.Contains(c.Sections["blacklist_exceptions"]["wwid"], "^"+wwidA+"$"):
			return fmt.Errorf("defaults = %v", c.Sections["defaults"])
		case c.Sections["overrides"].Get("dev_loss_tmo") != "120":
			return fmt.Errorf("overrides = %v", c.Sections["overrides"])
		}
		return nil
	})
	t.Logf("apply (validated: %v) took %s; the daemon ran the config %s after the apply began",
		res.Validated, applied.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	if res := mustApply(t, th, r); res.Reconfigured || client.reconfigures.Load() != 1 {
		t.Errorf("second apply of the same config: %+v, %d reconfigures", res, client.reconfigures.Load())
	}

	mustApply(t, th, emptyConfig(t))
	showConfig(t, d.Client, func(c *mptest.Config) error {
		if _, ok := c.Multipaths[wwidA]; ok || c.Sections["overrides"].Has("dev_loss_tmo") {
			return fmt.Errorf("the teardown left %s or the overrides in the daemon", wwidA)
		}
		return nil
	})
}

// The paths listing the agent sends for discover: the real multipathd takes the raw format as
// one word and answers with paths (none on a test machine, or the host's own), not with its
// help text or "fail".
func TestRealMultipathdListsPathsInTheRawFormat(t *testing.T) {
	t.Parallel()
	th := newHost(t)
	d := realdaemon.Start(t, th.path(EtcMultipathDir))
	if _, ok := d.Client.(multipathd.PathLister); !ok {
		t.Fatalf("the real daemon's client %T cannot list paths", d.Client)
	}
	paths, err := multipathd.ShowPaths(context.Background(), d.Client)
	if err != nil {
		t.Fatalf("show paths raw format: %v", err)
	}
	for _, p := range paths {
		if p.Dev == "" {
			t.Errorf("a path without a device: %+v", p)
		}
	}
	t.Logf("%d paths: %+v", len(paths), paths)
}
