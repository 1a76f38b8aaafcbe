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

package agent_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/wave"
)

// A node the rollout wave names applies the wave's config although its spec says another,
// confirms it on its Lease, and reports it in its status without waiting for the spec.
func TestAgentAppliesTheWaveAndConfirmsOnItsLease(t *testing.T) {
	name := "node-wave"
	n := startAgent(t, name, nil)
	_, a := publish(t, wwidA)
	createState(t, name, &a)
	applied(t, name, a)
	confirmed := func(want mpv1alpha1.RenderedConfigRef) error {
		l, err := lease(t, name)
		if err != nil {
			return err
		}
		if got := health.LeaseApplied(l, getState(t, name).UID); got == nil || *got != want {
			return fmt.Errorf("the Lease confirms %+v, want %s", got, want.Name)
		}
		return nil
	}
	eventually(t, func() error { return confirmed(a) })

	_, b := publish(t, wwidA, wwidB)
	cm := wave.New(b, []wave.Member{{Node: "another-node", UID: "another-uid"}, {Node: name, UID: getState(t, name).UID}}).ConfigMap(namespace)
	if err := env.Client.Create(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Client.Delete(context.Background(), cm); err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
	eventually(t, func() error { return confirmed(b) })
	if got := hostfs.ParseWWIDs([]byte(n.read(t, wwidsPath))); !slices.Equal(got, []string{wwidA, wwidB}) {
		t.Errorf("confirmed %s with wwids %v on disk", b.Name, got)
	}
	// The report follows (here after the agent's hold of three refresh intervals: nothing records
	// the spec).
	st := applied(t, name, b)
	if st.Spec.DesiredConfig == nil || *st.Spec.DesiredConfig != a {
		t.Errorf("the agent changed its spec: %+v", st.Spec.DesiredConfig)
	}
	// So does the Applied Event, held with the report.
	eventually(t, func() error {
		for _, e := range stateEvents(t, name) {
			if e.Reason == mpv1alpha1.AppliedReason && strings.HasPrefix(e.Note, "Applied config "+b.Name+" ") {
				return nil
			}
		}
		return fmt.Errorf("no Applied Event for %s", b.Name)
	})

	// Recorded, then dropped from the wave, as the rollout controller does: nothing to do.
	reconfigures := n.reconfigures()
	setDesired(t, name, b)
	if err := env.Client.Delete(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a few refresh intervals
	if got := n.reconfigures(); got != reconfigures {
		t.Errorf("%d reconfigures after the wave's config was recorded and the wave dropped the node, want none", got-reconfigures)
	}
	eventually(t, func() error { return confirmed(b) })
}
