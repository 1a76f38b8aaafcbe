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

package health

import (
	"strings"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Path is what the rules need of one path, in multipathd's words (see
// internal/multipathd for where each comes from).
type Path struct {
	// DMState is the kernel's view: "active", "failed", "undef".
	DMState string
	// CheckerState is the path checker's: "ready", "ghost", "faulty", "shaky", "i/o pending",
	// "i/o timeout", "delayed", "undef" (and "disconnected" in 0.14).
	CheckerState string
	// DeviceState is the SCSI device state: "running", "offline", "unknown"; "" when the
	// source does not report it.
	DeviceState string
	// Marginal is true when multipathd marked the path marginal.
	Marginal bool
	// GroupDisabled is true when the path's group is "disabled" (bypassed by the kernel).
	GroupDisabled bool
}

// Map is what the rules need of one map.
type Map struct {
	// DMState is the map's device-mapper state: "active", "suspend", "undef"; "" when the
	// source does not report it (the topology text does not).
	DMState string
	// Paths are all the map's paths, in every group.
	Paths []Path
	// Malformed is true when the source had values of the wrong type for this map.
	Malformed bool
}

// Verdict is the health of one map on one node.
type Verdict struct {
	State mpv1alpha1.MapState
	// Usable counts the usable paths, Total all paths.
	Usable, Total int
}

type pathClass int

const (
	// classDown: understood and not usable.
	classDown pathClass = iota
	// classStrange: some state is not one multipathd prints.
	classStrange
	// classImpaired: usable but not healthy (marginal, disabled group, device not running).
	classImpaired
	// classGhost: usable standby path, healthy.
	classGhost
	// classReady: usable, healthy, serving I/O.
	classReady
)

func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func classify(p Path) pathClass {
	dm, chk, dev := norm(p.DMState), norm(p.CheckerState), norm(p.DeviceState)
	switch dm {
	case "active":
	case "failed", "undef":
		return classDown
	default:
		return classStrange
	}
	var up pathClass
	switch chk {
	case "ready":
		up = classReady
	case "ghost":
		up = classGhost
	case "faulty", "shaky", "i/o pending", "i/o timeout", "delayed", "undef", "disconnected":
		return classDown
	default:
		return classStrange
	}
	switch dev {
	case "offline":
		return classDown
	case "running", "":
	default: // "unknown": multipathd prints it for a path not attached to a map.
		return classImpaired
	}
	if p.Marginal || p.GroupDisabled {
		return classImpaired
	}
	return up
}

// PathUsable reports whether a path can carry I/O now: kernel active, checker ready or ghost,
// device not offline.
func PathUsable(p Path) bool { return classify(p) >= classImpaired }

// PathHealthy reports whether a path is usable and nothing about it needs attention.
func PathHealthy(p Path) bool { return classify(p) >= classGhost }

// EvaluateMap decides the state of one map on one node (see the package documentation).
func EvaluateMap(m Map) Verdict {
	v := Verdict{Total: len(m.Paths)}
	var ready, healthy, strange int
	for _, p := range m.Paths {
		switch classify(p) {
		case classReady:
			ready++
			healthy++
			v.Usable++
		case classGhost:
			healthy++
			v.Usable++
		case classImpaired:
			v.Usable++
		case classStrange:
			strange++
		}
	}
	dm := norm(m.DMState)
	switch {
	case m.Malformed || dm == "undef":
		v.State = mpv1alpha1.MapUnknown
	case dm != "" && dm != "active" && dm != "suspend":
		v.State = mpv1alpha1.MapUnknown
	case v.Usable == 0 && strange > 0:
		v.State = mpv1alpha1.MapUnknown
	case v.Usable == 0:
		v.State = mpv1alpha1.MapFailed
	case healthy == v.Total && v.Total >= 2 && ready > 0 && dm != "suspend":
		v.State = mpv1alpha1.MapOptimal
	default:
		v.State = mpv1alpha1.MapDegraded
	}
	return v
}
