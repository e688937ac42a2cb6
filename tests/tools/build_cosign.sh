#!/usr/bin/env bash
# Build the cosign CLI from its Go module (github.com/sigstore/cosign/v3) into
#   ${AIC_CACHE:-~/.cache/ai-conformance}/tools/cosign-<version>/bin/cosign
# and print that path.  Nothing is committed, nothing is fetched but Go modules through the
# configured module proxy.  Already built: prints the path at once.  Cold (empty Go caches) it
# takes many minutes on 2 cores (see docs/signing.md), so `make test` does not call it; `make cosign`
# does, and tests/unit/plugins/module_utils/test_signing_cosign.py skips while the binary is absent.
#
#   tests/tools/build_cosign.sh [version]      (default: COSIGN_VERSION or v3.1.3)
set -euo pipefail

version="${1:-${COSIGN_VERSION:-v3.1.3}}"
case "$version" in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "build_cosign.sh: version must look like v3.1.3 (got $version)" >&2; exit 2 ;;
esac
cache="${AIC_CACHE:-$HOME/.cache/ai-conformance}"
dest="$cache/tools/cosign-$version"
bin="$dest/bin/cosign"

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build_cosign.sh: go is not installed (Go 1.26+ is needed)" >&2; exit 2; }

mkdir -p "$dest/bin"
tmp="$dest/bin/.cosign.partial"
rm -f "$tmp"
# A scratch GOPATH keyed by version; the module and build caches stay the user's (shared, locked by go).
gomodcache="$(go env GOMODCACHE)"
gocache="$(go env GOCACHE)"
start=$(date +%s)
env GOPATH="$dest/gopath" GOMODCACHE="$gomodcache" GOCACHE="$gocache" GOBIN="$dest/bin/.gobin" \
    GOFLAGS=-mod=mod CGO_ENABLED=0 \
    nice -n 15 go install -trimpath -ldflags "-s -w" "github.com/sigstore/cosign/v3/cmd/cosign@$version" >&2
mv "$dest/bin/.gobin/cosign" "$tmp"
rmdir "$dest/bin/.gobin" 2>/dev/null || true
mv "$tmp" "$bin"
echo "build_cosign.sh: built cosign $version in $(( $(date +%s) - start ))s" >&2
echo "$bin"
