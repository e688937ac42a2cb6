"""Two conformance runs against the reference cluster at once, with different run ids: both
complete with the verdicts a run alone gets, the exclusive probes (gang scheduling and cluster
autoscaling size their pods to the free GPUs) take the GPU-capacity Lease one run at a time, and
no object of one run is touched by the other (cluster-scoped names carry the run id; cleanup
deletes only the run's own; nothing of either run is left).

Limited to robust_controller (background lane, beside the other run's) and the scheduling lane
(gang_scheduling and cluster_autoscaling, the two exclusive probes): about 5 minutes for the pair,
after a run alone for the baseline."""

from __future__ import annotations

import concurrent.futures
import json
import time

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import lease
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RUN_ID_LABEL
from tests.refcluster.ansible_run import run_conformance

pytestmark = pytest.mark.integration

REQUIREMENTS = ["robust_controller", "gang_scheduling", "cluster_autoscaling"]
EXCLUSIVE = ("gang_scheduling", "cluster_autoscaling")
# What either run may create outside its namespaces (the Kueue queue of gang_probe) or share (the Lease).
CLUSTER_KINDS = (("v1", "Namespace"), ("kueue.x-k8s.io/v1beta2", "ClusterQueue"), ("kueue.x-k8s.io/v1beta2", "ResourceFlavor"))


def conformance(kubeconfig, out, run_id):
    extra = {
        "conformance_kubeconfig": kubeconfig,
        "conformance_output_dir": str(out),
        "conformance_version": "v1.37",
        "conformance_requirements": REQUIREMENTS,
        "conformance_run_id": run_id,
    }
    res, wall = run_conformance(extra, timeout_s=1500)
    results = json.loads(next(out.rglob("results.json")).read_text())
    rows = {r["requirement"]: r for r in results["requirements"] + results["extras"]}
    return res, rows, wall


def interval(row):
    """When the probe held the exclusive Lease: from its start plus the time it waited for the Lease
    (observations.lease.waited_s) to its end (the Lease is released in its cleanup, inside duration_s)."""
    t0 = time.mktime(time.strptime(row["started"], "%Y-%m-%dT%H:%M:%SZ"))
    return t0 + row["observations"]["lease"].get("waited_s", 0), t0 + row["duration_s"]


def left_by(k8s, run_id):
    sel = "%s=%s" % (RUN_ID_LABEL, run_id)
    left = []
    for api, kind in CLUSTER_KINDS + ((lease.API, lease.KIND),):
        if not k8s.served(api, kind):
            continue
        for o in k8s.list(api, kind, label_selector=sel)["items"]:
            if not o["metadata"].get("deletionTimestamp"):
                left.append("%s %s" % (kind, o["metadata"]["name"]))
    return left


def test_two_runs_at_once_get_the_verdicts_of_a_run_alone_and_never_collide(kubeconfig, k8s, tmp_path):
    stamp = int(time.time() % 100000)
    solo_res, solo, solo_wall = conformance(kubeconfig, tmp_path / "solo", "it-conc-solo-%d" % stamp)
    ids = {"a": "it-conc-a-%d" % stamp, "b": "it-conc-b-%d" % stamp}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {k: pool.submit(conformance, kubeconfig, tmp_path / k, run_id) for k, run_id in ids.items()}
        runs = {k: f.result() for k, f in futures.items()}

    for key, (res, rows, _wall) in runs.items():
        # Same outcome as alone: the exit status and every probed requirement's verdict.
        assert res.returncode == solo_res.returncode, (key, res.stdout[-3000:])
        got = {rid: rows[rid]["verdict"] for rid in REQUIREMENTS}
        want = {rid: solo[rid]["verdict"] for rid in REQUIREMENTS}
        assert got == want, (key, {rid: rows[rid]["reason"] for rid in REQUIREMENTS if got[rid] != want[rid]})
        for rid in REQUIREMENTS:
            assert rows[rid]["run_id"] == ids[key]
            # Cleanup deleted only this run's objects: nothing was found belonging to the other run.
            for ref in rows[rid]["observations"].get("cleanup", []):
                assert not ref["outcome"].startswith(("left alone", "error")), (key, rid, ref)
                if ref.get("namespace") is None:  # cluster-scoped: its name carries the run id
                    assert ids[key] in ref["name"], (key, rid, ref)
        for rid in EXCLUSIVE:
            held = rows[rid]["observations"]["lease"]
            assert held["acquired"] is True and held["holder"] == ids[key], (key, rid, held)

    # The Lease made the exclusive probes of the two runs take turns: no two of them overlapped.
    spans = [(key, rid, interval(runs[key][1][rid])) for key in runs for rid in EXCLUSIVE]
    for k1, r1, (s1, e1) in spans:
        for k2, r2, (s2, e2) in spans:
            if k1 < k2:
                assert e1 <= s2 + 1 or e2 <= s1 + 1, "%s/%s %s and %s/%s %s ran at the same time" % (k1, r1, (s1, e1), k2, r2, (s2, e2))
    waited = {(k, rid): runs[k][1][rid]["observations"]["lease"]["waited_s"] for k in runs for rid in EXCLUSIVE}

    # Nothing of either run is left: namespaces, Kueue queues and flavors, the Lease.
    for run_id in list(ids.values()) + ["it-conc-solo-%d" % stamp]:
        assert left_by(k8s, run_id) == [], run_id
    assert k8s.get(lease.API, lease.KIND, lease.lease_name(lease.GPU_CAPACITY), lease.NAMESPACE) is None
    print("solo %.0f s; pair %s s; lease waits %s" % (solo_wall, {k: round(r[2]) for k, r in runs.items()}, waited))
