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
	"maps"
	"slices"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
)

// TestVerdictsAgreeWithTheRealParser runs each host configuration through every tested
// multipath-tools' own parser (multipath -t) and checks that this package read the same
// blacklist, exceptions and aliases from the file as multipath-tools did, and so reaches the
// same verdicts: the configuration multipath -t prints, read back, gives the same conflicts as
// the file as written.
func TestVerdictsAgreeWithTheRealParser(t *testing.T) {
	configs := map[string]string{
		"rhel":     rhelConf,
		"aliases":  handAliases,
		"one-line": "blacklist { wwid ^3600a }\n\twwid ^36001405\n}\n",
		"comments": "blacklist {\n\t# wwid .*\n\t! wwid .*\n\twwid \"^3600a#x\" # comment\n\tdevice {\n\t\tvendor \".*\"\n\t\tproduct \"X\"\n\t}\n}\n",
		// 0.8.4 reads "" as one quote but prints it as one, which no parser reads back.
		"quotes":    "blacklist {\n\twwid \"^360000970\"\"x\"\n}\n",
		"inverted":  "blacklist {\n\twwid \"!^3600a\"\n}\n",
		"exception": "blacklist_exceptions {\n\twwid \"^36001405[\\d]\"\n}\nblacklist {\n\twwid .\n}\n",
	}
	managed := map[string]string{w1: "legacy_ora", w2: "db01", w3: w3, w4: "x", "3600a#x": "y", `360000970"x`: "z", `36001405\`: "v"}
	mptest.ForEach(t, func(t *testing.T, p *mptest.Parser) {
		for _, name := range slices.Sorted(maps.Keys(configs)) {
			t.Run(name, func(t *testing.T) {
				content := configs[name]
				if name == "quotes" && older(p.Version, "0.8.7") {
					t.Skipf("multipath-tools %s prints a quote in a value unescaped", p.Version)
				}
				real, _, err := p.Run(map[string]string{"host.conf": content})
				if err != nil {
					t.Fatal(err)
				}
				opts := Options{Own: own, Version: p.Version}
				opts.Root = writeRoot(t, map[string]string{"etc/multipath.conf": content})
				mine, err := Read(opts)
				if err != nil {
					t.Fatal(err)
				}
				raws := func(rs []Regex) []string {
					var out []string
					for _, r := range rs {
						out = append(out, r.Raw)
					}
					return out
				}
				if got, want := raws(mine.Blacklist.WWID), real.Sections["blacklist"]["wwid"]; !slices.Equal(got, want) {
					t.Errorf("blacklist wwid: read %q, multipath-tools %s read %q", got, p.Version, want)
				}
				if got, want := raws(mine.Exceptions.WWID), real.Sections["blacklist_exceptions"]["wwid"]; !slices.Equal(got, want) {
					t.Errorf("blacklist_exceptions wwid: read %q, multipath-tools %s read %q", got, p.Version, want)
				}
				gotAliases := map[string]string{}
				for _, m := range mine.Multipaths {
					gotAliases[m.WWID] = m.Alias
				}
				wantAliases := map[string]string{}
				for wwid, v := range real.Multipaths {
					wantAliases[wwid] = v.Get("alias")
				}
				if !maps.Equal(gotAliases, wantAliases) {
					t.Errorf("multipaths: read %q, multipath-tools %s read %q", gotAliases, p.Version, wantAliases)
				}

				// The same verdicts from what multipath-tools understood, positions aside.
				opts.Root = writeRoot(t, map[string]string{"etc/multipath.conf": real.Raw})
				back, err := Read(opts)
				if err != nil {
					t.Fatal(err)
				}
				strip := func(bs []brief) []brief {
					for i := range bs {
						bs[i].At = ""
					}
					return bs
				}
				got, want := strip(briefs(mine.Conflicts(managed, nil))), strip(briefs(back.Conflicts(managed, nil)))
				if !slices.Equal(got, want) {
					t.Errorf("verdicts on the file: %+v\nverdicts on multipath-tools %s's reading: %+v", got, p.Version, want)
				}
				if len(got) == 0 && name != "aliases" {
					t.Errorf("no verdict at all: the case checks nothing")
				}
			})
		}
	})
}
