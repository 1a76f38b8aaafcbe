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

package hostconf

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Map is a device-mapper multipath map as multipathd shows it.
type Map struct {
	Name string
	WWID string
}

// Conflicts returns the host facts that contradict the managed LUNs, sorted by WWID, type, file
// and line. managed maps each managed WWID to the name the render gives its map (its alias, or
// the WWID itself); maps are the node's current maps.
//
// Only the wwid entries of the host's blacklist and blacklist_exceptions are decided: devnode,
// device, property and protocol entries need the paths' udev properties and sysfs attributes,
// which the agent does not read, so they are left out (Config keeps them).
func (c *Config) Conflicts(managed map[string]string, maps []Map) []mpv1alpha1.HostConflict {
	var out []mpv1alpha1.HostConflict
	bl := c.compile(c.Blacklist.WWID)
	ex := c.compile(c.Exceptions.WWID)
	owner := c.owners(managed, maps)
	if len(bl) > 0 {
		for wwid := range managed {
			if hc, ok := blacklisted(wwid, c.Blacklist.WWID, bl, c.Exceptions.WWID, ex); ok {
				out = append(out, hc)
			}
		}
	}
	for _, mp := range c.Multipaths {
		if mp.Alias == "" {
			continue
		}
		if name, ok := managed[mp.WWID]; ok && mp.Alias != name {
			out = append(out, mpv1alpha1.HostConflict{
				Type: mpv1alpha1.HostConflictAliasDiffers, WWID: mp.WWID, Alias: mp.Alias,
				File: mp.AliasPos.File, Line: int32(mp.AliasPos.Line),
				Message: fmt.Sprintf("%s names managed WWID %s %q where the operator names it %q", mp.AliasPos, mp.WWID, mp.Alias, name),
			})
		}
		if wwid, ok := owner[mp.Alias]; ok && wwid != mp.WWID {
			out = append(out, mpv1alpha1.HostConflict{
				Type: mpv1alpha1.HostConflictAliasTaken, WWID: wwid, Alias: mp.Alias,
				File: mp.AliasPos.File, Line: int32(mp.AliasPos.Line),
				Message: fmt.Sprintf("%s gives alias %q to WWID %s; the operator gives it to managed WWID %s", mp.AliasPos, mp.Alias, mp.WWID, wwid),
			})
		}
	}
	for _, b := range c.Bindings {
		if wwid, ok := owner[b.Alias]; ok && wwid != b.WWID {
			out = append(out, mpv1alpha1.HostConflict{
				Type: mpv1alpha1.HostConflictAliasTaken, WWID: wwid, Alias: b.Alias,
				File: b.File, Line: int32(b.Line),
				Message: fmt.Sprintf("%s binds name %q to WWID %s; the operator gives it to managed WWID %s", b.Pos, b.Alias, b.WWID, wwid),
			})
		}
	}
	for _, m := range maps {
		if wwid, ok := owner[m.Name]; ok && m.WWID != "" && wwid != m.WWID {
			out = append(out, mpv1alpha1.HostConflict{
				Type: mpv1alpha1.HostConflictAliasTaken, WWID: wwid, Alias: m.Name,
				Message: fmt.Sprintf("map %q already exists for WWID %s; the operator gives that name to managed WWID %s", m.Name, m.WWID, wwid),
			})
		}
	}
	slices.SortFunc(out, func(a, b mpv1alpha1.HostConflict) int {
		return cmp.Or(cmp.Compare(a.WWID, b.WWID), cmp.Compare(a.Type, b.Type), cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line), cmp.Compare(a.Alias, b.Alias))
	})
	return out
}

// owners maps each name the host or its maps use (an alias of its multipaths section, a
// binding, a map's name) to the managed WWID the render gives that name, if any. It is built
// from the host's names, tens or hundreds, not by inverting managed (10,000 LUNs), which each
// pass of every agent would otherwise do.
func (c *Config) owners(managed map[string]string, current []Map) map[string]string {
	owner := map[string]string{}
	for _, mp := range c.Multipaths {
		if mp.Alias != "" {
			owner[mp.Alias] = ""
		}
	}
	for _, b := range c.Bindings {
		owner[b.Alias] = ""
	}
	for _, m := range current {
		owner[m.Name] = ""
	}
	if len(owner) == 0 {
		return owner
	}
	for wwid, name := range managed {
		if _, ok := owner[name]; ok {
			owner[name] = wwid
		}
	}
	maps.DeleteFunc(owner, func(_, wwid string) bool { return wwid == "" })
	return owner
}

func (c *Config) compile(rs []Regex) []compiled {
	out := make([]compiled, len(rs))
	for i, r := range rs {
		out[i] = compileERE(r.Raw, c.invert)
	}
	return out
}

// blacklisted decides filter_wwid: an exception that matches wins, else a blacklist entry that
// matches blacklists. A regex Go cannot decide that could change the verdict makes the result
// a conflict whose message says it could not be decided; it is never guessed either way.
func blacklisted(wwid string, bl []Regex, blc []compiled, ex []Regex, exc []compiled) (mpv1alpha1.HostConflict, bool) {
	var undecidedEx *Regex
	var exErr error
	for i, c := range exc {
		if c.err != nil {
			if undecidedEx == nil {
				undecidedEx, exErr = &ex[i], c.err
			}
			continue
		}
		if c.match(wwid) {
			return mpv1alpha1.HostConflict{}, false
		}
	}
	hc := mpv1alpha1.HostConflict{Type: mpv1alpha1.HostConflictBlacklisted, WWID: wwid}
	for i, c := range blc {
		if c.err != nil || !c.match(wwid) {
			continue
		}
		hc.File, hc.Line = bl[i].File, int32(bl[i].Line)
		hc.Message = fmt.Sprintf("%s blacklists managed WWID %s (wwid %q) and no host blacklist_exceptions entry excepts it; the operator's own exception for it outranks the host's blacklist", bl[i].Pos, wwid, bl[i].Raw)
		if undecidedEx != nil {
			hc.Message = fmt.Sprintf("%s blacklists managed WWID %s (wwid %q) unless the exception at %s excepts it, which cannot be decided: %v", bl[i].Pos, wwid, bl[i].Raw, undecidedEx.Pos, exErr)
		}
		return hc, true
	}
	for i, c := range blc {
		if c.err == nil {
			continue
		}
		hc.File, hc.Line = bl[i].File, int32(bl[i].Line)
		hc.Message = fmt.Sprintf("%s may blacklist managed WWID %s: %v; check it by hand", bl[i].Pos, wwid, c.err)
		return hc, true
	}
	return hc, false
}

// ManagedNames maps each managed WWID to the name the rendered config gives its map: the
// alias of its multipaths entry in the rendered files, or the WWID itself.
func ManagedNames(wwids []string, renderedFiles ...[]byte) map[string]string {
	out := make(map[string]string, len(wwids))
	for _, w := range wwids {
		out[w] = w
	}
	for _, f := range renderedFiles {
		for _, mp := range parse("", f, false).multipaths {
			if _, ok := out[mp.WWID]; ok && mp.Alias != "" {
				out[mp.WWID] = mp.Alias
			}
		}
	}
	return out
}
