"""The registry's plan equals what conformance.yml's Jinja planned before the playbook asked for it.

tests/unit/fixtures/plan_table.json is the Jinja's own answer for 423 inputs (recorded by
tests/tools/record_plan_table.py from conformance.yml at commit 783685d with ansible-core's
templar); a few cases are also worked out by hand below, from reading the Jinja."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry
from ansible_collections.ai_conformance.kubernetes.plugins.modules import conformance_plan

TABLE = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "plan_table.json").read_text())


def ours(case):
    return registry.plan(case["version"], case["domains"], case["requirements"], case["concurrency"], case["phases"], case["owners"])


def short(plan):
    return [[row["requirement"], row["domain"], row["lane"], row["since"]] for row in plan]


def unique(values):
    return [x for i, x in enumerate(values) if x not in values[:i]]


def test_the_table_covers_the_inputs_that_matter():
    inputs = [row["input"] for row in TABLE]
    assert len(TABLE) == 423
    assert {c["version"] for c in inputs} == {"v1.33", "v1.34", "v1.35", "v1.36", "v1.37"}
    assert {c["concurrency"] for c in inputs} == {"lanes", "serial"}
    assert any(c["requirements"] == [] for c in inputs) and any(c["domains"] == [] for c in inputs)
    # The table is not trivial: plans of many shapes, and errors of every kind the selection has.
    assert len({json.dumps(row["jinja"]["plan"]) for row in TABLE}) > 25
    errors = " ".join(e for row in TABLE for e in row["jinja"]["errors"])
    for kind in ("is empty", "not a requirement of any checklist", "does not have", "leaves out", "must be a list of", "must be platform"):
        assert kind in errors


@pytest.mark.parametrize("row", TABLE, ids=lambda row: json.dumps(row["input"], sort_keys=True))
def test_the_plan_equals_the_jinja(row):
    out = ours(row["input"])
    jinja = row["jinja"]
    if any(r[0] in MOVED for r in short(out["plan"]) + jinja["plan"]):
        # Since the table was recorded some probes moved lanes (MOVED) and so places in the run
        # order: the rest of the plan is the Jinja's, in its order; the moved ones are pinned by the
        # by-hand tests below.  pod_autoscaling's lane-mates changed with its lane (MATES).
        mates = MATES if row["input"]["concurrency"] == "lanes" and row["input"]["requirements"] is not None else set()

        def keep(plan):
            return [r for r in plan if r[0] not in MOVED and r[0] not in mates]

        assert keep(short(out["plan"])) == keep(jinja["plan"])
        if mates:
            asked, planned = set(row["input"]["requirements"]), {r[0] for r in jinja["plan"]}
            expected = {m for m in mates if m in asked and m in planned} | ({"ai_service_metrics"} if "pod_autoscaling" in planned else set())
            assert {r[0] for r in short(out["plan"]) if r[0] in mates} == expected
        if row["input"]["requirements"] is None:  # a whole-domain run probes the same requirements
            assert sorted(r[0] for r in short(out["plan"])) == sorted(r[0] for r in jinja["plan"])
            lane = (lambda r: MOVED[r[0]]) if row["input"]["concurrency"] == "lanes" else (lambda r: "serial")
            assert {r[0]: r[2] for r in short(out["plan"]) if r[0] in MOVED} == {r[0]: lane(r) for r in jinja["plan"] if r[0] in MOVED}
    else:
        assert short(out["plan"]) == jinja["plan"]
    # The Jinja listed a domain once per probe; which domains, in which order, is what its loops used.
    # A moved probe takes its domain's entry from its old lane to its new one, where the domain
    # goes to its place in the new lane's run order (the first of its probes there).
    lanes = {lane: list(domains) for lane, domains in jinja["lane_domains"].items()}
    asked = row["input"]["requirements"]
    moved_to = set()
    for rid, (was, now) in MOVED_FROM_TO.items():
        if asked is None or (isinstance(asked, list) and rid in asked):
            lanes[was].remove(registry.record(rid).domain)
            lanes[now].append(registry.record(rid).domain)
            moved_to.add(now)
    for lane in moved_to:
        first = [r.domain for r in registry.RECORDS if r.lane == lane]
        lanes[lane] = sorted(unique(lanes[lane]), key=first.index)
    assert out["lane_domains"] == {lane: unique(domains) for lane, domains in lanes.items()}
    assert out["concurrency"] == jinja["concurrency"]
    if isinstance(asked, list) and "pod_autoscaling" in asked:
        # The error lines follow the records' run order, where pod_autoscaling moved up (MOVED).
        assert sorted(out["errors"]) == sorted(jinja["errors"])
    else:
        assert out["errors"] == jinja["errors"]


# Lane moves since the table was recorded (issue 27: the model-server probes share nothing with the
# accelerator probes, so they run beside them as background jobs; so does cluster autoscaling, which
# waits for them when its pool has nodes to fill).
MOVED_FROM_TO = {
    "disaggregated_inference": ("serial", "background"),
    "advanced_inference_ingress": ("serial", "background"),
    # The slowest probe: it starts first of the background jobs.
    "cluster_autoscaling": ("last", "background"),
    # Its GPU pods are pinned to one node that the accelerator probes' fills leave out (probes/runmates).
    "pod_autoscaling": ("serial", "background"),
}
MOVED = {rid: now for rid, (_was, now) in MOVED_FROM_TO.items()}
# A run limited to requirements plans the lane-mates of each in its domain role: pod_autoscaling's
# were accelerator_metrics (observability's serial lane) and are now ai_service_metrics (its
# background lane).  Each of the two is planned where it was asked for itself, and
# ai_service_metrics also with pod_autoscaling.
MATES = {"accelerator_metrics", "ai_service_metrics"}


def test_by_hand_the_model_server_probes_run_in_the_background_lane_with_ai_inference():
    out = registry.plan("v1.37", requirements=["ai_inference"])
    assert [(r["requirement"], r["lane"]) for r in out["plan"]] == [
        ("ai_inference", "background"), ("disaggregated_inference", "background"), ("advanced_inference_ingress", "background"),
    ]  # fmt: skip
    assert out["lane_domains"] == {"background": ["networking"], "serial": [], "last": []}
    # high_performance_networking needs a GPU with its NIC: it stays in the serial lane, alone of its domain.
    out = registry.plan("v1.37", requirements=["high_performance_networking"])
    assert [(r["requirement"], r["lane"]) for r in out["plan"]] == [("high_performance_networking", "serial")]
    # v1.35 has neither model-server probe: only ai_inference runs in networking's background lane.
    assert [r["requirement"] for r in registry.plan("v1.35", requirements=["ai_inference"])["plan"]] == ["ai_inference"]


# -- worked out by hand from the Jinja ------------------------------------------------------------
def test_by_hand_a_v135_run_probes_the_accelerator_probes_but_not_the_v136_networking_ones():
    plan = registry.plan("v1.35")["plan"]
    ids = [r["requirement"] for r in plan]
    assert ids == [
        "cluster_autoscaling", "ai_inference", "ai_service_metrics", "pod_autoscaling", "robust_controller",
        "dra_support", "secure_accelerator_access", "driver_runtime_management", "gpu_sharing", "virtualized_accelerator",
        "accelerator_metrics",
        "gang_scheduling",
    ]  # fmt: skip
    assert {r["lane"] for r in plan[:5]} == {"background"} and plan[5]["lane"] == "serial" and plan[-1]["lane"] == "last"


def test_by_hand_a_requirement_limited_run_plans_the_lane_mates_of_its_domain_role():
    # pod_autoscaling is in observability's background lane, which also runs ai_service_metrics; in
    # lanes mode accelerator_metrics (observability's serial lane) is not planned.
    out = registry.plan("v1.37", requirements=["pod_autoscaling"])
    assert [r["requirement"] for r in out["plan"]] == ["ai_service_metrics", "pod_autoscaling"]
    assert out["lane_domains"] == {"background": ["observability"], "serial": [], "last": []}
    # In serial mode the role runs all its probes: accelerator_metrics too, listed in the records' order.
    serial = registry.plan("v1.37", requirements=["pod_autoscaling"], concurrency="serial")["plan"]
    assert [(r["requirement"], r["lane"]) for r in serial] == [
        ("ai_service_metrics", "serial"), ("pod_autoscaling", "serial"), ("accelerator_metrics", "serial"),
    ]  # fmt: skip


def test_by_hand_levels_and_dropped_requirements():
    plan = {r["requirement"]: r for r in registry.plan("v1.36")["plan"]}
    assert plan["dra_support"]["level"] == "extra"
    assert plan["high_performance_networking"]["level"] == "SHOULD" and plan["high_performance_networking"]["since"] == "1.36"
    assert "workload_sandboxing" not in plan
    v133 = {r["requirement"]: r["level"] for r in registry.plan("v1.33")["plan"]}
    assert v133["dra_support"] == "SHOULD" and v133["driver_runtime_management"] is None


def test_by_hand_no_probe_phase_no_plan_and_errors_for_a_bad_selection():
    assert registry.plan("v1.37", phases=["evidence"])["plan"] == []
    out = registry.plan("v1.36", domains=["networking"], requirements=["workload_sandboxing", "gang_scheduling"])
    assert out["errors"] == [
        "conformance_requirements names workload_sandboxing, which checklist v1.36 does not have",
        "conformance_requirements names workload_sandboxing, whose domain conformance_domains leaves out",
        "conformance_requirements names gang_scheduling, whose domain conformance_domains leaves out",
    ]
    assert out["plan"] == []


def test_the_module_returns_the_registrys_plan(run_module):
    args = {"version": "v1.36", "domains": ["networking", "observability"], "requirements": ["ai_inference"], "concurrency": "serial"}
    out = run_module(conformance_plan.main, args, check_mode=True)
    assert not out.failed
    expected = registry.plan("v1.36", ["networking", "observability"], ["ai_inference"], "serial")
    assert {k: out.result[k] for k in expected} == expected
