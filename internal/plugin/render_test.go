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
		"7 errors; nothing rendered",
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
		"2 errors; nothing rendered",
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

// TestRenderErrorsGolden pins how render reports: every error with its file (and document),
// plurals right, no word about creation time (offline objects have none).
func TestRenderErrorsGolden(t *testing.T) {
	_, stderr, err := runRender(t, "-f", "testdata/invalid")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	golden(t, "render-invalid.stderr.golden", stderr)
	if strings.Contains(stderr, "creation") || strings.Contains(stderr, "older") {
		t.Errorf("offline render must not speak of creation time:\n%s", stderr)
	}
}

// TestRenderChecksEveryMultipathConfig: a second MultipathConfig is refused even when it comes
// last (before, only the last one read was checked, so CI passed what the cluster refuses).
func TestRenderChecksEveryMultipathConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", `apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathConfig
metadata: {name: cluster}
spec: {defaults: {pollingInterval: 0}}
`)
	write("b.yaml", `apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathConfig
metadata: {name: staging}
spec: {defaults: {pollingInterval: 10}}
`)
	_, stderr, err := runRender(t, "-f", dir)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		filepath.Join(dir, "a.yaml") + ": MultipathConfig/cluster: spec.defaults.pollingInterval: Invalid value: 0",
		filepath.Join(dir, "b.yaml") + ": MultipathConfig/staging: metadata.name: Invalid value: \"staging\": MultipathConfig is a singleton: metadata.name must be cluster",
		"\n2 errors; nothing rendered\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestRenderReadsStdin: -f - reads the manifests from standard input, named <stdin> in errors,
// and says "1 LUN", not "1 LUNs".
func TestRenderReadsStdin(t *testing.T) {
	lun := `apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathWWID
metadata: {name: oradata01}
spec: {wwid: 3600a098038303053453f463045727a4d, alias: oradata01}
`
	stdout, stderr, err := runRenderStdin(t, lun, "-f", "-")
	if err != nil {
		t.Fatalf("render -f -: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, `alias "oradata01"`) || !strings.Contains(stderr, "rendered 1 LUN, ") {
		t.Errorf("render -f - output:\n%s\n%s", stdout, stderr)
	}
	bad := strings.Replace(lun, "wwid: ", "wwid: bad/", 1)
	_, stderr, _ = runRenderStdin(t, bad, "-f", "-")
	if !strings.HasPrefix(stderr, "<stdin>: MultipathWWID/") || !strings.Contains(stderr, "\n1 error; nothing rendered\n") {
		t.Errorf("stderr of a bad manifest on stdin:\n%s", stderr)
	}
}

func runRenderStdin(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(context.Background(), IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append([]string{"render"}, args...))
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// An invalid MultipathWWID is left out before conflicts are settled, as the render controller
// does: the valid one that shares its alias is not reported as losing it.
func TestRenderLeavesInvalidObjectsOutOfConflicts(t *testing.T) {
	manifests := `apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathWWID
metadata:
  name: aa-invalid
spec:
  wwid: "3600a0980000000000000000000000a01"
  alias: shared
  noPathRetry: "-5"
---
apiVersion: multipath.kube-multipath.io/v1alpha1
kind: MultipathWWID
metadata:
  name: bb-valid
spec:
  wwid: "3600a0980000000000000000000000b01"
  alias: shared
`
	_, stderr, err := runRenderStdin(t, manifests, "-f", "-")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "MultipathWWID/aa-invalid: spec.noPathRetry") {
		t.Errorf("stderr lacks the invalid object's own error:\n%s", stderr)
	}
	if strings.Contains(stderr, "bb-valid") {
		t.Errorf("the valid object is reported, as if the invalid one took its alias:\n%s", stderr)
	}
}
