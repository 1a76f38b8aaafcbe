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
	"os"
	"path/filepath"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

// TestAgentKilledMidApply stops a node's agent while `multipathd reconfigure` hangs in the
// middle of an apply, twice: a graceful stop (the pod's SIGTERM: the agent rolls back before it
// exits) and a SIGKILL of the agent binary (nothing runs: the pending marker is left, and the
// next agent rolls back first). The node's files are only ever the old or the new config,
// whole, never a mix or a partial file; then the node converges.
func TestAgentKilledMidApply(t *testing.T) {
	d := newDrill(t, "agent", options{nodes: 3, luns: 4, consumed: 2, preListed: 3})
	w := d.startWatch()
	s := d.startSampling()

	// Graceful stop.
	n := d.nodes[0]
	oldR, newR := d.hangApply(n)
	n.Daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.OK}) // the rollback's reconfigure answers
	if err := n.StopAgent(); err != nil {
		t.Fatal(err)
	}
	s.waitSamples(2)
	if err := n.runs(oldR); err != nil {
		t.Errorf("after a graceful stop mid-apply the node must be back on %s, whole: %v", oldR.ConfigMapName(), err)
	}
	if err := n.StartAgent(d.ctx); err != nil {
		t.Fatal(err)
	}
	if got := d.converge(); got != newR.Hash {
		t.Errorf("converged on %.16s, want %.16s", got, newR.Hash)
	}

	// SIGKILL of the agent process.
	n = d.nodes[1]
	if err := d.startAgentProcess(n); err != nil {
		t.Fatal(err)
	}
	_, newR = d.hangApply(n)
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if err := p.kill(); err != nil {
		t.Fatal(err)
	}
	s.waitSamples(2)
	// Nothing ran after the kill: the new files and the marker are left as they were.
	if err := n.holds(newR); err != nil {
		t.Errorf("after SIGKILL mid-apply: %v", err)
	}
	if _, err := os.Stat(filepath.Join(n.HostRoot, hostfs.PendingPath)); err != nil {
		t.Errorf("after SIGKILL mid-apply the pending marker must be left for the next agent: %v", err)
	}
	n.Daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.OK})
	if err := n.StartAgent(d.ctx); err != nil {
		t.Fatal(err)
	}
	if got := d.converge(); got != newR.Hash {
		t.Errorf("converged on %.16s, want %.16s", got, newR.Hash)
	}
	// The restarted agent said that it rolled the interrupted apply back first.
	if err := poll(d.ctx, 30*time.Second, func() error {
		events := &eventsv1.EventList{}
		if err := sys.c.List(d.ctx, events); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Regarding.Name == n.Name && e.Reason == mpv1alpha1.RecoveredReason {
				return nil
			}
		}
		return fmt.Errorf("no %s Event about %s", mpv1alpha1.RecoveredReason, n.Name)
	}); err != nil {
		t.Error(err)
	}

	s.finish()
	w.checkBudget()
	d.checkDaemons()
}

// hangApply makes n's multipathd hang on reconfigure, adds a LUN, and waits until n's agent is
// blocked in that reconfigure: it has written the new files (and its pending marker). It
// returns the render n ran before and the new one.
func (d *drill) hangApply(n *node) (oldR, newR *multipathconf.Rendered) {
	d.t.Helper()
	old, err := d.convergedOn()
	if err != nil {
		d.t.Fatalf("not converged before the apply: %v", err)
	}
	if oldR, err = readRender(d.ctx, multipathconf.ConfigMapPrefix+old[:multipathconf.ShortHashLen], old); err != nil {
		d.t.Fatal(err)
	}
	before := count(n.Daemon.Commands(), multipathd.CmdReconfigure)
	n.Daemon.SetReply(multipathd.CmdReconfigure, multipathdtest.Reply{Body: multipathdtest.OK, Delay: 10 * time.Minute})
	d.createLUN()
	newR = d.renderedAfter(old, 30*time.Second)
	if err := poll(d.ctx, 30*time.Second, func() error {
		if count(n.Daemon.Commands(), multipathd.CmdReconfigure) == before {
			return errors.New("no reconfigure yet")
		}
		return nil
	}); err != nil {
		d.t.Fatalf("%s never reconfigured for %s: %v", n.Name, newR.ConfigMapName(), err)
	}
	if err := n.holds(newR); err != nil {
		d.t.Fatalf("while reconfigure hangs: %v", err)
	}
	if _, err := os.Stat(filepath.Join(n.HostRoot, hostfs.PendingPath)); err != nil {
		d.t.Fatalf("while reconfigure hangs there must be a pending marker: %v", err)
	}
	return oldR, newR
}

// holds checks that n's owned configuration files are r's, whole (the records aside).
func (n *node) holds(r *multipathconf.Rendered) error {
	want, _ := r.File(multipathconf.BaselineFileName)
	if conf, err := n.ReadFile(confPath); err != nil || string(conf) != want {
		return fmt.Errorf("%s: %s is not %s's baseline (%v)", n.Name, confPath, r.ConfigMapName(), err)
	}
	wwids, err := n.ReadFile(hostfs.WWIDsPath)
	if err != nil {
		return err
	}
	if got, want := entrySet(wwids), n.withForeign(r.WWIDs); fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("%s: wwids entries are not the foreign ones plus %s's: %s", n.Name, r.ConfigMapName(), diffSets(got, want))
	}
	return nil
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
