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
	"fmt"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

// requests is how many requests n's agent sent (or tried to).
func requests(n *node) int {
	total := 0
	for _, v := range n.Requests.Snapshot() {
		total += v
	}
	return total
}

// TestAPIServerRestartMidRollout stops kube-apiserver while a knob change is rolled out one
// node at a time (etcd keeps running), and starts it again on the same port and certificates.
// The manager and the agents lose their watches and writes in the middle of the rollout.
func TestAPIServerRestartMidRollout(t *testing.T) {
	d := newDrill(t, "apiserver", options{nodes: 5, luns: 4, consumed: 2, preListed: 3})
	// One node at a time (a fifth of the nodes for the long variant), and each apply takes a
	// moment, so the rollout is still under way when the API server goes.
	d.setMaxUnavailable(max(1, len(d.nodes)/5))
	for _, n := range d.nodes {
		n.Daemon.SetReply("reconfigure", multipathdtest.Reply{Body: multipathdtest.OK, Delay: time.Second})
	}
	old := d.converge()
	w := d.startWatch()
	s := d.startSampling()

	d.setConfig(func(spec *mpv1alpha1.MultipathConfigSpec) { spec.Defaults.PollingInterval = ptr.To[int32](7) })
	target := d.renderedAfter(old, 30*time.Second)
	// Mid-rollout: some node runs the new config, not every node does.
	var applied int
	if err := poll(d.ctx, d.scaled(time.Minute), func() error {
		applied = 0
		for _, n := range d.nodes {
			if st, err := d.state(n); err == nil && st.Status.AppliedConfig != nil && st.Status.AppliedConfig.Hash == target.Hash {
				applied++
			}
		}
		if applied == 0 {
			return fmt.Errorf("no node runs %s yet", target.ConfigMapName())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if applied == len(d.nodes) {
		t.Fatalf("the rollout of %s was over before the API server was stopped: the drill tested nothing", target.ConfigMapName())
	}

	apiServer := sys.env.ControlPlane.APIServer
	stopped := time.Now()
	if err := apiServer.Stop(); err != nil {
		t.Fatalf("stopping kube-apiserver: %v", err)
	}
	up := false
	t.Cleanup(func() { // before the drill's own cleanup, which needs it
		if !up {
			if err := apiServer.Start(); err != nil {
				t.Errorf("starting kube-apiserver again: %v", err)
			}
		}
	})
	t.Logf("kube-apiserver stopped in %s with %d of %d nodes on the new config", time.Since(stopped).Round(time.Millisecond), applied, len(d.nodes))
	// The agents go on without it (an apply under way finishes) and keep trying to reach it:
	// the API server stays down until every agent has sent it at least three more requests
	// (status, Lease), which all fail.
	sent := make([]int, len(d.nodes))
	for i, n := range d.nodes {
		sent[i] = requests(n)
	}
	if err := poll(d.ctx, d.scaled(time.Minute), func() error {
		for i, n := range d.nodes {
			if requests(n) < sent[i]+3 {
				return fmt.Errorf("%s tried to reach the API server %d times since it stopped", n.Name, requests(n)-sent[i])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.waitSamples(3)
	restarted := time.Now()
	if err := apiServer.Start(); err != nil {
		t.Fatalf("starting kube-apiserver again: %v", err)
	}
	up = true
	t.Logf("kube-apiserver down for %s, up again in %s", restarted.Sub(stopped).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))

	if got := d.converge(); got != target.Hash {
		t.Errorf("converged on %.16s, want the knob change %.16s", got, target.Hash)
	}
	s.finish()
	w.checkBudget()
	d.checkDaemons()
}
