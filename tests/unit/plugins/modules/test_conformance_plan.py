"""conformance_plan: the module's contract (the plan itself is tested in test_registry_plan.py)."""

from __future__ import annotations

import re

from ansible_collections.ai_conformance.kubernetes.plugins.modules import conformance_plan


def test_defaults_plan_every_probe_of_v137_in_lanes_and_change_nothing(run_module):
    out = run_module(conformance_plan.main, {}, check_mode=True)
    assert not out.failed and out.result["changed"] is False
    assert out.result["version"] == "v1.37" and out.result["concurrency"] == "lanes" and out.result["errors"] == []
    plan = out.result["plan"]
    assert len(plan) == 16
    # The slowest probe first: cluster_autoscaling's background job starts before the others.
    assert plan[0] == {
        "requirement": "cluster_autoscaling", "domain": "scheduling", "module": "autoscaler_probe", "lane": "background", "since": "1.33", "level": "MUST",
    }  # fmt: skip
    assert plan[-1]["requirement"] == "gang_scheduling" and plan[-1]["lane"] == "last"
    assert out.result["lane_domains"] == {
        "background": ["scheduling", "networking", "observability", "operators", "security"],
        "serial": ["accelerators", "observability", "networking"],
        "last": ["scheduling"],
    }


def test_an_unknown_version_fails_with_one_line(run_module):
    out = run_module(conformance_plan.main, {"version": "v1.99"})
    assert out.failed
    assert out.result["msg"] == "unknown checklist version 'v1.99' (known: v1.33, v1.34, v1.35, v1.36, v1.37)"


def test_selection_problems_are_returned_not_raised(run_module):
    out = run_module(conformance_plan.main, {"requirements": ["gpu_magic"], "concurrency": "serial"})
    assert not out.failed
    assert out.result["errors"] == ["conformance_requirements names gpu_magic, which is not a requirement of any checklist"]
    assert out.result["plan"] == []


def test_a_bad_concurrency_is_refused_by_the_argument_spec(run_module):
    out = run_module(conformance_plan.main, {"concurrency": "parallel"})
    assert out.failed and "concurrency" in out.result["msg"]


def test_the_run_id_is_made_here_when_none_is_given_and_differs_per_run(run_module):
    first = run_module(conformance_plan.main, {}).result["run_id"]
    second = run_module(conformance_plan.main, {}).result["run_id"]
    for rid in (first, second):
        assert re.fullmatch(r"r\d{10}-[0-9a-f]{4}", rid), rid
    assert first != second


def test_a_given_run_id_is_kept_and_a_bad_one_is_one_input_error(run_module):
    assert run_module(conformance_plan.main, {"run_id": "nightly-42"}).result["run_id"] == "nightly-42"
    out = run_module(conformance_plan.main, {"run_id": "Bad_ID"})
    assert not out.failed
    assert out.result["errors"] == [
        "conformance_run_id must be 1-32 lowercase letters, digits or dashes, starting and ending with a letter or digit (got Bad_ID)"
    ]
