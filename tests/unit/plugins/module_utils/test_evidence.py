from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import cncf_validator as cv
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.evidence import build_rows, redact
from ansible_collections.ai_conformance.kubernetes.plugins.modules import conformance_summary


def res(rid, verdict, reason="r", owner="platform", checks=None, negative=None):
    """A result; a pass is proven in full (one decided check, one refused negative case) unless
    ``checks``/``negative`` say otherwise."""
    if checks is None:
        checks = [{"name": "placed", "ok": True, "detail": "ok", "kind": "api"}] if verdict == "pass" else []
    if negative is None:
        negative = [{"case": "forbidden", "outcome": "refused", "refused": True}] if verdict == "pass" else []
    return {
        "requirement": rid,
        "verdict": verdict,
        "reason": reason,
        "observations": {},
        "checks": checks,
        "steps": [],
        "negative": negative,
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
        "tests": {"TestSecureAcceleratorAccess": "fail", "TestSecureAcceleratorAccess/PositiveAccessTest": "fail", "TestGangScheduling": "pass"},
    }
    out = build_rows([res("secure_accelerator_access", "pass", "isolated"), res("gang_scheduling", "pass", "whole")], "v1.37", upstream=upstream)
    rows = {r["id"]: r for r in out["rows"]}
    assert out["upstream"]["ran"] is True and out["upstream"]["disagreements"] == ["secure_accelerator_access"]
    # The upstream junit.xml holds failing tests: the CNCF validator rejects any cited artifact that
    # does, so it is cited for neither row, and the notes say why.
    assert "upstream_evidence" not in rows["secure_accelerator_access"] and "upstream_evidence" not in rows["gang_scheduling"]
    assert rows["secure_accelerator_access"]["notes"] == (
        "isolated Upstream suite: TestSecureAcceleratorAccess fail (DISAGREES with this collection's verdict; see upstream/comparison.md); "
        "upstream/junit.xml is not cited: its TestSecureAcceleratorAccess did not pass."
    )
    assert rows["gang_scheduling"]["notes"] == (
        "whole Upstream suite: TestGangScheduling pass; upstream/junit.xml is not cited: it holds failing tests "
        "(TestSecureAcceleratorAccess, TestSecureAcceleratorAccess/PositiveAccessTest), which the CNCF validator rejects in any cited artifact."
    )
    assert rows["secure_accelerator_access"]["evidence"] == [
        "evidence/secure_accelerator_access.md",
        "junit/secure_accelerator_access/junit.xml#TestSecureAcceleratorAccess",
    ]
    # Our verdict and status are never changed by the upstream side.
    assert rows["secure_accelerator_access"]["verdict"] == "pass" and rows["secure_accelerator_access"]["status"] == "Implemented"
    assert "upstream_evidence" not in rows["ai_inference"] and rows["ai_inference"]["upstream"]["upstream"] == "not covered"


@pytest.mark.parametrize(("version", "cited"), [("v1.37", "upstream/junit.xml#TestGangScheduling"), ("v1.35", "upstream/junit.xml")])
def test_upstream_junit_is_cited_where_its_test_passed_and_none_failed(version, cited):
    upstream = {
        "ran": True,
        "verdicts": {
            "gang_scheduling": {"test": "TestGangScheduling", "verdict": "pass", "failed_subtests": []},
            "cluster_autoscaling": {"test": "TestAcceleratorClusterAutoscaling", "verdict": "skip", "failed_subtests": []},
        },
        "tests": {"TestGangScheduling": "pass", "TestGangScheduling/Kueue": "pass", "TestAcceleratorClusterAutoscaling": "skip"},
    }
    results = [res("gang_scheduling", "pass", "whole"), res("cluster_autoscaling", "pass", "scaled")]
    rows = {r["id"]: r for r in build_rows(results, version, upstream=upstream)["rows"]}
    own = "junit/gang_scheduling/junit.xml" + ("#TestGangScheduling" if version == "v1.37" else "")
    assert rows["gang_scheduling"]["evidence"] == ["evidence/gang_scheduling.md", own, cited]
    assert rows["gang_scheduling"]["notes"] == "whole Upstream suite: TestGangScheduling pass."
    # A skipped upstream test is never cited behind an Implemented item.
    assert "upstream_evidence" not in rows["cluster_autoscaling"]
    assert rows["cluster_autoscaling"]["notes"].endswith("upstream/junit.xml is not cited: its TestAcceleratorClusterAutoscaling did not pass.")
    # Without the per-test verdicts the artifact may hold a failing test: not cited.
    del upstream["tests"]
    rows = {r["id"]: r for r in build_rows(results, version, upstream=upstream)["rows"]}
    assert "upstream_evidence" not in rows["gang_scheduling"] and "per-test verdicts were not recorded" in rows["gang_scheduling"]["notes"]


def test_only_a_passed_case_is_cited_and_an_undecided_should_cites_nothing():
    results = [
        res("gang_scheduling", "fail", "split"),
        res("cluster_autoscaling", "not_applicable", "fixed pools"),
        res("gpu_sharing", "skip", "none declared"),
        res("ai_inference", "error", "api gone"),
        res("secure_accelerator_access", "pass", "isolated", checks=DECIDED + RUNTIME),  # partial: Partially Implemented
    ]
    rows = {r["id"]: r for r in build_rows(results, "v1.37")["rows"]}
    for rid in ("gang_scheduling", "cluster_autoscaling", "ai_inference"):
        assert rows[rid]["evidence"] == ["evidence/%s.md" % rid], rid
    assert rows["gpu_sharing"]["evidence"] == []
    sec = rows["secure_accelerator_access"]
    assert sec["status"] == "Partially Implemented"
    assert sec["evidence"] == ["evidence/secure_accelerator_access.md", "junit/secure_accelerator_access/junit.xml#TestSecureAcceleratorAccess"]
    assert (sec["junit_file"], sec["case_name"]) == ("junit/secure_accelerator_access/junit.xml", "TestSecureAcceleratorAccess")


def test_upstream_not_run_is_said_on_every_row():
    out = build_rows([res("gang_scheduling", "pass")], "v1.37", upstream={"ran": False, "unavailable": "no source of the suite"})
    assert out["upstream"]["ran"] is False and out["upstream"]["unavailable"] == "no source of the suite"
    assert all(t["upstream"] == "not run" and t["note"] == "no source of the suite" for t in out["upstream"]["rows"])
    assert not any("upstream_evidence" in r for r in out["rows"])
    assert build_rows([], "v1.37")["upstream"]["unavailable"] == "the upstream suite phase was not run"


# ---- partial passes: counted apart, shown apart, never claimed Implemented unless accepted ----
TEMPLATES = Path(__file__).resolve().parents[4] / "roles" / "evidence" / "templates"
RUNTIME = [
    {"name": "container sees only its GPU", "ok": None, "detail": "skipped: containers do not run on node kwok-gpu-1", "kind": "runtime"},
    {"name": "container without claim sees no GPU", "ok": None, "detail": "skipped: containers do not run on node kwok-gpu-1", "kind": "runtime"},
]
DECIDED = [{"name": "pods isolated by the API", "ok": True, "detail": "two claims, two devices", "kind": "api"}]


def undecided_list(checks):
    return [{"name": c["name"], "kind": c["kind"], "detail": c["detail"]} for c in checks if c["ok"] is None]


def partial_results():
    sec = res("secure_accelerator_access", "pass", "partial: 2 of 3 checks not decided (...); isolated", checks=DECIDED + RUNTIME)
    sec["undecided_checks"] = undecided_list(sec["checks"])
    # Written before undecided_checks existed: derived from its checks.
    hpa = res("pod_autoscaling", "pass", "scaled 1 -> 3 -> 1", checks=DECIDED + RUNTIME[:1])
    # Every check passed, but no negative case was refused: not proven in full either.
    gw = res("ai_inference", "pass", "70/30 measured", negative=[{"case": "missing backend", "outcome": "not attempted", "refused": None}])
    gw["undecided_checks"] = []
    failed = res("cluster_autoscaling", "fail", "no node came up", checks=[{"name": "node up", "ok": False, "detail": "none", "kind": "api"}] + RUNTIME[:1])
    return [sec, hpa, gw, failed, res("gang_scheduling", "pass", "placed whole")]


def test_partial_passes_are_counted_apart_and_not_claimed_implemented():
    out = build_rows(partial_results(), "v1.37")
    rows = {r["id"]: r for r in out["rows"]}
    s = out["summary"]
    assert s["counts"]["pass"] == 4 and s["counts"]["fail"] == 1
    assert (s["partial_pass_count"], s["partial_passes"]) == (2, ["pod_autoscaling", "secure_accelerator_access"])
    assert s["must_partial"] == ["pod_autoscaling", "secure_accelerator_access"]
    assert s["not_proven"] == ["ai_inference", "pod_autoscaling", "secure_accelerator_access"] and s["accepted_partial"] == []
    sec = rows["secure_accelerator_access"]
    assert (sec["verdict"], sec["verdict_label"], sec["partial"], sec["status"]) == ("pass", "pass (partial: 2 undecided)", True, "Partially Implemented")
    assert sec["notes"].startswith(
        "Not proven in full: 2 check(s) not decided: container sees only its GPU (runtime): skipped: containers do not run on node kwok-gpu-1; "
        "container without claim sees no GPU (runtime): "
    )
    assert "without evidence_accept_partial: Partially Implemented" in sec["status_rule"]
    assert rows["pod_autoscaling"]["result"]["undecided_checks"] == undecided_list(RUNTIME[:1])  # normalised for results.json
    gw = rows["ai_inference"]
    assert (gw["verdict_label"], gw["partial"], gw["status"]) == ("pass (no negative case refused)", False, "Partially Implemented")
    assert gw["notes"] == "Not proven in full: no negative case was proven refused. 70/30 measured"
    gang = rows["gang_scheduling"]
    assert (gang["verdict_label"], gang["status"], gang["notes"]) == ("pass", "Implemented", "placed whole")
    ca = rows["cluster_autoscaling"]
    assert (ca["verdict_label"], ca["partial"], ca["status"]) == ("fail", False, "Not Implemented") and len(ca["undecided_checks"]) == 1
    # The gate: a partial pass is a pass.
    assert "secure_accelerator_access" not in s["must_failed_or_error"]


def test_accept_partial_keeps_implemented_and_says_so_in_the_notes():
    out = build_rows(partial_results(), "v1.37", accept_partial=True)
    rows = {r["id"]: r for r in out["rows"]}
    for rid in ("secure_accelerator_access", "pod_autoscaling", "ai_inference"):
        assert rows[rid]["status"] == "Implemented" and rows[rid]["accepted_partial"] is True, rid
        assert rows[rid]["notes"].startswith("Accepted as Implemented by the submitter (evidence_accept_partial) although not proven in full: ")
        assert "accepted by the submitter (evidence_accept_partial: true): Implemented" in rows[rid]["status_rule"]
    assert "container sees only its GPU (runtime)" in rows["secure_accelerator_access"]["notes"]
    assert out["summary"]["accepted_partial"] == ["ai_inference", "pod_autoscaling", "secure_accelerator_access"]
    assert out["summary"]["not_proven"] == [] and out["summary"]["partial_pass_count"] == 2
    assert rows["gang_scheduling"]["accepted_partial"] is False


def test_conformance_summary_module_counts_partial_passes(run_module):
    res_ = run_module(conformance_summary.main, {"results": partial_results(), "version": "v1.37"})
    assert not res_.failed
    assert res_.result["summary"]["partial_pass_count"] == 2
    rows = {r["id"]: r for r in res_.result["rows"]}
    assert rows["secure_accelerator_access"]["status"] == "Partially Implemented"
    res_ = run_module(conformance_summary.main, {"results": partial_results(), "version": "v1.37", "accept_partial": True})
    assert {r["id"]: r for r in res_.result["rows"]}["secure_accelerator_access"]["status"] == "Implemented"


def render(name, accept_partial=False, **extra):
    """Render one of the evidence role's templates the way ansible.builtin.template does."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    try:
        from ansible.template import trust_as_template
    except ImportError:  # ansible-core < 2.19

        def trust_as_template(text):
            return text

    variables = {
        "_evidence_out": build_rows(partial_results(), "v1.37", accept_partial=accept_partial),
        "evidence_version": "v1.37",
        "evidence_run_id": "r1",
        "evidence_product": "testproduct",
        "evidence_metadata": {"platformName": "Test platform"},
        "evidence_cluster_version": "v1.37.2",
        "evidence_base_conformance": {},
        "evidence_accept_partial": accept_partial,
    }
    variables.update(extra)
    templar = Templar(loader=DataLoader(), variables=variables)
    text = (TEMPLATES / name).read_text()
    return templar.template(trust_as_template(text), escape_backslashes=False, overrides={"trim_blocks": True, "lstrip_blocks": False})


def test_readme_and_index_show_a_partial_pass_distinctly():
    readme = render("README.md.j2")
    assert "| [secure_accelerator_access](evidence/secure_accelerator_access.md) | MUST | **pass (partial: 2 undecided)** | Partially Implemented |" in readme
    assert "| [gang_scheduling](evidence/gang_scheduling.md) | MUST | **pass** | Implemented |" in readme
    assert "| of the passes: partial (checks not decided) | 2 |" in readme
    assert "Partial passes (every decided check passed, some were not decided" in readme
    index = render("index.md.j2")
    assert "| secure_accelerator_access | security | MUST | pass (partial: 2 undecided) | platform |" in index
    assert "| ai_inference | networking | MUST | pass (no negative case refused) | platform |" in index


def test_requirement_page_lists_the_checks_not_decided_and_the_status_rule():
    rows = {r["id"]: r for r in build_rows(partial_results(), "v1.37")["rows"]}
    page = render("requirement.md.j2", row=rows["secure_accelerator_access"])
    assert "- Verdict: **pass (partial: 2 undecided)**" in page
    assert "- PRODUCT.yaml status: Partially Implemented (rule applied: a pass not proven in full (2 check(s) not decided)" in page
    section = page.split("## Checks not decided", 1)[1].split("## Negative cases", 1)[0]
    assert "Every decided check passed, but these were not decided, so this pass is partial:" in section
    assert "- container sees only its GPU (runtime): skipped: containers do not run on node kwok-gpu-1" in section
    assert "- container without claim sees no GPU (runtime): skipped: containers do not run on node kwok-gpu-1" in section
    assert "## Checks not decided" not in render("requirement.md.j2", row=rows["gang_scheduling"])
    failed = render("requirement.md.j2", row=rows["cluster_autoscaling"])
    assert "These checks were not decided:" in failed and "this pass is partial" not in failed
    accepted = {r["id"]: r for r in build_rows(partial_results(), "v1.37", accept_partial=True)["rows"]}
    page = render("requirement.md.j2", accept_partial=True, row=accepted["secure_accelerator_access"])
    assert "- PRODUCT.yaml status: Implemented (rule applied: a pass not proven in full (2 check(s) not decided), accepted by the submitter" in page


def test_requirement_page_shows_the_policy_outcome():
    results = partial_results()
    results[0]["observations"] = {"undecided_policy": {"policy": "auto", "outcome": "partial pass", "why": "no node runs containers"}}
    row = next(r for r in build_rows(results, "v1.37")["rows"] if r["id"] == "secure_accelerator_access")
    assert "Policy `undecided_runtime_checks: auto`: partial pass (no node runs containers)." in render("requirement.md.j2", row=row)


def test_junit_keeps_a_partial_pass_passed_with_its_undecided_checks():
    suite = ET.fromstring(render("junit.xml.j2")).find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    sec = cases["secure_accelerator_access"]
    assert sec.find("failure") is None and sec.find("error") is None and sec.find("skipped") is None
    prop = sec.find("properties/property")
    assert (prop.get("name"), prop.get("value")) == ("undecided_checks", "container sees only its GPU, container without claim sees no GPU")
    out = sec.find("system-out").text
    assert out.startswith("partial pass: 2 check(s) not decided")
    assert "- container without claim sees no GPU (runtime): skipped: containers do not run on node kwok-gpu-1" in out
    gang = cases["gang_scheduling"]
    assert gang.find("properties") is None and gang.find("system-out") is None and gang.find("failure") is None
    assert cases["cluster_autoscaling"].find("failure") is not None and cases["cluster_autoscaling"].find("system-out") is None
    assert suite.get("failures") == "1"


@pytest.mark.parametrize("accept", [False, True])
def test_product_yaml_status_rule_with_and_without_accept_partial(accept):
    product = yaml.safe_load(render("PRODUCT.yaml.j2", accept_partial=accept))
    items = {it["id"]: it for entries in product["spec"].values() for it in entries}
    for rid in ("secure_accelerator_access", "pod_autoscaling", "ai_inference"):
        assert items[rid]["status"] == ("Implemented" if accept else "Partially Implemented"), rid
        # A partial pass is a passed test case: its own junit.xml is cited.
        assert items[rid]["evidence"] == ["evidence/%s.md" % rid, "junit/%s/junit.xml#%s" % (rid, cv.case_name(rid))]
    notes = items["secure_accelerator_access"]["notes"]
    assert "container sees only its GPU (runtime)" in notes and "container without claim sees no GPU (runtime)" in notes
    assert notes.startswith("Accepted as Implemented by the submitter" if accept else "Not proven in full: 2 check(s) not decided")
    assert items["gang_scheduling"]["status"] == "Implemented" and items["gang_scheduling"]["notes"] == "placed whole"
    assert items["gang_scheduling"]["evidence"] == ["evidence/gang_scheduling.md", "junit/gang_scheduling/junit.xml#TestGangScheduling"]
    # A failed MUST cites no test artifact: its case fails.
    assert items["cluster_autoscaling"]["status"] == "Not Implemented" and items["cluster_autoscaling"]["evidence"] == ["evidence/cluster_autoscaling.md"]


def test_results_json_carries_undecided_checks_and_the_partial_count():
    data = json.loads(render("results.json.j2"))
    reqs = {r["requirement"]: r for r in data["requirements"]}
    assert all("undecided_checks" in r for r in data["requirements"])
    assert [u["name"] for u in reqs["pod_autoscaling"]["undecided_checks"]] == ["container sees only its GPU"]
    assert reqs["ai_inference"]["undecided_checks"] == [] and reqs["driver_runtime_management"]["undecided_checks"] == []
    assert (data["summary"]["partial_pass_count"], data["summary"]["partial_passes"]) == (2, ["pod_autoscaling", "secure_accelerator_access"])
