#!/usr/bin/env bash
# go-install-tool.sh NAME PACKAGE VERSION
# Builds a pinned Go tool once into the per-user cache, keyed by version, and links it from bin/.
# CI's fresh clone reuses the cache; a new pin builds anew.
set -euo pipefail
name=$1 pkg=$2 version=$3
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${KUBE_MULTIPATH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-multipath}/tools
target="$cache/$name-$version"
if [ ! -x "$target" ]; then
  echo "Building $name $version into $cache" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" GOFLAGS=-mod=mod go install "$pkg@$version"
  mkdir -p "$cache"
  mv "$tmp"/* "$target"   # go install wrote exactly one binary
fi
mkdir -p "$root/bin"
ln -sfn "$target" "$root/bin/$name"
