#!/usr/bin/env bash
# release.sh VERSION [OUTDIR]
# Builds the release artifacts of VERSION into OUTDIR (default bin/release/VERSION):
#   install.yaml                          config/default with the images pinned to VERSION
#   kubectl-multipath_VERSION_OS_ARCH.tar.gz   the kubectl plugin, one archive per platform
#   checksums.txt                         sha256 of every artifact above
#   krew-multipath.yaml                   the krew plugin manifest pointing at the archives
# PLATFORMS (os/arch, blank-separated), IMG_MANAGER, IMG_AGENT and RELEASE_URL override defaults.
set -euo pipefail
version=${1:?usage: hack/release.sh VERSION [OUTDIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$root/bin/release/$version}
platforms=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64}
img_manager=${IMG_MANAGER:-kube-multipath-manager:$version}
img_agent=${IMG_AGENT:-kube-multipath-agent:$version}
release_url=${RELEASE_URL:-https://github.com/kube-multipath/kube-multipath/releases/download/$version}
kustomize=${KUSTOMIZE:-$root/bin/kustomize}

case $version in
  v[0-9]*) ;;
  *) echo "release.sh: VERSION must look like v1.2.3, got $version" >&2; exit 2 ;;
esac

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# install.yaml: config/default through an overlay that pins the images.
mkdir -p "$work/overlay"
cat > "$work/overlay/kustomization.yaml" <<KUST
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $(realpath --relative-to="$work/overlay" "$root/config/default")
images:
- name: kube-multipath-manager
  newName: ${img_manager%:*}
  newTag: ${img_manager##*:}
- name: kube-multipath-agent
  newName: ${img_agent%:*}
  newTag: ${img_agent##*:}
KUST
"$kustomize" build --load-restrictor LoadRestrictionsNone "$work/overlay" > "$out/install.yaml"

# The kubectl plugin, static, one archive per platform.
archives=()
for p in $platforms; do
  os=${p%/*} arch=${p#*/}
  exe=kubectl-multipath
  [ "$os" = windows ] && exe=kubectl-multipath.exe
  mkdir -p "$work/$os-$arch"
  (cd "$root" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "-s -w -X github.com/kube-multipath/kube-multipath/internal/plugin.Version=$version" \
    -o "$work/$os-$arch/$exe" ./cmd/kubectl-multipath)
  archive=kubectl-multipath_${version}_${os}_${arch}.tar.gz
  tar -C "$work/$os-$arch" --owner=0 --group=0 -czf "$out/$archive" "$exe"
  archives+=("$os/$arch/$exe/$archive")
done

(cd "$out" && sha256sum install.yaml kubectl-multipath_*.tar.gz > checksums.txt)

# The krew manifest (krew index format v1alpha2), one platform entry per archive.
{
  cat <<KREW
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: multipath
spec:
  version: $version
  homepage: https://github.com/kube-multipath/kube-multipath
  shortDescription: Inspect and validate kube-multipath (cluster-wide dm-multipath)
  description: |
    Works with kube-multipath, which manages dm-multipath on every node of a cluster.
    status shows per-LUN, per-node path health; maps NODE the maps and paths of a node;
    render validates and renders MultipathConfig and MultipathWWID manifests offline (for CI);
    import turns a node's existing multipath.conf into those manifests.
  platforms:
KREW
  for a in "${archives[@]}"; do
    IFS=/ read -r os arch exe archive <<<"$a"
    sum=$(sha256sum "$out/$archive" | cut -d' ' -f1)
    cat <<KREW
  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $release_url/$archive
    sha256: $sum
    bin: $exe
KREW
  done
} > "$out/krew-multipath.yaml"
echo "release $version in $out:" >&2
ls "$out" >&2
