"""docs/samples/reference-cluster is current: the evidence role, run on the recorded input
(tests/tools/sample_bundle.py), renders it byte for byte; when it does not, the test names the
differing files (``make sample-bundle`` regenerates it).  The whole role runs (about 40 s on an idle
machine)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from tests.tools import sample_bundle as sb

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_sample_bundle_is_what_the_role_renders_from_the_recorded_input():
    stale = sb.check()
    assert stale == [], "docs/samples/reference-cluster is stale; run `make sample-bundle` and commit it. Differing files: %s" % ", ".join(stale)


def test_the_sample_is_a_whole_bundle_of_the_recorded_run():
    inp = sb.load_input()
    bundle = sb.bundle_dir()
    assert bundle == sb.SAMPLE / "v1.37" / "refcluster"
    names = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    ids = [r["requirement"] for r in inp["results"]["requirements"] + inp["results"]["extras"]]
    assert {"PRODUCT.yaml", "README.md", "results.json", "junit.xml", "report.html", "ctrf-report.json", "preflight.json", "SHA256SUMS"} <= names
    assert {"evidence/%s.md" % i for i in ids} | {"junit/%s/junit.xml" % i for i in ids} | {"evidence/index.md"} <= names
    # Every file but SHA256SUMS is summed, with the right sum.
    sums = dict(reversed(line.split("  ", 1)) for line in (bundle / "SHA256SUMS").read_text().splitlines())
    assert sorted(sums) == sorted(names - {"SHA256SUMS"})
    assert [n for n, h in sums.items() if hashlib.sha256((bundle / n).read_bytes()).hexdigest() != h] == []
    # What the role stamps comes from the recorded run, never from the time of the render.
    readme = (bundle / "README.md").read_text()
    assert "Run `%s` on Kubernetes %s, generated %s." % (inp["results"]["run_id"], inp["cluster_version"], inp["generated"]) in readme
    assert json.loads((bundle / "results.json").read_text())["run_id"] == inp["results"]["run_id"] == "r2612060245-55547"
    assert "commit 783685d" in inp["recorded"] and inp["recorded"].startswith(
        "main job (ansible-playbook conformance.yml -i inventories/local) on the reference cluster"
    )


def test_the_staleness_check_names_changed_missing_and_extra_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(sb.bundle_dir(), a)
    shutil.copytree(sb.bundle_dir(), b)
    assert sb.differing(a, b) == []
    (b / "README.md").write_bytes((b / "README.md").read_bytes().replace(b"generated 2026-12-06T02:51:15Z", b"generated 2026-12-06T02:51:16Z"))
    (b / "evidence" / "gang_scheduling.md").unlink()
    (b / "evidence" / "new.md").write_text("x")
    assert sb.differing(a, b) == sorted(["README.md", "evidence/gang_scheduling.md (only in %s)" % a, "evidence/new.md (only in %s)" % b])


def test_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "run.json").write_text("{}")
    (tmp_path / "results.json").write_text("{}")
    try:
        sb.load_input(tmp_path)
    except sb.SampleError as exc:
        assert str(exc) == "%s lacks product, metadata, cluster_version, generated, inventory" % (tmp_path / "run.json")
    else:
        raise AssertionError("incomplete input accepted")
    assert sb.main(["record", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sample_bundle: %s is not a bundle of the main job: " % (tmp_path / "nothing")) and err.count("\n") == 1


def test_recording_the_sample_bundle_gives_back_its_input(tmp_path):
    """record() on the bundle rendered from the input gives that input back, byte for byte."""
    sb.record(sb.bundle_dir(), tmp_path / "input", commit="783685d")
    assert sb.differing(sb.INPUT, tmp_path / "input") == []


def test_recording_a_run_whose_upstream_suite_ran_keeps_its_artifacts_and_verdicts(tmp_path):
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up

    bundle = tmp_path / "v1.37" / "refcluster"
    shutil.copytree(sb.bundle_dir(), bundle)
    stream = (REPO / "tests" / "fixtures" / "upstream" / "refcluster-af907ca8.json").read_text()
    events = up.parse_events(stream)
    (bundle / "upstream" / "results.json").write_text(stream)
    (bundle / "upstream" / "junit.xml").write_text(up.junit(events))
    results = json.loads((bundle / "results.json").read_text())
    results["upstream"].update(ran=True, unavailable="", built_from="source /src/ai-conformance (af907ca8)", flags_used=["-a=b"])
    (bundle / "results.json").write_text(json.dumps(results))
    run = sb.record(bundle, tmp_path / "input", commit="abc1234")
    assert run["upstream"]["artifacts"] == ["junit.xml", "results.json"]
    assert run["upstream"]["verdicts"] == up.verdicts(events) and run["upstream"]["verdicts"]["secure_accelerator_access"]["verdict"] == "fail"
    assert run["upstream"]["built_from"] == "source /src/ai-conformance (af907ca8)" and run["upstream"]["flags_used"] == ["-a=b"]
    assert (tmp_path / "input" / "upstream" / "results.json").read_text() == stream
    # What the role is given: the copied artifacts, from the input directory.
    assert sb.evidence_vars(sb.load_input(tmp_path / "input"), tmp_path / "out", tmp_path / "input")["evidence_upstream"]["output_dir"] == str(
        tmp_path / "input" / "upstream"
    )
