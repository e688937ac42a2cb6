#!/usr/bin/env bash
# Build one CLI from its Go module into
#   ${AIC_CACHE:-~/.cache/ai-conformance}/tools/<name>-<version>/bin/<name>
# and print that path.  Nothing is committed, nothing is fetched but Go modules through the
# configured module proxy.  Already built (and it answers <check-arg>): prints the path at once.
# Shared by build_cosign.sh and build_gotestsum.sh.
#
#   tests/tools/build_go_tool.sh <name> <package> <version> <check-arg> [nice]
set -euo pipefail

name="$1" package="$2" version="$3" check="$4" niceness="${5:-19}"
case "$version" in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "build $name: version must look like v1.2.3 (got $version)" >&2; exit 2 ;;
esac
cache="${AIC_CACHE:-$HOME/.cache/ai-conformance}"
dest="$cache/tools/$name-$version"
bin="$dest/bin/$name"

if [ -x "$bin" ] && "$bin" "$check" >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build $name: go is not installed" >&2; exit 2; }

mkdir -p "$dest/bin"
tmp="$dest/bin/.$name.partial"
rm -f "$tmp"
# A scratch GOPATH keyed by version; the module and build caches stay the user's (shared, locked by go).
gomodcache="$(go env GOMODCACHE)"
gocache="$(go env GOCACHE)"
start=$(date +%s)
env GOPATH="$dest/gopath" GOMODCACHE="$gomodcache" GOCACHE="$gocache" GOBIN="$dest/bin/.gobin" \
    GOFLAGS=-mod=mod CGO_ENABLED=0 \
    nice -n "$niceness" go install -trimpath -ldflags "-s -w" "$package@$version" >&2
mv "$dest/bin/.gobin/$name" "$tmp"
rmdir "$dest/bin/.gobin" 2>/dev/null || true
mv "$tmp" "$bin"
echo "build $name: built $name $version in $(( $(date +%s) - start ))s" >&2
echo "$bin"
