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
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

const (
	w1 = "3600a098038303053453f463045727a4d"
	w2 = "36001405b0ba4f0a4b2d4d7e9a7f33a01"
	w3 = "36001405e8cb0c7ab0d14b2a8b2c1ff02"
	w4 = "360000970000197900372533030344646"
)

// rhelConf is what `mpathconf --enable --user_friendly_names y --find_multipaths y` followed
// by an allow-list of one LUN leaves in /etc/multipath.conf on RHEL 9.
const rhelConf = `# device-mapper-multipath configuration file

# For a complete list of the default configuration values, run either:
# # multipath -t
# or
# # multipathd show config

# For a list of configuration options with descriptions, see the
# multipath.conf man page.

defaults {
	user_friendly_names yes
	find_multipaths yes
	enable_foreign "^$"
}

blacklist_exceptions {
        property "(SCSI_IDENT_|ID_WWN)"
        wwid "3600a098038303053453f463045727a4d"
}

blacklist {
	wwid ".*"
}
`

// ubuntuConf is the /etc/multipath.conf Ubuntu's multipath-tools package installs.
const ubuntuConf = `defaults {
    user_friendly_names yes
}
`

// bindings is a bindings file as multipath maintains it, with one hand-made line.
const bindings = `# Multipath bindings, Version : 1.0
# NOTE: this file is automatically maintained by the multipath program.
# You should not need to edit this file in normal circumstances.
#
# Format:
# alias wwid
#
mpatha 36001405b0ba4f0a4b2d4d7e9a7f33a01
mpathb 36001405e8cb0c7ab0d14b2a8b2c1ff02
oradata 360000970000197900372533030344646 # moved by hand
`

const handAliases = `multipaths {
	multipath {
		wwid 3600a098038303053453f463045727a4d
		alias legacy_ora
	}
	multipath {
		wwid "36001405e8cb0c7ab0d14b2a8b2c1ff02"
		alias "db01"
	}
}
`

func writeRoot(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func own(name string) bool {
	return name == "99-kube-multipath.conf" || name == "99-kube-multipath-overrides.conf"
}

// brief is a conflict as the tests compare it; the message is checked apart.
type brief struct {
	Type  mpv1alpha1.HostConflictType
	WWID  string
	Alias string
	At    string
}

func briefs(hcs []mpv1alpha1.HostConflict) []brief {
	var out []brief
	for _, h := range hcs {
		at := ""
		if h.File != "" {
			at = (Pos{File: h.File, Line: int(h.Line)}).String()
		}
		out = append(out, brief{h.Type, h.WWID, h.Alias, at})
	}
	return out
}

func TestConflicts(t *testing.T) {
	tests := map[string]struct {
		files   map[string]string
		version string
		managed map[string]string
		maps    []Map
		want    []brief
		// message holds a substring each conflict's message must contain, in order.
		message []string
	}{
		"a node without any multipath configuration (Debian's default) contradicts nothing": {
			managed: map[string]string{w1: "data", w2: w2},
		},
		"Ubuntu's user_friendly_names yes alone contradicts nothing": {
			files:   map[string]string{"etc/multipath.conf": ubuntuConf},
			managed: map[string]string{w1: "data", w2: w2},
		},
		"RHEL's blacklist of everything blacklists every managed WWID its exceptions do not name": {
			files:   map[string]string{"etc/multipath.conf": rhelConf},
			managed: map[string]string{w1: "data", w2: w2},
			want:    []brief{{mpv1alpha1.HostConflictBlacklisted, w2, "", "/etc/multipath.conf:23"}},
			message: []string{`/etc/multipath.conf:23 blacklists managed WWID ` + w2 + ` (wwid ".*")`},
		},
		"a hand-written alias for a managed WWID differs, and a managed alias given to another WWID is taken": {
			files:   map[string]string{"etc/multipath.conf": handAliases},
			managed: map[string]string{w1: "ora", w2: "db01"},
			want: []brief{
				{mpv1alpha1.HostConflictAliasTaken, w2, "db01", "/etc/multipath.conf:8"},
				{mpv1alpha1.HostConflictAliasDiffers, w1, "legacy_ora", "/etc/multipath.conf:4"},
			},
			message: []string{`gives alias "db01" to WWID ` + w3, `names managed WWID ` + w1 + ` "legacy_ora" where the operator names it "ora"`},
		},
		"the same alias for the same WWID agrees": {
			files:   map[string]string{"etc/multipath.conf": handAliases},
			managed: map[string]string{w1: "legacy_ora", w3: "db01"},
		},
		"a bindings file name given to another WWID is taken; user_friendly names of managed WWIDs are not": {
			files:   map[string]string{"etc/multipath.conf": ubuntuConf, "etc/multipath/bindings": bindings},
			managed: map[string]string{w2: w2, w1: "oradata"},
			want:    []brief{{mpv1alpha1.HostConflictAliasTaken, w1, "oradata", "/etc/multipath/bindings:10"}},
			message: []string{`binds name "oradata" to WWID ` + w4},
		},
		"a map of the managed name with another WWID is taken": {
			managed: map[string]string{w1: "data"},
			maps:    []Map{{Name: "data", WWID: w2}, {Name: "mpatha", WWID: w3}, {Name: w1, WWID: w1}},
			want:    []brief{{mpv1alpha1.HostConflictAliasTaken, w1, "data", ""}},
			message: []string{`map "data" already exists for WWID ` + w2},
		},
		"the operator's own drop-ins are not host facts, another drop-in is": {
			files: map[string]string{
				"etc/multipath/conf.d/99-kube-multipath.conf": "multipaths {\n multipath {\n  wwid " + w1 + "\n  alias data\n }\n}\nblacklist {\n wwid .*\n}\n",
				"etc/multipath/conf.d/50-storage.conf":        "multipaths {\n multipath {\n  wwid " + w1 + "\n  alias old\n }\n}\n",
				"etc/multipath/conf.d/60-notes.txt":           "blacklist {\n wwid .*\n}\n",
			},
			managed: map[string]string{w1: "data"},
			want:    []brief{{mpv1alpha1.HostConflictAliasDiffers, w1, "old", "/etc/multipath/conf.d/50-storage.conf:4"}},
		},
		"config_dir counts before 0.9.0": {
			files: map[string]string{
				"etc/multipath.conf":          "defaults {\n config_dir /etc/mp.d\n}\n",
				"etc/mp.d/10-x.conf":          "blacklist {\n wwid ^3600a\n}\n",
				"etc/multipath/conf.d/a.conf": "blacklist {\n wwid ^36001405\n}\n",
			},
			version: "0.8.4",
			managed: map[string]string{w1: "a", w2: "b"},
			want:    []brief{{mpv1alpha1.HostConflictBlacklisted, w1, "", "/etc/mp.d/10-x.conf:2"}},
		},
		"config_dir is ignored from 0.9.0": {
			files: map[string]string{
				"etc/multipath.conf":          "defaults {\n config_dir /etc/mp.d\n}\n",
				"etc/mp.d/10-x.conf":          "blacklist {\n wwid ^3600a\n}\n",
				"etc/multipath/conf.d/a.conf": "blacklist {\n wwid ^36001405\n}\n",
			},
			version: "0.9.4",
			managed: map[string]string{w1: "a", w2: "b"},
			want:    []brief{{mpv1alpha1.HostConflictBlacklisted, w2, "", "/etc/multipath/conf.d/a.conf:2"}},
		},
		"bindings_file counts in 0.9.4, not in 0.9.7": {
			files: map[string]string{
				"etc/multipath.conf": "defaults {\n bindings_file /etc/mpb\n}\n",
				"etc/mpb":            "data " + w4 + "\n",
			},
			version: "0.9.4",
			managed: map[string]string{w1: "data"},
			want:    []brief{{mpv1alpha1.HostConflictAliasTaken, w1, "data", "/etc/mpb:1"}},
		},
		"bindings_file is ignored in 0.9.7": {
			files: map[string]string{
				"etc/multipath.conf": "defaults {\n bindings_file /etc/mpb\n}\n",
				"etc/mpb":            "data " + w4 + "\n",
			},
			version: "0.9.7",
			managed: map[string]string{w1: "data"},
		},
		"a section opened on one line swallows the rest of that line and holds the next lines": {
			files:   map[string]string{"etc/multipath.conf": "blacklist { wwid ^3600a }\n\twwid ^36001405\n}\n"},
			managed: map[string]string{w1: "a", w2: "b"},
			want:    []brief{{mpv1alpha1.HostConflictBlacklisted, w2, "", "/etc/multipath.conf:2"}},
		},
		"comments, quoted quotes and device subsections are read as multipath-tools reads them": {
			files: map[string]string{"etc/multipath.conf": `blacklist {
	# wwid .*
	! wwid .*
	wwid "^3600a#x" # not a comment inside quotes
	device {
		vendor ".*"
		product ".*"
	}
	wwid "^360000970""x"
}
`},
			managed: map[string]string{w1: "a", w4: "b", "3600a#x": "c", `360000970"x`: "d"},
			want: []brief{
				{mpv1alpha1.HostConflictBlacklisted, `360000970"x`, "", "/etc/multipath.conf:9"},
				{mpv1alpha1.HostConflictBlacklisted, "3600a#x", "", "/etc/multipath.conf:4"},
			},
		},
		"an inverted regex blacklists what it does not match, from 0.8.5": {
			files:   map[string]string{"etc/multipath.conf": "blacklist {\n wwid \"!^3600a\"\n}\n"},
			managed: map[string]string{w1: "a", w2: "b"},
			want:    []brief{{mpv1alpha1.HostConflictBlacklisted, w2, "", "/etc/multipath.conf:2"}},
		},
		"0.8.4 reads a quoted value starting with ! as empty, which blacklists every WWID": {
			files:   map[string]string{"etc/multipath.conf": "blacklist {\n wwid \"!^3600a\"\n}\n"},
			version: "0.8.4",
			managed: map[string]string{w1: "a", w2: "b"},
			want: []brief{
				{mpv1alpha1.HostConflictBlacklisted, w2, "", "/etc/multipath.conf:2"},
				{mpv1alpha1.HostConflictBlacklisted, w1, "", "/etc/multipath.conf:2"},
			},
		},
		"a backslash in a bracket expression is literal, as in POSIX": {
			files:   map[string]string{"etc/multipath.conf": `blacklist {` + "\n" + ` wwid "^36001405[\d]"` + "\n}\n"},
			managed: map[string]string{w2: "a", "36001405d": "b", `36001405\`: "c"},
			want: []brief{
				{mpv1alpha1.HostConflictBlacklisted, `36001405\`, "", "/etc/multipath.conf:2"},
				{mpv1alpha1.HostConflictBlacklisted, "36001405d", "", "/etc/multipath.conf:2"},
			},
		},
		"a regex Go cannot decide is reported as undecided, never guessed": {
			files:   map[string]string{"etc/multipath.conf": "blacklist {\n wwid ^3600\\d\n}\n"},
			managed: map[string]string{w2: "a"},
			want:    []brief{{mpv1alpha1.HostConflictBlacklisted, w2, "", "/etc/multipath.conf:2"}},
			message: []string{`may blacklist managed WWID ` + w2 + `: cannot decide regex "^3600\\d"`},
		},
		"an exception Go cannot decide makes a matching blacklist undecided": {
			files:   map[string]string{"etc/multipath.conf": "blacklist_exceptions {\n wwid \"^3600[[.a.]]\"\n}\nblacklist {\n wwid .*\n}\n"},
			managed: map[string]string{w2: "a"},
			want:    []brief{{mpv1alpha1.HostConflictBlacklisted, w2, "", "/etc/multipath.conf:5"}},
			message: []string{`unless the exception at /etc/multipath.conf:2 excepts it, which cannot be decided`},
		},
		"an exception that matches wins even beside one Go cannot decide": {
			files:   map[string]string{"etc/multipath.conf": "blacklist_exceptions {\n wwid \\<x\n wwid ^36001405\n}\nblacklist {\n wwid .*\n}\n"},
			managed: map[string]string{w2: "a"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			root := writeRoot(t, tt.files)
			c, err := Read(Options{Root: root, Own: own, Version: tt.version})
			if err != nil {
				t.Fatal(err)
			}
			got := c.Conflicts(tt.managed, tt.maps)
			if !slices.Equal(briefs(got), tt.want) {
				t.Fatalf("conflicts:\n got %+v\nwant %+v\nconfig %+v", briefs(got), tt.want, c)
			}
			for i, m := range tt.message {
				if !strings.Contains(got[i].Message, m) {
					t.Errorf("conflict %d message %q does not contain %q", i, got[i].Message, m)
				}
			}
		})
	}
}

func TestReadReportsProblemsWithFileAndLine(t *testing.T) {
	root := writeRoot(t, map[string]string{
		"etc/multipath.conf": "blacklist {\n wwid \"abc\n}\n}\nmultipaths {\n",
	})
	c, err := Read(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/etc/multipath.conf:2: missing closing quote",
		"/etc/multipath.conf:4: unmatched }",
		"/etc/multipath.conf: missing } at end of file",
	}
	if !slices.Equal(c.Problems, want) {
		t.Fatalf("problems:\n got %q\nwant %q", c.Problems, want)
	}
	if _, err := Read(Options{}); err == nil {
		t.Fatal("Read with no root: no error")
	}
}

func TestUnreadableFileIsAProblemNotAnError(t *testing.T) {
	root := writeRoot(t, map[string]string{"etc/multipath/conf.d/a.conf": "blacklist {\n wwid .*\n}\n"})
	// A directory where a file is expected cannot be read as one.
	if err := os.MkdirAll(filepath.Join(root, "etc", "multipath.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Read(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Problems) != 1 || !strings.HasPrefix(c.Problems[0], "/etc/multipath.conf: ") {
		t.Fatalf("problems = %q, want one naming /etc/multipath.conf", c.Problems)
	}
	if len(c.Blacklist.WWID) != 1 {
		t.Fatalf("the readable drop-in was not read: %+v", c.Blacklist)
	}
}

// ManagedNames reads the names the operator's own render gives: the alias, else the WWID.
func TestManagedNamesReadsTheRender(t *testing.T) {
	objs := []mpv1alpha1.MultipathWWID{
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: w1, Alias: "ora"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: w2}},
	}
	r, err := multipathconf.Render(nil, objs)
	if err != nil {
		t.Fatal(err)
	}
	var files [][]byte
	for _, f := range r.Files {
		files = append(files, []byte(f.Content))
	}
	got := ManagedNames(r.WWIDs, files...)
	if want := map[string]string{w1: "ora", w2: w2}; !maps.Equal(got, want) {
		t.Fatalf("ManagedNames = %v, want %v", got, want)
	}
}

// BenchmarkConflicts is one agent pass's check at 10,000 managed LUNs with 100 maps, on a host
// with a few hand-written aliases and a bindings file of 100 names ("aliases"), and on one
// with RHEL's blacklist of everything but its exceptions ("rhel").
func BenchmarkConflicts(b *testing.B) {
	var bind strings.Builder
	for i := range 100 {
		fmt.Fprintf(&bind, "mpath%d 36001405%025d\n", i, i)
	}
	managed := make(map[string]string, 10000)
	for i := range 10000 {
		managed[fmt.Sprintf("3600a0980383030534%015d", i)] = fmt.Sprintf("data%d", i)
	}
	current := make([]Map, 100)
	for i := range current {
		current[i] = Map{Name: fmt.Sprintf("data%d", i*100), WWID: fmt.Sprintf("3600a0980383030534%015d", i*100)}
	}
	for name, conf := range map[string]string{"aliases": handAliases, "rhel": rhelConf} {
		b.Run(name, func(b *testing.B) {
			root := writeRoot(b, map[string]string{"etc/multipath.conf": conf, "etc/multipath/bindings": bind.String()})
			cfg, err := Read(Options{Root: root, Version: "0.9.4"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				cfg.Conflicts(managed, current)
			}
		})
	}
}
