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

// Command images builds the kube-multipath images without a container engine: one layer made
// here from the static binaries of `make images` (the same `go build` flags as the Dockerfile)
// and a few fixed files, on an empty base, written as an OCI layout and as docker-archive
// tarballs that `ctr images import` and `docker load` read. The output is reproducible: entries
// sorted, every timestamp fixed (SOURCE_DATE_EPOCH, else the Unix epoch), owners numeric.
//
//	go run ./hack/images -bin bin/images/bin -out bin/images -tag v0.1.0
//
// The Dockerfile builds the same images for users with Docker; images_test.go checks that both
// give the same entrypoint, user and files, and that they are what config/ expects.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// imageSpec is one image: what the Dockerfile's stage of the same name (target) must match.
type imageSpec struct {
	// target is the Dockerfile stage, and the image's short name (kube-multipath-<target>).
	target string
	// binary is the file under -bin, copied to /<binary> and run as the entrypoint.
	binary string
	// user is the numeric uid:gid: the kubelet can check runAsNonRoot only against a number.
	user string
}

// images are the images `make images` builds. The agent needs no multipath-tools of its own: it
// runs the node's `multipath -t` chrooted into the host root, and talks to the host's multipathd
// over its socket (docs/agent.md).
var images = []imageSpec{
	{target: "manager", binary: "manager", user: "65532:65532"},
	// uid 0: multipathd accepts `reconfigure` from root only.
	{target: "agent", binary: "agent", user: "0:0"},
}

// pause is the pod sandbox image `make e2e-cluster` imports into the guest's containerd, which
// cannot pull registry.k8s.io/pause: built only with -pause, from hack/e2e-cluster/pause. The
// kubelet's own pause runs as 65535 too.
var pause = imageSpec{target: "pause", binary: "pause", user: "65535:65535"}

// baseFiles are the files every image carries besides its binary: what the distroless static
// base of the Dockerfile provides and the binaries use. /etc/passwd and /etc/group name the two
// users (tools that print users, and the runtime's HOME); /tmp is writable scratch space. No
// CA bundle: both binaries trust only the cluster's CA, from their service account.
var baseFiles = []file{
	{name: "etc/", mode: 0o755},
	{name: "etc/group", mode: 0o644, data: "root:x:0:\nnonroot:x:65532:\n"},
	{name: "etc/passwd", mode: 0o644, data: "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
	{name: "home/", mode: 0o755},
	{name: "home/nonroot/", mode: 0o700, uid: 65532, gid: 65532},
	{name: "root/", mode: 0o700},
	{name: "tmp/", mode: 0o1777},
}

// env is the images' environment (distroless sets the same PATH).
var env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// file is one entry of the layer; a name ending in / is a directory.
type file struct {
	name     string
	mode     int64
	uid, gid int
	data     string
}

func main() {
	bin := flag.String("bin", "bin/images/bin", "folder holding the static binaries (manager, agent)")
	out := flag.String("out", "bin/images", "output folder: <name>.tar docker archives and the oci/ layout")
	repo := flag.String("repo", "kube-multipath-", "image name prefix; the image is <repo><target>:<tag>")
	tag := flag.String("tag", "latest", "image tag")
	pauseRef := flag.String("pause", "", "also build the sandbox image under this name (e.g. kube-multipath.e2e/pause:1) from -bin's pause binary, as pause.tar (make e2e-cluster)")
	flag.Parse()
	if err := run(*bin, *out, *repo, *tag, *pauseRef); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(bin, out, repo, tag, pauseRef string) error {
	created, err := epoch()
	if err != nil {
		return err
	}
	oci := filepath.Join(out, "oci")
	if err := os.RemoveAll(oci); err != nil {
		return err
	}
	lp, err := layout.Write(oci, empty.Index)
	if err != nil {
		return err
	}
	type named struct {
		spec imageSpec
		ref  string
	}
	var todo []named
	for _, s := range images {
		todo = append(todo, named{s, repo + s.target + ":" + tag})
	}
	if pauseRef != "" {
		todo = append(todo, named{pause, pauseRef})
	}
	for _, n := range todo {
		s := n.spec
		ref, err := name.NewTag(n.ref, name.WeakValidation)
		if err != nil {
			return fmt.Errorf("-repo/-tag/-pause: %w", err)
		}
		img, err := build(s, bin, created)
		if err != nil {
			return err
		}
		tarPath := filepath.Join(out, s.target+".tar")
		if err := tarball.WriteToFile(tarPath, ref, img); err != nil {
			return fmt.Errorf("writing %s: %w", tarPath, err)
		}
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
			// The tag, as the OCI image layout has it; containerd's import names the image
			// from the second, as buildkit writes them.
			"org.opencontainers.image.ref.name": ref.TagStr(),
			"io.containerd.image.name":          ref.String(),
		})); err != nil {
			return err
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s %s %s\n", ref, d, tarPath)
	}
	return nil
}

// epoch is the time every timestamp gets: SOURCE_DATE_EPOCH, else the Unix epoch.
func epoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// build makes the image of s from its binary under bin.
func build(s imageSpec, bin string, created time.Time) (v1.Image, error) {
	exe, err := os.ReadFile(filepath.Join(bin, s.binary))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w (run `make images`, which builds it)", s.target, err)
	}
	files := append(append([]file(nil), baseFiles...), file{name: s.binary, mode: 0o755, data: string(exe)})
	data, err := layerTar(files, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: created}, CreatedBy: "hack/images: " + s.binary + " and base files",
	}})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: created}
	cfg.Config.Entrypoint = []string{"/" + s.binary}
	cfg.Config.User = s.user
	cfg.Config.Env = env
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.title": "kube-multipath-" + s.target}
	return mutate.ConfigFile(img, cfg)
}

// layerTar writes files as a tar sorted by name, with fixed times and numeric owners.
func layerTar(files []file, mtime time.Time) ([]byte, error) {
	sorted := append([]file(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, f := range sorted {
		if seen[f.name] {
			return nil, fmt.Errorf("layer: %s twice", f.name)
		}
		seen[f.name] = true
		if dir := path.Dir(strings.TrimSuffix(f.name, "/")); dir != "." && !seen[dir+"/"] {
			return nil, fmt.Errorf("layer: %s comes before its folder %s/", f.name, dir)
		}
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: mtime, Format: tar.FormatPAX}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
