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

package plugin

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runRender(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(context.Background(), IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append([]string{"render"}, args...))
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestRenderWritesTheSamples(t *testing.T) {
	dir := t.TempDir()
	_, stderr, err := runRender(t, "-f", "../../config/samples", "-o", dir)
	if err != nil {
		t.Fatalf("render of config/samples failed: %v\n%s", err, stderr)
	}
	for name, want := range map[string]string{
		"99-kube-multipath.conf":           `alias "oradata01"`,
		"90-kube-multipath-overrides.conf": `vendor "NETAPP"`,
		"wwids":                            "3600a098038303053453f463045727a4d\n",
	} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s not written: %v", name, err)
			continue
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s does not hold %q:\n%s", name, want, data)
		}
	}
}

func TestRenderPrintsWithoutOutDir(t *testing.T) {
	stdout, _, err := runRender(t, "-f", "../../config/samples/multipath_v1alpha1_multipathwwid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "# ==> 99-kube-multipath.conf <==") || !strings.Contains(stdout, `wwid "36001405e3c2841f4b9c4e6b9d1c0a7b2"`) {
		t.Errorf("stdout lacks the baseline:\n%s", stdout)
	}
}

func TestRenderRefusesInvalidManifests(t *testing.T) {
	stdout, stderr, err := runRender(t, "-f", "testdata/invalid")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if stdout != "" {
		t.Errorf("nothing may be rendered on errors, got:\n%s", stdout)
	}
	want := []string{
		`MultipathWWID/bad-alias: spec.alias: Invalid value: "has space"`,
		`MultipathWWID/same-alias: spec.alias: alias "shared" is already the alias of MultipathWWID "first"`,
		`MultipathWWID/yaml-bool: `, `quote the keyword`,
		`MultipathWWID/typo: unknown field "spec.noPathRetri"`,
		`MultipathConfig/cluster: spec.defaults.pollingInterval: Invalid value: 0`,
		`MultipathConfig/cluster: spec.overrides: Invalid value: line 2: keyword "user_friendly_names"`,
		`MultipathConfig/cluster: spec.overrides: Invalid value: line 5: blacklist wwid`,
		"7 error(s); nothing rendered",
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, "not-ours-is-skipped") {
		t.Errorf("a ConfigMap in the folder must be skipped, not reported:\n%s", stderr)
	}
}

func TestRenderNeedsAFile(t *testing.T) {
	if _, _, err := runRender(t); err == nil || !strings.Contains(err.Error(), "-f PATH") {
		t.Errorf("err = %v, want a message asking for -f PATH", err)
	}
}

func TestRenderRefusesWhatANamedVersionDoesNotTake(t *testing.T) {
	dir := t.TempDir()
	manifest := `apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathConfig
metadata:
  name: cluster
spec:
  defaults:
    recheckWWID: true
  overrides: |
    overrides {
      protocol {
        type "scsi:fcp"
        fast_io_fail_tmo 5
      }
    }
`
	if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runRender(t, "-f", dir, "--multipath-tools-version=0.9.4,0.11.1"); err != nil {
		t.Fatalf("0.9.4 and 0.11.1 take it all: %v\n%s", err, stderr)
	}
	_, stderr, err := runRender(t, "-f", dir, "--multipath-tools-version=0.8.4,0.9.4")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, w := range []string{
		`MultipathConfig/cluster: spec.defaults.recheckWWID: Forbidden: recheck_wwid "yes" is not taken by multipath-tools 0.8.4: multipath-tools before 0.8.7 does not know it`,
		`MultipathConfig/cluster: spec.overrides: Forbidden: line 2: overrides { protocol {} } is not taken by multipath-tools 0.8.4: multipath-tools before 0.9.4 does not know the subsection`,
		"2 error(s); nothing rendered",
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if _, _, err := runRender(t, "-f", dir, "--multipath-tools-version=nine"); err == nil || !strings.Contains(err.Error(), `"nine" is not a version`) {
		t.Errorf("err = %v, want a refused version", err)
	}
	if _, stderr, _ := runRender(t, "-f", dir, "--multipath-tools-version=0.7.0"); !strings.Contains(stderr, "0.7.0 is outside the tested range 0.8.4 to 0.14.3") {
		t.Errorf("stderr lacks the out-of-range warning:\n%s", stderr)
	}
}
