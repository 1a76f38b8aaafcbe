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

package multipathd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Map is one multipath map as multipathd reports it. Field comments give the JSON key; see the
// shared fixtures' FORMAT.md for the values each can take. Strings are kept as printed
// (vendor and product keep their space padding).
type Map struct {
	Name  string // name: the alias, or the WWID
	UUID  string // uuid: the WWID
	Sysfs string // sysfs: dm-N
	// Failback is failback as printed: immediate, followover, a progress bar "XX... n/m", and
	// "-" up to 0.9.8 where 0.9.9 on prints manual, undef or deferred:N. It is the map's
	// policy, not its state: health never reads it, so every spelling is taken as it comes.
	Failback      string
	Queueing      string // queueing: off, on, -, "N chk", "N sec"
	UsablePaths   int    // paths: the daemon's count of usable (ready or ghost) paths
	WriteProt     string // write_prot
	DMState       string // dm_st: active, suspend; undef from 0.9.x (health: unknown)
	Features      string // features
	HWHandler     string // hwhandler
	Action        string // action
	PathFaults    int    // path_faults
	Vendor        string // vend
	Product       string // prod
	Revision      string // rev
	SwitchGroup   int    // switch_grp
	MapLoads      int    // map_loads
	TotalQueueSec int    // total_q_time
	QueueTimeouts int    // q_timeouts
	PathGroups    []PathGroup
	// Malformed is set when a value of this map had the wrong JSON type (a string where a
	// number belongs, ...). The map is kept, with that value zero, and its health is unknown.
	Malformed bool
}

// PathGroup is one priority group of a map.
type PathGroup struct {
	Selector      string // selector
	Priority      int    // pri: -1 when undefined
	DMState       string // dm_st: active, enabled, disabled, undef
	MarginalState string // marginal_st: normal, marginal (0.8.3+)
	Number        int    // group: 1-based
	Paths         []Path
}

// Path is one path of a map.
type Path struct {
	Dev           string // dev: sdb, or "-"
	DevT          string // dev_t: major:minor, or "#:#"
	HCIL          string // not in the JSON; from the topology text only
	DMState       string // dm_st: active, failed, undef
	DevState      string // dev_st: running, offline, unknown
	CheckerState  string // chk_st: ready, ghost, faulty, shaky, i/o pending, i/o timeout, delayed, undef; disconnected from 0.14.0
	Checker       string // checker: tur, directio, ...
	Priority      int    // pri: -1 when undefined
	HostWWNN      string // host_wwnn
	TargetWWNN    string // target_wwnn
	HostWWPN      string // host_wwpn
	TargetWWPN    string // target_wwpn
	HostAdapter   string // host_adapter
	LUNHex        string // lun_hex (0.8.9+)
	MarginalState string // marginal_st (0.8.3+)
}

// ErrMalformedJSON marks a reply that is not the JSON of "show maps json" or "show map X json".
var ErrMalformedJSON = errors.New("malformed multipathd JSON")

type jsonMap struct {
	Name          string          `json:"name"`
	UUID          string          `json:"uuid"`
	Sysfs         string          `json:"sysfs"`
	Failback      string          `json:"failback"`
	Queueing      string          `json:"queueing"`
	Paths         int64           `json:"paths"`
	WriteProt     string          `json:"write_prot"`
	DMState       string          `json:"dm_st"`
	Features      string          `json:"features"`
	HWHandler     string          `json:"hwhandler"`
	Action        string          `json:"action"`
	PathFaults    int64           `json:"path_faults"`
	Vendor        string          `json:"vend"`
	Product       string          `json:"prod"`
	Revision      string          `json:"rev"`
	SwitchGroup   int64           `json:"switch_grp"`
	MapLoads      int64           `json:"map_loads"`
	TotalQueueSec int64           `json:"total_q_time"`
	QueueTimeouts int64           `json:"q_timeouts"`
	PathGroups    []jsonPathGroup `json:"path_groups"`
}

type jsonPathGroup struct {
	Selector      string     `json:"selector"`
	Priority      int64      `json:"pri"`
	DMState       string     `json:"dm_st"`
	MarginalState string     `json:"marginal_st"`
	Number        int64      `json:"group"`
	Paths         []jsonPath `json:"paths"`
}

type jsonPath struct {
	Dev           string `json:"dev"`
	DevT          string `json:"dev_t"`
	DMState       string `json:"dm_st"`
	DevState      string `json:"dev_st"`
	CheckerState  string `json:"chk_st"`
	Checker       string `json:"checker"`
	Priority      int64  `json:"pri"`
	HostWWNN      string `json:"host_wwnn"`
	TargetWWNN    string `json:"target_wwnn"`
	HostWWPN      string `json:"host_wwpn"`
	TargetWWPN    string `json:"target_wwpn"`
	HostAdapter   string `json:"host_adapter"`
	LUNHex        string `json:"lun_hex"`
	MarginalState string `json:"marginal_st"`
}

// ParseMapsJSON reads the reply to "show maps json" (an envelope with a "maps" array) or to
// "show map X json" (an envelope with one "map" object), in the daemon's order.
//
// It is tolerant where multipathd versions differ and strict where the data would lie: unknown
// fields are ignored; missing fields stay zero; numbers are clamped (counts to [0, MaxInt32],
// priorities to [-1, MaxInt32]); a map holding a value of the wrong type (or a number too big
// for 64 bits), or null, is kept with that value zero and Malformed set. Input that is not one
// JSON object (cut short, followed by more data, ...) or has neither "maps" nor "map" wraps
// ErrMalformedJSON. A "maps": null or [] is no maps.
func ParseMapsJSON(data []byte) ([]Map, error) {
	// Fast path: one decode, when every value has the right type.
	var fast struct {
		Maps *[]*jsonMap `json:"maps"`
		Map  *jsonMap    `json:"map"`
	}
	err := json.Unmarshal(data, &fast)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err != nil && !errors.As(err, &typeErr):
		return nil, fmt.Errorf("%w: %w", ErrMalformedJSON, err)
	case err == nil && fast.Maps != nil:
		maps := make([]Map, len(*fast.Maps))
		for i, jm := range *fast.Maps {
			maps[i] = fromJSON(jm)
		}
		return maps, nil
	case err == nil && fast.Map != nil:
		return []Map{fromJSON(fast.Map)}, nil
	}
	// Slow path: a value of the wrong type somewhere, or no envelope key, or a null one. Decode
	// map by map, so that only the maps at fault are marked.
	var env struct {
		Maps json.RawMessage `json:"maps"`
		Map  json.RawMessage `json:"map"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %w", ErrMalformedJSON, err)
	}
	var raws []json.RawMessage
	switch {
	case env.Maps != nil:
		if err := json.Unmarshal(env.Maps, &raws); err != nil {
			return nil, fmt.Errorf("%w: \"maps\" is not an array: %w", ErrMalformedJSON, err)
		}
	case env.Map != nil:
		raws = []json.RawMessage{env.Map}
	default:
		return nil, fmt.Errorf("%w: neither \"maps\" nor \"map\" in the reply", ErrMalformedJSON)
	}
	maps := make([]Map, 0, len(raws))
	for _, raw := range raws {
		if bytes.Equal(raw, []byte("null")) {
			if env.Maps == nil {
				break // "map": null is no map
			}
			maps = append(maps, Map{Malformed: true})
			continue
		}
		var jm jsonMap
		err := json.Unmarshal(raw, &jm) // syntax was checked above: only type errors remain
		m := fromJSON(&jm)
		m.Malformed = err != nil
		maps = append(maps, m)
	}
	return maps, nil
}

func fromJSON(jm *jsonMap) Map {
	if jm == nil {
		return Map{Malformed: true} // null in the maps array
	}
	m := Map{
		Name:          jm.Name,
		UUID:          jm.UUID,
		Sysfs:         jm.Sysfs,
		Failback:      jm.Failback,
		Queueing:      jm.Queueing,
		UsablePaths:   count(jm.Paths),
		WriteProt:     jm.WriteProt,
		DMState:       jm.DMState,
		Features:      jm.Features,
		HWHandler:     jm.HWHandler,
		Action:        jm.Action,
		PathFaults:    count(jm.PathFaults),
		Vendor:        jm.Vendor,
		Product:       jm.Product,
		Revision:      jm.Revision,
		SwitchGroup:   count(jm.SwitchGroup),
		MapLoads:      count(jm.MapLoads),
		TotalQueueSec: count(jm.TotalQueueSec),
		QueueTimeouts: count(jm.QueueTimeouts),
	}
	if len(jm.PathGroups) > 0 {
		m.PathGroups = make([]PathGroup, len(jm.PathGroups))
	}
	for i, jg := range jm.PathGroups {
		g := PathGroup{
			Selector:      jg.Selector,
			Priority:      priority(jg.Priority),
			DMState:       jg.DMState,
			MarginalState: jg.MarginalState,
			Number:        count(jg.Number),
		}
		if len(jg.Paths) > 0 {
			g.Paths = make([]Path, len(jg.Paths))
		}
		for j, jp := range jg.Paths {
			g.Paths[j] = Path{
				Dev:           jp.Dev,
				DevT:          jp.DevT,
				DMState:       jp.DMState,
				DevState:      jp.DevState,
				CheckerState:  jp.CheckerState,
				Checker:       jp.Checker,
				Priority:      priority(jp.Priority),
				HostWWNN:      jp.HostWWNN,
				TargetWWNN:    jp.TargetWWNN,
				HostWWPN:      jp.HostWWPN,
				TargetWWPN:    jp.TargetWWPN,
				HostAdapter:   jp.HostAdapter,
				LUNHex:        jp.LUNHex,
				MarginalState: jp.MarginalState,
			}
		}
		m.PathGroups[i] = g
	}
	return m
}

func count(n int64) int { return int(min(max(n, 0), math.MaxInt32)) }

func priority(n int64) int { return int(min(max(n, -1), math.MaxInt32)) }
