"""Benchmarks of the reference cluster and the probes (make bench).

Measures, on this machine: the last cold build time of each component (recorded by the builder),
a warm start of the whole cluster (down, then up with every binary cached), the resident memory of
all cluster processes once idle, the wall time of each probe module run through ansible, and the
wall time of the whole main job (conformance.yml, upstream suite left out) in each
conformance_concurrency mode.  For the main job (lanes mode) it breaks the time down per requirement
(tests/bench/breakdown.py: setup, waits with their conditions, observe windows, cleanup, Ansible
overhead, API requests, and a timeline), from the bundle's results.json and the task times of
tests/bench/callback/bench_tasks.py; nothing is run again for it.  With AIC_UPSTREAM_SUITE_SRC (a
checkout of kubernetes-sigs/ai-conformance) it then runs the upstream suite on the same cluster and
compares the wall time of the requirements both cover.  Writes .build/bench/results.json and prints
a table.  Targets from issue 4: warm start < 30 s, cluster RSS < 4 GiB; from issue 27: the main
job's API requests <= 3,000.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.refcluster.config import (
    REPO,
    disaggregated_args,
    ensure_collection_path,
    gateway_check_args,
    inference_pool_args,
    kubeconfig_path,
    load_components,
    local_vars,
)

ensure_collection_path()  # breakdown reads the collection's module_utils (make bench runs this file alone)

from tests.bench import breakdown as bd  # noqa: E402
from tests.refcluster import cluster  # noqa: E402
from tests.refcluster.ansible_run import run_conformance, run_module  # noqa: E402

CALLBACKS = Path(__file__).resolve().parent / "callback"
OUT = REPO / ".build" / "bench"

TARGETS = {"warm_start_s": 30.0, "cluster_rss_mib": 4096.0}
# The main job's wall time (issue 27), each with rc 0: with the real runtime nodes, and kwok-only
# (the same cluster with the runtime nodes stopped: their Node objects go, the runtime checks are
# then undecided).
PLAY_TARGETS_S = {"lanes": 120.0, "lanes_kwok_only": 90.0}
# The container-level checks run the probe image built here (inventories/local's conformance_probe_image);
# the modules' defaults (CUDA, busybox from a registry) cannot be pulled on this machine.
IMAGE = local_vars()["conformance_probe_image"]
PROBES = {
    "dra_probe": {"observe_seconds": 8, "gpu_image": IMAGE},
    "accelerator_isolation_probe": {"observe_seconds": 8, "probe_image": IMAGE},
    "driver_runtime_probe": {"observe_seconds": 8, "probe_image": IMAGE},
    "gpu_sharing_probe": {"observe_seconds": 8, "probe_image": IMAGE},
    "virtualization_probe": {},
    "gang_probe": {"observe_seconds": 10},
    "autoscaler_probe": {"observe_seconds": 15},
    "gateway_check": gateway_check_args(),
    "network_dra_probe": {"declared": "rdma", "observe_seconds": 3},
    "disaggregated_inference_probe": disaggregated_args(),
    "inference_pool_probe": inference_pool_args(),
    "operator_probe": {"operator": "kuberay"},
    "sandbox_probe": {"probe_image": IMAGE},
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


def run_play(mode: str, label: str = "") -> dict:
    """conformance.yml on the reference cluster in one concurrency mode: wall time and counts, and
    the per-requirement breakdown from the bundle it wrote and the task times (``label`` names the
    copy of its results.json, the mode by default)."""
    with tempfile.TemporaryDirectory(prefix="aic-bench-") as out:
        tasks_file = Path(out) / "tasks.jsonl"
        saved = {k: os.environ.get(k) for k in ("ANSIBLE_CALLBACK_PLUGINS", "AIC_BENCH_TASKS")}
        os.environ.update(ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS), AIC_BENCH_TASKS=str(tasks_file))
        try:
            t0 = time.time()
            res, wall = run_conformance({"conformance_output_dir": out, "conformance_concurrency": mode})
            t1 = time.time()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        found = bd.find_bundle_results(Path(out))
        data = json.loads(found.read_text()) if found else {}
        if found:
            OUT.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, OUT / ("bundle-results-%s.json" % (label or mode)))
        tasks, play_start, play_end = bd.read_tasks(tasks_file)
    summary = data.get("summary") or {}
    out_doc = {"wall_s": round(wall, 1), "rc": res.returncode, "counts": summary.get("counts"), "bundle_results": bool(found)}
    if not found:
        out_doc["breakdown_missing"] = "the main job wrote no bundle results.json (rc %d): %s" % (res.returncode, (res.stdout or res.stderr)[-400:])
        return out_doc
    rows = bd.probe_rows(data, tasks)
    start, end = play_start or t0, play_end or t1
    out_doc["play"] = bd.play_breakdown(rows, tasks, start, end)
    out_doc["requirements"] = [{k: v for k, v in r.items() if k != "spans"} for r in rows]
    out_doc["timeline"] = bd.timeline(rows, tasks, start)
    out_doc["table"] = bd.table(rows, out_doc["play"])
    out_doc["_rows"] = rows
    return out_doc


def run_upstream(rows: list) -> dict:
    """The upstream suite on the same cluster (after the main job, not at the same time, so neither
    slows the other), compared per requirement both cover."""
    src = os.environ.get("AIC_UPSTREAM_SUITE_SRC")
    if not src:
        return {"skipped": True, "reason": "AIC_UPSTREAM_SUITE_SRC is not set (the Go module proxy serves no version of the suite)"}
    if not Path(src, "go.mod").is_file():
        return {"skipped": True, "reason": "AIC_UPSTREAM_SUITE_SRC=%s is not a checkout (no go.mod)" % src}
    with tempfile.TemporaryDirectory(prefix="aic-bench-upstream-") as out:
        args = {
            "source": src,
            "kubeconfig": str(kubeconfig_path()),
            "flags": {"accelerator-type": "nvidia", "allocation-mode": "dra"},
            "output_dir": str(Path(out) / "upstream"),
            "timeout": 4500,
        }
        host, wall = run_module("upstream_suite", args, timeout_s=4800)
        stream = Path(out, "upstream", "results.json")
        text = stream.read_text() if stream.is_file() else ""
    doc = {"skipped": False, "ran": host.get("ran"), "unavailable": host.get("unavailable"), "module_wall_s": round(wall, 1), "suite_s": host.get("duration_s")}
    if host.get("ran"):
        doc.update(bd.upstream_comparison(text, rows))
    return doc


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
    main_job = results["play"]["lanes"]
    rows = main_job.pop("_rows", [])
    results["play"]["serial"].pop("_rows", None)
    results["play"]["serial"].pop("timeline", None)  # the main job's timeline is the one kept
    results["upstream_side_by_side"] = run_upstream(rows)
    # Last: the kwok-only lane (the runtime nodes stay stopped until the cluster goes down below).
    cluster.stop("runtime-nodes")
    results["play"]["lanes_kwok_only"] = run_play("lanes", "lanes-kwok-only")
    results["play"]["lanes_kwok_only"].pop("_rows", None)
    results["play"]["lanes_kwok_only"].pop("timeline", None)
    results["targets_met"] = {k: results[k] <= v for k, v in TARGETS.items()}
    for mode, limit in PLAY_TARGETS_S.items():
        doc = results["play"][mode]
        results["targets_met"]["main_job_%s_s" % mode] = doc["rc"] == 0 and doc["wall_s"] <= limit
    if "play" in main_job:
        results["targets_met"]["api_requests"] = main_job["play"]["api_requests"]["within_target"]
    out = OUT / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "play"}, indent=2))
    for mode, doc in results["play"].items():
        print("\n== main job, %s: %.1f s, rc %s ==" % (mode, doc["wall_s"], doc["rc"]))
        print(doc.get("table") or doc.get("breakdown_missing", ""))
    up = results["upstream_side_by_side"]
    print("\nupstream suite: %s" % (up["reason"] if up.get("skipped") else json.dumps({k: v for k, v in up.items() if k != "requirements"})))
    print("written: %s" % out)
    cluster.down(quiet=True)
    return 0 if all(results["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
