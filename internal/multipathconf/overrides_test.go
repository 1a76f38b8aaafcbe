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
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
)

// realisticOverrides is what a storage admin would write: array settings, a local-disk
// blacklist with an exception, cluster-wide overrides with a protocol subsection, and the
// untyped defaults the API leaves to the overrides.
const realisticOverrides = `# Array settings from the vendor's host guide.
devices {
	device {
		vendor "NETAPP"
		product "LUN.*"
		path_grouping_policy "group_by_prio"
		features "2 pg_init_retries 50"
		prio "alua"
		hardware_handler "1 alua"
		failback immediate
		no_path_retry "queue"   # ONTAP: queue while the cluster fails over
		rr_weight "uniform"
		retain_attached_hw_handler yes
		detect_prio "yes"
	}
	device {
		vendor "PURE"
		product "FlashArray"
		path_selector "service-time 0"
		fast_io_fail_tmo 10
		dev_loss_tmo "infinity"
		eh_deadline off
		max_sectors_kb 4096
	}
}
blacklist {
	devnode "^(ram|zram|loop|fd|md|dm-|sr|scd|st)[0-9]*"
	wwid "^0QEMU"
	wwid "!^3"                       ! only NAA/EUI WWIDs
	protocol "scsi:(usb|ata)"
	property "ID_ATA"
	device {
		vendor "QEMU"
		product ".*"
	}
}
blacklist_exceptions {
	wwid "^3600a098"
	property "(SCSI_IDENT_|ID_WWN)"
}
overrides {
	dev_loss_tmo 60
	protocol {
		type "scsi:iscsi"
		fast_io_fail_tmo 5
	}
}
defaults {
	uid_attrs "sd:ID_SERIAL nvme:ID_WWN"
	max_fds "max"
	enable_foreign "NONE"
	partition_delimiter "-part"
}
`

func TestCheckOverrides(t *testing.T) {
	managed := func(line int, kw, why string) LineError {
		return LineError{line, "keyword " + strconv.Quote(kw) + " is " + why}
	}
	tests := map[string]struct {
		text        string
		allowListed []string
		want        []LineError
	}{
		"an empty text is accepted": {},
		"a realistic devices, blacklist, overrides and defaults example is accepted": {
			text: realisticOverrides, allowListed: []string{"3600a098038303053453f463045727a4d", "36001405abc"},
		},
		"comments start with # or ! outside quotes only": {
			text: "devices { # a\n\tdevice { ! b\n\t\tvendor \"A#B!C\" # c\n\t\tproduct \"P\"\n\t}\n} ! d\n# e\n  ! f\n",
		},
		"a missing closing brace": {
			text: "devices {\n\tdevice {\n\t\tvendor \"A\"\n\t\tproduct \"B\"\n\t}\n",
			want: []LineError{{1, `unbalanced braces: "devices" opened here is never closed`}},
		},
		"an extra closing brace": {
			text: "overrides {\n}\n}\n",
			want: []LineError{{3, "unbalanced braces: this '}' closes no section"}},
		},
		"a closing brace after a value": {
			text: "overrides {\n\tno_path_retry fail }\n}\n",
			want: []LineError{{2, `keyword "no_path_retry" takes one value: quote a value that contains blanks`}},
		},
		"a closing brace followed by text": {
			text: "overrides {\n} x\n",
			want: []LineError{{2, "'}' must be alone on its line"}},
		},
		"an opening brace on its own line": {
			text: "overrides\n{\n}\n",
			want: []LineError{{1, `expected '{' after "overrides" on the same line`},
				{2, "'{' must follow a section name on the same line"}},
		},
		"a section opener with text after the brace": {
			text: "overrides { no_path_retry fail\n}\n",
			want: []LineError{{1, "nothing may follow '{' on the line"}},
		},
		"an unknown section, its content not reported again": {
			text: "hardware {\n\tbogus 1\n\tnested {\n\t}\n}\n",
			want: []LineError{{1, `unknown section "hardware": expected defaults, blacklist, blacklist_exceptions, devices, overrides or multipaths`}},
		},
		"a keyword outside any section": {
			text: "no_path_retry fail\n",
			want: []LineError{{1, `unknown section "no_path_retry": expected defaults, blacklist, blacklist_exceptions, devices, overrides or multipaths`}},
		},
		"a section in the wrong parent": {
			text: "defaults {\n\tdevices {\n\t}\n}\n",
			want: []LineError{{2, `section "devices" is not allowed inside "defaults"`}},
		},
		"a subsection at the top level": {
			text: "device {\n\tvendor \"A\"\n}\n",
			want: []LineError{{1, `section "device" is not allowed at the top level`}},
		},
		"a keyword used as a section": {
			text: "overrides {\n\tfeatures {\n\t}\n}\n",
			want: []LineError{{2, `"features" does not open a section in "overrides"`}},
		},
		"a section twice in one file": {
			text: "devices {\n}\ndevices {\n}\n",
			want: []LineError{{3, `section "devices" appears twice: multipathd accepts it once per file, merge them`}},
		},
		"a keyword not valid in its section": {
			text: "overrides {\n\treservation_key file\n\tvendor \"X\"\n}\n",
			want: []LineError{
				{2, `keyword "reservation_key" is not valid in the overrides section (multipath-tools 0.9.4)`},
				{3, `keyword "vendor" is not valid in the overrides section (multipath-tools 0.9.4)`},
			},
		},
		"a keyword directly in devices": {
			text: "devices {\n\tvendor \"X\"\n}\n",
			want: []LineError{{2, "the devices section holds only device subsections"}},
		},
		"an unknown keyword": {
			text: "overrides {\n\tno_path_retries 5\n}\n",
			want: []LineError{{2, `unknown keyword "no_path_retries" in the overrides section`}},
		},
		"user_friendly_names in any section": {
			text: "overrides {\n\tuser_friendly_names yes\n}\ndevices {\n\tdevice {\n\t\tvendor A\n\t\tproduct B\n\t\tuser_friendly_names \"yes\"\n\t}\n}\n",
			want: []LineError{managed(2, "user_friendly_names", whyMapNames), managed(8, "user_friendly_names", whyMapNames)},
		},
		"find_multipaths and the state files in defaults": {
			text: "defaults {\n\tfind_multipaths greedy\n\twwids_file /tmp/w\n\tbindings_file /tmp/b\n\tprkeys_file /tmp/p\n\tconfig_dir /tmp\n\tmultipath_dir /lib\n}\n",
			want: []LineError{
				managed(2, "find_multipaths", whyMapNames), managed(3, "wwids_file", whyFiles), managed(4, "bindings_file", whyFiles),
				managed(5, "prkeys_file", whyDeprecated), managed(6, "config_dir", whyConfigDir), managed(7, "multipath_dir", whyConfigDir),
			},
		},
		"deprecated keywords": {
			text: "devices {\n\tdevice {\n\t\tvendor A\n\t\tproduct B\n\t\tpg_timeout 5\n\t\tgetuid_callout x\n\t}\n}\n",
			want: []LineError{managed(5, "pg_timeout", whyIgnored), managed(6, "getuid_callout", whyIgnored)},
		},
		"a multipaths section, its content not reported again": {
			text: "multipaths {\n\tmultipath {\n\t\twwid \"3600a\"\n\t\talias \"db\"\n\t}\n}\n",
			want: []LineError{{1, "the multipaths section is managed by kube-multipath: allow-list LUNs with MultipathWWID objects"}},
		},
		"a defaults section with keywords the API types": {
			text: "defaults {\n\tno_path_retry queue\n\tchecker tur\n\tuid_attribute ID_WWN\n}\n",
			want: []LineError{
				{2, `keyword "no_path_retry" is typed by the API: set spec.defaults.noPathRetry instead of a defaults section in spec.overrides`},
				{3, `keyword "checker" is typed by the API: set spec.defaults.pathChecker instead of a defaults section in spec.overrides`},
			},
		},
		"a blacklist wwid that matches allow-listed WWIDs": {
			text:        "blacklist {\n\twwid \"^36\"\n\twwid \"^2\"\n}\n",
			allowListed: []string{"3600a", "3600b", "3600c", "2000"},
			want: []LineError{
				{2, `blacklist wwid "^36" matches the allow-listed WWID 3600a (and 2 more): remove it, or add a blacklist_exceptions wwid`},
				{3, `blacklist wwid "^2" matches the allow-listed WWID 2000: remove it, or add a blacklist_exceptions wwid`},
			},
		},
		"an inverted blacklist wwid that matches every other WWID": {
			text:        "blacklist {\n\twwid \"!^3600a\"\n}\n",
			allowListed: []string{"3600a", "3600b"},
			want:        []LineError{{2, `blacklist wwid "!^3600a" matches the allow-listed WWID 3600b: remove it, or add a blacklist_exceptions wwid`}},
		},
		"a blacklisted WWID saved by blacklist_exceptions": {
			text:        "blacklist {\n\twwid \".*\"\n}\nblacklist_exceptions {\n\twwid \"^3600\"\n}\n",
			allowListed: []string{"3600a", "3600b"},
		},
		"an empty blacklist wwid matches everything": {
			text:        "blacklist {\n\twwid \"\"\n}\n",
			allowListed: []string{"3600a"},
			want:        []LineError{{2, `blacklist wwid "" matches the allow-listed WWID 3600a: remove it, or add a blacklist_exceptions wwid`}},
		},
		"patterns that are not POSIX extended regular expressions": {
			text: "blacklist {\n\twwid \"(\"\n\tdevnode \"(?i)sda\"\n\tdevice {\n\t\tvendor \"*x\"\n\t\tproduct \".*\"\n\t}\n}\n",
			want: []LineError{
				{2, "invalid value \"(\" for wwid: must be a POSIX extended regular expression: missing closing ): `(`"},
				{3, "invalid value \"(?i)sda\" for devnode: must be a POSIX extended regular expression: a repetition (?) must follow something to repeat"},
				{5, "invalid value \"*x\" for vendor: must be a POSIX extended regular expression: a repetition (*) must follow something to repeat"},
			},
		},
		"braces and anchors glibc reads differently from Go": {
			text: "blacklist {\n\twwid \"^st {3600a\"\n\tdevnode \"$*\"\n\tdevnode \"a{,2}\"\n\twwid \"x{2}[{]\\{\"\n\twwid \"a{01}\"\n}\n",
			want: []LineError{
				{2, `invalid value "^st {3600a" for wwid: must be a POSIX extended regular expression: '{' must open an interval such as {2}, {2,} or {1,3} (write [{] for a brace)`},
				{3, `invalid value "$*" for devnode: must be a POSIX extended regular expression: a repetition must not follow an anchor ($*)`},
				{4, `invalid value "a{,2}" for devnode: must be a POSIX extended regular expression: '{' must open an interval such as {2}, {2,} or {1,3} (write [{] for a brace)`},
				{6, `invalid value "a{01}" for wwid: must be a POSIX extended regular expression: '{' must open an interval such as {2}, {2,} or {1,3} (write [{] for a brace)`},
			},
		},
		"escapes and bracket expressions glibc reads differently from Go": {
			text: `blacklist {
	wwid "\670"
	devnode "sd\w"
	devnode "[\]]"
	property "[[=a=]]"
	property "[[:word:]]"
	wwid "[[:xdigit:]]{2}\.\!"
}
`,
			want: []LineError{
				{2, `invalid value "\\670" for wwid: must be a POSIX extended regular expression: a backslash may only escape punctuation (glibc and Go read \<letter or digit> differently)`},
				{3, `invalid value "sd\\w" for devnode: must be a POSIX extended regular expression: a backslash may only escape punctuation (glibc and Go read \<letter or digit> differently)`},
				{4, `invalid value "[\\]]" for devnode: must be a POSIX extended regular expression: a backslash inside [...] is a literal for glibc and an escape for Go: leave it out`},
				{5, `invalid value "[[=a=]]" for property: must be a POSIX extended regular expression: [= =] inside [...] is not supported`},
				{6, `invalid value "[[:word:]]" for property: must be a POSIX extended regular expression: [: :] inside [...] must name a POSIX class, such as [:digit:]`},
			},
		},
		"a keyword twice in one section": {
			text: "overrides {\n\tno_path_retry fail\n\tno_path_retry queue\n}\n",
			want: []LineError{{3, `keyword "no_path_retry" is already set on line 2 of this section (multipathd logs a duplicate)`}},
		},
		"blacklist patterns may repeat": {
			text: "blacklist {\n\tdevnode \"^a\"\n\tdevnode \"^b\"\n\tproperty \"X\"\n\tproperty \"Y\"\n}\n",
		},
		"a device repeated in one devices section": {
			text: "devices {\n\tdevice {\n\t\tvendor V\n\t\tproduct P\n\t}\n\tdevice {\n\t\tvendor \"V\"\n\t\tproduct \"P\"\n\t\tno_path_retry fail\n\t}\n" +
				"\tdevice {\n\t\tvendor V\n\t\tproduct P\n\t\trevision \"\"\n\t}\n}\n",
			want: []LineError{{6, `this device subsection (vendor "V", product "P") repeats the one on line 2 (multipathd logs a duplicate): merge them`}},
		},
		"deprecated device-mapper features": {
			text: "overrides {\n\tfeatures \"3 queue_if_no_path pg_init_retries 50\"\n}\ndevices {\n\tdevice {\n\t\tvendor V\n\t\tproduct P\n" +
				"\t\tfeatures \"1 retain_attached_hw_handler\"\n\t}\n}\n",
			want: []LineError{
				{2, `invalid value "3 queue_if_no_path pg_init_retries 50" for features: feature queue_if_no_path is deprecated in multipath-tools 0.9.4, which logs an error for it: use no_path_retry queue`},
				{8, `invalid value "1 retain_attached_hw_handler" for features: feature retain_attached_hw_handler is deprecated in multipath-tools 0.9.4, which logs an error for it: use retain_attached_hw_handler yes`},
			},
		},
		"a deprecated feature inside another word (multipathd looks for substrings)": {
			text: "overrides {\n\tfeatures \"1 xqueue_if_no_pathx\"\n}\n",
			want: []LineError{{2, `invalid value "1 xqueue_if_no_pathx" for features: feature queue_if_no_path is deprecated in multipath-tools 0.9.4, which logs an error for it: use no_path_retry queue`}},
		},
		"a device without a product": {
			text: "devices {\n\tdevice {\n\t\tvendor \"A\"\n\t}\n}\n",
			want: []LineError{{2, "a device subsection needs a product (multipathd ignores it otherwise)"}},
		},
		"a blacklist device without a product": {
			text: "blacklist {\n\tdevice {\n\t\tvendor \"A\"\n\t}\n}\nblacklist_exceptions {\n\tdevice {\n\t\tproduct \"B\"\n\t}\n}\n",
			want: []LineError{
				{2, `a device subsection needs a product (` + whyMalformedWithout + ")"},
				{7, `a device subsection needs a vendor (` + whyMalformedWithout + ")"},
			},
		},
		"a protocol without a type": {
			text: "overrides {\n\tprotocol {\n\t\tdev_loss_tmo 5\n\t}\n}\n",
			want: []LineError{{2, "a protocol subsection needs a type (multipathd ignores it otherwise)"}},
		},
		"values multipathd would refuse": {
			text: "devices {\n\tdevice {\n\t\tvendor A\n\t\tproduct B\n\t\tno_path_retry 0\n\t\tfeatures \"2 queue_if_no_path\"\n" +
				"\t\tpath_grouping_policy bogus\n\t\tvpd_vendor hp\n\t\tdetect_prio 1\n\t}\n}\noverrides {\n\tprotocol {\n\t\ttype \"scsi:fc\"\n\t}\n}\n" +
				"defaults {\n\tuid_attrs \"sd\"\n\tmode 0999\n\tmax_fds 0\n}\n",
			want: []LineError{
				{5, `invalid value "0" for no_path_retry: must be queue, fail or a number from 1 to 1000000`},
				{6, `invalid value "2 queue_if_no_path" for features: must start with the number of arguments that follow (1 here)`},
				{7, `invalid value "bogus" for path_grouping_policy: must be one of failover, multibus, group_by_serial, group_by_prio, group_by_node_name`},
				{8, `invalid value "hp" for vpd_vendor: must be one of hp3par`},
				{9, `invalid value "1" for detect_prio: must be yes or no`},
				{14, `invalid value "scsi:fc" for type: must be one of ` + strings.Join(protocols, ", ")},
				{18, `invalid value "sd" for uid_attrs: must be space separated type:ATTR records, such as sd:ID_SERIAL`},
				{19, `invalid value "0999" for mode: must be a file mode in octal, such as 0600`},
				{20, `invalid value "0" for max_fds: must be max or a number from 1 to 1048576`},
			},
		},
		"a quoted value with a tab": {
			text: "overrides {\n\tprio_args \"a\tb\"\n}\n",
			want: []LineError{{2, `quoted value must not contain control characters (found '\t' at byte 2)`}},
		},
		"non-ASCII outside quotes": {
			text: "overrides {\n\tprio é\n}\n",
			want: []LineError{{2, "only ASCII is allowed outside quotes (multipathd reads other bytes as blanks)"}},
		},
		"non-ASCII inside quotes and comments is fine": {
			text: "# données\ndevices {\n\tdevice {\n\t\tvendor \"Société\"\n\t\tproduct \"漢字\"\n\t}\n}\n",
		},
		"carriage returns, reported once per line (braces still count)": {
			text: "overrides {\r\n}\r\n",
			want: []LineError{
				{1, `control character '\r' at byte 11 is not allowed`},
				{2, `control character '\r' at byte 1 is not allowed`},
			},
		},
		"a missing closing quote": {
			text: "overrides {\n\tprio_args \"abc\n}\n",
			want: []LineError{{2, "missing closing quote"}},
		},
		"a keyword without a value": {
			text: "overrides {\n\tno_path_retry\n}\n",
			want: []LineError{{2, `keyword "no_path_retry" has no value`}},
		},
		"a keyword with two values": {
			text: "overrides {\n\tprio_args a b\n\tprio_args \"a\" b\n}\n",
			want: []LineError{
				{2, `keyword "prio_args" takes one value: quote a value that contains blanks`},
				{3, `keyword "prio_args" takes one value: quote a value that contains blanks`},
			},
		},
		"a line starting with a quoted string": {
			text: "overrides {\n\t\"prio\" alua\n}\n",
			want: []LineError{{2, "a line must start with a keyword, not a quoted string"}},
		},
		"a line longer than multipathd reads at once": {
			text: "overrides {\n\tprio_args \"" + strings.Repeat("a", 1020) + "\"\n}\n",
			want: []LineError{{2, "line is 1033 bytes, more than the 1023 multipathd reads at once"}},
		},
		"a text longer than 131072 bytes": {
			text: strings.Repeat("#\n", 65537),
			want: []LineError{{0, "overrides are 131074 bytes, more than the 131072 allowed"}},
		},
		"invalid UTF-8 in a comment": {
			text: "# \xff\n",
			want: []LineError{{1, "comment must be valid UTF-8"}},
		},
		"a doubled quote is a literal quote, and a keyword may touch its quoted value": {
			text: "overrides {\n\tprio_args\"a \"\"b\"\" #c\"\n}\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := CheckOverrides(tc.text, tc.allowListed)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", lineErrors(got), lineErrors(tc.want))
			}
		})
	}
}

func lineErrors(errs []LineError) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

func TestLineErrorReadsAsASentence(t *testing.T) {
	tests := map[string]struct {
		err  LineError
		want string
	}{
		"with a line":        {LineError{7, `keyword "x" is y`}, `line 7: keyword "x" is y`},
		"for the whole text": {LineError{0, "too big"}, "too big"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

// acceptedOverrides are texts CheckOverrides accepts; each must also pass the real parser.
var acceptedOverrides = map[string]string{
	"realistic.conf": realisticOverrides,
	"comments.conf":  "devices { # a\n\tdevice { ! b\n\t\tvendor \"A#B!C\" # c\n\t\tproduct \"P\"\n\t}\n} ! d\n# e\n  ! f\n",
	"quotes.conf":    "overrides {\n\tprio_args\"a \"\"b\"\" #c\"\n}\n",
	"unicode.conf":   "# données\ndevices {\n\tdevice {\n\t\tvendor \"Société\"\n\t\tproduct \"漢字\"\n\t}\n}\n",
	"exceptions.conf": "blacklist {\n\twwid \".*\"\n\tdevnode \"^a\"\n\tdevnode \"^b\"\n}\nblacklist_exceptions {\n\twwid \"^3600\"\n" +
		"\tdevice {\n\t\tvendor \"NETAPP\"\n\t\tproduct \"LUN\"\n\t}\n}\n",
	"values.conf": "devices {\n\tdevice {\n\t\tvendor V\n\t\tproduct P\n\t\tfeatures \"0\"\n\t\thardware_handler \"0\"\n\t\tvpd_vendor hp3par\n" +
		"\t\tproduct_blacklist \"^X\"\n\t\trevision \"1.*\"\n\t\tchecker \"directio\"\n\t\talias_prefix \"san\"\n\t\trr_min_io 100\n\t}\n}\n" +
		"defaults {\n\tuid 0\n\tgid 6\n\tmode 0640\n\tforce_sync no\n\tallow_usb_devices no\n\treassign_maps no\n\tfind_multipaths_timeout -10\n\tuid_attrs \"\"\n}\n",
}

func TestAcceptedOverridesPassRealParser(t *testing.T) {
	files := map[string]string{}
	for name, text := range acceptedOverrides {
		if errs := CheckOverrides(text, nil); len(errs) > 0 {
			t.Fatalf("%s is refused:\n%s", name, lineErrors(errs))
		}
		files[name] = text
	}
	// Each file on its own: multipathd refuses a repeated section only within one file.
	mptest.ForEach(t, func(t *testing.T, parser *mptest.Parser) {
		// A file using what this version does not take is left out: the render refuses it for
		// such nodes, and TestLimitsMatchRealParsers proves each limit.
		taken := map[string]string{}
		for name, text := range files {
			if hits := LimitsIn(text, parser.Version); len(hits) > 0 {
				t.Logf("%s left out: %s (%s)", name, hits[0].Construct, hits[0].Limit.How)
				continue
			}
			taken[name] = text
		}
		cfg := parser.Parse(t, taken)
		var vendors []string
		for _, d := range cfg.Subsections["devices/device"] {
			vendors = append(vendors, d.Get("vendor"))
		}
		for _, want := range []string{"NETAPP", "PURE", "A#B!C", "Société", "V"} {
			if !strings.Contains(strings.Join(vendors, "\n"), want) {
				t.Errorf("device %q is not in multipath -t's devices", want)
			}
		}
		if got := cfg.Sections["overrides"].Get("prio_args"); got != `a "b" #c` {
			t.Errorf("overrides prio_args = %q, want %q", got, `a "b" #c`)
		}
	})
}
