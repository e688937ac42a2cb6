"""Check mode: every probe's skip says what it would create, observe and try (Probe.plan), without a cluster."""

from __future__ import annotations

import importlib

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe as probe_mod
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import validate_result_dict
from ansible_collections.ai_conformance.kubernetes.plugins.plugin_utils.waits import PROBES
from tests.unit.conftest import NoCluster

MODULES = "ansible_collections.ai_conformance.kubernetes.plugins.modules."
# The probes that describe their own objects and negative cases (the others use the generic plan).
OWN_PLAN = ("gang_probe", "dra_probe", "sandbox_probe", "operator_probe", "service_metrics_probe", "network_dra_probe")


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch):
    """Check mode must decide before any client exists: a client call fails the test."""
    monkeypatch.setattr(probe_mod, "get_client", lambda params: NoCluster())
    monkeypatch.setattr(probe_mod, "check_reachable", lambda c: NoCluster().version)


def check_mode(run_module, module, **args):
    mod = importlib.import_module(MODULES + module)
    res = run_module(mod.main, dict({"run_id": "r1"}, **args), check_mode=True)
    assert not res.failed, res.result
    return res.result["result"]


@pytest.mark.parametrize("module", sorted(PROBES))
def test_every_probe_in_check_mode_is_a_skip_saying_what_it_would_do(run_module, module):
    result = check_mode(run_module, module)
    assert validate_result_dict(result) == []
    assert result["verdict"] == "skip"
    assert result["reason"].startswith("check mode: would ") and result["reason"].endswith("nothing was created")
    plan = result["observations"]["check_mode_plan"]
    assert plan["namespace"] == "aic-%s-r1" % PROBES[module].replace("_", "-")
    assert plan["labels"]["ai-conformance.io/run-id"] == "r1"
    if not plan.get("instead"):
        assert plan["namespace"] in result["reason"] and "wait up to 120s per step" in result["reason"]


@pytest.mark.parametrize("module", OWN_PLAN)
def test_the_probes_with_their_own_plan_name_objects_and_negative_cases(run_module, module):
    plan = check_mode(run_module, module)["observations"]["check_mode_plan"]
    assert plan["creates"] and plan["observes"] and plan["negative"]


def test_the_gang_plan_follows_the_options(run_module):
    result = check_mode(run_module, "gang_probe", group_size=4, resource_name="amd.com/gpu", scheduler="volcano", observe_seconds=12, timeout=45)
    plan = result["observations"]["check_mode_plan"]
    assert "group gang-fit: 4 Pods x 1 amd.com/gpu and its group object through volcano" in plan["creates"][0]
    assert plan["negative"] == ["gang-wait (4 Pods, 3 amd.com/gpu free) stays at 0 bound for 12s while the control Pod fits"]
    assert plan["timeout_s"] == 45
    assert "try 1 negative case(s): gang-wait (4 Pods, 3 amd.com/gpu free)" in result["reason"]
    assert "wait up to 45s per step" in result["reason"]


def test_a_namespace_given_is_used_and_not_created(run_module):
    result = check_mode(run_module, "operator_probe", namespace="ray-tests")
    plan = result["observations"]["check_mode_plan"]
    assert (plan["namespace"], plan["namespace_created"]) == ("ray-tests", False)
    assert "would create in namespace ray-tests:" in result["reason"]


def test_the_generic_plan_lists_the_options_set_but_no_credentials_or_secrets(run_module):
    result = check_mode(run_module, "dcgm_query", api_key="sekrit-token", prometheus_token="prom-sekrit", max_age_seconds=99)
    plan = result["observations"]["check_mode_plan"]
    assert plan["creates"] == [] and plan["options"]["max_age_seconds"] == 99 and plan["options"]["source"] == "auto"
    assert "api_key" not in plan["options"] and "prometheus_token" not in plan["options"] and "kubeconfig" not in plan["options"]
    assert "sekrit" not in str(result)
    assert "(options: " in result["reason"] and "max_age_seconds=99" in result["reason"]


def test_a_declared_none_plan_says_it_would_report_not_applicable(run_module):
    result = check_mode(run_module, "network_dra_probe", declared="none", justification="single-node serving only")
    assert result["reason"] == "check mode: would report not_applicable without creating anything: single-node serving only; nothing was created"
    assert result["observations"]["check_mode_plan"]["instead"]


def test_a_defect_in_a_plan_override_falls_back_to_the_generic_plan(run_module, monkeypatch):
    mod = importlib.import_module(MODULES + "gang_probe")

    def broken(self, run_id):
        raise KeyError("group_size")

    monkeypatch.setattr(mod.GangProbe, "plan", broken)
    result = check_mode(run_module, "gang_probe")
    plan = result["observations"]["check_mode_plan"]
    assert result["verdict"] == "skip" and plan["plan_error"] == "KeyError: 'group_size'"
    assert result["reason"].startswith("check mode: would create its objects in its own namespace aic-gang-scheduling-r1")


def test_plan_reason_is_one_sentence_from_the_plan():
    plan = {
        "namespace": "ns1",
        "namespace_created": True,
        "creates": ["Pod a", "Pod b"],
        "observes": ["a runs"],
        "negative": ["b refused"],
        "timeout_s": 30,
    }
    assert probe_mod.plan_reason(plan) == (
        "check mode: would create in its own namespace ns1 (created, then deleted): Pod a; Pod b; observe a runs; "
        "try 1 negative case(s): b refused; wait up to 30s per step; nothing was created"
    )
