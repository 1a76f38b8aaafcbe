#!/usr/bin/env bash
# golangci-lint.sh: builds golangci-lint with the Kube API Linter compiled in, from Go modules
# (what `golangci-lint custom` does, without cloning a repository), and prints its path.
# The pins live in hack/tools/golangci-lint/go.mod; the binary is cached per user, keyed by those
# pins, the Go version and a hash of the tools module, and linked from bin/golangci-lint.
# A changed pin builds anew; a cold build takes a few minutes on two cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/hack/tools/golangci-lint"
gcl=$(awk '$1=="github.com/golangci/golangci-lint/v2" {print $2}' "$dir/go.mod")
kal=$(awk '$1=="sigs.k8s.io/kube-api-linter" {print $2}' "$dir/go.mod")
sum=$(cat "$dir/go.mod" "$dir/go.sum" "$dir/main.go" | sha256sum | cut -c1-12)
# The Go version is in the key because golangci-lint refuses code for a newer Go than built it.
key="golangci-lint-$gcl-kal-${kal##*-}-$(go env GOVERSION)-$(go env GOOS)-$(go env GOARCH)-$sum"
cache=${KUBE_MULTIPATH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-multipath}/tools
target="$cache/$key"
mkdir -p "$cache"
# One build at a time: a second caller waits, then reuses it.
exec 9>"$target.lock"
flock 9
if [ ! -x "$target" ]; then
  echo "Building golangci-lint $gcl with kube-api-linter $kal (pinned in hack/tools/golangci-lint/go.mod) into $cache" >&2
  (cd "$dir" && go build -trimpath -o "$target.tmp" .)
  mv "$target.tmp" "$target"
fi
mkdir -p "$root/bin"
ln -sfn "$target" "$root/bin/golangci-lint"
echo "$root/bin/golangci-lint"
