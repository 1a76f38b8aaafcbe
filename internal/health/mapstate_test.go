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

package health_test

import (
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
)

func p(dm, chk, dev string) health.Path {
	return health.Path{DMState: dm, CheckerState: chk, DeviceState: dev}
}

var (
	ready   = p("active", "ready", "running")
	ghost   = p("active", "ghost", "running")
	faulty  = p("failed", "faulty", "running")
	healing = p("failed", "ready", "running")
)

func TestEvaluateMap(t *testing.T) {
	tests := map[string]struct {
		in   health.Map
		want health.Verdict
	}{
		"two active ready paths are optimal": {
			in: health.Map{DMState: "active", Paths: []health.Path{ready, ready}}, want: health.Verdict{State: mpv1alpha1.MapOptimal, Usable: 2, Total: 2},
		},
		"ready paths beside ghost paths are optimal: ALUA standby that is up is healthy": {
			in: health.Map{DMState: "active", Paths: []health.Path{ready, ready, ghost, ghost}}, want: health.Verdict{State: mpv1alpha1.MapOptimal, Usable: 4, Total: 4},
		},
		"one ready path and one ghost path are optimal": {
			in: health.Map{Paths: []health.Path{ghost, ready}}, want: health.Verdict{State: mpv1alpha1.MapOptimal, Usable: 2, Total: 2},
		},
		"only ghost paths up is degraded: no path serves I/O without a port-group switch": {
			in: health.Map{DMState: "active", Paths: []health.Path{ghost, ghost, faulty}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 2, Total: 3},
		},
		"only ghost paths, all up, is still degraded": {
			in: health.Map{Paths: []health.Path{ghost, ghost}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 2, Total: 2},
		},
		"one failed path among healthy ones is degraded": {
			in: health.Map{Paths: []health.Path{ready, ready, faulty}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 2, Total: 3},
		},
		"a single healthy path is degraded: only one left": {
			in: health.Map{Paths: []health.Path{ready}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 1, Total: 1},
		},
		"no usable path is failed": {
			in: health.Map{Paths: []health.Path{faulty, faulty}}, want: health.Verdict{State: mpv1alpha1.MapFailed, Usable: 0, Total: 2},
		},
		"a map with no paths is failed": {
			in: health.Map{DMState: "active"}, want: health.Verdict{State: mpv1alpha1.MapFailed},
		},
		"a path the checker sees back but the kernel has not reinstated does not count yet": {
			in: health.Map{Paths: []health.Path{ready, healing}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 1, Total: 2},
		},
		"a path the kernel has active but the checker sees down does not count": {
			in: health.Map{Paths: []health.Path{p("active", "faulty", "running"), p("active", "i/o timeout", "running")}}, want: health.Verdict{State: mpv1alpha1.MapFailed, Total: 2},
		},
		"checker states in transition do not count": {
			in:   health.Map{Paths: []health.Path{ready, p("active", "i/o pending", "running"), p("active", "delayed", "running"), p("active", "shaky", "running"), p("active", "undef", "running"), p("active", "disconnected", "running")}},
			want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 1, Total: 6},
		},
		"an offline device does not count": {
			in: health.Map{Paths: []health.Path{ready, p("active", "ready", "offline")}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 1, Total: 2},
		},
		"a device state of unknown is usable but not healthy": {
			in: health.Map{Paths: []health.Path{ready, p("active", "ready", "unknown")}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 2, Total: 2},
		},
		"a source without device states (the text) is read as running": {
			in: health.Map{Paths: []health.Path{p("active", "ready", ""), p("active", "ready", "")}}, want: health.Verdict{State: mpv1alpha1.MapOptimal, Usable: 2, Total: 2},
		},
		"a marginal path is usable but the map is degraded": {
			in: health.Map{Paths: []health.Path{ready, {DMState: "active", CheckerState: "ready", Marginal: true}}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 2, Total: 2},
		},
		"a path in a disabled group is usable but the map is degraded": {
			in: health.Map{Paths: []health.Path{ready, {DMState: "active", CheckerState: "ready", GroupDisabled: true}}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 2, Total: 2},
		},
		"a suspended map is degraded": {
			in: health.Map{DMState: "suspend", Paths: []health.Path{ready, ready}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 2, Total: 2},
		},
		"a suspended map with no usable path is failed": {
			in: health.Map{DMState: "suspend", Paths: []health.Path{faulty}}, want: health.Verdict{State: mpv1alpha1.MapFailed, Total: 1},
		},
		"a map whose device-mapper state is undef is unknown": {
			in: health.Map{DMState: "undef", Paths: []health.Path{ready, ready}}, want: health.Verdict{State: mpv1alpha1.MapUnknown, Usable: 2, Total: 2},
		},
		"a map state multipathd never prints is unknown": {
			in: health.Map{DMState: "exploded", Paths: []health.Path{ready, ready}}, want: health.Verdict{State: mpv1alpha1.MapUnknown, Usable: 2, Total: 2},
		},
		"a malformed map is unknown": {
			in: health.Map{Malformed: true, Paths: []health.Path{ready, ready}}, want: health.Verdict{State: mpv1alpha1.MapUnknown, Usable: 2, Total: 2},
		},
		"no usable path and a state not understood is unknown, not failed": {
			in: health.Map{Paths: []health.Path{faulty, p("n/a", "optimized", "live")}}, want: health.Verdict{State: mpv1alpha1.MapUnknown, Total: 2},
		},
		"a checker state not understood beside a usable path is degraded": {
			in: health.Map{Paths: []health.Path{ready, ready, p("active", "sleepy", "running")}}, want: health.Verdict{State: mpv1alpha1.MapDegraded, Usable: 2, Total: 3},
		},
		"case and spaces in states are tolerated": {
			in: health.Map{DMState: " Active ", Paths: []health.Path{p("ACTIVE", " Ready", "Running "), p("active", "GHOST", "running")}}, want: health.Verdict{State: mpv1alpha1.MapOptimal, Usable: 2, Total: 2},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := health.EvaluateMap(tc.in); got != tc.want {
				t.Errorf("EvaluateMap = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPathUsableAndHealthy(t *testing.T) {
	tests := map[string]struct {
		in              health.Path
		usable, healthy bool
	}{
		"active ready running":           {in: ready, usable: true, healthy: true},
		"active ghost running":           {in: ghost, usable: true, healthy: true},
		"failed faulty":                  {in: faulty},
		"failed ready (recovering)":      {in: healing},
		"active ready offline":           {in: p("active", "ready", "offline")},
		"active ready marginal":          {in: health.Path{DMState: "active", CheckerState: "ready", Marginal: true}, usable: true},
		"active ready in disabled group": {in: health.Path{DMState: "active", CheckerState: "ready", GroupDisabled: true}, usable: true},
		"undef undef (orphan)":           {in: p("undef", "undef", "unknown")},
		"empty":                          {in: health.Path{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if u, h := health.PathUsable(tc.in), health.PathHealthy(tc.in); u != tc.usable || h != tc.healthy {
				t.Errorf("usable %t healthy %t, want %t %t", u, h, tc.usable, tc.healthy)
			}
		})
	}
}
