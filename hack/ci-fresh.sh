#!/usr/bin/env bash
# ci-fresh.sh: run CI as a fresh machine would, before you stop. It clones the committed main
# into a temporary folder and runs `CI=true bash .ci/run` there, in a private mount namespace
# where /etc is this machine's seen through an overlay with every multipath* entry removed
# (Debian's multipath-tools makes no /etc/multipath; a developer's machine often has one). The
# Go, envtest and e2e caches are
# kept, so it costs a warm run, not a cold one. Nothing of this machine's /etc changes.
#
#   hack/ci-fresh.sh            # clone HEAD of this checkout
#   hack/ci-fresh.sh REF        # clone and check out REF
# Needs root (mount namespaces), as .ci/run's parser tests do.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ref=${1:-HEAD}
[ "$(id -u)" = 0 ] || { echo "ci-fresh: needs root for a private mount namespace" >&2; exit 1; }
work=$(mktemp -d /tmp/kube-multipath-ci-fresh-XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q --no-hardlinks "$root" "$work/src"
git -C "$work/src" checkout -q "$(git -C "$root" rev-parse "$ref")"
echo "ci-fresh: $(git -C "$work/src" log --oneline -1) in $work/src"
mkdir -p "$work/ns"
# The overlay's writable layer lives on a tmpfs that exists only in the namespace.
unshare -m bash -euo pipefail -c '
  mount --make-rprivate /
  mount -t tmpfs tmpfs "$1"
  mkdir "$1/upper" "$1/work"
  mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc
  rm -rf /etc/multipath /etc/multipath.conf /etc/multipath-*
  if ls -d /etc/multipath* >/dev/null 2>&1; then echo "ci-fresh: /etc/multipath* still visible" >&2; exit 1; fi
  echo "ci-fresh: /etc has no multipath* entry in this namespace"
  cd "$2"
  CI=true bash .ci/run
' ci-fresh "$work/ns" "$work/src"
