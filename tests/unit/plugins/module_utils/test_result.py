from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import (
    VERDICTS,
    ProbeResult,
    Verdict,
    from_background_job,
    validate_result_dict,
)


def test_unknown_verdict_and_owner_are_rejected():
    with pytest.raises(ValueError, match="unknown verdict"):
        ProbeResult("dra_support", verdict="passed")
    with pytest.raises(ValueError, match="unknown owner"):
        ProbeResult("dra_support", owner="vendor")


def test_default_result_is_an_error_not_a_pass():
    r = ProbeResult("dra_support")
    assert r.verdict == "error"
    assert not Verdict.counts_as_pass(r.verdict)


def test_worst_verdict_wins_and_empty_is_error():
    assert Verdict.worst(["pass", "skip", "fail"]) == "fail"
    assert Verdict.worst(["pass", "error", "fail"]) == "error"
    assert Verdict.worst(["pass", "not_applicable"]) == "not_applicable"
    assert Verdict.worst([]) == "error"


def test_checks_all_pass_but_no_negative_case_is_a_fail():
    r = ProbeResult("dra_support")
    r.check("claim allocated", True, "gpu-0 on n1")
    r.decide_from_checks("ok")
    assert r.verdict == "fail"
    assert "negative case" in r.reason


def test_negative_case_not_refused_fails():
    r = ProbeResult("dra_support")
    r.check("claim allocated", True, "gpu-0")
    r.negative_case("claim matching no device", refused=False, outcome="allocated gpu-3")
    r.decide_from_checks("ok")
    assert r.verdict == "fail"
    assert "claim matching no device" in r.reason


def test_failed_check_names_itself_in_reason():
    r = ProbeResult("dra_support")
    r.check("claim allocated", True, "gpu-0")
    r.check("pod on device node", False, "pod on n2, device on n1")
    r.negative_case("x", refused=True, outcome="refused")
    r.decide_from_checks("ok")
    assert (r.verdict, r.reason) == ("fail", "pod on device node: pod on n2, device on n1")


def test_only_undecided_checks_is_an_error():
    r = ProbeResult("dra_support")
    r.check("container sees its GPU", None, "containers do not run here", kind="runtime")
    r.negative_case("x", refused=True, outcome="refused")
    assert r.decide_from_checks("ok").verdict == "error"


def test_pass_with_undecided_runtime_check_keeps_it_in_output():
    r = ProbeResult("dra_support").start()
    r.check("claim allocated", True, "gpu-0")
    r.check("container sees its GPU", None, "no container runtime", kind="runtime")
    r.negative_case("x", refused=True, outcome="stayed unallocated")
    r.step("kubectl create -f claim.yaml", "allocated")
    d = r.decide_from_checks("all good").stop().to_dict()
    assert d["verdict"] == "pass"
    assert {"name": "container sees its GPU", "ok": None, "detail": "no container runtime", "kind": "runtime"} in d["checks"]
    assert d["started"].endswith("Z")
    assert validate_result_dict(d) == []


def test_validate_result_dict_reports_each_problem():
    problems = validate_result_dict({"verdict": "maybe", "reason": " ", "owner": "x"})
    assert "verdict 'maybe' is not one of %s" % ", ".join(VERDICTS) in problems
    assert "empty reason" in problems
    assert "missing key 'requirement'" in problems
    assert any(p.startswith("owner 'x'") for p in problems)


def _probe_result(requirement="robust_controller", verdict="pass"):
    return ProbeResult(requirement=requirement, run_id="r1").start().decide(verdict, "reconciled and refused").stop().to_dict()


@pytest.mark.parametrize(
    ("status", "waited", "reason"),
    [
        ({"finished": False, "ansible_job_id": "j1"}, 30.2, "still running after 30 s"),
        ({"finished": True, "failed": True, "msg": "Timeout exceeded", "child_pid": 42}, 5, "stopped at its time limit"),
        ({"finished": True, "failed": True, "msg": "unsupported parameter foo"}, 5, "ended without a result: unsupported parameter foo"),
        ({"finished": True, "ping": "pong"}, 5, "ended without a result: it returned no message"),
        ({"finished": True, "result": {"requirement": "robust_controller", "verdict": "maybe"}}, 5, "malformed result: missing key"),
        ({"finished": True, "result": _probe_result("ai_inference")}, 5, "it is a result for 'ai_inference'"),
    ],
)
def test_a_background_job_without_its_result_is_an_explicit_error(status, waited, reason):
    res = from_background_job(status, "robust_controller", owner="product", run_id="r1", waited_s=waited)
    assert res["verdict"] == "error"
    assert reason in res["reason"]
    assert (res["requirement"], res["owner"], res["run_id"]) == ("robust_controller", "product", "r1")
    assert validate_result_dict(res) == []
    assert res["observations"]["background_job"]["finished"] is status["finished"]


@pytest.mark.parametrize("verdict", ["pass", "fail", "skip"])
def test_a_finished_job_returns_the_probes_own_result(verdict):
    own = _probe_result(verdict=verdict)
    assert from_background_job({"finished": True, "result": own}, "robust_controller") is own
