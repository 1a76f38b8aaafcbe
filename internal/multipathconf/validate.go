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
	"regexp"
	"strconv"
	"unicode/utf8"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// MaxOverridesBytes is the largest spec.overrides accepted, in bytes.
const MaxOverridesBytes = 131072

// MaxMapNameBytes is the longest device-mapper map name: the kernel's DM_NAME_LEN (128, in
// linux/dm-ioctl.h) less its terminating NUL. A LUN without an alias is named after its WWID,
// which the API allows up to 128 characters; multipath-tools keeps a WWID in WWID_SIZE (128)
// bytes, NUL included, too.
const MaxMapNameBytes = 127

// Messages of the rules the CRD states as CEL, spelled as the CRD spells them.
const (
	msgSingleton     = "MultipathConfig is a singleton: metadata.name must be cluster"
	msgWWIDImmutable = "wwid is immutable"
	msgAliasMpath    = "alias must not look like a user_friendly_names name (mpath followed by letters)"
	msgAliasChars    = `alias must not hold whitespace, quotes, '#', '!', '/', '\' or control characters`
	msgAliasReserved = "alias must not be ., .. or control (reserved names in /dev/mapper)"
	msgMaxUnavail    = "maxUnavailable must be a number of nodes of at least 1 or a percentage from 1% to 100%"
)

var (
	specPath       = field.NewPath("spec")
	maxUnavailable = regexp.MustCompile(`^([1-9][0-9]?|100)%$`)
)

// ValidateMultipathWWID checks one MultipathWWID with the rules its CRD enforces (plus the few
// multipathd needs that the CRD cannot state, see doc.go), with full field paths. It does not
// look at other objects: ResolveConflicts does.
func ValidateMultipathWWID(w *mpv1alpha1.MultipathWWID) field.ErrorList {
	return ValidateMultipathWWIDSpec(&w.Spec, specPath)
}

// ValidateMultipathWWIDUpdate checks an update: the new object, and that the WWID did not change.
func ValidateMultipathWWIDUpdate(updated, old *mpv1alpha1.MultipathWWID) field.ErrorList {
	errs := ValidateMultipathWWID(updated)
	if updated.Spec.WWID != old.Spec.WWID {
		errs = append(errs, field.Invalid(specPath.Child("wwid"), updated.Spec.WWID, msgWWIDImmutable))
	}
	return errs
}

// ValidateMultipathWWIDSpec checks a MultipathWWID spec found at path.
func ValidateMultipathWWIDSpec(spec *mpv1alpha1.MultipathWWIDSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if err := validateWWID(spec.WWID, path); err != nil {
		errs = append(errs, err)
	}
	if spec.Alias != "" {
		errs = append(errs, validateAlias(spec.Alias, path)...)
	} else if err := validateWWIDAsName(spec.WWID, path); err != nil {
		errs = append(errs, err)
	}
	if spec.NodeSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.NodeSelector,
			metav1validation.LabelSelectorValidationOptions{}, path.Child("nodeSelector"))...)
	}
	return append(errs, ValidateLUNKnobs(&spec.LUNKnobs, path)...)
}

// ValidateLUNKnobs checks per-LUN knobs inlined at path (a MultipathWWID spec).
func ValidateLUNKnobs(knobs *mpv1alpha1.LUNKnobs, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, i := range lunKnobs {
		k := &keywords[i]
		if err := validateKnob(k, k.FromLUN(knobs), path); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// ValidateDefaults checks MultipathConfig spec.defaults found at path.
func ValidateDefaults(d *mpv1alpha1.MultipathDefaults, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, i := range defaultsKnobs {
		k := &keywords[i]
		if err := validateKnob(k, k.FromDefaults(d), path); err != nil {
			errs = append(errs, err)
		}
	}
	// The one rule between knobs: multipath-tools 0.9.4 silently lowers polling_interval to
	// max_polling_interval (found by fuzzing against multipath -t).
	if p, m := d.PollingInterval, d.MaxPollingInterval; p != nil && m != nil && *m < *p {
		errs = append(errs, field.Invalid(path.Child("maxPollingInterval"), int64(*m),
			"maxPollingInterval must be at least pollingInterval ("+strconv.Itoa(int(*p))+
				"): multipathd would silently lower pollingInterval to it"))
	}
	return errs
}

// ValidateMultipathConfig checks the singleton: its name, spec.defaults, spec.overrides (with
// CheckOverrides, so a blacklist is checked against the allow-listed WWIDs passed in),
// spec.nodeSelector and spec.rollout.
func ValidateMultipathConfig(c *mpv1alpha1.MultipathConfig, allowListed []string) field.ErrorList {
	var errs field.ErrorList
	if c.Name != mpv1alpha1.ClusterConfigName {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), c.Name, msgSingleton))
	}
	errs = append(errs, ValidateMultipathConfigSpec(&c.Spec, specPath, allowListed)...)
	return errs
}

// ValidateMultipathConfigSpec checks a MultipathConfig spec found at path.
func ValidateMultipathConfigSpec(spec *mpv1alpha1.MultipathConfigSpec, path *field.Path, allowListed []string) field.ErrorList {
	errs := ValidateDefaults(&spec.Defaults, path.Child("defaults"))
	errs = append(errs, validateOverrides(spec.Overrides, path.Child("overrides"), allowListed)...)
	if spec.NodeSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.NodeSelector,
			metav1validation.LabelSelectorValidationOptions{}, path.Child("nodeSelector"))...)
	}
	if mu := spec.Rollout.MaxUnavailable; mu != nil {
		p := path.Child("rollout", "maxUnavailable")
		if mu.Type == intstr.Int && mu.IntVal < 1 || mu.Type == intstr.String && !maxUnavailable.MatchString(mu.StrVal) {
			errs = append(errs, field.Invalid(p, mu.String(), msgMaxUnavail))
		}
	}
	return errs
}

func validateOverrides(text string, path *field.Path, allowListed []string) field.ErrorList {
	if text == "" {
		return nil
	}
	if len(text) > MaxOverridesBytes {
		return field.ErrorList{field.TooLong(path, "", MaxOverridesBytes)}
	}
	var errs field.ErrorList
	for _, e := range CheckOverrides(text, allowListed) {
		errs = append(errs, field.Invalid(path, field.OmitValueType{}, e.Error()))
	}
	return errs
}

// The checks below run for every LUN of every render: they take the parent path and build the
// field's path only when they report an error, so that a valid LUN costs no allocation.

// validateWWID checks spec.wwid (under parent) against the table's wwid row, without a regexp.
func validateWWID(wwid string, parent *field.Path) *field.Error {
	spec := &keywords[wwidRow].Value
	if wwid != "" && len(wwid) <= spec.MaxLength && badWWIDByte(wwid) < 0 {
		return nil
	}
	path := parent.Child("wwid")
	if wwid == "" {
		return field.Required(path, "wwid is required")
	}
	if n := utf8.RuneCountInString(wwid); n > spec.MaxLength {
		return field.TooLongCharacters(path, wwid, spec.MaxLength)
	}
	if i := badWWIDByte(wwid); i >= 0 {
		return field.Invalid(path, wwid, "wwid may contain only letters, digits, '.', '_', ':' and '-' (found "+
			quoteByteAt(wwid, i)+" at byte "+strconv.Itoa(i)+")")
	}
	return nil
}

// validateWWIDAsName checks that a LUN without an alias can be named after its WWID: the map
// name must fit the kernel's limit. The error is on spec.alias, the field that fixes it.
func validateWWIDAsName(wwid string, parent *field.Path) *field.Error {
	if len(wwid) <= MaxMapNameBytes || len(wwid) > keywords[wwidRow].Value.MaxLength {
		return nil // a WWID too long for the API is refused as such
	}
	return field.Required(parent.Child("alias"), "alias is required when spec.wwid is longer than "+
		strconv.Itoa(MaxMapNameBytes)+" characters ("+strconv.Itoa(len(wwid))+
		"): without one the map is named after its WWID, and a device-mapper map name holds at most "+
		strconv.Itoa(MaxMapNameBytes))
}

// badWWIDByte returns the index of the first byte ^[a-zA-Z0-9._:-]+$ refuses, or -1.
func badWWIDByte(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return i
		}
	}
	return -1
}

// validateAlias checks spec.alias (under parent) against the table's alias row and the CRD's
// CEL rules.
func validateAlias(alias string, parent *field.Path) field.ErrorList {
	spec := &keywords[aliasRow].Value
	if len(alias) <= spec.MaxLength && badAliasByte(alias) < 0 && utf8.ValidString(alias) &&
		!looksLikeMpathName(alias) && alias != "." && alias != ".." && alias != "control" {
		return nil // ASCII-only bounds: a longer alias may still fit, the full check below decides
	}
	path := parent.Child("alias")
	if n := utf8.RuneCountInString(alias); n > spec.MaxLength {
		return field.ErrorList{field.TooLongCharacters(path, alias, spec.MaxLength)}
	}
	var errs field.ErrorList
	if i := badAliasByte(alias); i >= 0 {
		errs = append(errs, field.Invalid(path, alias, msgAliasChars+" (found "+
			quoteByteAt(alias, i)+" at byte "+strconv.Itoa(i)+")"))
	} else if why := checkQuotable(alias); why != "" {
		errs = append(errs, field.Invalid(path, alias, "alias "+why))
	}
	if looksLikeMpathName(alias) {
		errs = append(errs, field.Invalid(path, alias, msgAliasMpath))
	}
	if alias == "." || alias == ".." || alias == "control" {
		errs = append(errs, field.Invalid(path, alias, msgAliasReserved))
	}
	return errs
}

// badAliasByte returns the index of the first byte ^[^\s"'#!/\\\x00-\x1f\x7f]+$ refuses, or
// -1. RE2's \s is [\t\n\f\r ]; bytes from 0x80 up are never refused (they are, or decode to,
// non-ASCII runes), as with the regexp.
func badAliasByte(s string) int {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == 0x7f, c == ' ', c == '"', c == '\'', c == '#', c == '!', c == '/', c == '\\':
			return i
		}
	}
	return -1
}

// looksLikeMpathName is the CRD rule ^mpath[a-z]+$: the names user_friendly_names hands out.
func looksLikeMpathName(s string) bool {
	if len(s) <= len("mpath") || s[:5] != "mpath" {
		return false
	}
	for i := 5; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// validateKnob checks one knob value (a field of parent) against its table row.
func validateKnob(k *Keyword, v Value, parent *field.Path) *field.Error {
	if !v.Set {
		return nil
	}
	isString := !v.IsInt && !v.IsBool
	var why string
	if i := controlIndex(v.Str); isString && i >= 0 {
		why = controlMessage(v.Str, i) // clearer than the pattern it also breaks
	}
	if why == "" {
		why = k.Value.checkValue(v)
	}
	if why == "" && isString {
		why = checkQuotable(v.Str)
	}
	if why == "" {
		return nil
	}
	path := parent.Child(k.Field)
	switch {
	case k.Value.Kind == KindEnum && !v.IsInt && !v.IsBool:
		return field.NotSupported(path, v.Str, k.Value.Enum)
	case v.IsInt:
		return field.Invalid(path, v.Int, k.Field+" "+why)
	case v.IsBool:
		return field.Invalid(path, v.Bool, k.Field+" "+why)
	}
	return field.Invalid(path, v.Str, k.Field+" "+why)
}

// quoteByteAt quotes the character at byte i of s for a message.
func quoteByteAt(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return strconv.QuoteRune(r)
}
