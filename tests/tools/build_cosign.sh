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

exec "$(dirname "$0")/build_go_tool.sh" cosign github.com/sigstore/cosign/v3/cmd/cosign "${1:-${COSIGN_VERSION:-v3.1.3}}" version 15
