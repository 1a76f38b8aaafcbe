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

package multipathconf

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
)

// Tests that render, then read back with the real multipath-tools parser of every version of
// the matrix (mptest.ForEach).

// confFiles keeps the multipath.conf files of a render (not the allow-list).
func confFiles(r *Rendered) map[string]string {
	files := map[string]string{}
	for _, f := range r.Files {
		if strings.HasSuffix(f.Name, ".conf") {
			files[f.Name] = f.Content
		}
	}
	return files
}

// stringSamples are valid values of the API's free-text knobs, chosen to stress quoting.
var stringSamples = map[string][]string{
	"prio_args": {"exclusive_pref_bit", "io_num=20 base_num=10", `hbtl "1:0:.:." 1 #x !y`, `"`, `""`, `a"b""c`,
		`x" } multipath { wwid "evil`, " leading and trailing ", `\`, "données 漢字", "{", "}", "#", "!",
		strings.Repeat(`"`, 255), strings.Repeat("𝄞", 240)},
	"reservation_key": {"file", "0x1", "0x123abc:aptpl", "0xffffffffffffffff", "0x00ABcd:aptpl"},
}

// knobForms returns every form a knob takes: each enum value and keyword, both booleans, the
// ends of each range (as narrowed for multipath-tools 0.9.4), and the string samples.
func knobForms(k *Keyword) []Value {
	v := &k.Value
	lo, hi := v.Min, v.Max
	if v.Parser != nil {
		lo, hi = max(lo, v.Parser.Min), min(hi, v.Parser.Max)
	}
	ints := []Value{{Set: true, IsInt: true, Int: lo}, {Set: true, IsInt: true, Int: (lo + hi) / 2}, {Set: true, IsInt: true, Int: hi}}
	var forms []Value
	switch v.Kind {
	case KindEnum, KindIntOrKeyword:
		for _, e := range v.Enum {
			forms = append(forms, Value{Set: true, Str: e})
		}
		if v.Kind == KindIntOrKeyword {
			forms = append(forms, ints...)
		}
	case KindBool:
		forms = []Value{{Set: true, IsBool: true, Bool: false}, {Set: true, IsBool: true, Bool: true}}
	case KindInt:
		forms = ints
	case KindString:
		for _, s := range stringSamples[k.Name] {
			forms = append(forms, Value{Set: true, Str: s})
		}
	}
	return forms
}

// setField sets one API field, by its JSON name, to v.
func setField(t testing.TB, obj any, field string, v Value) {
	t.Helper()
	var value any = v.Str
	switch {
	case v.IsInt:
		value = v.Int
	case v.IsBool:
		value = v.Bool
	}
	raw, err := json.Marshal(map[string]any{field: value})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}

// readBack is what multipath -t prints for a value we render as want. multipath-tools
// normalises a few values; each exception says why.
func readBack(version, keyword, want string) string {
	switch {
	case keyword == "marginal_pathgroups" && CompareVersions(version, "0.9.0") >= 0:
		// Rendered yes/no, which every version takes; 0.9 on print their own on/off.
		return map[string]string{"yes": "on", "no": "off"}[want]
	case keyword == "marginal_path_err_rate_threshold" && want == "0":
		// 0 is multipath-tools' "unset" for this knob: it prints the default, "no".
		return "no"
	case keyword == "retrigger_tries" && CompareVersions(version, "0.11.0") < 0:
		// multipath(8)'s main() sets retrigger_tries to 0 for itself before -t prints the
		// config (only multipathd retriggers); multipathd uses the configured value. 0.11 on
		// print the configured value.
		return "0"
	case keyword == "reservation_key" && strings.HasPrefix(want, "0x"):
		// Printed as a number: lowercase hex, no leading zeros.
		key, aptpl, _ := strings.Cut(want, ":")
		n, _ := strconv.ParseUint(key[2:], 16, 64)
		if aptpl != "" {
			return "0x" + strconv.FormatUint(n, 16) + ":" + aptpl
		}
		return "0x" + strconv.FormatUint(n, 16)
	}
	return want
}

// TestEveryLUNKnobFormReadsBack renders one LUN per knob form and reads them all back.
func TestEveryLUNKnobFormReadsBack(t *testing.T) {
	type expectation struct{ keyword, want string }
	expect := map[string]expectation{}
	var luns []mpv1alpha1.MultipathWWID
	for _, i := range lunKnobs {
		k := &keywords[i]
		for j, form := range knobForms(k) {
			w := lun("k", "k-"+k.Name+"-"+strconv.Itoa(j))
			setField(t, &w.Spec.LUNKnobs, k.Field, form)
			luns = append(luns, w)
			expect[w.Spec.WWID] = expectation{k.Name, k.Value.Text(form)}
		}
	}
	for i := range luns {
		luns[i].Name = "lun-" + strconv.Itoa(i)
	}
	mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
		// What this version does not take is left out here, and proven by TestLimitsMatchRealParsers.
		var taken []mpv1alpha1.MultipathWWID
		for _, w := range luns {
			e := expect[w.Spec.WWID]
			if _, limited := LimitFor(parser.Version, e.keyword, SectionMultipath, e.want, false); !limited {
				taken = append(taken, w)
			}
		}
		r, err := Render(nil, taken)
		if err != nil {
			t.Fatal(err)
		}
		cfg := parser.Parse(t, confFiles(r))
		if n := len(cfg.Subsections["multipaths/multipath"]); n != len(taken) {
			t.Errorf("multipath -t shows %d multipath entries, want %d", n, len(taken))
		}
		for _, w := range taken {
			e := expect[w.Spec.WWID]
			mp := cfg.Multipaths[w.Spec.WWID]
			if got, want := mp.Get(e.keyword), readBack(parser.Version, e.keyword, e.want); got != want {
				t.Errorf("%s %q read back as %q, want %q", e.keyword, e.want, got, want)
			}
			if keys := slices.Sorted(maps.Keys(mp)); !slices.Equal(keys, slices.Sorted(slices.Values([]string{"wwid", "alias", e.keyword}))) {
				t.Errorf("%s %q: the entry has keywords %v", e.keyword, e.want, keys)
			}
			if got := mp.Get("alias"); got != w.Spec.WWID {
				t.Errorf("%s %q: alias %q, want the WWID", e.keyword, e.want, got)
			}
		}
	})
}

// TestEveryDefaultsKnobFormReadsBack renders spec.defaults with every knob set, once per form
// (each knob cycles through its forms), and reads the defaults section back.
func TestEveryDefaultsKnobFormReadsBack(t *testing.T) {
	rounds := 0
	for _, i := range defaultsKnobs {
		rounds = max(rounds, len(knobForms(&keywords[i])))
	}
	mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
		for round := range rounds {
			t.Run("round "+strconv.Itoa(round), func(t *testing.T) {
				config := clusterConfig()
				want := map[string]string{}
				for _, i := range defaultsKnobs {
					k := &keywords[i]
					forms := knobForms(k)
					form := forms[round%len(forms)]
					if _, limited := LimitFor(parser.Version, k.Name, SectionDefaults, k.Value.Text(form), false); limited {
						continue // proven by TestLimitsMatchRealParsers
					}
					setField(t, &config.Spec.Defaults, k.Field, form)
					want[k.Name] = k.Value.Text(form)
				}
				r, err := Render(config, nil)
				if err != nil {
					t.Fatal(err)
				}
				defaults := parser.Parse(t, confFiles(r)).Sections["defaults"]
				for keyword, value := range want {
					if got, w := defaults.Get(keyword), readBack(parser.Version, keyword, value); got != w {
						t.Errorf("%s %q read back as %q, want %q", keyword, value, got, w)
					}
				}
				for keyword, value := range map[string]string{"user_friendly_names": "no", "find_multipaths": "strict"} {
					if got := defaults.Get(keyword); got != value {
						t.Errorf("%s = %q, want %q", keyword, got, value)
					}
				}
			})
		}
	})
}

// TestIdentitiesReadBack renders WWIDs and aliases at the edges of their patterns and reads them
// back, one map per LUN.
func TestIdentitiesReadBack(t *testing.T) {
	aliases := []string{"a", "pg-data_01.x:y", "{data}", "$x;y|z&`w`*?[]()<>%^~=+,@", "données", "漢字", "mpath1", "MPATHA",
		"mpatha1", strings.Repeat("𝄞", 64), strings.Repeat("z", 64), "\u00a0nbsp", "x}"}
	var luns []mpv1alpha1.MultipathWWID
	for i, a := range aliases {
		luns = append(luns, lun("l"+strconv.Itoa(i), "3600a098-0383.0305:345_3f"+strconv.Itoa(i), withAlias(a)))
	}
	// The longest WWID that can name its own map, one that needs an alias, and the characters
	// a regex reads as operators (only '.' is one in the API's charset).
	luns = append(luns, lun("long", strings.Repeat("A", MaxMapNameBytes)),
		lun("longest", strings.Repeat("B", 128), withAlias("longest")), lun("dots", "...:::---___"))
	r, err := Render(nil, luns)
	if err != nil {
		t.Fatal(err)
	}
	mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
		cfg := parser.Parse(t, confFiles(r))
		if n := len(cfg.Subsections["multipaths/multipath"]); n != len(luns) {
			t.Errorf("multipath -t shows %d multipath entries, want %d", n, len(luns))
		}
		var wantExcepted []string
		for _, w := range luns {
			wantExcepted = append(wantExcepted, WWIDPattern(w.Spec.WWID))
			mp, ok := cfg.Multipaths[w.Spec.WWID]
			if !ok {
				t.Errorf("WWID %q did not read back", w.Spec.WWID)
				continue
			}
			if got, want := mp.Get("alias"), MapName(&w.Spec); got != want {
				t.Errorf("WWID %q: alias read back as %q, want %q", w.Spec.WWID, got, want)
			}
		}
		got := slices.Sorted(slices.Values(cfg.Sections["blacklist_exceptions"]["wwid"]))
		if slices.Sort(wantExcepted); !slices.Equal(got, wantExcepted) {
			t.Errorf("blacklist_exceptions wwid = %q, want %q", got, wantExcepted)
		}
	})
}

// TestHostBlacklistDoesNotHideManagedLUNs: the baseline's exceptions outrank a host file that
// blacklists every WWID, and except nothing but the managed WWIDs. The real parser prints the
// merged lists; libmultipath's filter_wwid (blacklist.c, every tested version) tries the
// exceptions first, which the regexps here replay with Go's POSIX engine.
func TestHostBlacklistDoesNotHideManagedLUNs(t *testing.T) {
	r, err := Render(nil, []mpv1alpha1.MultipathWWID{lun("a", "3600a.b"), lun("b", "3600c", withAlias("db"))})
	if err != nil {
		t.Fatal(err)
	}
	files := confFiles(r)
	files["10-host.conf"] = "blacklist {\n\twwid \".*\"\n}\nblacklist_exceptions {\n\twwid \"^boot$\"\n}\n"
	mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
		cfg := parser.Parse(t, files)
		excepted := cfg.Sections["blacklist_exceptions"]["wwid"]
		if want := []string{"^boot$", `^3600a\.b$`, "^3600c$"}; !slices.Equal(slices.Sorted(slices.Values(excepted)), slices.Sorted(slices.Values(want))) {
			t.Fatalf("blacklist_exceptions wwid = %q, want %q", excepted, want)
		}
		if got := cfg.Sections["blacklist"]["wwid"]; !slices.Contains(got, ".*") {
			t.Fatalf("the host blacklist is gone: %q", got)
		}
		for wwid, want := range map[string]bool{"3600a.b": true, "3600c": true, "boot": true, "3600aXb": false, "3600a.bc": false, "x3600c": false} {
			exceptedNow := slices.ContainsFunc(excepted, func(p string) bool { return regexp.MustCompilePOSIX(p).MatchString(wwid) })
			if exceptedNow != want {
				t.Errorf("WWID %q excepted = %v, want %v", wwid, exceptedNow, want)
			}
		}
		for wwid, name := range map[string]string{"3600a.b": "3600a.b", "3600c": "db"} {
			if got := cfg.Multipaths[wwid].Get("alias"); got != name {
				t.Errorf("WWID %s: alias %q, want %q", wwid, got, name)
			}
		}
	})
}

// TestNoInjection tries to break out of a value: validation refuses it, or it reads back as one
// literal value with no extra map or keyword.
func TestNoInjection(t *testing.T) {
	const breakout = `x" } multipath { wwid "evil`
	tests := map[string]struct {
		lun        mpv1alpha1.MultipathWWID
		refused    string // part of the render error; "" when it must render
		prioArgsIs string
	}{
		"a quote in an alias is refused": {
			lun:     lun("a", "3600a", withAlias(breakout)),
			refused: `spec.alias: Invalid value: "x\" } multipath { wwid \"evil": alias must not hold whitespace`,
		},
		"a quote in a WWID is refused": {
			lun:     lun("a", `3600a" alias "x`),
			refused: "spec.wwid: Invalid value",
		},
		"a newline in prioArgs is refused": {
			lun:     lun("a", "3600a", withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = "x\"\n}\nmultipath {\nwwid \"evil" })),
			refused: `prioArgs must not contain control characters (found '\n' at byte 2)`,
		},
		"a carriage return in prioArgs is refused": {
			lun:     lun("a", "3600a", withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = "x\ry" })),
			refused: `prioArgs must not contain control characters (found '\r' at byte 1)`,
		},
		"a NUL in prioArgs is refused": {
			lun:     lun("a", "3600a", withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = "x\x00y" })),
			refused: `prioArgs must not contain control characters (found '\x00' at byte 1)`,
		},
		"a quote breakout in prioArgs stays one literal value": {
			lun:        lun("a", "3600a", withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = breakout })),
			prioArgsIs: breakout,
		},
		"doubled quotes and comment characters in prioArgs stay literal": {
			lun:        lun("a", "3600a", withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = `"" } # ! { ""` })),
			prioArgsIs: `"" } # ! { ""`,
		},
		"an enum value with a quote is refused": {
			lun:     lun("a", "3600a", withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.Prio = `alua" wwid "evil` })),
			refused: `spec.prio: Unsupported value: "alua\" wwid \"evil"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := Render(nil, []mpv1alpha1.MultipathWWID{tc.lun})
			if tc.refused != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("error = %v, want one containing %q", err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
				cfg := parser.Parse(t, confFiles(r))
				if len(cfg.Multipaths) != 1 || len(cfg.Subsections["multipaths/multipath"]) != 1 {
					t.Fatalf("multipath -t shows entries %v", slices.Collect(maps.Keys(cfg.Multipaths)))
				}
				mp := cfg.Multipaths[tc.lun.Spec.WWID]
				if got := mp.Get("prio_args"); got != tc.prioArgsIs {
					t.Errorf("prio_args = %q, want %q", got, tc.prioArgsIs)
				}
				if len(mp) != 3 || mp.Get("alias") != tc.lun.Spec.WWID {
					t.Errorf("the entry has keywords %v", mp)
				}
			})
		})
	}
}

// TestHostKeepsItsNamingAndDetection: the baseline sets no host-wide naming or detection
// keyword, so a host drop-in's user_friendly_names and find_multipaths stand, while the
// managed maps are named per map whatever they are, and the typed defaults still win over the
// overrides and earlier files.
func TestHostKeepsItsNamingAndDetection(t *testing.T) {
	config := clusterConfig(withOverrides("defaults {\n\tmax_fds 8192\n}\n"),
		withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.NoPathRetry = intOrStr("fail") }))
	r, err := Render(config, []mpv1alpha1.MultipathWWID{lun("a", "3600a"), lun("b", "3600b", withAlias("db"))})
	if err != nil {
		t.Fatal(err)
	}
	files := confFiles(r)
	files["50-host.conf"] = "defaults {\n\tuser_friendly_names yes\n\tfind_multipaths greedy\n\tno_path_retry queue\n\tmax_fds 100\n}\n"
	mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
		cfg := parser.Parse(t, files)
		defaults := cfg.Sections["defaults"]
		want := map[string]string{"user_friendly_names": "yes", "find_multipaths": "greedy", "no_path_retry": "fail", "max_fds": "8192"}
		for keyword, value := range want {
			if got := defaults.Get(keyword); got != value {
				t.Errorf("%s = %q, want %q", keyword, got, value)
			}
		}
		for wwid, name := range map[string]string{"3600a": "3600a", "3600b": "db"} {
			if got := cfg.Multipaths[wwid].Get("alias"); got != name {
				t.Errorf("WWID %s: alias %q, want %q", wwid, got, name)
			}
		}
	})
}
