#!/usr/bin/env bash
# Build gotestsum (gotest.tools/gotestsum, the well-kept `go test -json` runner that writes JUnit)
# from its Go module into
#   ${AIC_CACHE:-~/.cache/ai-conformance}/tools/gotestsum-<version>/bin/gotestsum
# and print that path.  Nothing is committed, nothing is fetched but Go modules through the
# configured module proxy.  Already built: prints the path at once.  The upstream_suite role runs
# the suite through it when it is there (roles/upstream_suite: upstream_suite_gotestsum), and
# falls back to the collection's own JUnit writer when it is not (an air-gapped controller without
# a Go module cache).
#
#   tests/tools/build_gotestsum.sh [version]      (default: GOTESTSUM_VERSION or v1.13.0)
set -euo pipefail

version="${1:-${GOTESTSUM_VERSION:-v1.13.0}}"
case "$version" in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "build_gotestsum.sh: version must look like v1.13.0 (got $version)" >&2; exit 2 ;;
esac
cache="${AIC_CACHE:-$HOME/.cache/ai-conformance}"
dest="$cache/tools/gotestsum-$version"
bin="$dest/bin/gotestsum"

if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build_gotestsum.sh: go is not installed (Go 1.23+ is needed)" >&2; exit 2; }

mkdir -p "$dest/bin"
tmp="$dest/bin/.gotestsum.partial"
rm -f "$tmp"
# A scratch GOPATH keyed by version; the module and build caches stay the user's (shared, locked by go).
gomodcache="$(go env GOMODCACHE)"
gocache="$(go env GOCACHE)"
start=$(date +%s)
env GOPATH="$dest/gopath" GOMODCACHE="$gomodcache" GOCACHE="$gocache" GOBIN="$dest/bin/.gobin" \
    GOFLAGS=-mod=mod CGO_ENABLED=0 \
    nice -n 19 go install -trimpath -ldflags "-s -w" "gotest.tools/gotestsum@$version" >&2
mv "$dest/bin/.gobin/gotestsum" "$tmp"
rmdir "$dest/bin/.gobin" 2>/dev/null || true
mv "$tmp" "$bin"
echo "build_gotestsum.sh: built gotestsum $version in $(( $(date +%s) - start ))s" >&2
echo "$bin"
