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
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// TestMultipathdDown breaks multipathd on two nodes (connections closed without an answer to
// `show maps json` and `reconfigure`) and then changes the config with maxUnavailable 2. The
// broken nodes come first in the rollout's order, fail, and use up the budget: they report
// MultipathdUnavailable and Degraded, their LUNs' health turns unknown, the rollout stalls
// (RolloutFailed) without handing the config to any healthy node, and the healthy nodes keep
// theirs. Once multipathd answers again, everything converges.
func TestMultipathdDown(t *testing.T) {
	d := newDrill(t, "multipathd", options{nodes: 5, luns: 4, consumed: 2, preListed: 3})
	d.setMaxUnavailable(2)
	old := d.converge()
	oldR, err := readRender(d.ctx, multipathconf.ConfigMapPrefix+old[:multipathconf.ShortHashLen], old)
	if err != nil {
		t.Fatal(err)
	}
	w := d.startWatch()
	s := d.startSampling()

	broken, healthy := d.nodes[:2], d.nodes[2:]
	for _, n := range broken {
		n.mu.Lock()
		n.broken = true
		n.mu.Unlock()
		n.Daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Fault: multipathdtest.CloseBeforeReply})
		n.Daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Fault: multipathdtest.CloseBeforeReply})
		n.Trigger()
	}
	// They say multipathd is unavailable, and the health of their LUNs turns unknown.
	used := sim.Alias(d.first)
	if err := poll(d.ctx, d.scaled(30*time.Second), func() error {
		var errs []error
		for _, n := range broken {
			st, err := d.state(n)
			if err != nil {
				return err
			}
			if c := meta.FindStatusCondition(st.Status.Conditions, mpv1alpha1.ReadyCondition); c == nil || c.Status != metav1.ConditionFalse || c.Reason != mpv1alpha1.MultipathdUnavailableReason {
				errs = append(errs, fmt.Errorf("%s: Ready is %+v, want False %s", n.Name, c, mpv1alpha1.MultipathdUnavailableReason))
			}
		}
		lun := &mpv1alpha1.MultipathWWID{}
		if err := sys.c.Get(d.ctx, client.ObjectKey{Name: used}, lun); err != nil {
			return err
		}
		unknown := map[string]bool{}
		for _, h := range lun.Status.Health.NonOptimal {
			if h.State == mpv1alpha1.MapUnknown {
				unknown[h.Node] = true
			}
		}
		for _, n := range broken {
			if !unknown[n.Name] {
				errs = append(errs, fmt.Errorf("%s's health on %s is not unknown: %+v", used, n.Name, lun.Status.Health))
			}
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Fatal(err)
	}

	// A change: handed to the two broken nodes first, it fails there and stops.
	d.createLUN()
	newR := d.renderedAfter(old, 30*time.Second)
	if err := poll(d.ctx, d.scaled(30*time.Second), func() error {
		var errs []error
		for _, n := range broken {
			st, err := d.state(n)
			if err != nil {
				return err
			}
			told, err := d.told(st)
			if err != nil {
				return err
			}
			deg := meta.FindStatusCondition(st.Status.Conditions, mpv1alpha1.DegradedCondition)
			switch {
			case told == nil || told.Hash != newR.Hash:
				errs = append(errs, fmt.Errorf("%s is told to run %v", n.Name, told))
			case deg == nil || deg.Status != metav1.ConditionTrue || deg.ObservedGeneration != st.Generation:
				errs = append(errs, fmt.Errorf("%s: Degraded is %+v at generation %d", n.Name, deg, st.Generation))
			case st.Status.AppliedConfig == nil || st.Status.AppliedConfig.Hash != old:
				errs = append(errs, fmt.Errorf("%s reports it runs %v, want the previous %s", n.Name, st.Status.AppliedConfig, oldR.ConfigMapName()))
			}
		}
		cfg, err := d.config()
		if err != nil {
			return err
		}
		stalled := meta.FindStatusCondition(cfg.Status.Conditions, mpv1alpha1.StalledCondition)
		if stalled == nil || stalled.Status != metav1.ConditionTrue || stalled.Reason != mpv1alpha1.RolloutFailedReason || cfg.Status.Nodes.Failed != int32(len(broken)) {
			errs = append(errs, fmt.Errorf("MultipathConfig: Stalled %+v, nodes %+v", stalled, cfg.Status.Nodes))
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Fatal(err)
	}
	s.waitSamples(5)
	// The healthy nodes were never handed the change and keep what they ran.
	for _, n := range healthy {
		if w.wasHanded(n.Name, newR.Hash) {
			t.Errorf("%s was handed %s while %d nodes had failed it (maxUnavailable %d)", n.Name, newR.ConfigMapName(), len(broken), d.maxUnavailable)
		}
		if err := n.holds(oldR); err != nil {
			t.Errorf("a healthy node lost its config: %v", err)
		}
	}

	// multipathd answers again.
	for _, n := range broken {
		n.mu.Lock()
		n.broken = false
		n.mu.Unlock()
		n.Daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.OK})
		d.serve(n)
		n.Trigger()
	}
	if got := d.converge(); got != newR.Hash {
		t.Errorf("converged on %.16s, want %.16s", got, newR.Hash)
	}
	s.finish()
	w.checkBudget()
	d.checkDaemons()
}
