"""conformance.yml's probe lanes on the reference cluster: probes of the background lane run at the
same time as each other (and the serial lane), serial mode runs them one after another, and a
background probe that hangs becomes an explicit error row whose objects the cleanup phase sweeps,
while the bundle is still written and the play fails on the undecided MUST."""

from __future__ import annotations

import json
import time

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RUN_ID_LABEL
from tests.refcluster.ansible_run import run_conformance

pytestmark = pytest.mark.integration

BACKGROUND = ("robust_controller", "workload_sandboxing")
DOMAINS = ("accelerators", "scheduling", "observability", "networking", "operators", "security")


def play(kubeconfig, out, *flags, **extra):
    base = {
        "conformance_kubeconfig": kubeconfig,
        "conformance_output_dir": str(out),
        "conformance_version": "v1.37",
        "conformance_domains": ["operators", "security"],
    }
    res = run_conformance(dict(base, **extra), *flags, timeout_s=900)[0]
    if "--check" in flags:
        return res, None
    rows = {r["requirement"]: r for r in json.loads(next(out.rglob("results.json")).read_text())["requirements"]}
    return res, rows


def interval(row):
    t0 = time.mktime(time.strptime(row["started"], "%Y-%m-%dT%H:%M:%SZ"))
    return t0, t0 + row["duration_s"]


@pytest.mark.parametrize("mode", ["lanes", "serial"])
def test_background_probes_overlap_in_lanes_and_follow_each_other_in_serial(kubeconfig, tmp_path, mode):
    res, rows = play(kubeconfig, tmp_path, conformance_concurrency=mode)
    for rid in BACKGROUND:
        assert rows[rid]["verdict"] == "pass", (rid, rows[rid]["reason"], res.stdout[-2000:])
    # The domains left out are explicit errors, so the MUST gate fails the play.
    assert rows["gang_scheduling"]["verdict"] == "error" and "no probe ran" in rows["gang_scheduling"]["reason"]
    assert res.returncode != 0
    (a0, a1), (b0, b1) = interval(rows[BACKGROUND[0]]), interval(rows[BACKGROUND[1]])
    if mode == "lanes":
        assert b0 < a1 - 1 and a0 < b1 - 1, "the two background probes did not run at the same time: %s" % [(a0, a1), (b0, b1)]
    else:
        assert b0 >= a1 - 1, "serial mode started workload_sandboxing before robust_controller ended: %s" % [(a0, a1), (b0, b1)]


def test_a_hung_background_probe_is_an_error_row_and_leaves_nothing(kubeconfig, k8s, tmp_path):
    run_id = "it-lanes-hung-%d" % (time.time() % 100000)
    res, rows = play(kubeconfig, tmp_path, conformance_background_timeout=2, conformance_run_id=run_id)
    assert res.returncode != 0
    for rid in BACKGROUND:
        row = rows[rid]
        assert row["verdict"] == "error", (rid, row["verdict"], row["reason"])
        assert "stopped at its time limit" in row["reason"]
        assert row["observations"]["background_job"]["finished"] is True
        assert row["run_id"] == run_id
    # The probes were killed before their own cleanup; the play's sweep removed what they made.
    sel = "%s=%s" % (RUN_ID_LABEL, run_id)
    left = [ns["metadata"]["name"] for ns in k8s.list("v1", "Namespace", label_selector=sel)["items"] if not ns["metadata"].get("deletionTimestamp")]
    assert left == []


def test_check_mode_of_every_lane_writes_nothing_and_exits_zero(kubeconfig, k8s, tmp_path):
    run_id = "it-lanes-check-%d" % (time.time() % 100000)
    out = tmp_path / "bundle"
    res = play(kubeconfig, out, "--check", conformance_domains=list(DOMAINS), conformance_run_id=run_id)[0]
    assert res.returncode == 0, res.stdout[-3000:]
    assert not out.exists()  # no bundle file is written in check mode
    sel = "%s=%s" % (RUN_ID_LABEL, run_id)
    assert k8s.list("v1", "Namespace", label_selector=sel)["items"] == []
