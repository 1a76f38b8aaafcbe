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
	"strings"
	"unicode/utf8"
)

// Text is the value as multipath.conf spells it, unquoted: "queue", "5", "yes". It is "" when
// the value is unset.
func (s *ValueSpec) Text(v Value) string {
	switch {
	case !v.Set:
		return ""
	case v.IsBool:
		if v.Bool {
			return s.BoolWords[1]
		}
		return s.BoolWords[0]
	case v.IsInt:
		return strconv.FormatInt(v.Int, 10)
	default:
		return v.Str
	}
}

// checkValue validates an API value against the spec and returns "" or the rule it breaks.
func (s *ValueSpec) checkValue(v Value) string {
	switch {
	case !v.Set:
		return ""
	case v.IsBool:
		if s.Kind != KindBool {
			return "must not be a boolean"
		}
		return ""
	case v.IsInt:
		if s.Kind != KindInt && s.Kind != KindIntOrKeyword {
			return "must not be a number"
		}
		return s.checkInt(v.Int)
	}
	switch s.Kind {
	case KindInt:
		return "must be a number"
	case KindBool:
		return "must be a boolean"
	case KindIntOrKeyword:
		if !contains(s.Enum, v.Str) {
			return "must be " + s.describe()
		}
		return ""
	}
	return s.checkText(v.Str)
}

// checkInt checks an integer against Min..Max, then against the narrower parser range.
func (s *ValueSpec) checkInt(n int64) string {
	if n < s.Min || n > s.Max {
		return "must be " + s.describe()
	}
	if p := s.Parser; p != nil && (n < p.Min || n > p.Max) {
		return "must be from " + strconv.FormatInt(p.Min, 10) + " to " + strconv.FormatInt(p.Max, 10) +
			": multipath-tools 0.9.4 caps other values and logs an error"
	}
	return ""
}

// checkText validates a value as written in multipath.conf (unquoted) and returns "" or the
// rule it breaks. Control characters are refused by the caller, for every kind.
func (s *ValueSpec) checkText(t string) string {
	switch s.Kind {
	case KindString:
		n := utf8.RuneCountInString(t)
		if n < s.MinLength {
			if s.MinLength == 1 {
				return "must not be empty"
			}
			return "must be at least " + strconv.Itoa(s.MinLength) + " characters"
		}
		if s.MaxLength > 0 && n > s.MaxLength {
			return "must be at most " + strconv.Itoa(s.MaxLength) + " characters"
		}
		if s.pattern != nil && !s.pattern.MatchString(t) {
			return "must match " + s.Pattern
		}
	case KindEnum:
		if !contains(s.Enum, t) {
			return "must be " + s.describe()
		}
	case KindBool:
		if t != s.BoolWords[0] && t != s.BoolWords[1] {
			return "must be " + s.describe()
		}
	case KindInt, KindIntOrKeyword:
		if s.Kind == KindIntOrKeyword && contains(s.Enum, t) {
			return ""
		}
		n, ok := parseDecimal(t)
		if !ok {
			return "must be " + s.describe()
		}
		return s.checkInt(n)
	case KindRegex:
		return checkRegex(t)
	case KindCountedArgs:
		return checkCountedArgs(t)
	case KindFeatures:
		if why := checkCountedArgs(t); why != "" {
			return why
		}
		for _, f := range strings.Fields(t) {
			if alternative, deprecated := deprecatedFeatures[f]; deprecated {
				return "feature " + f + " is deprecated in multipath-tools 0.9.4, which logs an error for it: " + alternative
			}
		}
	case KindUIDAttrs:
		for _, rec := range strings.Fields(t) {
			typ, attr, ok := strings.Cut(rec, ":")
			if !ok || typ == "" || attr == "" {
				return "must be space separated type:ATTR records, such as sd:ID_SERIAL"
			}
		}
	case KindOctalMode:
		if !octalMode.MatchString(t) {
			return "must be a file mode in octal, such as 0600"
		}
	}
	return ""
}

var octalMode = regexp.MustCompile(`^0?[0-7]{3}$`)

// deprecatedFeatures are the device-mapper features multipath-tools 0.9.4 warns about (when a
// device entry merges with another, and on every map using them), with what to use instead.
var deprecatedFeatures = map[string]string{
	"queue_if_no_path":           "use no_path_retry queue",
	"retain_attached_hw_handler": "use retain_attached_hw_handler yes",
}

// describe says in words what the spec accepts, for error messages.
func (s *ValueSpec) describe() string {
	switch s.Kind {
	case KindEnum:
		return "one of " + strings.Join(s.Enum, ", ")
	case KindBool:
		return s.BoolWords[1] + " or " + s.BoolWords[0]
	case KindInt:
		return "a number from " + strconv.FormatInt(s.Min, 10) + " to " + strconv.FormatInt(s.Max, 10)
	case KindIntOrKeyword:
		return strings.Join(s.Enum, ", ") + " or a number from " + strconv.FormatInt(s.Min, 10) +
			" to " + strconv.FormatInt(s.Max, 10)
	}
	return "valid"
}

// parseDecimal accepts what multipath-tools reads as a whole decimal integer: an optional minus
// sign and digits, nothing else (no blanks, no plus sign, no hex).
func parseDecimal(t string) (int64, bool) {
	digits := strings.TrimPrefix(t, "-")
	if digits == "" || len(digits) > 12 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	return n, err == nil
}

// checkRegex compiles a pattern the way multipathd will: as a POSIX extended regular
// expression. Go's POSIX syntax is close to glibc's and rejects the Perl extensions (\d, (?i))
// glibc would refuse or misread, so what compiles here is safe to hand to multipathd.
func checkRegex(t string) string {
	if _, err := regexp.CompilePOSIX(t); err != nil {
		return "must be a POSIX extended regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")
	}
	return ""
}

// checkCountedArgs checks "N arg1 ... argN": multipathd refuses a count that does not match.
func checkCountedArgs(t string) string {
	f := strings.Fields(t)
	if len(f) == 0 {
		return `must start with the number of arguments that follow, such as "1 queue_if_no_path"`
	}
	n, ok := parseDecimal(f[0])
	if !ok || n != int64(len(f)-1) {
		return "must start with the number of arguments that follow (" + strconv.Itoa(len(f)-1) + " here)"
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
