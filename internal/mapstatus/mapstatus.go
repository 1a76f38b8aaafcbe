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

// Package mapstatus maps multipathd's view of a map (internal/multipathd, a pure protocol and
// parser package) to the health rules' input and to the API's MapStatus, so that the socket
// code knows neither. Its tests run on the captured replies in internal/multipathd/testdata.
package mapstatus

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// API bounds of MultipathNodeState.status (api/v1alpha1/multipathnodestate_types.go).
const (
	// MaxPathsPerMap is MapStatus.paths' MaxItems; totalPaths still counts every path.
	MaxPathsPerMap = 64
	// MaxMaps is MultipathNodeStateStatus.maps' MaxItems.
	MaxMaps = 10000
	// MaxPathGroupsPerMap is MapStatus.pathGroups' MaxItems.
	MaxPathGroupsPerMap = 64
	// MaxPathGroupNumber is the API's Maximum of a path group's number.
	MaxPathGroupNumber = 1024

	maxWWIDLen      = 128
	maxMapNameLen   = 128
	maxDeviceLen    = 64
	maxHCILLen      = 64
	maxPathStateLen = 32
	maxSelectorLen  = 64
)

// HealthMap is the map as the health rules see it.
func HealthMap(m multipathd.Map) health.Map {
	hm := health.Map{DMState: m.DMState, Malformed: m.Malformed}
	n := 0
	for _, g := range m.PathGroups {
		n += len(g.Paths)
	}
	hm.Paths = make([]health.Path, 0, n)
	for _, g := range m.PathGroups {
		disabled := strings.EqualFold(strings.TrimSpace(g.DMState), "disabled")
		for _, p := range g.Paths {
			hm.Paths = append(hm.Paths, healthPath(p, disabled))
		}
	}
	return hm
}

func healthPath(p multipathd.Path, groupDisabled bool) health.Path {
	return health.Path{
		DMState:       p.DMState,
		CheckerState:  p.CheckerState,
		DeviceState:   p.DevState,
		Marginal:      strings.EqualFold(strings.TrimSpace(p.MarginalState), "marginal"),
		GroupDisabled: groupDisabled,
	}
}

// Usable reports whether a map has a path that can carry I/O now (the health rules' verdict).
func Usable(m multipathd.Map) bool { return health.EvaluateMap(HealthMap(m)).Usable > 0 }

// FromMap converts one map to the API. State, activePaths and totalPaths come from the
// health rules over every path. At most MaxPathsPerMap paths are listed: the ones needing
// attention first, then by device name, HCIL and dev_t, so that truncation never hides a
// failed path and equal input gives equal output. Each path carries its group's number (the
// JSON's "group", else the group's place, 1-based) and its priority; the map's first
// MaxPathGroupsPerMap groups are listed in the daemon's order with selector, priority and
// dm state. Strings are trimmed, made valid UTF-8 without
// control characters, and cut to the API's MaxLength; a path with no device name is listed as
// "-" (the API requires one). A map without a uuid yields an empty WWID, which the API refuses:
// FromMaps leaves such maps out.
func FromMap(m multipathd.Map) mpv1alpha1.MapStatus { return fromMap(m, true) }

// fromMap is FromMap; without listOptimal an optimal map is given without its paths and groups.
func fromMap(m multipathd.Map, listOptimal bool) mpv1alpha1.MapStatus {
	v := health.EvaluateMap(HealthMap(m))
	st := mpv1alpha1.MapStatus{
		WWID:        WWID(m),
		Name:        clean(m.Name, maxMapNameLen),
		State:       v.State,
		ActivePaths: int32(min(v.Usable, math.MaxInt32)),
		TotalPaths:  int32(min(v.Total, math.MaxInt32)),
	}
	if v.State == mpv1alpha1.MapOptimal && !listOptimal {
		return st
	}
	type entry struct {
		p       mpv1alpha1.PathStatus
		healthy bool
	}
	entries := make([]entry, 0, v.Total)
	for i, g := range m.PathGroups {
		disabled := strings.EqualFold(strings.TrimSpace(g.DMState), "disabled")
		// The group's number as multipath -ll prints it: the JSON's "group", or its place when
		// the daemon left it out.
		number := int32(min(g.Number, MaxPathGroupNumber))
		if g.Number <= 0 {
			number = int32(min(i+1, MaxPathGroupNumber))
		}
		if len(st.PathGroups) < MaxPathGroupsPerMap {
			st.PathGroups = append(st.PathGroups, mpv1alpha1.PathGroupStatus{
				Group:    number,
				Selector: clean(g.Selector, maxSelectorLen),
				Priority: int32(min(g.Priority, math.MaxInt32)),
				State:    clean(g.DMState, maxPathStateLen),
			})
		}
		for _, p := range g.Paths {
			ps := mpv1alpha1.PathStatus{
				Device:       clean(p.Dev, maxDeviceLen),
				HCIL:         clean(p.HCIL, maxHCILLen),
				DMState:      clean(p.DMState, maxPathStateLen),
				CheckerState: clean(p.CheckerState, maxPathStateLen),
				DeviceState:  clean(p.DevState, maxPathStateLen),
				Group:        number,
				Priority:     int32(min(p.Priority, math.MaxInt32)),
			}
			if ps.Device == "" {
				ps.Device = "-"
			}
			entries = append(entries, entry{p: ps, healthy: health.PathHealthy(healthPath(p, disabled))})
		}
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		if a.healthy != b.healthy {
			if !a.healthy {
				return -1
			}
			return 1
		}
		return cmp.Or(
			strings.Compare(a.p.Device, b.p.Device),
			strings.Compare(a.p.HCIL, b.p.HCIL),
			strings.Compare(a.p.DMState, b.p.DMState),
			strings.Compare(a.p.CheckerState, b.p.CheckerState),
			strings.Compare(a.p.DeviceState, b.p.DeviceState),
			cmp.Compare(a.p.Group, b.p.Group),
			cmp.Compare(a.p.Priority, b.p.Priority),
		)
	})
	if len(entries) > 0 {
		st.Paths = make([]mpv1alpha1.PathStatus, 0, min(len(entries), MaxPathsPerMap))
		for _, e := range entries[:min(len(entries), MaxPathsPerMap)] {
			st.Paths = append(st.Paths, e.p)
		}
	}
	return st
}

// WWID is the map's WWID as FromMap writes it, without converting the rest of the map.
func WWID(m multipathd.Map) string { return clean(m.UUID, maxWWIDLen) }

// FromMaps converts a node's maps for MultipathNodeState.status.maps: maps without a
// uuid are left out (they cannot be matched to a LUN and the API requires a WWID), the rest are
// sorted by WWID (case-insensitively, then byte-wise, then by name) and cut to MaxMaps. The
// status's mapCount should be len(maps), the number the daemon reported.
//
// The paths and path groups are listed only for maps that are not optimal: an optimal map's
// paths are all usable and need no attention (activePaths = totalPaths says it), and on a
// healthy node they were three quarters of the report, so of every write of a node's
// MultipathNodeState and of every read of it (docs/performance.md). A path that fails makes
// its map degraded, and the map's paths are listed from that refresh on.
func FromMaps(maps []multipathd.Map) []mpv1alpha1.MapStatus {
	r := Report{maps: make([]mpv1alpha1.MapStatus, 0, min(len(maps), MaxMaps))}
	for _, m := range maps {
		r.Add(m)
	}
	return r.Maps()
}

// Report builds what FromMaps returns one map at a time, so that a node's maps need not be
// held whole: each is added as it is decoded (multipathd.DecodeMaps) and then dropped, and only
// its MapStatus is kept. The zero value is an empty report.
type Report struct {
	maps []mpv1alpha1.MapStatus
}

// Add adds one map, as FromMaps would.
func (r *Report) Add(m multipathd.Map) {
	if s := fromMap(m, false); s.WWID != "" {
		r.maps = append(r.maps, s)
	}
}

// Maps returns the maps added as FromMaps would return them: sorted (in place: call it once,
// after the last Add) and cut to MaxMaps; empty, not nil, when there are none.
func (r *Report) Maps() []mpv1alpha1.MapStatus {
	out := r.maps
	if out == nil {
		out = []mpv1alpha1.MapStatus{}
	}
	slices.SortStableFunc(out, func(a, b mpv1alpha1.MapStatus) int {
		return cmp.Or(
			cmp.Compare(strings.ToLower(a.WWID), strings.ToLower(b.WWID)),
			strings.Compare(a.WWID, b.WWID),
			strings.Compare(a.Name, b.Name),
		)
	})
	return out[:min(len(out), MaxMaps)]
}

// clean trims s, replaces invalid UTF-8 and control characters with '?', and cuts it to at most
// maxLen bytes on a rune boundary (so to at most maxLen characters).
func clean(s string, maxLen int) string {
	s = strings.TrimSpace(s)
	ok := len(s) <= maxLen && utf8.ValidString(s)
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= 0x20 && s[i] < 0x7f // ASCII without controls; anything else takes the slow path
	}
	if ok {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
