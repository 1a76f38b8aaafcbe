#!/usr/bin/env bash
# k8s.sh: prints the folder holding the kubelet, kube-controller-manager, kube-scheduler and
# kubectl that `make e2e-cluster` runs (KUBE_NODE_ASSETS), building them from Go modules the
# first time, as hack/envtest.sh builds kube-apiserver: binary downloads are impossible here.
# The pin lives in hack/tools/kube-node/go.mod and must equal envtest's kube-apiserver pin (one
# cluster, one version). The binaries are cached per user, keyed by the pin, under
# ~/.cache/kube-multipath/k8s/kube-node-<version>-<os>-<arch>/ and linked from bin/k8s/<key>.
# Built with envtest.sh's flags (go build -trimpath, the same CGO_ENABLED) so the Go build cache
# its kube-apiserver left is reused. Cold on two loaded cores, after kube-apiserver: about 18
# minutes (measured: controller-manager 11, scheduler 1.5, kubectl 3.5, kubelet 2.5);
# each binary's time is printed on stderr and kept in <dir>/build-times.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
pin() { awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$root/hack/tools/$1/go.mod"; }
kube=$(pin kube-node)
api=$(pin kube-apiserver)
[ -n "$kube" ] && [ "$kube" = "$api" ] || {
  echo "k8s.sh: hack/tools/kube-node pins k8s.io/kubernetes ${kube:-nothing}, envtest's kube-apiserver $api: they must be equal" >&2
  exit 1
}
key="kube-node-$kube-$(go env GOOS)-$(go env GOARCH)"
cache=${KUBE_MULTIPATH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-multipath}/k8s/$key
mkdir -p "$cache"
# One build at a time: a second caller waits, then reuses it.
exec 9>"$cache/.lock"
flock 9
build() { # build NAME PACKAGE
  local name=$1 pkg=$2 start
  [ -x "$cache/$name" ] && return 0
  echo "k8s.sh: $(date -u +%T) building $name from $pkg (pinned in hack/tools/kube-node/go.mod) into $cache" >&2
  start=$(date +%s)
  (cd "$root/hack/tools/kube-node" && go build -trimpath -o "$cache/$name.tmp" "$pkg")
  mv "$cache/$name.tmp" "$cache/$name"
  echo "$name $(( $(date +%s) - start ))s $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$cache/build-times.txt"
  echo "k8s.sh: $(date -u +%T) built $name in $(( $(date +%s) - start ))s" >&2
}
# The control plane's first (they share most packages with kube-apiserver), the kubelet last.
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
build kubectl k8s.io/kubernetes/cmd/kubectl
build kubelet k8s.io/kubernetes/cmd/kubelet
mkdir -p "$root/bin/k8s"
ln -sfn "$cache" "$root/bin/k8s/$key"
echo "$root/bin/k8s/$key"
