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

package rollout_test

import (
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// confirm writes the node's agent Lease confirming ref, as the agent does right after an apply,
// before its status.
func (f *fixture) confirm(name string, ref mpv1alpha1.RenderedConfigRef) {
	f.t.Helper()
	f.writeLease(name, &ref, "")
}

// The rollout hands a config to every admitted node by one write of the wave, records each
// node's spec once its agent confirmed on its Lease (without a status write), and records a
// node the wave would drop before it drops it.
func TestRolloutWave(t *testing.T) {
	f := newFixture(t)
	f.addNodes(4)
	all := intstr.FromString("100%")
	f.createConfig(5, func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.MaxUnavailable = &all })
	a := f.rendered()

	// One write hands a to all four: the wave names them, no spec says a yet.
	eventually(t, func() error {
		w := f.wave()
		if w == nil || w.Config != a || !slices.Equal(w.Nodes, f.nodes) {
			return fmt.Errorf("the wave is %+v, want %s for %v", w, a.Name, f.nodes)
		}
		return nil
	})
	for _, name := range f.nodes {
		if st := f.rawState(name); is(st.Spec.DesiredConfig, a) {
			t.Errorf("%s's spec says %s before its agent confirmed it", name, a.Name)
		}
	}

	// Two agents confirm on their Leases: their specs are recorded (recordDelay later, as the
	// wave is not done), the others' not.
	f.confirm(f.node(0), a)
	f.confirm(f.node(1), a)
	eventually(t, func() error {
		for _, name := range f.nodes[:2] {
			if st := f.rawState(name); !is(st.Spec.DesiredConfig, a) {
				return fmt.Errorf("%s's spec is %+v, want %s recorded after its confirmation", name, st.Spec.DesiredConfig, a.Name)
			}
		}
		return nil
	})
	for _, name := range f.nodes[2:] {
		if st := f.rawState(name); is(st.Spec.DesiredConfig, a) {
			t.Errorf("%s's spec says %s, yet it confirmed nothing", name, a.Name)
		}
	}
	f.waitConfig(func(cfg *mpv1alpha1.MultipathConfig, _ *kstatus.Result) error {
		if cfg.Status.Nodes.Updated != 2 {
			return fmt.Errorf("status.nodes %+v, want 2 updated (the confirmed ones)", cfg.Status.Nodes)
		}
		return nil
	})

	// A new config while nodes 2 and 3 have not applied a, one node at a time: the wave drops
	// them, so their specs say a first (a dropped node keeps what it was handed).
	one := intstr.FromInt32(1)
	f.updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) {
		s.Rollout.MaxUnavailable = &one
		s.Defaults.PollingInterval = new(int32(6))
	})
	b := f.rendered()
	eventually(t, func() error {
		for _, name := range f.nodes[2:] {
			st := f.rawState(name)
			if w := f.wave(); w.HasState(st) && w.Config == a {
				return fmt.Errorf("the wave still hands %s to %s", a.Name, name)
			}
			if !is(st.Spec.DesiredConfig, a) && !f.wave().HasState(st) {
				return fmt.Errorf("%s left the wave without its spec saying %s: %+v", name, a.Name, st.Spec.DesiredConfig)
			}
		}
		return nil
	})
	// The rest of the rollout of b, through the wave and the agents' status reports.
	f.agentApply(f.node(2))
	f.agentApply(f.node(3))
	f.rollOut(b, 1)
	for _, name := range f.nodes {
		if st := f.rawState(name); !is(st.Spec.DesiredConfig, b) {
			t.Errorf("after the rollout %s's spec is %+v, want %s recorded", name, st.Spec.DesiredConfig, b.Name)
		}
	}
}
