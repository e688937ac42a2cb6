from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.evidence import build_rows, redact


def res(rid, verdict, reason="r", owner="platform"):
    return {
        "requirement": rid,
        "verdict": verdict,
        "reason": reason,
        "observations": {},
        "checks": [],
        "steps": [],
        "negative": [],
        "owner": owner,
        "run_id": "x",
        "started": "",
        "duration_s": 0.0,
    }


def test_every_requirement_gets_a_row_and_missing_ones_are_errors():
    out = build_rows([res("gang_scheduling", "pass")], "v1.37", run_id="run1")
    assert [r["id"] for r in out["rows"]] == catalog.ids("v1.37")
    rows = {r["id"]: r for r in out["rows"]}
    assert rows["gang_scheduling"]["status"] == "Implemented"
    assert rows["ai_inference"]["verdict"] == "error" and rows["ai_inference"]["status"] == ""
    assert rows["ai_inference"]["result"]["run_id"] == "run1"
    assert "ai_inference" in out["summary"]["must_failed_or_error"]
    assert out["summary"]["conformant"] is False


def test_all_musts_pass_or_na_is_conformant_even_with_should_skips():
    results = [res(r.id, "pass") for r in catalog.requirements("v1.35") if r.level == "MUST"]
    results[0] = res(results[0]["requirement"], "not_applicable", "no autoscaler by design")
    out = build_rows(results, "v1.35")
    assert out["summary"]["must_failed_or_error"] == []
    assert out["summary"]["conformant"] is True


def test_skip_never_claims_implemented_and_fail_says_so():
    out = build_rows([res("gpu_sharing", "skip", "nothing declared"), res("gang_scheduling", "fail", "partial placement")], "v1.35")
    rows = {r["id"]: r for r in out["rows"]}
    assert (rows["gpu_sharing"]["status"], rows["gpu_sharing"]["notes"]) == ("", "Not verified: nothing declared")
    assert (rows["gang_scheduling"]["status"], rows["gang_scheduling"]["notes"]) == ("Not Implemented", "Failed: partial placement")


def test_extras_duplicates_unknown_and_malformed_are_reported():
    out = build_rows([res("dra_support", "pass"), res("dra_support", "fail"), res("no_such_req", "pass"), {"requirement": "ai_inference"}], "v1.36")
    assert [e["id"] for e in out["extras"]] == ["dra_support"] and out["extras"][0]["verdict"] == "fail"
    assert any("two results for dra_support" in p for p in out["problems"])
    assert any("no_such_req is not part of checklist v1.36" in p for p in out["problems"])
    rows = {r["id"]: r for r in out["rows"]}
    assert rows["ai_inference"]["verdict"] == "error" and "malformed" in rows["ai_inference"]["reason"]


def test_owner_override_from_inventory():
    out = build_rows([res("secure_accelerator_access", "pass")], "v1.37", owners={"secure_accelerator_access": "base"})
    assert {r["id"]: r["owner"] for r in out["rows"]}["secure_accelerator_access"] == "base"


def test_redact_tokens_certs_accounts_and_literals():
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    data = {
        "a": ["Authorization: Bearer abc.def-ghi", pem, "arn:aws:eks:us-east-1:123456789012:cluster/x", "token: s3cr3tvalue"],
        "b": "my literal sekret-123456",
    }
    out = redact(data, ["sekret-123456"])
    text = repr(out)
    for leaked in ("abc.def-ghi", "MIIB", "123456789012", "s3cr3tvalue", "sekret-123456"):
        assert leaked not in text
    assert out["a"][2] == "arn:aws:eks:us-east-1:<account>:cluster/x"


def test_upstream_verdicts_beside_ours_with_the_disagreement_flagged():
    upstream = {
        "ran": True,
        "unavailable": "",
        "built_from": "source /src (af907ca8)",
        "verdicts": {
            "secure_accelerator_access": {"test": "TestSecureAcceleratorAccess", "verdict": "fail", "failed_subtests": ["PositiveAccessTest"]},
            "gang_scheduling": {"test": "TestGangScheduling", "verdict": "pass", "failed_subtests": []},
        },
    }
    out = build_rows([res("secure_accelerator_access", "pass", "isolated"), res("gang_scheduling", "pass", "whole")], "v1.37", upstream=upstream)
    rows = {r["id"]: r for r in out["rows"]}
    assert out["upstream"]["ran"] is True and out["upstream"]["disagreements"] == ["secure_accelerator_access"]
    assert rows["secure_accelerator_access"]["upstream_evidence"] == "upstream/junit.xml"
    assert rows["secure_accelerator_access"]["notes"] == (
        "isolated Upstream suite: TestSecureAcceleratorAccess fail (DISAGREES with this collection's verdict; see upstream/comparison.md)."
    )
    assert rows["gang_scheduling"]["notes"] == "whole Upstream suite: TestGangScheduling pass."
    # Our verdict and status are never changed by the upstream side.
    assert rows["secure_accelerator_access"]["verdict"] == "pass" and rows["secure_accelerator_access"]["status"] == "Implemented"
    assert "upstream_evidence" not in rows["ai_inference"] and rows["ai_inference"]["upstream"]["upstream"] == "not covered"


def test_upstream_not_run_is_said_on_every_row():
    out = build_rows([res("gang_scheduling", "pass")], "v1.37", upstream={"ran": False, "unavailable": "no source of the suite"})
    assert out["upstream"]["ran"] is False and out["upstream"]["unavailable"] == "no source of the suite"
    assert all(t["upstream"] == "not run" and t["note"] == "no source of the suite" for t in out["upstream"]["rows"])
    assert not any("upstream_evidence" in r for r in out["rows"])
    assert build_rows([], "v1.37")["upstream"]["unavailable"] == "the upstream suite phase was not run"
