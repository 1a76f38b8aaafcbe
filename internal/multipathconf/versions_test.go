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
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
)

// versionProbe is a construct and how to tell, from one version's multipath -t, that the
// version took it as written: no complaint, and the printed value is the written one.
type versionProbe struct {
	text string
	// printed reports whether the output shows the construct as written.
	printed func(cfg *mptest.Config) bool
	// takenBy says which versions take it; nil: those LimitsIn finds no limit for.
	takenBy func(version string) bool
}

func defaultsIs(keyword, value string) func(*mptest.Config) bool {
	return func(cfg *mptest.Config) bool { return cfg.Sections["defaults"].Get(keyword) == value }
}

func multipathIs(wwid, keyword, value string) func(*mptest.Config) bool {
	return func(cfg *mptest.Config) bool { return cfg.Multipaths[wwid].Get(keyword) == value }
}

// versionProbes prove every limit, both ways, and the claims behind the spellings the table
// chose because every version takes them.
var versionProbes = map[string]versionProbe{
	"recheck_wwid": {text: "defaults {\n\trecheck_wwid \"yes\"\n}\n", printed: defaultsIs("recheck_wwid", "yes")},
	"allow_usb_devices": {text: "defaults {\n\tallow_usb_devices \"yes\"\n}\n",
		printed: defaultsIs("allow_usb_devices", "yes")},
	"eh_deadline in defaults": {text: "defaults {\n\teh_deadline \"30\"\n}\n", printed: defaultsIs("eh_deadline", "30")},
	"eh_deadline in a device": {text: "devices {\n\tdevice {\n\t\tvendor \"V\"\n\t\tproduct \"P\"\n\t\teh_deadline \"30\"\n\t}\n}\n",
		printed: func(cfg *mptest.Config) bool {
			return slices.ContainsFunc(cfg.Subsections["devices/device"], func(v mptest.Values) bool {
				return v.Get("vendor") == "V" && v.Get("eh_deadline") == "30"
			})
		}},
	"overrides { protocol {} }": {text: "overrides {\n\tprotocol {\n\t\ttype \"scsi:fcp\"\n\t\tdev_loss_tmo \"61\"\n\t}\n}\n",
		printed: func(cfg *mptest.Config) bool {
			// Taken: a protocol subsection, and nothing leaked into overrides.
			p := cfg.Subsections["overrides/protocol"]
			return len(p) == 1 && p[0].Get("dev_loss_tmo") == "61" && !cfg.Sections["overrides"].Has("dev_loss_tmo")
		}},
	"flush_on_last_del yes": {text: "multipaths {\n\tmultipath {\n\t\twwid \"w\"\n\t\tflush_on_last_del \"yes\"\n\t}\n}\n",
		printed: multipathIs("w", "flush_on_last_del", "yes")},
	"flush_on_last_del no": {text: "multipaths {\n\tmultipath {\n\t\twwid \"w\"\n\t\tflush_on_last_del \"no\"\n\t}\n}\n",
		printed: multipathIs("w", "flush_on_last_del", "no")},
	"a quoted value starting with #": {text: "multipaths {\n\tmultipath {\n\t\twwid \"w\"\n\t\tprio_args \"#x\"\n\t}\n}\n",
		printed: multipathIs("w", "prio_args", "#x")},
	"a quoted value starting with !": {text: "blacklist {\n\twwid \"!^3\"\n}\n",
		printed: func(cfg *mptest.Config) bool { return slices.Contains(cfg.Sections["blacklist"]["wwid"], "!^3") }},
	// Not limits: why the table renders marginal_pathgroups yes/no. on/off is ignored without a
	// word by 0.8.4 and 0.8.7 and refused by 0.8.8; yes/no is taken by all (printed on/off by 0.9 on).
	"marginal_pathgroups on (not rendered)": {text: "defaults {\n\tmarginal_pathgroups \"on\"\n}\n",
		printed: defaultsIs("marginal_pathgroups", "on"),
		takenBy: func(v string) bool { return CompareVersions(v, "0.9.0") >= 0 }},
	"marginal_pathgroups yes": {text: "defaults {\n\tmarginal_pathgroups \"yes\"\n}\n",
		printed: func(cfg *mptest.Config) bool {
			return slices.Contains([]string{"yes", "on"}, cfg.Sections["defaults"].Get("marginal_pathgroups"))
		}},
}

// TestLimitsMatchRealParsers runs every probe on every version: a version takes the construct
// (no complaint, printed as written) exactly when no limit says otherwise. Comparing the printed
// value matters: 0.8.4 and 0.8.7 log nothing for a bad enum value.
func TestLimitsMatchRealParsers(t *testing.T) {
	for _, l := range limits {
		covered := false
		for _, p := range versionProbes {
			for _, h := range LimitsIn(p.text, l.Before+l.From) {
				covered = covered || h.Limit.How == l.How && h.Limit.Keyword == l.Keyword
			}
			for _, v := range TestedVersions {
				for _, h := range LimitsIn(p.text, v) {
					covered = covered || h.Limit.How == l.How && h.Limit.Keyword == l.Keyword
				}
			}
		}
		if !covered {
			t.Errorf("limit on %q (%s) has no probe", l.Keyword, l.How)
		}
	}
	mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
		for name, p := range versionProbes {
			cfg, stderr, err := parser.Run(map[string]string{"probe.conf": p.text})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			taken := len(stderr) == 0 && p.printed(cfg)
			want := len(LimitsIn(p.text, parser.Version)) == 0
			if p.takenBy != nil {
				want = p.takenBy(parser.Version)
			}
			if taken != want {
				t.Errorf("%s: multipath-tools %s takes it: %v, want %v (stderr %q)", name, parser.Version, taken, want, stderr)
			}
		}
	})
}

func TestTestedVersionsAreTheMatrix(t *testing.T) {
	versions, err := mptest.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, TestedVersions) {
		t.Errorf("hack/multipath-tools/src holds %v, TestedVersions are %v", versions, TestedVersions)
	}
}

func TestLimitFor(t *testing.T) {
	tests := map[string]struct {
		version, keyword, value string
		section                 Section
		subsection              bool
		want                    string // the limit's How, "" for none
	}{
		"recheck_wwid on 0.8.4":          {"0.8.4", "recheck_wwid", "yes", SectionDefaults, false, LimitUnknown},
		"recheck_wwid on 0.8.7":          {"0.8.7", "recheck_wwid", "yes", SectionDefaults, false, ""},
		"flush_on_last_del yes on 0.9.7": {"0.9.7", "flush_on_last_del", "yes", SectionMultipath, false, ""},
		"flush_on_last_del no on 0.9.9":  {"0.9.9", "flush_on_last_del", "no", SectionMultipath, false, LimitDeprecated},
		"flush_on_last_del on 0.14.3":    {"0.14.3", "flush_on_last_del", "yes", SectionDefaults, false, LimitDeprecated},
		"protocol on 0.8.8":              {"0.8.8", "protocol", "", SectionOverrides, true, LimitLeaked},
		"protocol in a blacklist":        {"0.8.4", "protocol", "scsi:fcp", SectionBlacklist, false, ""},
		"a leading # on 0.8.4":           {"0.8.4", "alias", "#a", SectionMultipath, false, LimitQuotedComment},
		"an inner # on 0.8.4":            {"0.8.4", "alias", "a#", SectionMultipath, false, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l, ok := LimitFor(tc.version, tc.keyword, tc.section, tc.value, tc.subsection)
			if got := map[bool]string{true: l.How}[ok]; got != tc.want {
				t.Errorf("LimitFor = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLimitsIn(t *testing.T) {
	text := "defaults {\n\tallow_usb_devices yes\n}\noverrides {\n\tprotocol {\n\t\ttype \"scsi:fcp\"\n\t\teh_deadline 5\n\t}\n}\n"
	var got []string
	for _, h := range LimitsIn(text, "0.8.4") {
		got = append(got, h.Construct+" @"+strings.Repeat("I", h.Line))
	}
	want := []string{`allow_usb_devices "yes" @II`, "overrides { protocol {} } @IIIII", `eh_deadline "5" @IIIIIII`}
	if !slices.Equal(got, want) {
		t.Errorf("LimitsIn = %q, want %q", got, want)
	}
	if hits := LimitsIn(text, "0.9.4"); len(hits) != 0 {
		t.Errorf("LimitsIn on 0.9.4 = %v", hits)
	}
}

func TestCheckVersions(t *testing.T) {
	yes := true
	nodes := map[string]string{"rhel8-a": "0.8.4", "rhel8-b": "0.8.4", "rhel9": "0.8.7", "deb12": "0.9.4", "deb13": "0.11.1", "odd": "unknown"}
	tests := map[string]struct {
		errs func() []string
		want []string
	}{
		"recheckWWID names 0.8.4 and its nodes": {
			errs: func() []string {
				c := clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.RecheckWWID = &yes }))
				return errorStrings(CheckConfigVersions(c, NodesByVersion(nodes)))
			},
			want: []string{`spec.defaults.recheckWWID: Forbidden: recheck_wwid "yes" is not taken by multipath-tools 0.8.4 on node rhel8-a, rhel8-b: multipath-tools before 0.8.7 ` + LimitUnknown},
		},
		"a protocol subsection in the overrides names its line": {
			errs: func() []string {
				c := clusterConfig(withOverrides("overrides {\n\tprotocol {\n\t\ttype \"scsi:fcp\"\n\t\tfast_io_fail_tmo 5\n\t}\n}\n"))
				return errorStrings(CheckConfigVersions(c, NodesByVersion(nodes)))
			},
			want: []string{"spec.overrides: Forbidden: line 2: overrides { protocol {} } is not taken by multipath-tools 0.8.4 on node rhel8-a, rhel8-b, " +
				"multipath-tools 0.8.7 on node rhel9: multipath-tools before 0.9.4 " + LimitLeaked},
		},
		"flushOnLastDel on a LUN names the newer nodes": {
			errs: func() []string {
				w := lun("a", "3600a", withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.FlushOnLastDel = &yes }))
				return errorStrings(CheckWWIDVersions(&w, NodesByVersion(nodes)))
			},
			want: []string{`spec.flushOnLastDel: Forbidden: flush_on_last_del "yes" is not taken by multipath-tools 0.11.1 on node deb13: multipath-tools 0.9.9 and later ` + LimitDeprecated},
		},
		"what every node takes passes": {
			errs: func() []string {
				w := lun("a", "3600a", withAlias("data"), withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = "a#b" }))
				return errorStrings(CheckWWIDVersions(&w, NodesByVersion(nodes)))
			},
		},
		"a version named without nodes": {
			errs: func() []string {
				w := lun("a", "3600a", withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = "#x" }))
				return errorStrings(CheckWWIDVersions(&w, map[string][]string{"0.8.4": nil}))
			},
			want: []string{`spec.prioArgs: Forbidden: prio_args "#x" is not taken by multipath-tools 0.8.4: multipath-tools before 0.8.7 ` + LimitQuotedComment},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.errs(); !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func errorStrings(list field.ErrorList) []string {
	var out []string
	for _, e := range list {
		out = append(out, e.Error())
	}
	return out
}
