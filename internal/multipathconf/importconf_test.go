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
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
)

// importSources reads testdata/import files in the order given, named by their path under it.
func importSources(t *testing.T, names ...string) []ImportSource {
	t.Helper()
	out := make([]ImportSource, 0, len(names))
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("testdata", "import", n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ImportSource{Name: n, Text: string(data)})
	}
	return out
}

// importReport prints an import the way a reviewer reads it: the objects as YAML, then the notes.
func importReport(t *testing.T, im *Imported) string {
	t.Helper()
	var b strings.Builder
	if im.Config != nil {
		out, err := yaml.Marshal(im.Config.Spec)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("# MultipathConfig cluster spec\n" + string(out))
	}
	for _, w := range im.WWIDs {
		out, err := yaml.Marshal(w.Spec)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("# MultipathWWID " + w.Name + " spec\n" + string(out))
	}
	if len(im.ShowConfig) > 0 {
		b.WriteString("# read as show config output: " + strings.Join(im.ShowConfig, ", ") + "\n")
	}
	b.WriteString("# not carried over\n")
	for _, n := range im.Notes {
		b.WriteString(n.String() + "\n")
	}
	return b.String()
}

func TestImport(t *testing.T) {
	tests := map[string]struct {
		sources []string
		golden  string
	}{
		"a vendor fragment with a defaults section becomes one MultipathConfig": {
			sources: []string{"vendor-fragment.conf"},
			golden:  "vendor-fragment.golden",
		},
		"a node's multipath.conf and conf.d merge as multipathd merges them": {
			sources: []string{"node/multipath.conf", "node/conf.d/10-array.conf", "node/conf.d/20-broken.conf"},
			golden:  "node.golden",
		},
		"multipath -t with no configuration imports nothing: every value is built in": {
			sources: []string{"../../builtin/0.9.4.conf"},
			golden:  "builtin.golden",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			im, err := Import(importSources(t, tc.sources...))
			if err != nil {
				t.Fatal(err)
			}
			got := importReport(t, im)
			path := filepath.Join("testdata", "import", tc.golden)
			if updateGolden {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with UPDATE_GOLDEN=true to create it)", err)
			}
			if got != string(want) {
				t.Errorf("import differs from %s (UPDATE_GOLDEN=true rewrites it):\n%s", path, got)
			}
		})
	}
}

// TestImportedObjectsPassAdmissionAndRender checks the contract of Import on every input: the
// objects pass the validators admission runs, and render.
func TestImportedObjectsPassAdmissionAndRender(t *testing.T) {
	for _, sources := range [][]string{
		{"vendor-fragment.conf"},
		{"node/multipath.conf", "node/conf.d/10-array.conf", "node/conf.d/20-broken.conf"},
	} {
		im, err := Import(importSources(t, sources...))
		if err != nil {
			t.Fatal(err)
		}
		if im.Config == nil {
			t.Fatalf("%v: no MultipathConfig imported", sources)
		}
		var allow []string
		for i := range im.WWIDs {
			if errs := ValidateMultipathWWID(&im.WWIDs[i]); len(errs) > 0 {
				t.Errorf("%v: MultipathWWID %s: %v", sources, im.WWIDs[i].Name, errs)
			}
			allow = append(allow, im.WWIDs[i].Spec.WWID)
		}
		if errs := ValidateMultipathConfig(im.Config, allow); len(errs) > 0 {
			t.Errorf("%v: MultipathConfig: %v", sources, errs)
		}
		if res := ResolveConflicts(im.WWIDs); len(res.Conflicts) > 0 {
			t.Errorf("%v: conflicts: %v", sources, res.Conflicts)
		}
		if _, err := Render(im.Config, im.WWIDs); err != nil {
			t.Errorf("%v: %v", sources, err)
		}
	}
}

// TestImportRoundTripsThroughTheRealParser imports a node's files, renders the objects and
// parses the result with every multipath-tools version of the matrix: no complaint, and the
// knobs, aliases and device settings that were carried over are what multipathd reads.
func TestImportRoundTripsThroughTheRealParser(t *testing.T) {
	im, err := Import(importSources(t, "node/multipath.conf", "node/conf.d/10-array.conf", "node/conf.d/20-broken.conf"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(im.Config, im.WWIDs)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range r.Files {
		if strings.HasSuffix(f.Name, ".conf") {
			files[f.Name] = f.Content
		}
	}
	mptest.ForEach(t, func(t *testing.T, p *mptest.Parser) {
		cfg := p.Parse(t, files)
		defaults := cfg.Sections["defaults"]
		for keyword, want := range map[string]string{"polling_interval": "5", "fast_io_fail_tmo": "5", "no_path_retry": "12"} {
			if got := defaults.Get(keyword); got != want {
				t.Errorf("defaults %s = %q, want %q", keyword, got, want)
			}
		}
		if got := cfg.Multipaths["3600a098038303053453f463045727a4d"].Get("alias"); got != "oradata01" {
			t.Errorf("alias of oradata01's WWID = %q", got)
		}
		found := false
		for _, d := range cfg.Subsections["devices/device"] {
			if d.Get("vendor") == "PURE" {
				found = true
				if got := d.Get("hardware_handler"); got != "1 alua" {
					t.Errorf("PURE hardware_handler = %q", got)
				}
			}
		}
		if !found {
			t.Errorf("the PURE device section is not in multipath -t's output")
		}
	})
}

// TestImportShowConfig imports what `multipath -t` prints for a node's files (the same output as
// `multipathd show config`): values equal to the built-in ones are skipped, and the objects
// render to a configuration multipathd reads exactly as it reads the files' own import.
func TestImportShowConfig(t *testing.T) {
	mptest.RequireAvailable(t)
	fromFiles, err := Import(importSources(t, "vendor-fragment.conf"))
	if err != nil {
		t.Fatal(err)
	}
	effective := func(im *Imported) string {
		t.Helper()
		r, err := Render(im.Config, im.WWIDs)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]string{}
		for _, f := range r.Files {
			if strings.HasSuffix(f.Name, ".conf") {
				files[f.Name] = f.Content
			}
		}
		return mptest.Parse(t, files).Raw
	}
	want := effective(fromFiles)
	fromShow, err := Import([]ImportSource{{Name: "show-config", Text: want}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fromShow.ShowConfig) != 1 || fromShow.BuiltinSkipped == 0 {
		t.Errorf("multipath -t output not read as show config (%v, %d values skipped)", fromShow.ShowConfig, fromShow.BuiltinSkipped)
	}
	if fromShow.Config == nil || fromShow.Config.Spec.Defaults.PathChecker != "" {
		t.Errorf("path_checker tur is built in: it must be skipped, got %+v", fromShow.Config)
	}
	if got := effective(fromShow); got != want {
		t.Errorf("the show config import renders to another configuration:\n%s", importReport(t, fromShow))
	}
}

// TestBuiltinMatchesRealParser keeps builtin/0.9.4.conf true: it is what the installed
// multipath-tools 0.9.4 prints with no configuration.
func TestBuiltinMatchesRealParser(t *testing.T) {
	mptest.RequireAvailable(t)
	p := mptest.Default(t)
	if p.Version != "0.9.4" {
		t.Skipf("installed multipath-tools is %s, the built-in table is 0.9.4's", p.Version)
	}
	cfg := p.Parse(t, nil)
	if cfg.Raw != builtinConf {
		t.Errorf("builtin/0.9.4.conf differs from multipath -t with no configuration; refresh it with `multipath -t` on an empty /etc/multipath")
	}
}
