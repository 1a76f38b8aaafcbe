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
	"fmt"
	"regexp"
	"strings"
)

// multipath-tools compiles blacklist regexes with regcomp(REG_EXTENDED|REG_NOSUB), POSIX
// extended syntax with glibc's extensions, and only asks whether they match. Go's
// regexp.CompilePOSIX takes the same ERE syntax with these differences, which compileERE
// handles:
//   - a backslash inside a bracket expression is a literal character in POSIX and an escape in
//     Go: it is doubled;
//   - a leading `!` inverts the regex (multipath-tools 0.8.5 on), `\!` is a literal `!`;
//   - glibc's escapes \< \> \` \' \w \W \s \S \b \B, back references \1..\9, any other
//     backslash-letter, `{,n}` intervals and [. .] [= =] collating elements either mean
//     something else in Go or do not exist there: the regex is undecidable, never guessed;
//   - Go refuses counts above 1000 (glibc allows 32767): undecidable too.
// What Go cannot compile is reported as undecidable; what glibc cannot compile multipath-tools
// ignores (with a log line), and most such regexes Go refuses too.

// compiled is a regex ready to match, or why it cannot be decided.
type compiled struct {
	re     *regexp.Regexp
	invert bool
	err    error
}

func (c compiled) match(s string) bool { return c.re.MatchString(s) != c.invert }

// compileERE compiles a multipath-tools regex for Go. invert tells whether a leading `!`
// inverts it.
func compileERE(raw string, invert bool) compiled {
	s := raw
	var c compiled
	if invert {
		switch {
		case strings.HasPrefix(s, "!"):
			c.invert, s = true, s[1:]
		case strings.HasPrefix(s, `\!`):
			s = s[1:]
		}
	}
	expr, err := translateERE(s)
	if err == nil {
		c.re, err = regexp.CompilePOSIX(expr)
	}
	if err != nil {
		c.err = fmt.Errorf("cannot decide regex %q in Go: %v", raw, err)
	}
	return c
}

// translateERE rewrites a POSIX ERE for Go's CompilePOSIX, or says why it cannot.
func translateERE(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) {
				return "", fmt.Errorf("trailing backslash")
			}
			n := s[i+1]
			if isAlnum(n) || strings.IndexByte("<>`'", n) >= 0 {
				return "", fmt.Errorf("escape \\%c means something else (or nothing) in Go", n)
			}
			b.WriteByte('\\')
			b.WriteByte(n)
			i++
		case '{':
			if i+1 < len(s) && s[i+1] == ',' {
				return "", fmt.Errorf("interval {,n} is a glibc extension")
			}
			b.WriteByte(c)
		case '[':
			end, expr, err := bracket(s, i)
			if err != nil {
				return "", err
			}
			b.WriteString(expr)
			i = end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// bracket translates the bracket expression starting at s[i] ('['), returning the index of its
// closing ']'.
func bracket(s string, i int) (int, string, error) {
	var b strings.Builder
	b.WriteByte('[')
	j := i + 1
	if j < len(s) && s[j] == '^' {
		b.WriteByte('^')
		j++
	}
	if j < len(s) && s[j] == ']' { // a leading ] is literal
		b.WriteString(`\]`)
		j++
	}
	for ; j < len(s); j++ {
		switch c := s[j]; {
		case c == ']':
			b.WriteByte(']')
			return j, b.String(), nil
		case c == '[' && j+1 < len(s) && s[j+1] == ':':
			end := strings.Index(s[j+2:], ":]")
			if end < 0 {
				return 0, "", fmt.Errorf("unterminated character class")
			}
			b.WriteString(s[j : j+2+end+2])
			j += 2 + end + 1
		case c == '[' && j+1 < len(s) && (s[j+1] == '.' || s[j+1] == '='):
			return 0, "", fmt.Errorf("collating elements [%c %c] do not exist in Go", s[j+1], s[j+1])
		case c == '\\' || c == '[':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return 0, "", fmt.Errorf("unterminated bracket expression")
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
