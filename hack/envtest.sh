#!/usr/bin/env bash
# envtest.sh: prints the folder holding kube-apiserver and etcd for envtest (KUBEBUILDER_ASSETS),
# building them from Go modules the first time, because binary downloads are impossible here.
# The pins live in hack/tools/{kube-apiserver,etcd}/go.mod; the binaries are cached per user,
# keyed by those pins, and linked from bin/k8s/<key>. A changed pin builds anew; a cold build of
# kube-apiserver takes several minutes on two cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kube=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$root/hack/tools/kube-apiserver/go.mod")
etcd=$(awk '$1=="require" && $2=="go.etcd.io/etcd/server/v3" {print $3}' "$root/hack/tools/etcd/go.mod")
key="kube-apiserver-$kube-etcd-$etcd-$(go env GOOS)-$(go env GOARCH)"
cache=${KUBE_MULTIPATH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-multipath}/k8s/$key
mkdir -p "$cache"
# One build at a time: a second caller (a parallel `make test`, `make run`) waits, then reuses it.
exec 9>"$cache/.lock"
flock 9
build() { # build NAME MODULE-DIR PACKAGE
  local name=$1 dir=$2 pkg=$3
  [ -x "$cache/$name" ] && return 0
  echo "Building $name from $pkg (pinned in ${dir#"$root"/}/go.mod) into $cache" >&2
  (cd "$dir" && go build -trimpath -o "$cache/$name.tmp" "$pkg")
  mv "$cache/$name.tmp" "$cache/$name"
}
build etcd "$root/hack/tools/etcd" go.etcd.io/etcd/server/v3
build kube-apiserver "$root/hack/tools/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
mkdir -p "$root/bin/k8s"
ln -sfn "$cache" "$root/bin/k8s/$key"
ln -sfn "$key" "$root/bin/k8s/current"
echo "$root/bin/k8s/$key"
