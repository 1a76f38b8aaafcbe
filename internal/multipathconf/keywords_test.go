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
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
)

const crdDir = "../../config/crd/bases"

// loadSpecSchemas returns the spec schema of each kind in config/crd/bases.
func loadSpecSchemas(t *testing.T) map[string]apiextensionsv1.JSONSchemaProps {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no CRDs in %s: %v", crdDir, err)
	}
	specs := map[string]apiextensionsv1.JSONSchemaProps{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Name == "v1alpha1" && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
				specs[crd.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema.Properties["spec"]
			}
		}
	}
	return specs
}

// celUnion reads the CEL rule the API puts on an int-or-keyword union.
var celUnion = regexp.MustCompile(`^type\(self\) == int \? \(self >= (-?\d+) && self <= (-?\d+)\) : (?:self == '([^']*)'|self in \[(.*)\])$`)

// crdKnob is what a CRD says about one field, in the table's terms.
func crdKnob(t *testing.T, name string, p apiextensionsv1.JSONSchemaProps) ValueSpec {
	t.Helper()
	var v ValueSpec
	switch {
	case p.XIntOrString:
		v.Kind = KindIntOrKeyword
		if len(p.XValidations) != 1 {
			t.Errorf("CRD field %s: want one CEL rule on an int-or-string union, got %d", name, len(p.XValidations))
			return v
		}
		m := celUnion.FindStringSubmatch(p.XValidations[0].Rule)
		if m == nil {
			t.Errorf("CRD field %s: CEL rule %q is not of the int-or-keyword shape the table mirrors", name, p.XValidations[0].Rule)
			return v
		}
		v.Min, _ = strconv.ParseInt(m[1], 10, 64)
		v.Max, _ = strconv.ParseInt(m[2], 10, 64)
		if m[3] != "" {
			v.Enum = []string{m[3]}
		} else {
			for _, s := range strings.Split(m[4], ",") {
				v.Enum = append(v.Enum, strings.Trim(strings.TrimSpace(s), "'"))
			}
		}
	case p.Type == "boolean":
		v.Kind = KindBool
	case p.Type == "integer":
		v.Kind = KindInt
		if p.Minimum != nil {
			v.Min = int64(*p.Minimum)
		}
		if p.Maximum != nil {
			v.Max = int64(*p.Maximum)
		}
	case p.Type == "string" && len(p.Enum) > 0:
		v.Kind = KindEnum
		for _, e := range p.Enum {
			var s string
			if err := json.Unmarshal(e.Raw, &s); err != nil {
				t.Errorf("CRD field %s: enum value %s: %v", name, e.Raw, err)
			}
			v.Enum = append(v.Enum, s)
		}
	case p.Type == "string":
		v.Kind = KindString
		v.Pattern = p.Pattern
		for _, r := range p.XValidations {
			// A pattern stated as CEL, so that its refusal reads as words, not as a regexp.
			if m := celMatches.FindStringSubmatch(r.Rule); m != nil {
				v.Pattern = m[1] + strings.ReplaceAll(m[2], `\\`, `\`)
			}
		}
		if p.MinLength != nil {
			v.MinLength = int(*p.MinLength)
		}
		if p.MaxLength != nil {
			v.MaxLength = int(*p.MaxLength)
		}
	default:
		t.Errorf("CRD field %s: type %q is not a knob shape the table knows", name, p.Type)
	}
	return v
}

// celMatches reads the pattern of a CEL rule self.matches with a raw triple-quoted or a quoted string.
var celMatches = regexp.MustCompile(`^self\.matches\((?:r'''(.*)'''|'(.*)')\)$`)

// comparable keeps what the CRD states, in a form that compares whole.
func comparable(v ValueSpec) ValueSpec {
	out := ValueSpec{Kind: v.Kind}
	switch v.Kind {
	case KindEnum, KindIntOrKeyword:
		out.Enum = slices.Sorted(slices.Values(v.Enum))
	}
	switch v.Kind {
	case KindInt, KindIntOrKeyword:
		out.Min, out.Max = v.Min, v.Max
	case KindString:
		out.Pattern, out.MinLength, out.MaxLength = v.Pattern, v.MinLength, v.MaxLength
	}
	return out
}

// TestKeywordTableMatchesCRDs is the drift check: every knob of the CRDs is in the table with the
// same enum, minimum, maximum, pattern, lengths and union keywords, and every API row of the
// table is in the CRDs where its scope says.
func TestKeywordTableMatchesCRDs(t *testing.T) {
	specs := loadSpecSchemas(t)
	wwidSpec, ok := specs["MultipathWWID"]
	if !ok {
		t.Fatal("no MultipathWWID CRD")
	}
	configSpec, ok := specs["MultipathConfig"]
	if !ok {
		t.Fatal("no MultipathConfig CRD")
	}
	notKnobs := map[string]bool{"nodeSelector": true}
	surfaces := map[string]struct {
		props  map[string]apiextensionsv1.JSONSchemaProps
		config bool
		scopes []Scope
	}{
		"MultipathWWID spec":            {wwidSpec.Properties, false, []Scope{ScopeIdentity, ScopeLUN}},
		"MultipathConfig spec.defaults": {configSpec.Properties["defaults"].Properties, true, []Scope{ScopeLUN, ScopeDefaults}},
	}
	for surface, s := range surfaces {
		if len(s.props) == 0 {
			t.Fatalf("%s: no properties in the CRD", surface)
		}
		for name, p := range s.props {
			if notKnobs[name] {
				continue
			}
			row, ok := LookupField(name, s.config)
			if !ok {
				t.Errorf("%s: CRD field %s is missing from the keyword table", surface, name)
				continue
			}
			if got, want := comparable(row.Value), comparable(crdKnob(t, name, p)); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: field %s (%s) drifted:\n table %+v\n CRD   %+v", surface, name, row.Name, got, want)
			}
		}
		for _, row := range keywords {
			if row.Field == "" || !slices.Contains(s.scopes, row.Scope) {
				continue
			}
			if _, ok := s.props[row.Field]; !ok {
				t.Errorf("%s: table row %s (field %s) is not in the CRD", surface, row.Name, row.Field)
			}
		}
	}
	for name := range wwidSpec.Properties {
		if row, ok := LookupField(name, true); ok && row.Scope == ScopeDefaults {
			t.Errorf("MultipathWWID spec has %s, which the table scopes to spec.defaults only", name)
		}
	}

	alias := wwidSpec.Properties["alias"]
	var rules []string
	for _, r := range alias.XValidations {
		rules = append(rules, r.Rule+" => "+r.Message)
	}
	wantRules := []string{
		`self.matches(r'''` + aliasPattern + `''') => ` + msgAliasChars,
		`!self.matches('^mpath[a-z]+$') => ` + msgAliasMpath,
		`!(self in ['.', '..', 'control']) => ` + msgAliasReserved,
	}
	if !reflect.DeepEqual(rules, wantRules) {
		t.Errorf("alias CEL rules changed; validateAlias implements:\n%q\nCRD has:\n%q", wantRules, rules)
	}
	if got := configSpec.Properties["overrides"].MaxLength; got == nil || *got != MaxOverridesBytes {
		t.Errorf("spec.overrides maxLength = %v, want %d", got, MaxOverridesBytes)
	}
}

// TestEveryAPIFieldHasItsOwnAccessor sets each API field alone, through its JSON name, and checks
// that exactly its row reads it back, with the multipath.conf spelling of the value.
func TestEveryAPIFieldHasItsOwnAccessor(t *testing.T) {
	samples := map[ValueKind]func(ValueSpec) (any, string){
		KindEnum:         func(v ValueSpec) (any, string) { return v.Enum[len(v.Enum)-1], v.Enum[len(v.Enum)-1] },
		KindBool:         func(v ValueSpec) (any, string) { return true, v.BoolWords[1] },
		KindInt:          func(v ValueSpec) (any, string) { return v.Max, strconv.FormatInt(v.Max, 10) },
		KindIntOrKeyword: func(v ValueSpec) (any, string) { return v.Enum[0], v.Enum[0] },
	}
	strings := map[string]string{"prioArgs": "exclusive_pref_bit", "reservationKey": "0x123abc:aptpl"}
	check := func(t *testing.T, field string, config bool, obj any, read func(*Keyword) Value) {
		row, ok := LookupField(field, config)
		if !ok {
			t.Fatalf("no row for field %s", field)
		}
		value, want := any(strings[field]), strings[field]
		if sample := samples[row.Value.Kind]; sample != nil {
			value, want = sample(row.Value)
		}
		raw, _ := json.Marshal(map[string]any{field: value})
		if err := json.Unmarshal(raw, obj); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		for i := range keywords {
			k := &keywords[i]
			v := read(k)
			switch {
			case k.Field == field && k.Scope == row.Scope:
				if got := k.Value.Text(v); !v.Set || got != want {
					t.Errorf("%s: row %s reads %q (set %v), want %q", raw, k.Name, got, v.Set, want)
				}
			case v.Set:
				t.Errorf("%s: row %s (field %s) reads it too", raw, k.Name, k.Field)
			}
		}
	}
	for _, f := range jsonFields(reflect.TypeFor[mpv1alpha1.LUNKnobs]()) {
		t.Run("LUNKnobs."+f, func(t *testing.T) {
			var knobs mpv1alpha1.LUNKnobs
			check(t, f, false, &knobs, func(k *Keyword) Value { return k.FromLUN(&knobs) })
		})
	}
	for _, f := range jsonFields(reflect.TypeFor[mpv1alpha1.MultipathDefaults]()) {
		t.Run("MultipathDefaults."+f, func(t *testing.T) {
			var d mpv1alpha1.MultipathDefaults
			check(t, f, true, &d, func(k *Keyword) Value { return k.FromDefaults(&d) })
		})
	}
}

// jsonFields lists the JSON names of a struct's fields, inlined structs flattened.
func jsonFields(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" && strings.Contains(opts, "inline") {
			names = append(names, jsonFields(f.Type)...)
			continue
		}
		names = append(names, name)
	}
	return names
}

// probeSections are the (sub)sections the real-parser test writes every keyword into.
var probeSections = []struct {
	section Section
	open    string
	close   string
}{
	{SectionDefaults, "defaults {\n", "}\n"},
	{SectionBlacklist, "blacklist {\n", "}\n"},
	{SectionBlacklistDevice, "blacklist {\n device {\n", " }\n}\n"},
	{SectionBlacklistExceptions, "blacklist_exceptions {\n", "}\n"},
	{SectionBlacklistExceptionsDevice, "blacklist_exceptions {\n device {\n", " }\n}\n"},
	{SectionDevice, "devices {\n device {\n", " }\n}\n"},
	{SectionOverrides, "overrides {\n", "}\n"},
	{SectionOverridesProtocol, "overrides {\n protocol {\n", " }\n}\n"},
	{SectionMultipath, "multipaths {\n multipath {\n", " }\n}\n"},
}

var (
	invalidKeyword   = regexp.MustCompile(`invalid keyword(?: in the \S+ section)?: (\S+)$`)
	duplicateKeyword = regexp.MustCompile(`duplicate keyword: (\S+)$`)
)

// TestKeywordSectionsMatchRealParser writes every keyword of the table twice into every section
// and asks each version of multipath-tools which it refuses: it must accept exactly the table's
// sections less the version's LimitUnknown limits, and call a repeat a duplicate exactly for
// the rows that are not Repeatable. Keywords spec.overrides may not use are checked on 0.9.4
// only: later versions drop some deprecated ones, which nothing renders or lets through.
func TestKeywordSectionsMatchRealParser(t *testing.T) {
	var names []string
	for _, k := range keywords {
		if !slices.Contains(names, k.Name) {
			names = append(names, k.Name)
		}
	}
	sort.Strings(names)
	mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
		for _, p := range probeSections {
			if _, leaks := LimitFor(parser.Version, "protocol", SectionOverrides, "", true); leaks && p.section == SectionOverridesProtocol {
				continue // no such subsection there (TestLimitsMatchRealParsers)
			}
			t.Run(p.section.String(), func(t *testing.T) {
				var b strings.Builder
				b.WriteString(p.open)
				var probed []string
				for _, name := range names {
					if rootRule.sub["overrides"].sub[name] != nil && p.section == SectionOverrides {
						continue // "protocol" opens a subsection there
					}
					if k := lookup(name, p.section); k != nil && k.Forbidden() && parser.Version != "0.9.4" {
						continue
					}
					probed = append(probed, name)
					b.WriteString("  " + name + " \"1\"\n  " + name + " \"1\"\n")
				}
				b.WriteString(p.close)
				_, stderr, err := parser.Run(map[string]string{"probe.conf": b.String()})
				if err != nil {
					t.Fatal(err)
				}
				refused, duplicate := map[string]bool{}, map[string]bool{}
				for _, line := range stderr {
					if m := invalidKeyword.FindStringSubmatch(line); m != nil {
						refused[m[1]] = true
					}
					if m := duplicateKeyword.FindStringSubmatch(line); m != nil {
						duplicate[m[1]] = true
					}
				}
				for _, name := range probed {
					k, inTable := Lookup(name, p.section)
					l, limited := LimitFor(parser.Version, name, p.section, "1", false)
					want := inTable && !(limited && l.How == LimitUnknown)
					if accepted := !refused[name]; accepted != want {
						t.Errorf("keyword %s: multipath-tools %s accepts it: %v, the table says %v", name, parser.Version, accepted, want)
					}
					if want && duplicate[name] == k.Repeatable {
						t.Errorf("keyword %s: multipath-tools %s calls a repeat a duplicate: %v, the table says repeatable %v", name, parser.Version, duplicate[name], k.Repeatable)
					}
				}
			})
		}
	})
}

func TestLookup(t *testing.T) {
	tests := map[string]struct {
		name      string
		section   Section
		wantOK    bool
		wantKind  ValueKind
		wantField string
		forbidden bool
	}{
		"wwid is an exact, managed value in a multipath subsection": {
			name: "wwid", section: SectionMultipath, wantOK: true, wantKind: KindString, wantField: "wwid", forbidden: true,
		},
		"wwid is a regular expression in blacklist": {
			name: "wwid", section: SectionBlacklist, wantOK: true, wantKind: KindRegex,
		},
		"wwid is not a defaults keyword": {name: "wwid", section: SectionDefaults},
		"no_path_retry is typed, and allowed in devices": {
			name: "no_path_retry", section: SectionDevice, wantOK: true, wantKind: KindIntOrKeyword, wantField: "noPathRetry",
		},
		"user_friendly_names is forbidden": {
			name: "user_friendly_names", section: SectionOverrides, wantOK: true, wantKind: KindString, forbidden: true,
		},
		"reservation_key is not a devices keyword": {name: "reservation_key", section: SectionDevice},
		"an unknown keyword is found nowhere":      {name: "bogus", section: SectionDefaults},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			k, ok := Lookup(tc.name, tc.section)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if k.Value.Kind != tc.wantKind || k.Field != tc.wantField || k.Forbidden() != tc.forbidden {
				t.Errorf("got kind %v field %q forbidden %v, want %v %q %v", k.Value.Kind, k.Field, k.Forbidden(),
					tc.wantKind, tc.wantField, tc.forbidden)
			}
		})
	}
}

func TestSectionString(t *testing.T) {
	if got, want := (SectionDevice | SectionDefaults).String(), "defaults, devices/device"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestTableInvariants checks what the rest of the package assumes of the table.
func TestTableInvariants(t *testing.T) {
	for _, k := range keywords {
		if k.Forbidden() && k.Why == "" {
			t.Errorf("%s is forbidden without a reason", k.Name)
		}
		if (k.Scope == ScopeLUN) != (k.lun != nil) {
			t.Errorf("%s: a ScopeLUN row needs a LUNKnobs accessor, and only it", k.Name)
		}
		if k.Scope == ScopeDefaults && k.defaults == nil {
			t.Errorf("%s: a ScopeDefaults row needs a MultipathDefaults accessor", k.Name)
		}
		if k.Scope == ScopeLUN && k.Sections&(SectionDefaults|SectionMultipath) != SectionDefaults|SectionMultipath {
			t.Errorf("%s: a LUNKnobs row must be accepted in defaults and multipath", k.Name)
		}
		if k.Scope == ScopeDefaults && k.Sections&SectionDefaults == 0 {
			t.Errorf("%s: a defaults knob must be accepted in defaults", k.Name)
		}
		for _, other := range byName[k.Name] {
			if o := keywords[other]; o.Sections&k.Sections != 0 && o.Scope != k.Scope && o.Value.Kind != k.Value.Kind {
				t.Errorf("%s: two rows claim the same section", k.Name)
			}
		}
	}
	if maxQuotedBytes < 900 {
		t.Errorf("maxQuotedBytes = %d: the line budget was computed before the table was indexed", maxQuotedBytes)
	}
}
