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
	"io"
	"math"
	"strings"
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
// ErrMalformedJSON. A "maps": null or [] is no maps; "maps" is read when both are there.
func ParseMapsJSON(data []byte) ([]Map, error) {
	maps := []Map{}
	if err := DecodeMaps(bytes.NewReader(data), appendTo(&maps)); err != nil {
		return nil, err
	}
	return maps, nil
}

// appendTo is an each for DecodeMaps that collects the maps.
func appendTo(maps *[]Map) func(Map) error {
	return func(m Map) error {
		*maps = append(*maps, m)
		return nil
	}
}

// DecodeMaps reads the reply ParseMapsJSON reads, from r, and gives each map to each as soon
// as it is decoded, in the daemon's order: neither the reply nor its maps are ever held whole
// (10,000 maps of 4 paths are 18 MiB of JSON, and more decoded). An error from each stops the
// decoding and is returned as is. On any other error the maps already given are to be
// discarded: the reply was not the daemon's whole answer.
func DecodeMaps(r io.Reader, each func(Map) error) error {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return malformedJSON(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrMalformedJSON)
	}
	var sawMaps, sawMap bool
	var single *Map // the "map" of "show map X json" (nil for null), given unless "maps" came
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformedJSON(err)
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "maps"): // encoding/json's rule for field names
			sawMaps = true
			if err := decodeMapsArray(dec, each); err != nil {
				return err
			}
		case strings.EqualFold(key, "map"):
			sawMap = true
			m, null, err := decodeMap(dec)
			if err != nil {
				return err
			}
			single = nil
			if !null {
				single = &m
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return malformedJSON(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the envelope's closing brace
		return malformedJSON(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: more data after top-level value", ErrMalformedJSON)
	}
	if !sawMaps && !sawMap {
		return fmt.Errorf("%w: neither \"maps\" nor \"map\" in the reply", ErrMalformedJSON)
	}
	if !sawMaps && single != nil {
		return each(*single)
	}
	return nil
}

// decodeMapsArray gives each map of the "maps" array, whose key dec has just read.
func decodeMapsArray(dec *json.Decoder, each func(Map) error) error {
	tok, err := dec.Token()
	if err != nil {
		return malformedJSON(err)
	}
	if tok == nil {
		return nil // "maps": null
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("%w: \"maps\" is not an array", ErrMalformedJSON)
	}
	for dec.More() {
		m, _, err := decodeMap(dec)
		if err != nil {
			return err
		}
		if err := each(m); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing bracket
	return malformedJSON(err)
}

// decodeMap decodes the map dec is at. A value of the wrong type in it (syntax was checked as
// the decoder read the whole value) marks that map alone Malformed; null is a Malformed map,
// and null is true.
func decodeMap(dec *json.Decoder) (m Map, null bool, err error) {
	var jm *jsonMap
	err = dec.Decode(&jm)
	var typeErr *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &typeErr) {
		return Map{}, false, malformedJSON(err)
	}
	m = fromJSON(jm)
	m.Malformed = m.Malformed || err != nil
	return m, err == nil && jm == nil, nil
}

// malformedJSON wraps a decoder's syntax error, or the end of the input, in ErrMalformedJSON;
// the reader's own errors (a protocol error, a timeout) are returned as they are, and nil
// stays nil.
func malformedJSON(err error) error {
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: unexpected end of JSON input", ErrMalformedJSON)
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("%w: %w", ErrMalformedJSON, err)
	}
	return err
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
