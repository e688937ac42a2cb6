"""The upstream suite's JUnit file from gotestsum (gotest.tools/gotestsum) instead of the
collection's own writer: finding gotestsum, the same verdicts and test cases from both writers on
the recorded reference-cluster stream, and the module running a (stand-in) suite through it or
without it, saying which wrote junit.xml.

gotestsum comes from tests/tools/build_gotestsum.sh (a Go module build); the tests that need it
skip while it is not built."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up
from ansible_collections.ai_conformance.kubernetes.plugins.modules import upstream_suite
from tests.unit.plugins.module_utils.test_upstream import STREAM

REPO = Path(__file__).resolve().parents[4]
RECORDED = REPO / "tests/fixtures/upstream/refcluster-af907ca8.json"
CACHE = os.environ.get("AIC_CACHE") or os.path.expanduser("~/.cache/ai-conformance")
GOTESTSUM, WHY_NOT = up.find_gotestsum("auto", CACHE)
needs_gotestsum = pytest.mark.skipif(GOTESTSUM is None, reason="gotestsum is not built (tests/tools/build_gotestsum.sh)")


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_find_gotestsum_prefers_path_then_the_newest_cached_build(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    old = executable(tmp_path / "cache/tools/gotestsum-v1.9.0/bin/gotestsum")
    new = executable(tmp_path / "cache/tools/gotestsum-v1.13.0/bin/gotestsum")
    assert up.find_gotestsum("auto", str(tmp_path / "cache")) == (str(new), "")
    new.chmod(0o644)
    assert up.find_gotestsum("auto", str(tmp_path / "cache")) == (str(old), "")
    on_path = executable(tmp_path / "bin/gotestsum")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert up.find_gotestsum("auto", str(tmp_path / "cache")) == (str(on_path), "")


def test_find_gotestsum_says_why_not(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    found, why = up.find_gotestsum("auto", str(tmp_path / "nocache"))
    assert found is None and "not installed" in why and "build_gotestsum.sh" in why
    assert up.find_gotestsum("none", CACHE) == (None, "gotestsum is turned off (gotestsum: none)")
    found, why = up.find_gotestsum(str(tmp_path / "missing"), CACHE)
    assert found is None and why == "gotestsum %s is not an executable file" % (tmp_path / "missing")


def cases(xml_text):
    """testcase name -> (outcome, time) and the suite's (tests, failures) of a JUnit document."""
    root = ET.fromstring(xml_text)
    suites = root.findall("testsuite")
    out = {}
    for case in root.iter("testcase"):
        outcome = "fail" if case.find("failure") is not None else "skip" if case.find("skipped") is not None else "pass"
        out[case.get("name")] = (outcome, round(float(case.get("time")), 2))
    return out, [(int(s.get("tests")), int(s.get("failures"))) for s in suites]


def gotestsum_junit(tmp_path, stream_text):
    stream = tmp_path / "stream.json"
    stream.write_text(stream_text)
    junit, jsonfile = tmp_path / "g-junit.xml", tmp_path / "g-results.json"
    cmd = up.through_gotestsum(GOTESTSUM, str(jsonfile), str(junit), ["cat", str(stream)])
    subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, cwd=str(tmp_path))
    return junit.read_text(), jsonfile.read_text()


@needs_gotestsum
def test_gotestsum_and_our_writer_agree_on_the_recorded_reference_cluster_run(tmp_path):
    text = RECORDED.read_text()
    theirs, jsonfile = gotestsum_junit(tmp_path, text)
    ours = up.junit(up.parse_events(text))
    assert cases(theirs) == cases(ours)
    assert cases(theirs)[1] == [(4, 4)]
    # The stream gotestsum keeps is the suite's, so the verdicts read from it do not change.
    assert up.verdicts(up.parse_events(jsonfile)) == up.verdicts(up.parse_events(text))


@needs_gotestsum
def test_gotestsum_and_our_writer_agree_on_pass_fail_and_skip(tmp_path):
    theirs, _jsonfile = gotestsum_junit(tmp_path, STREAM)
    ours = up.junit(up.parse_events(STREAM))
    assert cases(theirs)[0] == cases(ours)[0]
    assert {o for o, _t in cases(theirs)[0].values()} == {"pass", "fail", "skip"}


FAKE_SUITE = """#!/bin/sh
# A stand-in for the suite's test binary: its -help usage, then go test -v output.
case "$*" in
  *-help*) echo "  -kubeconfig string" >&2; echo "  -accelerator-type string" >&2; exit 0 ;;
esac
echo "=== RUN   TestGangScheduling"
echo "--- PASS: TestGangScheduling (1.50s)"
echo "=== RUN   TestWorkloadSandboxing"
echo "    sandbox_test.go:12: no sandbox runtime"
echo "--- FAIL: TestWorkloadSandboxing (0.20s)"
echo "FAIL"
exit 1
"""


@pytest.mark.skipif(shutil.which("go") is None, reason="go tool test2json needs go")
@pytest.mark.parametrize("choice", ["auto", "none"])
def test_module_runs_the_suite_through_gotestsum_or_writes_junit_itself(run_module, tmp_path, choice):
    if choice == "auto" and GOTESTSUM is None:
        pytest.skip(WHY_NOT)
    suite = executable(tmp_path / "suite.test", FAKE_SUITE)
    out = tmp_path / "out"
    res = run_module(upstream_suite.main, {"binary": str(suite), "output_dir": str(out), "gotestsum": choice, "flags": {"accelerator-type": "nvidia"}})
    r = res.result
    assert not res.failed and r["ran"] is True and r["unavailable"] == ""
    assert r["verdicts"] == {
        "gang_scheduling": {"test": "TestGangScheduling", "verdict": "pass", "failed_subtests": []},
        "workload_sandboxing": {"test": "TestWorkloadSandboxing", "verdict": "fail", "failed_subtests": []},
    }
    assert sorted(os.listdir(out)) == r["artifacts"] == ["e2e.log", "junit.xml", "results.json"]
    if choice == "auto":
        assert r["junit_writer"].startswith("gotestsum v") and GOTESTSUM in r["junit_writer"]
        assert ET.parse(out / "junit.xml").getroot().find("testsuite/properties") is not None  # gotestsum's shape
    else:
        assert r["junit_writer"] == "%s: gotestsum is turned off (gotestsum: none)" % up.BUILTIN_WRITER
    assert cases((out / "junit.xml").read_text())[0] == {"TestGangScheduling": ("pass", 1.5), "TestWorkloadSandboxing": ("fail", 0.2)}
    assert [json.loads(line)["Action"] for line in (out / "results.json").read_text().splitlines()][-1] == "fail"
