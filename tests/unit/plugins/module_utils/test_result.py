from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import (
    PARTIAL_PREFIX,
    VERDICTS,
    ProbeResult,
    Verdict,
    from_background_job,
    is_partial,
    undecided,
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


def _proven(*undecided_checks):
    r = ProbeResult("dra_support")
    r.check("claim allocated", True, "gpu-0")
    r.check("pod on device node", True, "n1")
    for name, kind in undecided_checks:
        r.check(name, None, "%s: containers do not run on node n1" % name, kind=kind)
    r.negative_case("claim matching no device", refused=True, outcome="stayed unallocated")
    return r


def test_a_pass_with_every_check_decided_is_a_bare_pass():
    d = _proven().decide_from_checks("allocated and refused").to_dict()
    assert (d["verdict"], d["reason"]) == ("pass", "allocated and refused")
    assert d["undecided_checks"] == [] and not is_partial(d)


def test_a_pass_with_undecided_checks_is_a_partial_pass_with_a_fixed_prefix():
    r = _proven(("container sees its GPU", "runtime"), ("driver in container", "runtime"))
    d = r.decide_from_checks("allocated and refused").to_dict()
    assert d["verdict"] == "pass"
    assert d["reason"] == "partial: 2 of 4 checks not decided (container sees its GPU, driver in container); allocated and refused"
    assert d["reason"].startswith(PARTIAL_PREFIX)
    assert d["undecided_checks"] == [
        {"name": "container sees its GPU", "kind": "runtime", "detail": "container sees its GPU: containers do not run on node n1"},
        {"name": "driver in container", "kind": "runtime", "detail": "driver in container: containers do not run on node n1"},
    ]
    assert is_partial(d) and validate_result_dict(d) == []
    # undecided_checks is derived from checks when serialising, not stored twice.
    assert "undecided_checks" not in vars(r)


def test_is_partial_reads_undecided_checks_never_the_reason():
    d = _proven().decide_from_checks("ok").to_dict()
    assert not is_partial(dict(d, reason="partial: 1 of 2 checks not decided (x); ok"))
    assert is_partial(dict(d, undecided_checks=[{"name": "x", "kind": "api", "detail": "d"}]))
    assert not is_partial(dict(d, verdict="fail", undecided_checks=[{"name": "x", "kind": "api", "detail": "d"}]))
    # A result written before undecided_checks existed: derived from its checks.
    old = {k: v for k, v in _proven(("x", "runtime")).decide_from_checks("ok").to_dict().items() if k != "undecided_checks"}
    assert is_partial(old) and validate_result_dict(old) == []


def test_a_check_recorded_after_the_decision_is_counted_when_the_reason_is_refreshed():
    r = _proven().decide_from_checks("ok")
    r.check("late runtime check", None, "no container runtime", kind="runtime")
    assert r.reason == "ok"
    assert r.refresh_reason().reason == "partial: 1 of 3 checks not decided (late runtime check); ok"
    # Refreshing twice does not stack prefixes.
    assert r.refresh_reason().reason == "partial: 1 of 3 checks not decided (late runtime check); ok"
    r.decide(Verdict.FAIL, "broken")
    assert r.refresh_reason().reason == "broken"


def test_a_fail_names_every_failed_check_the_first_one_first():
    r = ProbeResult("dra_support")
    r.check("claim allocated", False, "claim stayed pending")
    r.check("pod on device node", True, "n1")
    r.check("pod deleted", False, "pod still terminating after 30 s")
    r.check("container sees its GPU", None, "no runtime", kind="runtime")
    r.negative_case("x", refused=True, outcome="refused")
    d = r.decide_from_checks("ok").to_dict()
    assert d["verdict"] == "fail"
    assert d["reason"] == "2 checks failed: claim allocated: claim stayed pending; pod deleted: pod still terminating after 30 s"
    assert not is_partial(d) and [u["name"] for u in d["undecided_checks"]] == ["container sees its GPU"]


def test_malformed_undecided_checks_are_reported_and_explicit_errors_carry_none():
    d = _proven().decide_from_checks("ok").to_dict()
    assert validate_result_dict(dict(d, undecided_checks="x")) == ["undecided_checks is not a list of checks with a name"]
    assert validate_result_dict(dict(d, undecided_checks=[{"kind": "api"}])) == ["undecided_checks is not a list of checks with a name"]
    e = undecided("dra_support", "platform", "r1", "no probe ran")
    assert e["undecided_checks"] == [] and validate_result_dict(e) == []


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
