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

package rollup

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func TestSetWWIDHealth(t *testing.T) {
	h := mpv1alpha1.LUNHealth{State: mpv1alpha1.MapDegraded, Nodes: "3/4", Counts: mpv1alpha1.HealthCounts{Optimal: 3, Degraded: 1},
		NonOptimal: []mpv1alpha1.NodeHealth{{Node: "n4", State: mpv1alpha1.MapDegraded, ActivePaths: 1, TotalPaths: 2}}}
	tests := map[string]struct {
		current mpv1alpha1.LUNHealth
		want    bool
	}{
		"a first roll-up is written":        {current: mpv1alpha1.LUNHealth{}, want: true},
		"the same roll-up is not written":   {current: *h.DeepCopy(), want: false},
		"another node's paths are a change": {current: func() mpv1alpha1.LUNHealth { c := *h.DeepCopy(); c.NonOptimal[0].ActivePaths = 0; return c }(), want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := wwidObj("lun", wwid, consumedBy("pv"))
			w.Status.Health = tc.current
			if got := SetWWIDHealth(&w, h); got != tc.want {
				t.Errorf("changed = %v, want %v", got, tc.want)
			}
			if !reflect.DeepEqual(w.Status.Health, h) || w.Status.ConsumerCount != 1 {
				t.Errorf("status = %+v", w.Status)
			}
		})
	}
}

func TestSetConfigHealth(t *testing.T) {
	counts := mpv1alpha1.HealthCounts{Optimal: 9, Missing: 1}
	errs := []mpv1alpha1.NodeError{{Node: "n1", Message: "failed", LastTransitionTime: metav1.NewTime(now)}}
	tests := map[string]struct {
		counts mpv1alpha1.HealthCounts
		errs   []mpv1alpha1.NodeError
		want   bool
	}{
		"the same counts and errors are not written": {counts: counts, errs: errs, want: false},
		"other counts are written":                   {counts: mpv1alpha1.HealthCounts{Optimal: 10}, errs: errs, want: true},
		"an error gone is written":                   {counts: counts, errs: nil, want: true},
		"an error's new transition time is written":  {counts: counts, errs: []mpv1alpha1.NodeError{{Node: "n1", Message: "failed", LastTransitionTime: metav1.NewTime(now.Add(time.Minute))}}, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := config(nil)
			cfg.Status.LUNHealth, cfg.Status.NodeErrors = counts, errs
			cfg.Status.Nodes.Selected = 10
			if got := SetConfigHealth(cfg, tc.counts, tc.errs); got != tc.want {
				t.Errorf("changed = %v, want %v", got, tc.want)
			}
			if cfg.Status.LUNHealth != tc.counts || cfg.Status.Nodes.Selected != 10 {
				t.Errorf("status = %+v", cfg.Status)
			}
		})
	}
	t.Run("an empty list where none is stored is no change, and is stored as none", func(t *testing.T) {
		cfg := config(nil)
		cfg.Status.LUNHealth = counts
		if SetConfigHealth(cfg, counts, []mpv1alpha1.NodeError{}) || cfg.Status.NodeErrors != nil {
			t.Errorf("changed, or nodeErrors = %#v, want nil", cfg.Status.NodeErrors)
		}
	})
}
