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
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLineBytes is the longest line multipath-tools 0.9.4 reads whole: it reads lines with
// fgets into a 1024-byte buffer, so a longer line is cut in two and the rest parsed as a new line.
const MaxLineBytes = 1023

// maxQuotedBytes is the longest quoted value the renderer may write: a knob line is two tabs,
// the keyword, a blank and the value, and must fit in MaxLineBytes for the longest keyword. Set
// by init in keywords.go, once the table is indexed.
var maxQuotedBytes int

// checkQuotable returns "" when Quote can render s so that multipathd reads back exactly s, or
// the reason it cannot: a control character (a newline or carriage return would end the line,
// NUL the string), invalid UTF-8, or a value too long for one line.
func checkQuotable(s string) string {
	if i := controlIndex(s); i >= 0 {
		return controlMessage(s, i)
	}
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	if n := quotedLen(s); n > maxQuotedBytes {
		return "is " + strconv.Itoa(n) + " bytes once quoted, more than the " + strconv.Itoa(maxQuotedBytes) +
			" that fit on one line (multipathd reads at most " + strconv.Itoa(MaxLineBytes) + " bytes per line)"
	}
	return ""
}

func controlMessage(s string, i int) string {
	return "must not contain control characters (found " + strconv.QuoteRune(rune(s[i])) +
		" at byte " + strconv.Itoa(i) + ")"
}

// controlIndex returns the index of the first ASCII control byte (0x00-0x1f, 0x7f), or -1.
func controlIndex(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return i
		}
	}
	return -1
}

func quotedLen(s string) int { return len(s) + 2 + strings.Count(s, `"`) }

// Quote renders s as one multipath.conf value: in double quotes, each `"` doubled, which is how
// multipath-tools 0.9.4 reads a literal quote (it knows no backslash escape). Inside quotes `#`,
// `!`, braces and blanks are ordinary characters, so no value can start a comment, a keyword or
// a section. It refuses what cannot be quoted safely (see checkQuotable).
func Quote(s string) (string, error) {
	if why := checkQuotable(s); why != "" {
		return "", errors.New("value " + why)
	}
	var b strings.Builder
	b.Grow(quotedLen(s))
	writeQuoted(&b, s)
	return b.String(), nil
}

// writeQuoted writes s quoted; the caller has checked it with checkQuotable.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b.WriteString(s[:i+1])
		b.WriteByte('"')
		s = s[i+1:]
	}
	b.WriteString(s)
	b.WriteByte('"')
}
