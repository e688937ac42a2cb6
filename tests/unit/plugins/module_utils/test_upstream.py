from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up

PKG = up.PACKAGE


def ev(action, test=None, output=None, elapsed=None):
    e = {"Time": "2026-11-23T20:00:00Z", "Action": action, "Package": PKG}
    if test:
        e["Test"] = test
    if output is not None:
        e["Output"] = output
    if elapsed is not None:
        e["Elapsed"] = elapsed
    return json.dumps(e)


STREAM = "\n".join(
    [
        ev("start"),
        ev("run", "TestSecureAcceleratorAccess"),
        ev("output", "TestSecureAcceleratorAccess", "=== RUN   TestSecureAcceleratorAccess\n"),
        ev("run", "TestSecureAcceleratorAccess/PositiveAccessTest"),
        ev("output", "TestSecureAcceleratorAccess/PositiveAccessTest", "    util_test.go:140: no log <&>\n"),
        ev("fail", "TestSecureAcceleratorAccess/PositiveAccessTest", elapsed=1.5),
        ev("run", "TestSecureAcceleratorAccess/NegativeIsolationTest"),
        ev("pass", "TestSecureAcceleratorAccess/NegativeIsolationTest", elapsed=0.5),
        ev("fail", "TestSecureAcceleratorAccess", elapsed=3.0),
        ev("run", "TestGangScheduling"),
        ev("pass", "TestGangScheduling", elapsed=20.0),
        ev("run", "TestWorkloadSandboxing"),
        ev("output", "TestWorkloadSandboxing", "    no sandbox runtime found\n"),
        ev("skip", "TestWorkloadSandboxing", elapsed=0.1),
        "# some build noise",
        ev("output", None, "FAIL\n"),
        ev("fail", elapsed=23.6),
    ]
)


def test_defined_flags_from_go_usage_text():
    usage = (
        'Usage of /tmp/x.test:\n  -accelerator-type string\n    \tThe type of accelerator (default "nvidia")\n'
        "  -kubeconfig string\n    \tabsolute path\n  -test.v\n    \tverbose\n  -test.run regexp\n"
    )
    assert up.defined_flags(usage) == ["accelerator-type", "kubeconfig"]


def test_flags_the_build_does_not_define_are_left_out_with_a_reason():
    args, left = up.flag_args({"accelerator-type": "nvidia", "allocation-mode": "dra", "metrics-endpoint": ""}, ["accelerator-type", "kubeconfig"])
    assert args == ["-accelerator-type=nvidia"]
    assert left == {"allocation-mode": "this build of the suite does not define -allocation-mode"}


def test_verdicts_per_requirement_from_events():
    events = up.parse_events(STREAM)
    v = up.verdicts(events)
    assert v["secure_accelerator_access"] == {"test": "TestSecureAcceleratorAccess", "verdict": "fail", "failed_subtests": ["PositiveAccessTest"]}
    assert v["gang_scheduling"]["verdict"] == "pass" and v["workload_sandboxing"]["verdict"] == "skip"
    assert "cluster_autoscaling" not in v
    # A non-JSON line is kept as output, never dropped.
    assert "# some build noise\n" in up.e2e_log(events)


def test_a_test_without_a_final_event_is_a_failure():
    t = up.tests_from(up.parse_events("\n".join([ev("run", "TestGangScheduling"), ev("output", "TestGangScheduling", "waiting\n")])))
    assert t["TestGangScheduling"]["verdict"] == "fail" and "did not finish" in t["TestGangScheduling"]["output"][-1]


def test_junit_has_one_case_per_test_and_escapes_output():
    root = ET.fromstring(up.junit(up.parse_events(STREAM)))
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert sorted(cases) == [
        "TestGangScheduling",
        "TestSecureAcceleratorAccess",
        "TestSecureAcceleratorAccess/NegativeIsolationTest",
        "TestSecureAcceleratorAccess/PositiveAccessTest",
        "TestWorkloadSandboxing",
    ]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "2", "1")
    assert "<&>" in cases["TestSecureAcceleratorAccess/PositiveAccessTest"].find("failure").text
    assert cases["TestWorkloadSandboxing"].find("skipped") is not None and cases["TestGangScheduling"].find("system-out") is not None


def test_compare_flags_disagreements_and_never_merges_the_rest():
    theirs = up.verdicts(up.parse_events(STREAM))
    ours = {
        "secure_accelerator_access": "pass",
        "gang_scheduling": "pass",
        "workload_sandboxing": "pass",
        "ai_inference": "pass",
        "cluster_autoscaling": "fail",
    }
    rows = {
        r["requirement"]: r
        for r in up.compare(
            ours, theirs, ["secure_accelerator_access", "gang_scheduling", "workload_sandboxing", "ai_inference", "cluster_autoscaling", "robust_controller"]
        )
    }
    assert rows["secure_accelerator_access"]["disagree"] is True and rows["secure_accelerator_access"]["note"] == "failed: PositiveAccessTest"
    assert rows["gang_scheduling"]["disagree"] is False
    assert (rows["workload_sandboxing"]["upstream"], rows["workload_sandboxing"]["disagree"]) == ("skip", False)
    assert rows["ai_inference"]["upstream"] == "not covered"
    assert rows["cluster_autoscaling"]["upstream"] == "not run" and rows["cluster_autoscaling"]["disagree"] is False
    assert rows["robust_controller"]["ours"] == "error"


def test_compare_when_the_suite_could_not_run():
    rows = up.compare({"gang_scheduling": "pass"}, {}, ["gang_scheduling"], unavailable="no source")
    assert rows == [{"requirement": "gang_scheduling", "ours": "pass", "upstream": "not run", "test": "", "disagree": False, "note": "no source"}]


def test_recorded_run_against_the_reference_cluster():
    """The real suite (commit af907ca8) against the reference cluster: see tests/fixtures/upstream/SOURCE.md."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[4] / "tests/fixtures/upstream/refcluster-af907ca8.json").read_text()
    events = up.parse_events(text)
    assert all(e.get("Package") == up.PACKAGE for e in events)
    v = up.verdicts(events)
    assert v == {
        "secure_accelerator_access": {
            "test": "TestSecureAcceleratorAccess",
            "verdict": "fail",
            "failed_subtests": ["MultiContainerIsolationTest", "NegativeIsolationTest", "PositiveAccessTest"],
        }
    }
    assert up.e2e_log(events).startswith("=== RUN   TestSecureAcceleratorAccess\n") and up.e2e_log(events).rstrip().endswith("FAIL")
    suite = ET.fromstring(up.junit(events)).find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("4", "4")
    rows = up.compare({"secure_accelerator_access": "pass"}, v, ["secure_accelerator_access"])
    assert rows[0]["disagree"] is True
