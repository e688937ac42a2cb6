"""docs/schema/results.schema.json (JSON Schema 2020-12) describes the bundle's results.json: every
results.json kept in the repository (recorded bundles and their inputs) and every one the evidence role's
template writes from the summary module's output validates; a wrong verdict, a missing key, an empty
reason are rejected, each at its place; the schema's enums and required keys are the code's."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import OWNERS, REQUIRED_KEYS, VERDICTS, ProbeResult
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.evidence import build_rows
from ansible_collections.ai_conformance.kubernetes.plugins.modules.conformance_summary import with_totals
from tests.unit.plugins.module_utils.test_evidence import res
from tests.unit.plugins.module_utils.test_evidence_bundle import templar, trusted

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "schema" / "results.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
TEMPLATE = REPO / "roles" / "evidence" / "templates" / "results.json.j2"
REFERENCE = REPO / "docs" / "samples" / "reference-cluster" / "input" / "results.json"
RECORDED_UPSTREAM = REPO / "tests" / "fixtures" / "upstream" / "refcluster-af907ca8.json"


def kept_results_files():
    """Every results.json of ours in the repository: recorded bundles, their inputs, fixtures.  An
    upstream/results.json is the upstream suite's go test -json stream, another format."""
    found = []
    for base in ("docs/samples", "tests/fixtures", "tests/unit/fixtures"):
        found += [p for p in (REPO / base).rglob("results.json") if p.parent.name != "upstream"]
    return sorted(found)


def errors(doc):
    return sorted((list(e.absolute_path), e.message) for e in VALIDATOR.iter_errors(doc))


def test_the_schema_is_a_valid_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_kept_results_json_validates():
    files = kept_results_files()
    rel = [p.relative_to(REPO).as_posix() for p in files]
    # The recorded bundles are all found (the test never passes on an empty list).
    assert {
        "docs/samples/real-gpu/evidence/v1.37/real-gpu-h200/results.json",
        "docs/samples/real-gpu/first-run/evidence/v1.37/real-gpu-h200/results.json",
        "docs/samples/reference-cluster/input/results.json",
        "docs/samples/reference-cluster/v1.37/refcluster/results.json",
    } <= set(rel), rel
    bad = {name: errors(json.loads(p.read_text()))[:3] for name, p in zip(rel, files)}
    assert {k: v for k, v in bad.items() if v} == {}


def written(results, version="v1.37", upstream=None, accept_partial=False, run_id="r1"):
    """results.json as the evidence role writes it (results.json.j2 over conformance_summary's output)."""
    out = with_totals(build_rows(results, version, run_id=run_id, upstream=upstream, accept_partial=accept_partial))
    text = templar({"_evidence_out": out, "evidence_run_id": run_id}).template(trusted(TEMPLATE.read_text()), escape_backslashes=False)
    return json.loads(text)


def recorded_upstream():
    events = up.parse_events(RECORDED_UPSTREAM.read_text())
    tests = {n: t["verdict"] for n, t in up.tests_from(events).items()}
    return {"ran": True, "unavailable": "", "verdicts": up.verdicts(events), "tests": tests, "built_from": "source x (af907ca8)", "flags_used": ["-a=b"]}


def every_verdict():
    """One result of each verdict, a partial pass, a malformed one, a duplicate, one of no checklist."""
    undecided = [{"name": "seen by a container", "ok": None, "detail": "kwok", "kind": "runtime"}, {"name": "api", "ok": True, "detail": "", "kind": "api"}]
    return [
        res("gang_scheduling", "pass"),
        res("gpu_sharing", "pass", "partial: 1 of 2 checks not decided (seen by a container); shared", checks=undecided),
        res("ai_inference", "fail", "no route"),
        res("ai_inference", "fail", "no route, again"),
        res("virtualized_accelerator", "not_applicable", "no virtualization layer"),
        res("workload_sandboxing", "skip", "no sandbox runtime", owner="product"),
        res("robust_controller", "error", "API unreachable", owner="base"),
        dict(res("pod_autoscaling", "pass"), verdict="passed"),
        res("dra_support", "pass"),
        res("not_a_requirement", "pass"),
    ]


@pytest.mark.parametrize("version", catalog.VERSIONS)
def test_every_results_json_the_role_writes_validates(version):
    assert errors(written(every_verdict(), version)) == []
    assert errors(written(every_verdict(), version, accept_partial=True)) == []
    assert errors(written([], version, run_id="")) == []


def test_the_role_written_results_json_with_the_upstream_suite_and_the_recorded_run_validate():
    recorded = json.loads(REFERENCE.read_text())
    suite = recorded_upstream()
    suite["verdicts"]["gang_scheduling"] = {"test": "TestGangScheduling", "verdict": "pass", "failed_subtests": []}
    doc = written(recorded["requirements"] + recorded["extras"], upstream=suite)
    assert doc["upstream"]["ran"] and {r["upstream"] for r in doc["upstream"]["rows"]} == {"pass", "fail", "not run", "not covered"}
    assert errors(doc) == []
    assert errors(written(every_verdict(), upstream={"ran": False, "unavailable": "no source of the suite"})) == []


def reference():
    return json.loads(REFERENCE.read_text())


def test_a_bad_verdict_is_rejected_where_it_is():
    doc = reference()
    doc["requirements"][2]["verdict"] = "passed"
    assert errors(doc) == [(["requirements", 2, "verdict"], "'passed' is not one of ['pass', 'fail', 'error', 'skip', 'not_applicable']")]
    doc = reference()
    doc["upstream"]["rows"][0]["ours"] = "PASS"
    assert [e[0] for e in errors(doc)] == [["upstream", "rows", 0, "ours"]]


@pytest.mark.parametrize("key", [*REQUIRED_KEYS, "checks", "undecided_checks"])
def test_a_result_missing_a_required_key_is_rejected(key):
    doc = reference()
    del doc["extras"][0][key]
    assert errors(doc) == [(["extras", 0], "%r is a required property" % key)]


@pytest.mark.parametrize("key", ["version", "run_id", "summary", "problems", "upstream", "requirements", "extras"])
def test_a_document_missing_a_top_level_key_is_rejected(key):
    doc = reference()
    del doc[key]
    assert errors(doc) == [([], "%r is a required property" % key)]


def test_wrong_types_and_values_are_rejected():
    cases = {
        ("requirements", 0, "reason"): "  ",
        ("requirements", 0, "owner"): "vendor",
        ("requirements", 0, "duration_s"): "41.07",
        ("requirements", 0, "started"): "yesterday",
        ("requirements", 0, "observations"): [],
        ("requirements", 0, "checks", 0, "ok"): "true",
        ("requirements", 0, "negative", 0, "refused"): "yes",
        ("summary", "counts", "pass"): -1,
        ("summary", "conformant"): "true",
    }
    for path, value in cases.items():
        doc = reference()
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        assert [e[0] for e in errors(doc)] == [list(path)], (path, errors(doc))
    # The summary counts exactly the five verdicts; the document has no keys of its own beyond the contract's.
    doc = reference()
    doc["summary"]["counts"]["partial"] = 1
    doc["generated"] = "now"
    assert [e[0] for e in errors(doc)] == [[], ["summary", "counts"]]


def test_probes_may_add_observations_and_result_keys():
    doc = reference()
    doc["requirements"][0]["observations"] = {"anything": [{"a": None}], "n": 3}
    doc["requirements"][0]["probe_version"] = "2"
    assert errors(doc) == []


def test_the_schema_says_what_the_code_says():
    defs = SCHEMA["$defs"]
    assert sorted(defs["verdict"]["enum"]) == sorted(VERDICTS)
    assert defs["result"]["properties"]["owner"]["enum"] == list(OWNERS)
    assert sorted(defs["result"]["required"]) == sorted(ProbeResult("x").to_dict()) == sorted({*REQUIRED_KEYS, "checks", "undecided_checks"})
    assert sorted(defs["summary"]["properties"]) == sorted(written([])["summary"])
    assert sorted(SCHEMA["required"]) == sorted(written([]))
    # A result straight from the probe contract validates as a results.json entry.
    r = ProbeResult("gang_scheduling").start()
    r.check("placed", True, "ok")
    r.check("seen", None, "kwok", kind="runtime")
    r.step("create", "created")
    r.negative_case("forbidden", True, "refused")
    doc = reference()
    doc["requirements"][0] = copy.deepcopy(r.stop().decide_from_checks("placed").to_dict())
    assert errors(doc) == []
