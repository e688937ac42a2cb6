"""Benchmarks of the reference cluster and the probes (make bench).

Measures, on this machine: the last cold build time of each component (recorded by the builder),
a warm start of the whole cluster (down, then up with every binary cached), the resident memory of
all cluster processes once idle, the wall time of each probe module run through ansible, and the
wall time of the whole main job (conformance.yml, upstream suite left out) in each
conformance_concurrency mode.  Writes .build/bench/results.json and prints a table.  Targets from
issue 4: warm start < 30 s, cluster RSS < 4 GiB.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from tests.refcluster import cluster
from tests.refcluster.ansible_run import run_conformance, run_module
from tests.refcluster.config import REPO, disaggregated_args, gateway_check_args, inference_pool_args, kubeconfig_path, load_components

TARGETS = {"warm_start_s": 30.0, "cluster_rss_mib": 4096.0}
PROBES = {
    "dra_probe": {"observe_seconds": 8},
    "accelerator_isolation_probe": {"observe_seconds": 8},
    "driver_runtime_probe": {"observe_seconds": 8},
    "gpu_sharing_probe": {"observe_seconds": 8},
    "virtualization_probe": {},
    "gang_probe": {"observe_seconds": 10},
    "autoscaler_probe": {"observe_seconds": 15},
    "gateway_check": gateway_check_args(),
    "network_dra_probe": {"declared": "rdma", "observe_seconds": 3},
    "disaggregated_inference_probe": disaggregated_args(),
    "inference_pool_probe": inference_pool_args(),
    "operator_probe": {"operator": "kuberay"},
    "sandbox_probe": {},
}


def build_seconds() -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for c in load_components().values():
        if c.build:
            f = c.bin_dir / ".build-seconds"
            out[c.name] = float(f.read_text()) if f.is_file() else None
    return out


def run_probe(name: str, args: dict) -> dict:
    # Run ids are at most 32 characters: "bench-" and the module name, cut to fit.
    run_id = ("bench-%s" % name.replace("_", "-"))[:32].rstrip("-")
    host, wall = run_module(name, dict(args, kubeconfig=str(kubeconfig_path()), run_id=run_id))
    out = {"verdict": host.get("verdict"), "probe_duration_s": host.get("result", {}).get("duration_s"), "wall_s": round(wall, 1)}
    if host.get("failed"):
        out["module_failed"] = host.get("msg")
    return out


def run_play(mode: str) -> dict:
    """conformance.yml on the reference cluster in one concurrency mode: wall time and counts."""
    with tempfile.TemporaryDirectory(prefix="aic-bench-") as out:
        res, wall = run_conformance({"conformance_output_dir": out, "conformance_concurrency": mode})
        found = list(Path(out).rglob("results.json"))
        summary = json.loads(found[0].read_text())["summary"] if found else {}
    return {"wall_s": round(wall, 1), "rc": res.returncode, "counts": summary.get("counts")}


def main() -> int:
    results: dict = {"machine": {"cores": __import__("os").cpu_count()}, "build_seconds_last_cold": build_seconds()}
    cluster.down(quiet=True)
    t0 = time.monotonic()
    st = cluster.up()
    results["warm_start_s"] = round(time.monotonic() - t0, 2)
    results["start_breakdown_s"] = {k: v for k, v in st.get("timings", {}).items() if k != "build"}
    time.sleep(5)  # let the control plane settle before reading memory
    rss = cluster.rss_mib()
    results["rss_mib"] = rss
    results["cluster_rss_mib"] = round(sum(rss.values()), 1)
    results["probes"] = {name: run_probe(name, args) for name, args in PROBES.items()}
    results["play"] = {mode: run_play(mode) for mode in ("lanes", "serial")}
    results["targets_met"] = {k: results[k] <= v for k, v in TARGETS.items()}
    out = REPO / ".build" / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    cluster.down(quiet=True)
    return 0 if all(results["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
