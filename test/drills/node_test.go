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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// TestNodeDeleted deletes a Node object while its agent still runs (then stops the agent):
// its MultipathNodeState goes with it, the rest of the cluster stays Ready and keeps rolling
// out, and nothing is dropped anywhere, the deleted node's own files included (a Node object
// can be deleted under a running machine). The node then registers again and rejoins.
func TestNodeDeleted(t *testing.T) {
	d := newDrill(t, "node", options{nodes: 4, luns: 4, consumed: 2, preListed: 3})
	d.setMaxUnavailable(max(1, len(d.nodes)/10))
	before := d.converge()
	oldR, err := readRender(d.ctx, multipathconf.ConfigMapPrefix+before[:multipathconf.ShortHashLen], before)
	if err != nil {
		t.Fatal(err)
	}
	w := d.startWatch()
	s := d.startSampling()

	victim := d.nodes[1]
	others := map[string]bool{}
	for _, n := range d.nodes {
		if n != victim {
			others[n.Name] = true
		}
	}
	if err := sys.c.Delete(d.ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: victim.Name}}); err != nil {
		t.Fatal(err)
	}
	victim.mu.Lock()
	victim.gone = true
	victim.mu.Unlock()
	if err := poll(d.ctx, 30*time.Second, func() error {
		err := sys.c.Get(d.ctx, client.ObjectKey{Name: victim.Name}, &mpv1alpha1.MultipathNodeState{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("the MultipathNodeState of the deleted node is still there (%v)", err)
	}); err != nil {
		t.Fatal(err)
	}
	s.waitSamples(3)
	if err := victim.StopAgent(); err != nil {
		t.Fatal(err)
	}
	// The others are unaffected: same config, Ready, counted without the deleted node.
	if got := d.converge(); got != before {
		t.Errorf("the others moved from %.16s to %.16s", before, got)
	}
	if nr := w.notReadySince(); len(nr) > 0 {
		t.Errorf("deleting a Node made the MultipathConfig not Ready: %v", nr)
	}
	// The rollout goes on without it: a new LUN reaches the others, one at a time.
	d.createLUN()
	after := d.converge()
	for name := range others {
		if !w.wasHanded(name, after) {
			t.Errorf("%s was never handed %.16s", name, after)
		}
	}
	if w.wasHanded(victim.Name, after) {
		t.Errorf("the deleted node was handed %.16s", after)
	}
	// Its own files: the config it ran, untouched.
	if err := victim.holds(oldR); err != nil {
		t.Errorf("the deleted node's files changed: %v", err)
	}

	// The node registers again (a new Node object, same name) and its agent starts: it rejoins.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: victim.Name, Labels: map[string]string{
		sim.SANLabel: "true", corev1.LabelHostname: victim.Name, drillLabel: d.name,
	}}}
	if err := sys.c.Create(d.ctx, node); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetNodeReady(d.ctx, sys.c, victim.Name, true); err != nil {
		t.Fatal(err)
	}
	if err := victim.StartAgent(d.ctx); err != nil {
		t.Fatal(err)
	}
	victim.mu.Lock()
	victim.gone = false
	victim.mu.Unlock()
	if got := d.converge(); got != after {
		t.Errorf("converged on %.16s after the node came back, want %.16s", got, after)
	}

	s.finish()
	w.checkBudget()
	d.checkDaemons()
}
