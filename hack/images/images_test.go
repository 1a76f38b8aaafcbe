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

package main

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// stage is what a Dockerfile stage declares about its image.
type stage struct {
	entrypoint []string
	user       string
	copies     []string // destinations of COPY --from=build
}

// dockerfile reads the stages of ../../Dockerfile (FROM ... AS name, USER, ENTRYPOINT, COPY).
func dockerfile(t *testing.T) (map[string]*stage, string) {
	t.Helper()
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]*stage{}
	var cur *stage
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			cur = &stage{}
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				stages[f[3]] = cur
			}
		case "USER":
			cur.user = f[1]
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(sc.Text(), f[0]))), &cur.entrypoint); err != nil {
				t.Fatalf("Dockerfile: ENTRYPOINT %q is not the exec (JSON) form: %v", sc.Text(), err)
			}
		case "COPY":
			if len(f) == 4 && f[1] == "--from=build" {
				cur.copies = append(cur.copies, f[3])
			}
		}
	}
	return stages, string(raw)
}

// TestDockerfileEquivalent: the Dockerfile, for users with Docker, builds the same images as
// hack/images: same entrypoint, user and binary, from the same go build flags.
func TestDockerfileEquivalent(t *testing.T) {
	stages, raw := dockerfile(t)
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range images {
		st := stages[s.target]
		if st == nil {
			t.Fatalf("Dockerfile has no stage %q (hack/images builds one)", s.target)
		}
		if want := []string{"/" + s.binary}; !slices.Equal(st.entrypoint, want) {
			t.Errorf("%s: Dockerfile ENTRYPOINT %q, hack/images %q", s.target, st.entrypoint, want)
		}
		if st.user != s.user {
			t.Errorf("%s: Dockerfile USER %q, hack/images %q", s.target, st.user, s.user)
		}
		if !slices.Equal(st.copies, []string{"/" + s.binary}) {
			t.Errorf("%s: Dockerfile copies %q from the build, hack/images only /%s", s.target, st.copies, s.binary)
		}
	}
	// One build: the Dockerfile's flags are the Makefile's `images` flags.
	flags := regexp.MustCompile(`go build (-trimpath -ldflags="-s -w")`).FindStringSubmatch(raw)
	if flags == nil || !strings.Contains(raw, "CGO_ENABLED=0") {
		t.Fatal(`Dockerfile: no CGO_ENABLED=0 go build -trimpath -ldflags="-s -w"`)
	}
	if !strings.Contains(string(mk), "CGO_ENABLED=0 go build "+flags[1]) {
		t.Errorf("Makefile: the images target does not build with the Dockerfile's flags: CGO_ENABLED=0 go build %s", flags[1])
	}
}

// TestImageContents: the layer holds exactly the base files and the binary, owned and moded as
// declared, every timestamp fixed, and two builds are byte for byte the same.
func TestImageContents(t *testing.T) {
	bin := t.TempDir()
	for _, s := range images {
		if err := os.WriteFile(filepath.Join(bin, s.binary), []byte("#!"+s.binary), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	created := time.Unix(1700000000, 0).UTC()
	for _, s := range images {
		img, err := build(s, bin, created)
		if err != nil {
			t.Fatal(err)
		}
		again, err := build(s, bin, created)
		if err != nil {
			t.Fatal(err)
		}
		d1, _ := img.Digest()
		d2, _ := again.Digest()
		if d1 != d2 {
			t.Errorf("%s: two builds differ: %s, %s", s.target, d1, d2)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Config.Entrypoint, []string{"/" + s.binary}) || cfg.Config.User != s.user {
			t.Errorf("%s: entrypoint %q user %q", s.target, cfg.Config.Entrypoint, cfg.Config.User)
		}
		if !cfg.Created.Time.Equal(created) || cfg.OS != "linux" || cfg.Architecture != "amd64" {
			t.Errorf("%s: created %v os %s arch %s", s.target, cfg.Created, cfg.OS, cfg.Architecture)
		}
		rc := mutate.Extract(img)
		tr := tar.NewReader(rc)
		var got []string
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !h.ModTime.Equal(created) {
				t.Errorf("%s: %s has mtime %v, want %v", s.target, h.Name, h.ModTime, created)
			}
			got = append(got, h.Name+" "+h.FileInfo().Mode().String()+" "+itoa(h.Uid)+":"+itoa(h.Gid))
		}
		_ = rc.Close()
		want := []string{
			s.binary + " -rwxr-xr-x 0:0",
			"etc drwxr-xr-x 0:0", "etc/group -rw-r--r-- 0:0", "etc/passwd -rw-r--r-- 0:0",
			"home drwxr-xr-x 0:0", "home/nonroot drwx------ 65532:65532",
			"root drwx------ 0:0", "tmp dtrwxrwxrwx 0:0",
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: layer files\n got %q\nwant %q", s.target, got, want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestManifestsMatchImages: config/ runs the images as they are built: no command override
// (the entrypoint runs), the manager's runAsNonRoot satisfied by a numeric non-root USER (the
// kubelet refuses a named one it cannot check), the agent's runAsUser 0 the image's own user.
func TestManifestsMatchImages(t *testing.T) {
	var mgr appsv1.Deployment
	readObject(t, "../../config/manager/manager.yaml", "Deployment", &mgr)
	var agent appsv1.DaemonSet
	readObject(t, "../../config/agent/daemonset.yaml", "DaemonSet", &agent)
	spec := map[string]imageSpec{}
	for _, s := range images {
		spec[s.target] = s
	}
	check := func(target string, pod corev1.PodSpec) {
		s := spec[target]
		c := pod.Containers[0]
		if !strings.HasPrefix(c.Image, "kube-multipath-"+target+":") {
			t.Errorf("%s: container image %q is not kube-multipath-%s (the name make images writes)", target, c.Image, target)
		}
		if len(c.Command) != 0 {
			t.Errorf("%s: the manifest overrides the entrypoint with %q", target, c.Command)
		}
		uid := strings.Split(s.user, ":")[0]
		nonRoot := (pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot) ||
			(c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil && *c.SecurityContext.RunAsNonRoot)
		if nonRoot && uid == "0" {
			t.Errorf("%s: runAsNonRoot, but the image's user is root", target)
		}
		if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil && itoa(int(*c.SecurityContext.RunAsUser)) != uid {
			t.Errorf("%s: runAsUser %d, image user %s", target, *c.SecurityContext.RunAsUser, s.user)
		}
	}
	check("manager", mgr.Spec.Template.Spec)
	check("agent", agent.Spec.Template.Spec)
}

// readObject decodes the document of kind from a multi-document YAML file.
func readObject(t *testing.T, path, kind string, into any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if meta.Kind == kind {
			if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return
		}
	}
	t.Fatalf("%s: no %s", path, kind)
}
