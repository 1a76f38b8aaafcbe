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

package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// TestRelease runs hack/release.sh (what `make release` runs) for this machine's platform
// (cross-compiling the standard library for others would take minutes), then checks each artifact: install.yaml is config/default with the images pinned,
// checksums.txt and the krew manifest hold the archives' real sha256, and the archived plugin runs.
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kustomize (once) and the plugin")
	}
	root := testenv.RepoRoot()
	kustomize := filepath.Join(root, "bin", "kustomize")
	if _, err := os.Stat(kustomize); err != nil {
		if out, err := exec.Command("make", "-C", root, "kustomize").CombinedOutput(); err != nil {
			t.Fatalf("make kustomize: %v\n%s", err, out)
		}
	}
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "hack", "release.sh"), "v9.9.9", out)
	cmd.Env = append(os.Environ(), "PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH, "KUSTOMIZE="+kustomize)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, msg)
	}

	// install.yaml: the objects of config/default, images pinned to the version.
	data, err := os.ReadFile(filepath.Join(out, "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	images := map[string]bool{}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, u.GetKind()+"/"+u.GetName())
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			if img, ok := c.(map[string]any)["image"].(string); ok {
				images[img] = true
			}
		}
	}
	var want []string
	for _, u := range build(t, "config/default") {
		// Kind and name: the kustomize library and binary differ on the namespace they give
		// cluster-scoped ValidatingAdmissionPolicies (the API server ignores it).
		want = append(want, u.GetKind()+"/"+u.GetName())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("install.yaml objects differ from config/default:\n got %v\nwant %v", got, want)
	}
	for _, img := range []string{"kube-multipath-manager:v9.9.9", "kube-multipath-agent:v9.9.9"} {
		if !images[img] {
			t.Errorf("install.yaml does not run %s (images: %v)", img, images)
		}
	}

	// checksums.txt holds each artifact's real sha256.
	sums, err := os.ReadFile(filepath.Join(out, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != 2 {
		t.Errorf("checksums.txt has %d lines, want install.yaml and the archive:\n%s", len(lines), sums)
	}
	for _, l := range lines {
		sum, name, _ := strings.Cut(l, "  ")
		if got := sha256File(t, filepath.Join(out, name)); got != sum {
			t.Errorf("checksums.txt: %s is %s, file has %s", name, sum, got)
		}
	}

	// The krew manifest points at the archives with their sha256 and the binary inside.
	var manifest struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct{ Name string }
		Spec       struct {
			Version          string
			Homepage         string
			ShortDescription string `json:"shortDescription"`
			Description      string
			Platforms        []struct {
				Selector struct{ MatchLabels map[string]string } `json:"selector"`
				URI      string
				Sha256   string
				Bin      string
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, "krew-multipath.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, &manifest); err != nil {
		t.Fatalf("krew manifest: %v\n%s", err, raw)
	}
	if manifest.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || manifest.Kind != "Plugin" || manifest.Metadata.Name != "multipath" || manifest.Spec.Version != "v9.9.9" || manifest.Spec.ShortDescription == "" || !strings.Contains(manifest.Spec.Description, "import") || len(manifest.Spec.Platforms) != 1 {
		t.Fatalf("krew manifest: %+v", manifest)
	}
	for _, p := range manifest.Spec.Platforms {
		archive := filepath.Join(out, filepath.Base(p.URI))
		if got := sha256File(t, archive); got != p.Sha256 {
			t.Errorf("krew %v: sha256 %s, archive has %s", p.Selector.MatchLabels, p.Sha256, got)
		}
		bin := untar(t, archive, p.Bin)
		if p.Selector.MatchLabels["os"] == runtime.GOOS {
			path := filepath.Join(t.TempDir(), p.Bin)
			if err := os.WriteFile(path, bin, 0o755); err != nil {
				t.Fatal(err)
			}
			help, err := exec.Command(path, "--help").CombinedOutput()
			if err != nil || !strings.Contains(string(help), "import") || !strings.Contains(string(help), "render") {
				t.Errorf("the released plugin's --help (%v):\n%s", err, help)
			}
			version, err := exec.Command(path, "version", "--client").CombinedOutput()
			if err != nil || string(version) != "kubectl-multipath: v9.9.9\n" {
				t.Errorf("the released plugin's version --client (%v): %q", err, version)
			}
		}
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// untar returns the content of the named file in a .tar.gz, failing when it is absent.
func untar(t *testing.T, archive, name string) []byte {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s has no %s", archive, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			if h.Mode&0o111 == 0 {
				t.Errorf("%s in %s is not executable", name, archive)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}
