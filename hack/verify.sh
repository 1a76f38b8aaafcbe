#!/usr/bin/env bash
# verify.sh fails when a committed generated file differs from what the markers produce, or when
# gofmt, go vet or golangci-lint (.golangci.yml, built by hack/golangci-lint.sh) complain. The
# generators run in a copy of the tree, so it also works on a dirty working tree and never
# rewrites your files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
make -s controller-gen >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$tmp"/ 2>/dev/null || true
# Generated files are removed first so that a file the markers no longer produce is caught too.
find "$tmp/config/crd/bases" -name '*.yaml' -delete 2>/dev/null || true
find "$tmp/api" -name 'zz_generated.*' -delete
rm -rf "$tmp/charts/kube-multipath/crds" "$tmp/charts/kube-multipath/templates"/generated*.yaml
ln -s "$root/bin" "$tmp/bin"
(cd "$tmp" && make -s manifests generate CONTROLLER_GEN="$root/bin/controller-gen" >/dev/null)

status=0
for dir in api config charts; do
  if ! diff -r -u "$root/$dir" "$tmp/$dir" >"$tmp/diff.txt" 2>&1; then
    echo "verify: generated files in $dir/ drift from the markers; run 'make manifests generate' and commit:" >&2
    head -n 40 "$tmp/diff.txt" >&2
    status=1
  fi
done

unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go' | grep -v '^hack/tools/') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
  echo "verify: gofmt would change these files (run 'make fmt'):" >&2
  echo "$unformatted" >&2
  status=1
fi

# test/e2e builds only with its tag (plain `go test ./...` must not boot a guest): vet it too.
if ! go vet ./... || ! go vet -tags e2e ./test/e2e/; then
  echo "verify: go vet failed" >&2
  status=1
fi

# The linters of .golangci.yml; the first run on a machine builds golangci-lint.
if ! make -s lint; then
  echo "verify: golangci-lint failed (run 'make lint')" >&2
  status=1
fi
[ "$status" = 0 ] && echo "verify: generated files, gofmt, go vet and golangci-lint are clean"
exit "$status"
