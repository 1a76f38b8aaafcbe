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
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// importFixtures are the node configurations of the multipathconf import tests.
const importFixtures = "../multipathconf/testdata/import"

func runImport(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(context.Background(), IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append([]string{"import"}, args...))
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// TestImportNodeFolder imports a node's multipath.conf and conf.d (the folder read in
// multipathd's order), then checks the manifests with render: what import writes, the cluster
// accepts and renders.
func TestImportNodeFolder(t *testing.T) {
	stdout, stderr, err := runImport(t, "", "-f", filepath.Join(importFixtures, "node"))
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	golden(t, "import/node.yaml.golden", stdout)
	golden(t, "import/node.stderr.golden", stderr)

	dir := t.TempDir()
	if _, _, err := runImport(t, "", "-f", filepath.Join(importFixtures, "node"), "-o", dir); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for i := range files {
		files[i] = filepath.Base(files[i])
	}
	if got, want := strings.Join(files, " "), "multipathconfig-cluster.yaml multipathwwid-36001405aabbccddeeff00112233445566.yaml multipathwwid-oradata01.yaml"; got != want {
		t.Errorf("files written: %s, want %s", got, want)
	}
	if _, stderr, err := runRender(t, "-f", dir); err != nil {
		t.Errorf("render refuses what import wrote: %v\n%s", err, stderr)
	} else if !strings.Contains(stderr, "rendered 2 LUNs") {
		t.Errorf("render of the import: %s", stderr)
	}
}

// TestImportVendorFragmentFromStdin: a vendor's drop-in with a defaults section, which
// spec.overrides refuses, becomes one MultipathConfig in one command.
func TestImportVendorFragmentFromStdin(t *testing.T) {
	fragment, err := os.ReadFile(filepath.Join(importFixtures, "vendor-fragment.conf"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runImport(t, string(fragment), "-f", "-")
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	golden(t, "import/vendor-fragment.yaml.golden", stdout)
	golden(t, "import/vendor-fragment.stderr.golden", stderr)
}

func TestImportFlags(t *testing.T) {
	for args, want := range map[string]string{
		"":                   "at least one -f PATH is required",
		"-f - -f -":          "-f - (standard input) may be given once",
		"-f testdata/absent": "testdata/absent: no such file or directory",
		"-f testdata/import": "no multipath.conf file found in testdata/import",
	} {
		_, _, err := runImport(t, "", strings.Fields(args)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("import %s: err = %v, want %q", args, err, want)
		}
	}
}
