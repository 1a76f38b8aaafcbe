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
	"strconv"
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
)

func TestQuote(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    string
		wantErr string
	}{
		"a plain word is quoted":                      {in: "queue", want: `"queue"`},
		"a quote is doubled":                          {in: `a"b`, want: `"a""b"`},
		"leading and trailing quotes are doubled":     {in: `"x"`, want: `"""x"""`},
		"a lone quote becomes four":                   {in: `"`, want: `""""`},
		"comment characters stay inside the quotes":   {in: "a # b ! c", want: `"a # b ! c"`},
		"braces and blanks stay inside the quotes":    {in: " } multipath { ", want: `" } multipath { "`},
		"a backslash is an ordinary character":        {in: `a\"`, want: `"a\"""`},
		"an empty string is an empty pair of quotes":  {in: "", want: `""`},
		"non-ASCII text is kept":                      {in: "données-漢", want: `"données-漢"`},
		"a newline is refused":                        {in: "a\nb", wantErr: `value must not contain control characters (found '\n' at byte 1)`},
		"a carriage return is refused":                {in: "a\rb", wantErr: `value must not contain control characters (found '\r' at byte 1)`},
		"NUL is refused":                              {in: "a\x00", wantErr: `value must not contain control characters (found '\x00' at byte 1)`},
		"a tab is refused":                            {in: "\tx", wantErr: `value must not contain control characters (found '\t' at byte 0)`},
		"DEL is refused":                              {in: "x\x7f", wantErr: `value must not contain control characters (found '\x7f' at byte 1)`},
		"invalid UTF-8 is refused":                    {in: "a\xffb", wantErr: "value must be valid UTF-8"},
		"the longest value that fits a line is taken": {in: strings.Repeat("a", maxQuotedBytes-2), want: `"` + strings.Repeat("a", maxQuotedBytes-2) + `"`},
		"a value one byte too long is refused": {in: strings.Repeat("a", maxQuotedBytes-1),
			wantErr: "value is " + strconv.Itoa(maxQuotedBytes+1) + " bytes once quoted, more than the " + strconv.Itoa(maxQuotedBytes) +
				" that fit on one line (multipathd reads at most 1023 bytes per line)"},
		"doubled quotes count toward the line": {in: strings.Repeat(`"`, maxQuotedBytes/2),
			wantErr: "value is " + strconv.Itoa(maxQuotedBytes/2*2+2) + " bytes once quoted, more than the " + strconv.Itoa(maxQuotedBytes) +
				" that fit on one line (multipathd reads at most 1023 bytes per line)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Quote(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Quote(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Quote(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
}

// quotingSamples are the values that could break out of a quoted string if quoting were wrong.
var quotingSamples = []string{
	`"`, `""`, `"""`, `a"`, `"a`, `a""b`, `#x`, `!y`, `a # b ! c`, ` leading blank`, `trailing blank `,
	`{`, `}`, `x" } multipath { wwid "evil`, `x"" } multipath { wwid ""evil`, `\`, `\"`, `\\"`,
	`données 漢字`, `''`, `"#"!"`, strings.Repeat(`"`, 255), `a "b" #x !y`,
}

// TestQuoteRoundTripsThroughRealParser writes each sample as a prio_args value, with a quoted
// marker after it, and reads both back with multipath-tools: the value must be identical and
// nothing may leak into other keywords or maps.
func TestQuoteRoundTripsThroughRealParser(t *testing.T) {
	mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
		// A value this version misreads (0.8.4: one starting with # or !) is refused by the
		// render for its nodes; TestLimitsMatchRealParsers proves it.
		samples := map[string]string{}
		var b strings.Builder
		b.WriteString("multipaths {\n")
		for i, s := range quotingSamples {
			if _, limited := LimitFor(parser.Version, "prio_args", SectionMultipath, s, false); limited {
				continue
			}
			q, err := Quote(s)
			if err != nil {
				t.Fatal(err)
			}
			samples["w"+strconv.Itoa(i)] = s
			b.WriteString("\tmultipath {\n\t\twwid \"w" + strconv.Itoa(i) + "\"\n\t\tprio_args " + q + "\n\t\talias \"m" + strconv.Itoa(i) + "\"\n\t}\n")
		}
		b.WriteString("}\n")
		cfg := parser.Parse(t, map[string]string{"quote.conf": b.String()})
		if n := len(cfg.Subsections["multipaths/multipath"]); n != len(samples) {
			t.Errorf("multipath -t shows %d multipath entries, want %d", n, len(samples))
		}
		for wwid, s := range samples {
			mp := cfg.Multipaths[wwid]
			if got := mp.Get("prio_args"); got != s {
				t.Errorf("prio_args %q read back as %q", s, got)
			}
			if got := mp.Get("alias"); got != "m"+strings.TrimPrefix(wwid, "w") {
				t.Errorf("after prio_args %q, alias read back as %q", s, got)
			}
			if len(mp) != 3 {
				t.Errorf("after prio_args %q, the entry has keywords %v", s, mp)
			}
		}
	})
}
