"""The v1.37 validator's rules (cncf-program.md, section b, "Newest validator for v1.37+"): for each
rule a bundle that breaks it, reported with the rule's message; the good bundle is clean
(test_preflight.py).  And the whole pre-flight on a bundle citing the recorded upstream run, whose
TestSecureAcceleratorAccess failed on the reference cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import cncf_validator as cv
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up
from ansible_collections.ai_conformance.kubernetes.plugins.modules import product_preflight
from tests.unit.plugins.module_utils.test_preflight import good_product, item, junit, make_bundle, rejected, run

REPO = Path(__file__).resolve().parents[4]
RECORDED = REPO / "tests" / "fixtures" / "upstream" / "refcluster-af907ca8.json"
SEC = "spec.security.secure_accelerator_access"
GANG = "spec.schedulingOrchestration.gang_scheduling"


@pytest.fixture
def bundle(tmp_path):
    return make_bundle(tmp_path)


def by_rule(out, rule):
    return [f for f in out["findings"] if f["rule"] == rule]


def write(d, rel, text):
    (d / rel).parent.mkdir(parents=True, exist_ok=True)
    (d / rel).write_text(text)


# ---- evidence paths ----
def test_evidence_prefixes_the_validator_strips_are_accepted(bundle):
    p = good_product()
    item(p, "gang_scheduling")["evidence"] = [
        "file://v1.37/example/junit/gang_scheduling/junit.xml#TestGangScheduling",
        "/evidence/gang_scheduling.md",
        "file://evidence/gang_scheduling.md#section",
        "v1.37/example/evidence/gang_scheduling.md",
    ]
    out = run(p, bundle)
    assert out["would_reject"] is False and out["validator_warnings"] == [] and out["conflicts"] == []


@pytest.mark.parametrize(
    ("link", "why"),
    [
        ("../../v1.37/other/evidence.md", "it resolves outside the product directory"),
        ("evidence/../../outside.md", "it resolves outside the product directory"),
        ("file://v1.37/gke/junit.xml#TestGangScheduling", "it points into another product's directory"),
        ("v1.36/example/evidence/gang_scheduling.md", "it points into another product's directory"),
    ],
)
def test_evidence_outside_the_product_directory(bundle, link, why):
    (bundle.parent / "gke").mkdir()
    (bundle.parent / "gke" / "junit.xml").write_text(junit({"TestGangScheduling": "pass"}))
    (bundle.parent.parent / "outside.md").write_text("x")
    p = good_product()
    item(p, "gang_scheduling")["evidence"] = ["evidence/gang_scheduling.md", link]
    out = run(p, bundle)
    assert rejected(out) == [("evidence-path", GANG)]
    assert by_rule(out, "evidence-path")[0]["message"] == "evidence %s must resolve inside the product directory: %s" % (link, why)


def test_evidence_file_must_exist_after_the_prefixes_are_stripped(bundle):
    p = good_product()
    item(p, "gang_scheduling")["evidence"] = ["file://v1.37/example/evidence/missing.md#x"]
    out = run(p, bundle)
    assert rejected(out) == [("evidence-file", GANG)]
    msg = by_rule(out, "evidence-file")[0]["message"]
    assert msg == "evidence file file://v1.37/example/evidence/missing.md#x does not exist relative to PRODUCT.yaml (looked up as evidence/missing.md)"


def test_before_v137_a_fragment_is_part_of_the_file_name(tmp_path):
    d = make_bundle(tmp_path, "v1.36")
    p = good_product("v1.36")
    item(p, "gang_scheduling")["evidence"] = ["junit/gang_scheduling/junit.xml#TestGangScheduling"]
    assert rejected(run(p, d)) == [("evidence-file", GANG)]


# ---- test artifacts ----
def test_our_results_json_is_an_invalid_test_artifact(bundle):
    """The bundle's own results.json is one JSON document, not a go test -json stream."""
    write(bundle, "results.json", json.dumps({"version": "v1.37", "requirements": []}, indent=2))
    write(bundle, "junit/broken/junit.xml", "<testsuites><testsuite>")
    p = good_product()
    item(p, "gang_scheduling")["evidence"].append("results.json")
    item(p, "ai_inference")["evidence"] = ["junit/broken/junit.xml"]
    out = run(p, bundle)
    assert sorted(rejected(out)) == [("test-artifact-invalid", "spec.networking.ai_inference"), ("test-artifact-invalid", GANG)]
    msgs = sorted(f["message"] for f in by_rule(out, "test-artifact-invalid"))
    assert msgs[0] == "Invalid test artifact junit/broken/junit.xml: not well-formed XML (no element found: line 1, column 23)"
    assert msgs[1] == "Invalid test artifact results.json: not a go test -json event stream: line 1 is not a JSON event"


def test_other_file_names_are_plain_evidence(bundle):
    write(bundle, "evidence/report.xml", junit({"TestGangScheduling": "fail"}))
    p = good_product()
    item(p, "ai_inference")["evidence"] = ["evidence/report.xml#TestNothing"]
    assert run(p, bundle)["would_reject"] is False


@pytest.mark.parametrize(
    ("rel", "text", "names"),
    [
        ("junit/gang_scheduling/junit.xml", junit({"TestGangScheduling": "pass", "TestOther": "fail", "TestThird": "error"}), "TestOther, TestThird"),
        (
            "upstream/results.json",
            "\n".join(
                json.dumps(e)
                for e in [
                    {"Action": "run", "Test": "TestGangScheduling"},
                    {"Action": "pass", "Test": "TestGangScheduling"},
                    {"Action": "run", "Test": "TestHung"},
                    {"Action": "fail"},
                ]
            ),
            "(package), TestHung",
        ),
        (
            "upstream/e2e.log",
            "=== RUN   TestGangScheduling\n--- PASS: TestGangScheduling (1.00s)\n    --- FAIL: TestX/Sub (0.1s)\nFAIL\n",
            "(package), TestX/Sub",
        ),
    ],
)
def test_any_failing_test_in_a_cited_artifact(bundle, rel, text, names):
    write(bundle, rel, text)
    p = good_product()
    item(p, "gang_scheduling")["evidence"] = ["evidence/gang_scheduling.md", rel]
    out = run(p, bundle)
    assert rejected(out) == [("test-artifact-failure", GANG)]
    assert by_rule(out, "test-artifact-failure")[0]["message"] == "test artifact %s has failing tests: %s" % (rel, names)


def test_the_items_test_must_exist(bundle):
    p = good_product()
    # The auto-tested name, with no fragment: the junit holds only ai_inference's case.
    item(p, "gang_scheduling")["evidence"] = ["junit/ai_inference/junit.xml"]
    item(p, "ai_inference")["evidence"] = ["junit/ai_inference/junit.xml#TestAiInference"]
    out = run(p, bundle)
    assert sorted(rejected(out)) == [("test-missing", "spec.networking.ai_inference"), ("test-missing", GANG)]
    msgs = sorted(f["message"] for f in by_rule(out, "test-missing"))
    assert msgs == [
        "test TestAiInference (its #TestAiInference) is not in junit/ai_inference/junit.xml",
        "test TestGangScheduling (the auto-tested name for gang_scheduling) is not in junit/ai_inference/junit.xml",
    ]


def test_a_subtest_is_not_the_test(bundle):
    write(bundle, "upstream/e2e.log", "    --- PASS: TestSecureAcceleratorAccess/PositiveAccessTest (1.00s)\n")
    p = good_product()
    item(p, "secure_accelerator_access")["evidence"] = ["upstream/e2e.log"]
    assert rejected(run(p, bundle)) == [("test-missing", SEC)]


def test_the_items_test_must_pass(bundle):
    write(bundle, "junit/gang_scheduling/junit.xml", junit({"TestGangScheduling": "fail"}))
    p = good_product()
    out = run(p, bundle)
    assert sorted(rejected(out)) == [("test-artifact-failure", GANG), ("test-failed", GANG)]
    assert by_rule(out, "test-failed")[0]["message"] == "test TestGangScheduling failed in junit/gang_scheduling/junit.xml"


def test_a_skipped_test_behind_an_implemented_item(bundle):
    write(bundle, "junit/gang_scheduling/junit.xml", junit({"TestGangScheduling": "skip"}))
    write(bundle, "junit/gpu_sharing/junit.xml", junit({"TestGPUSharing": "skip"}))
    p = good_product()
    item(p, "gpu_sharing")["status"] = "Not Implemented"  # a skipped test behind it is no error
    out = run(p, bundle)
    assert rejected(out) == [("test-skipped", GANG)]
    assert by_rule(out, "test-skipped")[0]["message"] == "test TestGangScheduling is skipped in junit/gang_scheduling/junit.xml, behind an Implemented item"


def test_an_implemented_auto_tested_item_without_an_artifact_is_a_warning(bundle):
    p = good_product()
    for rid in ("secure_accelerator_access", "gang_scheduling", "cluster_autoscaling", "ai_inference"):
        item(p, rid)["evidence"] = ["evidence/%s.md" % rid]
    out = run(p, bundle)
    assert out["would_reject"] is False
    assert sorted(f["where"] for f in out["validator_warnings"]) == ["spec.schedulingOrchestration.cluster_autoscaling", GANG, SEC]
    w = next(f for f in out["validator_warnings"] if f["where"] == SEC)
    assert w["rule"] == "auto-tested-no-artifact" and w["validator"] == cv.WARNS
    assert w["message"] == (
        "Implemented secure_accelerator_access cites no test artifact (junit.xml, results.json or e2e.log) "
        "with TestSecureAcceleratorAccess: the validator warns"
    )


def test_cluster_autoscaling_may_be_na_with_a_warning_no_other_must(bundle):
    p = good_product()
    item(p, "cluster_autoscaling").update(status="N/A", notes="on-prem: node pools are fixed hardware", evidence=[])
    item(p, "pod_autoscaling").update(status="N/A", notes="no HPA on this platform by design", evidence=[])
    out = run(p, bundle)
    assert rejected(out) == [("must-implemented", "spec.schedulingOrchestration.pod_autoscaling")]
    assert [(f["rule"], f["where"]) for f in out["validator_warnings"]] == [("conditional-na", "spec.schedulingOrchestration.cluster_autoscaling")]
    assert out["validator_warnings"][0]["message"].startswith("MUST requirement cluster_autoscaling is N/A: the validator warns")
    # pod_autoscaling's N/A is still where the validator and the FAQ disagree; cluster_autoscaling's no longer.
    assert [f["where"] for f in out["conflicts"]] == ["spec.schedulingOrchestration.pod_autoscaling"]
    item(p, "cluster_autoscaling")["notes"] = ""
    assert ("na-notes", "spec.schedulingOrchestration.cluster_autoscaling") in rejected(run(p, bundle))


# ---- the artifact readers ----
def test_readers_of_the_three_formats():
    stream = "\n".join(
        json.dumps(e)
        for e in [
            {"Action": "start", "Package": "p"},
            {"Action": "run", "Test": "TestA"},
            {"Action": "output", "Test": "TestA", "Output": "x"},
            {"Action": "pass", "Test": "TestA"},
            {"Action": "run", "Test": "TestB"},
            {"Action": "skip", "Test": "TestB"},
            {"Action": "run", "Test": "TestC"},
            {"Action": "pass"},
        ]
    )
    assert cv.parse_go_test_json(stream) == {"TestA": "pass", "TestB": "skip", "TestC": "fail"}
    assert cv.parse_e2e_log("--- PASS: TestA (0.1s)\n--- SKIP: TestB (0s)\nok  \tp\t1s\n") == {"TestA": "pass", "TestB": "skip"}
    suite = '<testsuite name="s"><testcase name="TestA"/><testcase name="TestB"><skipped/></testcase></testsuite>'
    assert cv.parse_junit(suite) == {"TestA": "pass", "TestB": "skip"}
    with pytest.raises(cv.ArtifactError, match="root element is <html>"):
        cv.parse_junit("<html/>")
    with pytest.raises(cv.ArtifactError, match="line 2 has no Action"):
        cv.parse_go_test_json('{"Action": "start"}\n{"Test": "TestA"}')


def test_our_case_names():
    assert [cv.case_name(r) for r in ("secure_accelerator_access", "gang_scheduling", "cluster_autoscaling")] == [
        "TestSecureAcceleratorAccess",
        "TestGangScheduling",
        "TestAcceleratorClusterAutoscaling",
    ]
    assert cv.case_name("ai_service_metrics") == "TestAIServiceMetrics" and cv.case_name("dra_support") == "TestDRASupport"


# ---- the whole pre-flight on a bundle citing the recorded, failing upstream run ----
def upstream_bundle(tmp_path):
    d = make_bundle(tmp_path)
    stream = RECORDED.read_text()
    events = up.parse_events(stream)
    write(d, "upstream/results.json", stream)
    write(d, "upstream/e2e.log", up.e2e_log(events))
    write(d, "upstream/junit.xml", up.junit(events))
    p = good_product()
    item(p, "secure_accelerator_access")["evidence"] += ["upstream/junit.xml", "upstream/results.json", "file://v1.37/example/upstream/e2e.log"]
    (d / "PRODUCT.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    return d


def test_a_bundle_citing_the_recorded_failing_upstream_run_is_rejected(tmp_path):
    d = upstream_bundle(tmp_path)
    out = run(yaml.safe_load((d / "PRODUCT.yaml").read_text()), d)
    assert out["would_reject"] is True
    assert {w for r, w in rejected(out)} == {SEC}
    msgs = sorted(f["message"] for f in out["findings"] if f["validator"] == cv.REJECTS)
    subtests = "TestSecureAcceleratorAccess, TestSecureAcceleratorAccess/MultiContainerIsolationTest, TestSecureAcceleratorAccess/NegativeIsolationTest, "
    subtests += "TestSecureAcceleratorAccess/PositiveAccessTest"
    assert msgs == sorted(
        [
            "test artifact upstream/junit.xml has failing tests: " + subtests,
            "test artifact upstream/results.json has failing tests: (package), " + subtests,
            "test artifact upstream/e2e.log has failing tests: (package), " + subtests,
            "test TestSecureAcceleratorAccess failed in upstream/junit.xml",
            "test TestSecureAcceleratorAccess failed in upstream/results.json",
            "test TestSecureAcceleratorAccess failed in upstream/e2e.log",
        ]
    )


def test_product_preflight_module_rejects_it_with_the_validators_reason(tmp_path, run_module):
    d = upstream_bundle(tmp_path)
    res = run_module(product_preflight.main, {"path": str(d / "PRODUCT.yaml"), "fail_on_reject": True})
    assert res.failed and res.result["msg"].startswith("the CNCF validator would reject %s (6 rejection(s), 0 validator warning(s)" % (d / "PRODUCT.yaml"))
    assert res.result["ruleset"]["name"] == "v1.37"
    assert "test TestSecureAcceleratorAccess failed in upstream/junit.xml" in [f["message"] for f in res.result["findings"]]
    # Our own per-requirement junit.xml alone: accepted.
    p = yaml.safe_load((d / "PRODUCT.yaml").read_text())
    item(p, "secure_accelerator_access")["evidence"] = item(p, "secure_accelerator_access")["evidence"][:2]
    (d / "PRODUCT.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    res = run_module(product_preflight.main, {"path": str(d / "PRODUCT.yaml"), "fail_on_reject": True})
    assert not res.failed and res.result["would_reject"] is False and res.result["validator_warnings"] == []
