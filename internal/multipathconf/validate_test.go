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
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

var (
	wwidPath     = field.NewPath("spec", "wwid")
	aliasPath    = field.NewPath("spec", "alias")
	defaultsPath = field.NewPath("spec", "defaults")
)

const validWWID = "3600a098038303053453f463045727a4d"

func TestValidateMultipathWWID(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := map[string]struct {
		lun  mpv1alpha1.MultipathWWID
		want field.ErrorList
	}{
		"a LUN with an alias and knobs is valid": {
			lun: lun("db", validWWID, withAlias("db-data_01.a:b"), withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) {
				k.NoPathRetry, k.PathGroupingPolicy, k.PrioArgs = intOrStr("queue"), mpv1alpha1.PathGroupingGroupByPrio, `weighted "x" #1 !2`
				k.ReservationKey, k.SkipKpartx, k.MarginalPathErrRateThreshold = "0x123abc:aptpl", boolPtr(true), intOrInt(1)
			})),
		},
		"a non-ASCII alias and one that merely starts with mpath are valid": {
			lun: lun("db", validWWID, withAlias("données-mpath1")),
		},
		"uppercase mpath names are valid (the rule is case-sensitive)": {
			lun: lun("db", validWWID, withAlias("MPATHA")),
		},
		"the wwid is required": {
			lun:  lun("db", ""),
			want: field.ErrorList{field.Required(wwidPath, "wwid is required")},
		},
		"a wwid with a blank breaks the pattern": {
			lun:  lun("db", "36 00"),
			want: field.ErrorList{field.Invalid(wwidPath, "36 00", "wwid may contain only letters, digits, '.', '_', ':' and '-' (found ' ' at byte 2)")},
		},
		"a wwid with a quote breaks the pattern": {
			lun:  lun("db", `36"00`),
			want: field.ErrorList{field.Invalid(wwidPath, `36"00`, `wwid may contain only letters, digits, '.', '_', ':' and '-' (found '"' at byte 2)`)},
		},
		"a wwid longer than 128 characters": {
			lun:  lun("db", long),
			want: field.ErrorList{field.TooLongCharacters(wwidPath, long, 128)},
		},
		"a 128-character wwid without an alias, too long to name its map": {
			lun: lun("db", long[:128]),
			want: field.ErrorList{field.Required(field.NewPath("spec", "alias"), "alias is required when spec.wwid is longer than 127 characters (128): "+
				"without one the map is named after its WWID, and a device-mapper map name holds at most 127")},
		},
		"a 128-character wwid with an alias": {
			lun: lun("db", long[:128], withAlias("db")),
		},
		"a 127-character wwid names its own map": {
			lun: lun("db", long[:127]),
		},
		"an alias with a blank": {
			lun:  lun("db", validWWID, withAlias("my data")),
			want: field.ErrorList{aliasCharError("my data", "' ' at byte 2")},
		},
		"an alias with a #": {
			lun:  lun("db", validWWID, withAlias("a#b")),
			want: field.ErrorList{aliasCharError("a#b", "'#' at byte 1")},
		},
		"an alias with a !": {
			lun:  lun("db", validWWID, withAlias("a!")),
			want: field.ErrorList{aliasCharError("a!", "'!' at byte 1")},
		},
		"an alias with a slash": {
			lun:  lun("db", validWWID, withAlias("a/b")),
			want: field.ErrorList{aliasCharError("a/b", "'/' at byte 1")},
		},
		"an alias with a backslash": {
			lun:  lun("db", validWWID, withAlias(`a\b`)),
			want: field.ErrorList{aliasCharError(`a\b`, `'\\' at byte 1`)},
		},
		"an alias with a single quote": {
			lun:  lun("db", validWWID, withAlias("a'b")),
			want: field.ErrorList{aliasCharError("a'b", `'\'' at byte 1`)},
		},
		"an alias with a double quote": {
			lun:  lun("db", validWWID, withAlias(`x" } multipath { wwid "evil`)),
			want: field.ErrorList{aliasCharError(`x" } multipath { wwid "evil`, `'"' at byte 1`)},
		},
		"an alias with a newline": {
			lun:  lun("db", validWWID, withAlias("a\nb")),
			want: field.ErrorList{aliasCharError("a\nb", `'\n' at byte 1`)},
		},
		"an alias with DEL": {
			lun:  lun("db", validWWID, withAlias("a\x7f")),
			want: field.ErrorList{aliasCharError("a\x7f", `'\x7f' at byte 1`)},
		},
		"an alias that is not UTF-8": {
			lun:  lun("db", validWWID, withAlias("a\xff")),
			want: field.ErrorList{field.Invalid(aliasPath, "a\xff", "alias must be valid UTF-8")},
		},
		"an alias that looks like a user_friendly_names name": {
			lun:  lun("db", validWWID, withAlias("mpathab")),
			want: field.ErrorList{field.Invalid(aliasPath, "mpathab", msgAliasMpath)},
		},
		"the alias . is reserved": {
			lun:  lun("db", validWWID, withAlias(".")),
			want: field.ErrorList{field.Invalid(aliasPath, ".", msgAliasReserved)},
		},
		"the alias .. is reserved": {
			lun:  lun("db", validWWID, withAlias("..")),
			want: field.ErrorList{field.Invalid(aliasPath, "..", msgAliasReserved)},
		},
		"the alias control is reserved": {
			lun:  lun("db", validWWID, withAlias("control")),
			want: field.ErrorList{field.Invalid(aliasPath, "control", msgAliasReserved)},
		},
		"an alias of 65 characters": {
			lun:  lun("db", validWWID, withAlias(strings.Repeat("é", 65))),
			want: field.ErrorList{field.TooLongCharacters(aliasPath, strings.Repeat("é", 65), 64)},
		},
		"an enum knob outside its enum": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PathGroupingPolicy = "bogus" })),
			want: field.ErrorList{field.NotSupported(field.NewPath("spec", "pathGroupingPolicy"), "bogus",
				[]string{"failover", "multibus", "group_by_serial", "group_by_prio", "group_by_node_name"})},
		},
		"a union knob below its range": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.NoPathRetry = intOrInt(0) })),
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "noPathRetry"), int64(0),
				"noPathRetry must be queue, fail or a number from 1 to 1000000")},
		},
		"a union knob with a number as a string": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.NoPathRetry = intOrStr("5") })),
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "noPathRetry"), "5",
				"noPathRetry must be queue, fail or a number from 1 to 1000000")},
		},
		"a union knob with an unknown keyword": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.GhostDelay = intOrStr("off") })),
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "ghostDelay"), "off",
				"ghostDelay must be no or a number from 1 to 3600")},
		},
		"marginalPathErrSampleTime below 120": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.MarginalPathErrSampleTime = intOrInt(119) })),
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "marginalPathErrSampleTime"), int64(119),
				"marginalPathErrSampleTime must be no or a number from 120 to 1000000")},
		},
		"integer knobs outside their ranges, reported in table order": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.MaxSectorsKB, k.RRMinIORq = i32(2), i32(0) })),
			want: field.ErrorList{
				field.Invalid(field.NewPath("spec", "rrMinIORq"), int64(0), "rrMinIORq must be a number from 1 to 1000000"),
				field.Invalid(field.NewPath("spec", "maxSectorsKB"), int64(2), "maxSectorsKB must be a number from 4 to 1048576"),
			},
		},
		"prioArgs with a newline": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = "a\nb" })),
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "prioArgs"), "a\nb",
				`prioArgs must not contain control characters (found '\n' at byte 1)`)},
		},
		"prioArgs of 256 characters": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = strings.Repeat("a", 256) })),
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "prioArgs"), strings.Repeat("a", 256),
				"prioArgs must be at most 255 characters")},
		},
		"prioArgs of 255 four-byte characters does not fit on a line": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = strings.Repeat("𝄞", 255) })),
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "prioArgs"), strings.Repeat("𝄞", 255),
				"prioArgs is 1022 bytes once quoted, more than the 986 that fit on one line (multipathd reads at most 1023 bytes per line)")},
		},
		"a reservationKey that is not hex": {
			lun: lun("db", validWWID, withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.ReservationKey = "0xZZ" })),
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "reservationKey"), "0xZZ",
				"reservationKey must match "+reservationKeyPattern)},
		},
		"a node selector with a bad operator": {
			lun: lun("db", validWWID, func(w *mpv1alpha1.MultipathWWID) {
				w.Spec.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near"}}}
			}),
			want: field.ErrorList{field.Invalid(field.NewPath("spec", "nodeSelector", "matchExpressions").Index(0).Child("operator"),
				metav1.LabelSelectorOperator("Near"), "not a valid selector operator")},
		},
		"every error is reported, not only the first": {
			lun: lun("db", "a b", withAlias("mpathx"), withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.RRWeight = "heavy" })),
			want: field.ErrorList{
				field.Invalid(wwidPath, "a b", "wwid may contain only letters, digits, '.', '_', ':' and '-' (found ' ' at byte 1)"),
				field.Invalid(aliasPath, "mpathx", msgAliasMpath),
				field.NotSupported(field.NewPath("spec", "rrWeight"), "heavy", []string{"uniform", "priorities"}),
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assertErrors(t, tc.want, ValidateMultipathWWID(&tc.lun))
		})
	}
}

func aliasCharError(alias, found string) *field.Error {
	return field.Invalid(aliasPath, alias, `alias must not hold whitespace, quotes, '#', '!', '/', '\' or control characters (found `+found+")")
}

func TestValidateMultipathWWIDUpdate(t *testing.T) {
	old := lun("db", validWWID)
	tests := map[string]struct {
		updated mpv1alpha1.MultipathWWID
		want    field.ErrorList
	}{
		"changing the alias is allowed": {updated: lun("db", validWWID, withAlias("data"))},
		"changing the wwid is refused": {
			updated: lun("db", "3600b"),
			want:    field.ErrorList{field.Invalid(wwidPath, "3600b", "wwid is immutable")},
		},
		"changing only the case of the wwid is refused too (the CRD compares exactly)": {
			updated: lun("db", strings.ToUpper(validWWID)),
			want:    field.ErrorList{field.Invalid(wwidPath, strings.ToUpper(validWWID), "wwid is immutable")},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assertErrors(t, tc.want, ValidateMultipathWWIDUpdate(&tc.updated, &old))
		})
	}
}

func TestValidateMultipathConfig(t *testing.T) {
	overridesPath := field.NewPath("spec", "overrides")
	tests := map[string]struct {
		config      *mpv1alpha1.MultipathConfig
		allowListed []string
		want        field.ErrorList
	}{
		"an empty singleton is valid": {config: clusterConfig()},
		"typed defaults and accepted overrides are valid": {
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) {
				d.NoPathRetry, d.Verbosity, d.DevLossTmo, d.FastIOFailTmo = intOrInt(12), i32(4), intOrStr("infinity"), intOrInt(0)
				d.UxsockTimeout, d.MarginalPathgroups, d.PathChecker = i32(4000), boolPtr(false), "tur"
			}), withOverrides("devices {\n device {\n  vendor \"NETAPP\"\n  product \"LUN\"\n }\n}\n")),
		},
		"the name must be cluster": {
			config: clusterConfig(named("other")),
			want:   field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), "other", msgSingleton)},
		},
		"verbosity above what multipath-tools 0.9.4 accepts (the CRD says the same)": {
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.Verbosity = i32(5) })),
			want: field.ErrorList{field.Invalid(defaultsPath.Child("verbosity"), int64(5),
				"verbosity must be a number from 0 to 4")},
		},
		"uxsockTimeout below what multipath-tools 0.9.4 accepts (the CRD says the same)": {
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.UxsockTimeout = i32(100) })),
			want: field.ErrorList{field.Invalid(defaultsPath.Child("uxsockTimeout"), int64(100),
				"uxsockTimeout must be a number from 4000 to 600000")},
		},
		"maxPollingInterval below pollingInterval": {
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.PollingInterval, d.MaxPollingInterval = i32(24), i32(1) })),
			want: field.ErrorList{field.Invalid(defaultsPath.Child("maxPollingInterval"), int64(1),
				"maxPollingInterval must be at least pollingInterval (24): multipathd would silently lower pollingInterval to it")},
		},
		"maxPollingInterval equal to pollingInterval is valid": {
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.PollingInterval, d.MaxPollingInterval = i32(24), i32(24) })),
		},
		"a LUN knob in defaults is checked at its defaults path": {
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.Failback = intOrStr("later") })),
			want: field.ErrorList{field.Invalid(defaultsPath.Child("failback"), "later",
				"failback must be immediate, manual, followover or a number from 1 to 86400")},
		},
		"devLossTmo with an unknown keyword": {
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.DevLossTmo = intOrStr("forever") })),
			want: field.ErrorList{field.Invalid(defaultsPath.Child("devLossTmo"), "forever",
				"devLossTmo must be infinity or a number from 1 to 2147483646")},
		},
		"an enum defaults knob outside its enum": {
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.LogCheckerErr = "never" })),
			want:   field.ErrorList{field.NotSupported(defaultsPath.Child("logCheckerErr"), "never", []string{"once", "always"})},
		},
		"overrides larger than 131072 bytes": {
			config: clusterConfig(withOverrides(strings.Repeat("#\n", 65537))),
			want:   field.ErrorList{field.TooLong(overridesPath, "", 131072)},
		},
		"overrides that break an invariant, one error per line": {
			config: clusterConfig(withOverrides("defaults {\n\tuser_friendly_names yes\n\tno_path_retry fail\n}\n")),
			want: field.ErrorList{
				field.Invalid(overridesPath, field.OmitValueType{}, `line 2: keyword "user_friendly_names" is `+whyMapNames),
				field.Invalid(overridesPath, field.OmitValueType{},
					`line 3: keyword "no_path_retry" is typed by the API: set spec.defaults.noPathRetry instead of a defaults section in spec.overrides`),
			},
		},
		"overrides that blacklist an allow-listed WWID": {
			config:      clusterConfig(withOverrides("blacklist {\n\twwid \"^3600a\"\n}\n")),
			allowListed: []string{validWWID, "3600b"},
			want: field.ErrorList{field.Invalid(overridesPath, field.OmitValueType{},
				`line 2: blacklist wwid "^3600a" matches the allow-listed WWID `+validWWID+": remove it, or add a blacklist_exceptions wwid")},
		},
		"maxUnavailable of zero": {
			config: clusterConfig(func(c *mpv1alpha1.MultipathConfig) { c.Spec.Rollout.MaxUnavailable = intOrInt(0) }),
			want:   field.ErrorList{field.Invalid(field.NewPath("spec", "rollout", "maxUnavailable"), "0", msgMaxUnavail)},
		},
		"maxUnavailable of 101%": {
			config: clusterConfig(func(c *mpv1alpha1.MultipathConfig) { c.Spec.Rollout.MaxUnavailable = intOrStr("101%") }),
			want:   field.ErrorList{field.Invalid(field.NewPath("spec", "rollout", "maxUnavailable"), "101%", msgMaxUnavail)},
		},
		"maxUnavailable of 100% and of 3 are valid": {
			config: clusterConfig(func(c *mpv1alpha1.MultipathConfig) { c.Spec.Rollout.MaxUnavailable = intOrStr("100%") }),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assertErrors(t, tc.want, ValidateMultipathConfig(tc.config, tc.allowListed))
		})
	}
}

// TestHandwrittenPatternsMatchTheCRDs checks that the regexp-free checks the renderer runs for
// every LUN accept exactly what the CRDs' patterns accept.
func TestHandwrittenPatternsMatchTheCRDs(t *testing.T) {
	for _, s := range patternSamples() {
		assertPatternsAgree(t, s)
	}
}

func patternSamples() []string {
	samples := []string{"", "a", "3600a0", "A.b_c:d-e", "a b", "a\tb", "a\vb", "a\fb", "é", "\xff", "\xc3", "mpatha", "x\x7f",
		`"`, "'", "#", "!", "/", `\`, "{", "}", "\u00a0", "\u2028", "\u0085", "𝄞"}
	for c := range 256 {
		samples = append(samples, "a"+string(rune(c))+"b", "a"+string([]byte{byte(c)})+"b")
	}
	return samples
}

func assertPatternsAgree(t *testing.T, s string) {
	t.Helper()
	if got, want := badWWIDByte(s) < 0 && s != "", keywords[wwidRow].Value.pattern.MatchString(s); got != want {
		t.Errorf("wwid %q: handwritten check says %v, the CRD pattern %v", s, got, want)
	}
	if got, want := badAliasByte(s) < 0 && s != "", keywords[aliasRow].Value.pattern.MatchString(s); got != want {
		t.Errorf("alias %q: handwritten check says %v, the CRD pattern %v", s, got, want)
	}
	if got, want := looksLikeMpathName(s), regexp.MustCompile(`^mpath[a-z]+$`).MatchString(s); got != want {
		t.Errorf("alias %q: looksLikeMpathName says %v, the CEL rule %v", s, got, want)
	}
}

// assertErrors compares field errors exactly: type, path, bad value (with its Go type) and detail.
func assertErrors(t *testing.T, want, got field.ErrorList) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 || reflect.DeepEqual(want, got) {
		return
	}
	show := func(list field.ErrorList) string {
		var b strings.Builder
		for _, e := range list {
			fmt.Fprintf(&b, "\n  %s [%s %v (%T) %q]", e.Error(), e.Type, e.Field, e.BadValue, e.Detail)
		}
		return b.String()
	}
	t.Errorf("errors:%s\nwant:%s", show(got), show(want))
}
