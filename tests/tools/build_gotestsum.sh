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

exec "$(dirname "$0")/build_go_tool.sh" gotestsum gotest.tools/gotestsum "${1:-${GOTESTSUM_VERSION:-v1.13.0}}" --version 19
