#!/usr/bin/env bash
# The real-GPU run, on the GPU machine (the device tool's command; tests/gpu/README.md):
#
#   bash tests/gpu/run_on_device.sh unpack PART...   # first call(s): unpack, record the host's facts, start the node
#   bash tests/gpu/run_on_device.sh run [PART...]    # last call: unpack the rest, then the whole run
#
# unpack leaves the node running (its supervisor is a daemon: it outlives the call while the machine
# is held), so a start problem shows in the first call.  run installs the wheels into $AIC/site
# (PYTHONPATH), checks the bundle is complete, starts the node unless it runs, records what
# containers see (observe.py), runs conformance.yml on the accelerators domain with
# tests/gpu/inventory, and copies into $OUT the evidence bundle (evidence.tar.gz), the playbook's
# output, the tails of the component logs, the host facts and the observations.  Everything is
# stopped when run ends, also on failure.
set -uo pipefail
cmd=${1:-}
shift || true
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AIC=${AIC_GPU_ROOT:-/opt/aic}
OUT=${OUT:-$AIC/out}
PY=${AIC_PYTHON:-python3}
NODE="$PY $REPO/tests/gpu/start_node.py"
# Development only: AIC_GPU_REHEARSAL=<fake nvidia-smi> runs all this without a GPU; the node then
# lives in a network namespace of its own, which the clients enter.
REHEARSAL=${AIC_GPU_REHEARSAL:+--rehearsal $AIC_GPU_REHEARSAL}
inns() { if [ -n "$REHEARSAL" ]; then nsenter --net="/proc/$(cat "$AIC/state/supervisor.pid")/ns/net" -- "$@"; else "$@"; fi; }
mkdir -p "$OUT" "$AIC"
t0=$(date +%s)
note() { echo "[$(date -u +%H:%M:%S) +$(($(date +%s) - t0))s] $*" | tee -a "$OUT/run.txt"; }

node_logs() {
  {
    for f in "$AIC"/state/logs/*.log; do
      [ -f "$f" ] || continue
      echo "===== $(basename "$f") (last ${1:-60} lines of $(wc -l <"$f"))"
      tail -n "${1:-60}" "$f"
    done
    cat "$AIC/state/ready.json" 2>/dev/null
  } >"$OUT/node-logs.txt"
}

start_node() {
  if $NODE status --root "$AIC" >/dev/null 2>&1; then
    note "node already running"
    return 0
  fi
  note "starting the node"
  $NODE start --root "$AIC" $REHEARSAL 2>&1 | tee -a "$OUT/run.txt"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] && grep -h "ready in" "$AIC/state/logs/supervisor.log" | tee -a "$OUT/run.txt"
  return "$rc"
}

collect() {
  local rc=$?
  set +e
  note "collecting (exit $rc)"
  node_logs 60
  $NODE stop --root "$AIC" 2>&1 | tee -a "$OUT/run.txt"
  if [ -d "$AIC/evidence" ]; then
    tar -C "$AIC" -czf "$OUT/evidence.tar.gz" evidence
    note "evidence: $(du -h "$OUT/evidence.tar.gz" | cut -f1)"
  fi
  note "done; files in \$OUT: $(ls "$OUT" | tr '\n' ' ')"
  exit "$rc"
}

[ "$cmd" = unpack ] || [ "$cmd" = run ] || {
  echo "usage: $0 unpack PART... | run [PART...]" >&2
  exit 2
}
if [ $# -gt 0 ]; then
  "$PY" "$REPO/tests/gpu/unpack.py" "$@" --root "$AIC" | tee -a "$OUT/run.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
fi
$NODE facts --root "$AIC" >"$OUT/facts.json" 2>&1
note "facts: \$OUT/facts.json; python $("$PY" -c 'import sys; print(sys.version.split()[0])')"

if [ "$cmd" = unpack ]; then
  start_node
  rc=$?
  node_logs 40
  note "unpack done (node start exit $rc); the node keeps running until run or stop"
  exit "$rc"
fi

"$PY" "$REPO/tests/gpu/unpack.py" --check --root "$AIC" | tee -a "$OUT/run.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
note "installing wheels into $AIC/site"
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$AIC/site" "$AIC"/wheels/*.whl || exit 1
mkdir -p "$AIC/collections/ansible_collections/ai_conformance"
ln -sfn "$REPO" "$AIC/collections/ansible_collections/ai_conformance/kubernetes"
export PYTHONPATH="$AIC/site:$AIC/collections${PYTHONPATH:+:$PYTHONPATH}"
export ANSIBLE_COLLECTIONS_PATH="$AIC/collections" LC_ALL=C.UTF-8 LANG=C.UTF-8 PYTHONUNBUFFERED=1
export ANSIBLE_CALLBACKS_ENABLED=ai_conformance.kubernetes.conformance_progress ANSIBLE_CONFIG="$REPO/ansible.cfg"
export AIC_GPU_KUBECONFIG="$AIC/pki/admin.kubeconfig" AIC_GPU_EVIDENCE_DIR="$AIC/evidence"
trap collect EXIT

start_node || exit 1
note "observing containers"
inns timeout 300 "$PY" "$REPO/tests/gpu/observe.py" --kubeconfig "$AIC_GPU_KUBECONFIG" --cdi-dir "$AIC/state/node/cdi" \
  --out "$OUT/observe.json" 2>&1 | tee -a "$OUT/run.txt"
note "conformance.yml, accelerators domain"
cd "$REPO" || exit 1
inns timeout "${AIC_PLAYBOOK_TIMEOUT:-420}" "$PY" "$AIC/site/bin/ansible-playbook" conformance.yml -i tests/gpu/inventory \
  -e '{"conformance_domains": ["accelerators"]}' >"$OUT/playbook.log" 2>&1
prc=$?
grep -E '^\[conformance\]|Evidence bundle|MUST' "$OUT/playbook.log" | tee -a "$OUT/run.txt"
note "playbook exit $prc (non-zero when a MUST failed or errored; the bundle is written either way)"
exit 0
