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
	"slices"
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
		for _, f := range deprecatedFeatureNames {
			// multipath-tools looks for them as substrings (strstr), so Xqueue_if_no_path counts.
			if strings.Contains(t, f) {
				return "feature " + f + " is deprecated in multipath-tools 0.9.4, which logs an error for it: " + deprecatedFeatures[f]
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
var (
	deprecatedFeatures = map[string]string{
		"queue_if_no_path":           "use no_path_retry queue",
		"retain_attached_hw_handler": "use retain_attached_hw_handler yes",
	}
	deprecatedFeatureNames = []string{"queue_if_no_path", "retain_attached_hw_handler"}
)

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

// checkRegex checks a pattern the way multipathd will read it: as a POSIX extended regular
// expression (glibc's regcomp with REG_EXTENDED). Go's POSIX syntax is close to it and refuses
// the Perl extensions ((?i), \d) glibc would refuse or misread; checkBraces and anchors cover the
// rest of what Go accepts and glibc refuses (found by fuzzing against multipath -t).
func checkRegex(t string) string {
	if why := checkGlibcOnly(t); why != "" {
		return "must be a POSIX extended regular expression: " + why
	}
	if _, err := regexp.CompilePOSIX(t); err != nil {
		return "must be a POSIX extended regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")
	}
	return ""
}

// checkGlibcOnly refuses what glibc's ERE parser refuses, or reads differently, where Go's
// POSIX parser accepts: a `{` that does not open an interval {m}, {m,} or {m,n} (Go reads it
// as text), a repetition with nothing to repeat or after an anchor (^*), a backslash before a
// letter or digit (glibc: back-references and GNU operators; Go: octal and classes), and in a
// bracket expression a backslash (literal for glibc, an escape for Go) or [= =] and [. .]
// (which Go does not know) or an unknown [: :] class.
func checkGlibcOnly(p string) string {
	prev := byte(0) // the last significant character outside brackets
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) || !isASCIIPunct(p[i+1]) {
				return "a backslash may only escape punctuation (glibc and Go read \\<letter or digit> differently)"
			}
			i++
			prev = 'a' // an escaped character is an atom
			continue
		case c == '[':
			end, why := bracketEnd(p, i)
			if why != "" {
				return why
			}
			i, prev = end, ']'
			continue
		case c == '{':
			n, ok := intervalLen(p[i:])
			if !ok {
				return "'{' must open an interval such as {2}, {2,} or {1,3} (write [{] for a brace)"
			}
			i += n - 1
		}
		if c == '*' || c == '+' || c == '?' || c == '{' {
			switch prev {
			case '^', '$':
				return "a repetition must not follow an anchor (" + string(prev) + string(c) + ")"
			case 0, '(', '|':
				return "a repetition (" + string(c) + ") must follow something to repeat"
			}
		}
		prev = c
	}
	return ""
}

var posixClasses = []string{"alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "xdigit"}

// bracketEnd returns the index of the `]` closing the bracket expression opening at p[i], as
// POSIX reads it (a `]` first in the list is literal), or why it is refused. An unclosed
// bracket is left to Go's parser to report.
func bracketEnd(p string, i int) (int, string) {
	j := i + 1
	if j < len(p) && p[j] == '^' {
		j++
	}
	if j < len(p) && p[j] == ']' {
		j++
	}
	for ; j < len(p); j++ {
		switch {
		case p[j] == ']':
			return j, ""
		case p[j] == '\\':
			return 0, "a backslash inside [...] is a literal for glibc and an escape for Go: leave it out"
		case p[j] == '[' && j+1 < len(p) && (p[j+1] == '=' || p[j+1] == '.'):
			return 0, "[" + string(p[j+1]) + " " + string(p[j+1]) + "] inside [...] is not supported"
		case p[j] == '[' && j+1 < len(p) && p[j+1] == ':':
			name, _, ok := strings.Cut(p[j+2:], ":]")
			if !ok || !slices.Contains(posixClasses, name) {
				return 0, "[: :] inside [...] must name a POSIX class, such as [:digit:]"
			}
			j += len(name) + 3
		}
	}
	return len(p) - 1, ""
}

func isASCIIPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9')
}

// intervalLen returns the length of the interval {m}, {m,} or {m,n} at the start of s, its
// counts written as Go reads them too (Go takes {01} for literal text, glibc for an interval).
func intervalLen(s string) (int, bool) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return 0, false
	}
	lo, hi, comma := strings.Cut(s[1:end], ",")
	if !isCount(lo) || comma && hi != "" && !isCount(hi) {
		return 0, false
	}
	return end + 1, true
}

// isCount reports whether s is a decimal count without a leading zero.
func isCount(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
