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

package hostfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// ErrWouldRename: the candidate config would rename maps the operator does not manage, or an
// open map it did not name.
var ErrWouldRename = errors.New("the config would rename maps kube-multipath does not manage")

// Rename is a map whose name the candidate config would change.
type Rename struct {
	// WWID is the map's WWID.
	WWID string
	// From is its name now, To the name multipathd would give it.
	From, To string
	// Reason says which setting names it To.
	Reason string
	// Users says what holds the map open, in words, when that is why the rename is refused (a
	// map the candidate would adopt); "" otherwise.
	Users string
}

func (r Rename) String() string {
	s := fmt.Sprintf("%s (%s) would become %s: %s", r.From, r.WWID, r.To, r.Reason)
	if r.Users != "" {
		s += "; it is in use: " + r.Users
	}
	return s
}

// EffectiveConfig is what the prediction needs of the merged configuration `multipath -t`
// prints for the candidate (every file multipathd would read).
type EffectiveConfig struct {
	// UserFriendlyNames is defaults' user_friendly_names; OverridesUserFriendlyNames the
	// overrides section's, "" when it sets none.
	UserFriendlyNames, OverridesUserFriendlyNames string
	// AliasPrefix is defaults' alias_prefix ("mpath" when unset).
	AliasPrefix string
	// BindingsFile is defaults' bindings_file, when the version prints it.
	BindingsFile string
	// Multipaths maps each multipaths entry's WWID to its alias and user_friendly_names.
	Multipaths map[string]MultipathEntry
}

// MultipathEntry is a multipaths/multipath entry's naming keywords.
type MultipathEntry struct{ Alias, UserFriendlyNames string }

// ParseEffectiveConfig reads `multipath -t` output: sections of `keyword value` lines, values
// quoted with "" for a quote.
func ParseEffectiveConfig(out []byte) (*EffectiveConfig, error) {
	c := &EffectiveConfig{AliasPrefix: "mpath", Multipaths: map[string]MultipathEntry{}}
	var stack []string
	var wwid string
	var entry MultipathEntry
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if line == "}" {
			if len(stack) == 0 {
				return nil, errors.New("multipath -t output: unbalanced braces")
			}
			if strings.Join(stack, "/") == "multipaths/multipath" && wwid != "" {
				c.Multipaths[wwid] = entry
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if name, ok := strings.CutSuffix(line, " {"); ok {
			stack = append(stack, name)
			wwid, entry = "", MultipathEntry{}
			continue
		}
		keyword, value, _ := strings.Cut(line, " ")
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = strings.ReplaceAll(value[1:len(value)-1], `""`, `"`)
		}
		switch strings.Join(stack, "/") + ":" + keyword {
		case "defaults:user_friendly_names":
			c.UserFriendlyNames = value
		case "defaults:alias_prefix":
			c.AliasPrefix = value
		case "defaults:bindings_file":
			c.BindingsFile = value
		case "overrides:user_friendly_names":
			c.OverridesUserFriendlyNames = value
		case "multipaths/multipath:wwid":
			wwid = value
		case "multipaths/multipath:alias":
			entry.Alias = value
		case "multipaths/multipath:user_friendly_names":
			entry.UserFriendlyNames = value
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(stack) != 0 {
		return nil, errors.New("multipath -t output: unbalanced braces")
	}
	return c, nil
}

// readBindings reads a bindings file ("alias wwid" a line, # comments) into WWID -> alias and
// alias -> WWID; a missing file is empty.
func readBindings(path string) (byWWID, byAlias map[string]string, err error) {
	byWWID, byAlias = map[string]string{}, map[string]string{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return byWWID, byAlias, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for line := range strings.Lines(string(b)) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if _, dup := byWWID[f[1]]; !dup {
			byWWID[f[1]] = f[0]
		}
		if _, dup := byAlias[f[0]]; !dup {
			byAlias[f[0]] = f[1]
		}
	}
	return byWWID, byAlias, nil
}

// PredictRenames predicts, as libmultipath's select_alias does (propsel.c, 0.8.4 to 0.14.3),
// the name each existing map not managed by the candidate gets under cfg, and returns those
// whose name would change. managed are the WWIDs the candidate (or the config it replaces)
// names itself; bindings is the host path of the bindings file. select_alias takes a multipaths
// entry's alias first; else, with user_friendly_names (multipaths entry > overrides > device >
// defaults; a device section's setting cannot be told from here and is not considered), the
// map keeps a name it already has from the bindings file, or one with the alias prefix that no
// other WWID is bound to (use_existing_alias), else gets a new one; else the WWID.
func PredictRenames(before []multipathd.Map, cfg *EffectiveConfig, managed func(wwid string) bool, bindings string) ([]Rename, error) {
	byWWID, byAlias, err := readBindings(bindings)
	if err != nil {
		return nil, fmt.Errorf("reading the bindings file: %w", err)
	}
	var out []Rename
	for _, m := range before {
		if m.UUID == "" || managed(m.UUID) {
			continue
		}
		to, reason := predictName(m, cfg, byWWID, byAlias)
		if to != m.Name {
			out = append(out, Rename{WWID: m.UUID, From: m.Name, To: to, Reason: reason})
		}
	}
	slices.SortFunc(out, func(a, b Rename) int { return strings.Compare(a.WWID, b.WWID) })
	return out, nil
}

// PredictAdoptions returns the open maps the candidate would rename by managing their WWID:
// each existing map whose WWID rendered names differently (WWID -> name), that inUse says
// something holds (what, in words; "" when nothing does), and whose name now is not the one
// previous (the managed names of the config the candidate replaces) gave it. The host named
// such a map itself (user_friendly_names, its own bindings file, an alias of its own), and
// fstab, LVM or a process know it by that name: the operator must not take it over under
// another. A rename of a name the operator gave was decided by the manager, which holds it
// while the LUN is in use unless forced; a closed map is adopted and renamed, nothing notices.
// A nil inUse counts every map as closed. Sorted by WWID.
func PredictAdoptions(before []multipathd.Map, rendered, previous map[string]string, inUse func(multipathd.Map) string) []Rename {
	if inUse == nil {
		return nil
	}
	var out []Rename
	for _, m := range before {
		to, managed := rendered[m.UUID]
		if m.UUID == "" || !managed || to == m.Name || previous[m.UUID] == m.Name {
			continue
		}
		users := inUse(m)
		if users == "" {
			continue
		}
		named := "names it " + to
		if to == m.UUID {
			named = "names it after its WWID"
		}
		out = append(out, Rename{WWID: m.UUID, From: m.Name, To: to, Users: users,
			Reason: "the rendered config " + named + ", and kube-multipath did not give it its name " + m.Name + " (the host did)"})
	}
	slices.SortFunc(out, func(a, b Rename) int { return strings.Compare(a.WWID, b.WWID) })
	return out
}

func predictName(m multipathd.Map, cfg *EffectiveConfig, byWWID, byAlias map[string]string) (string, string) {
	e, hasEntry := cfg.Multipaths[m.UUID]
	if hasEntry && e.Alias != "" {
		return e.Alias, "its multipaths entry sets alias " + strconv.Quote(e.Alias)
	}
	ufn, where := cfg.UserFriendlyNames, "defaults"
	if cfg.OverridesUserFriendlyNames != "" {
		ufn, where = cfg.OverridesUserFriendlyNames, "the overrides section"
	}
	if hasEntry && e.UserFriendlyNames != "" {
		ufn, where = e.UserFriendlyNames, "its multipaths entry"
	}
	if ufn != "yes" {
		return m.UUID, "user_friendly_names is " + strconv.Quote(orNo(ufn)) + " in " + where + ", so the map is named after its WWID"
	}
	if alias, ok := byWWID[m.UUID]; ok {
		return alias, "user_friendly_names is yes in " + where + " and the bindings file binds it to " + alias
	}
	if strings.HasPrefix(m.Name, cfg.AliasPrefix) && byAlias[m.Name] == "" {
		return m.Name, "" // use_existing_alias keeps a free name with the prefix
	}
	return cfg.AliasPrefix + "<next free>", "user_friendly_names is yes in " + where +
		" and the bindings file has no name for it: multipathd would allocate a new " + cfg.AliasPrefix + " name"
}

func orNo(s string) string {
	if s == "" {
		return "no"
	}
	return s
}

// bindingsPath is the bindings file the candidate uses, as a path under the host root.
func (h *Host) bindingsPath(cfg *EffectiveConfig) string {
	p := cfg.BindingsFile
	if p == "" || !filepath.IsAbs(p) {
		p = "/" + EtcMultipathDir + "/bindings"
	}
	return h.path(strings.TrimPrefix(filepath.Clean(p), "/"))
}
