"""The evidence role's bundle, rendered from recorded results the way its tasks render it, passes
our own pre-flight under the v1.37 validator rules: no cited artifact holds a failing, erroring or
skipped test, and the auto-tested names exist where our probe is the evidence."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import cncf_validator as cv
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import preflight as pf
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.evidence import build_rows
from tests.unit.plugins.module_utils.test_evidence import res

REPO = Path(__file__).resolve().parents[4]
ROLE = REPO / "roles" / "evidence"
# Recorded on the real H200 (docs/samples/real-gpu/README.md): 3 passes, the rest undecided there.
SAMPLE = REPO / "docs" / "samples" / "real-gpu" / "evidence" / "v1.37" / "real-gpu-h200"
RECORDED_UPSTREAM = REPO / "tests" / "fixtures" / "upstream" / "refcluster-af907ca8.json"


def templar(variables):
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    return Templar(loader=DataLoader(), variables=variables)


def trusted(text):
    try:
        from ansible.template import trust_as_template
    except ImportError:  # ansible-core < 2.19
        return text
    return trust_as_template(text)


def role_tasks():
    """The evidence role's tasks in order, those of a block (block, rescue, always) in its place after it."""

    def flat(tasks):
        for t in tasks:
            yield t
            for part in ("block", "rescue", "always"):
                yield from flat(t.get(part) or [])

    return list(flat(yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())))


def render_bundle(root, results, version="v1.37", product="recorded", metadata=None, upstream=None):
    """The files of roles/evidence/tasks/main.yml's write_files task, rendered from its own vars (the
    template lookup over the role's templates, as the play renders them), into <root>/<version>/<product>/."""
    out = build_rows(results, version, upstream=upstream)
    d = root / version / product
    base = {
        "_evidence_out": out,
        "_evidence_dir": str(d),
        "evidence_version": version,
        "evidence_run_id": "recorded",
        "evidence_product": product,
        "evidence_metadata": metadata or yaml.safe_load((SAMPLE / "PRODUCT.yaml").read_text())["metadata"],
        "evidence_cluster_version": "v1.37.2",
        "evidence_base_conformance": {},
        "evidence_accept_partial": False,
        "ansible_search_path": [str(ROLE)],  # where the template lookup finds templates/
    }
    task = next(t for t in role_tasks() if "ai_conformance.kubernetes.write_files" in t)
    variables = dict(base, **{k: trusted(v) if isinstance(v, str) else v for k, v in task["vars"].items()})
    files = json.loads(str(templar(variables).template(trusted(task["ai_conformance.kubernetes.write_files"]["files"].replace("| from_json", "")))))
    for f in files:
        dest = d / f["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(f["content"])
    return d, out


def recorded():
    data = json.loads((SAMPLE / "results.json").read_text())
    return data["requirements"] + data["extras"]


def preflight(d):
    return pf.check_product(yaml.safe_load((d / "PRODUCT.yaml").read_text()), str(d / "PRODUCT.yaml"))


def evidence_findings(out):
    """Every finding but those on the metadata: the recorded sample's metadata are the reference
    cluster's placeholders (example.invalid), rejected by design (docs/preflight.md)."""
    return [f for f in out["findings"] if not f["where"].startswith("metadata")]


def beyond_the_status(out):
    """Rejections and warnings other than a status that is not Implemented (empty for an undecided MUST)."""
    return [f for f in evidence_findings(out) if f["validator"] in (cv.REJECTS, cv.WARNS) and f["rule"] not in ("must-implemented", "status")]


def test_the_recorded_sample_bundle_has_the_warning_the_new_layout_removes():
    """The sample on disk was written before the per-requirement junit files: its Implemented
    secure_accelerator_access cites no test artifact, which the v1.37 validator warns about."""
    out = preflight(SAMPLE)
    assert [(f["rule"], f["where"]) for f in out["validator_warnings"]] == [("auto-tested-no-artifact", "spec.security.secure_accelerator_access")]


def test_bundle_from_the_recorded_results_passes_the_v137_rules(tmp_path):
    d, rows = render_bundle(tmp_path, recorded())
    out = preflight(d)
    assert out["ruleset"]["name"] == "v1.37"
    # Only the honest rejections: the MUSTs the recording could not decide are not Implemented.
    undecided = sorted(r["id"] for r in rows["rows"] if r["level"] == "MUST" and r["verdict"] != "pass")
    assert undecided == [
        "accelerator_metrics",
        "ai_inference",
        "ai_service_metrics",
        "cluster_autoscaling",
        "gang_scheduling",
        "pod_autoscaling",
        "robust_controller",
    ]
    rejected = sorted((f["where"].rsplit(".", 1)[1], f["rule"]) for f in evidence_findings(out) if f["validator"] == cv.REJECTS)
    assert rejected == sorted([(rid, "must-implemented") for rid in undecided] + [(rid, "status") for rid in undecided])
    assert beyond_the_status(out) == [] and out["validator_warnings"] == []
    product = yaml.safe_load((d / "PRODUCT.yaml").read_text())
    items = {i["id"]: i for entries in product["spec"].values() for i in entries}
    assert items["secure_accelerator_access"]["status"] == "Implemented"
    assert items["secure_accelerator_access"]["evidence"] == [
        "evidence/secure_accelerator_access.md",
        "junit/secure_accelerator_access/junit.xml#TestSecureAcceleratorAccess",
    ]
    assert items["ai_inference"]["evidence"] == ["evidence/ai_inference.md"]  # an erroring case is not cited
    assert items["workload_sandboxing"]["evidence"] == []  # an undecided SHOULD: skipped by the validator
    # Its junit.xml holds only its own case, passed, under the validator's name.
    suite = ET.parse(d / "junit" / "secure_accelerator_access" / "junit.xml").getroot().find("testsuite")
    assert [(c.get("name"), [e.tag for e in c]) for c in suite.findall("testcase")] == [("TestSecureAcceleratorAccess", ["properties"])]
    props = {p.get("name"): p.get("value") for p in suite.find("testcase/properties")}
    assert props == {"requirement": "secure_accelerator_access", "verdict": "pass"}
    # Every requirement and extra has its junit.xml; the combined one keeps every case, by id.
    assert sorted(p.parent.name for p in (d / "junit").glob("*/junit.xml")) == sorted(catalog.ids("v1.37") + ["dra_support"])
    assert cv.parse_junit((d / "junit" / "ai_inference" / "junit.xml").read_text()) == {"TestAIInference": "fail"}
    combined = cv.parse_junit((d / "junit.xml").read_text())
    assert sorted(combined) == sorted(catalog.ids("v1.37")) and combined["secure_accelerator_access"] == "pass"
    page = (d / "evidence" / "secure_accelerator_access.md").read_text()
    assert "- Test case: `TestSecureAcceleratorAccess` in [junit/secure_accelerator_access/junit.xml](../junit/secure_accelerator_access/junit.xml)" in page


def all_musts_pass():
    """The recorded results, with a proven pass for every MUST the recording left undecided."""
    results = recorded()
    passed = {r["requirement"] for r in results if r["verdict"] == "pass"}
    for r in catalog.requirements("v1.37"):
        if r.level == "MUST" and r.id not in passed:
            results.append(res(r.id, "pass", "proven"))
    return results


def test_every_must_passing_is_accepted_and_a_failing_should_does_not_sink_them(tmp_path):
    results = all_musts_pass()
    results.append(res("workload_sandboxing", "fail", "the sandboxed pod saw the host kernel"))
    d = render_bundle(tmp_path, results)[0]
    out = preflight(d)
    assert out["sections"]["evidence"]["would_reject"] is False, out["sections"]["evidence"]["rejected"]
    assert out["validator_warnings"] == []
    product = yaml.safe_load((d / "PRODUCT.yaml").read_text())
    items = {i["id"]: i for entries in product["spec"].values() for i in entries}
    assert items["workload_sandboxing"]["status"] == "Not Implemented" and items["workload_sandboxing"]["evidence"] == ["evidence/workload_sandboxing.md"]
    for rid in cv.AUTO_TESTED:
        assert "junit/%s/junit.xml#%s" % (rid, cv.AUTO_TESTED[rid]) in items[rid]["evidence"]


def test_the_recorded_failing_upstream_run_is_not_cited(tmp_path):
    """The upstream suite's junit.xml of the reference cluster run fails TestSecureAcceleratorAccess:
    copied into the bundle but not cited, so the bundle stays acceptable."""
    stream = RECORDED_UPSTREAM.read_text()
    events = up.parse_events(stream)
    upstream = {
        "ran": True,
        "unavailable": "",
        "verdicts": up.verdicts(events),
        "tests": {n: t["verdict"] for n, t in up.tests_from(events).items()},
    }
    d = render_bundle(tmp_path, all_musts_pass(), upstream=copy.deepcopy(upstream))[0]
    (d / "upstream" / "junit.xml").write_text(up.junit(events))  # what the role copies
    out = preflight(d)
    assert out["sections"]["evidence"]["would_reject"] is False and out["validator_warnings"] == []
    product = yaml.safe_load((d / "PRODUCT.yaml").read_text())
    sec = next(i for i in product["spec"]["security"] if i["id"] == "secure_accelerator_access")
    assert not any(e.startswith("upstream/") for e in sec["evidence"])
    assert sec["notes"].endswith("upstream/junit.xml is not cited: its TestSecureAcceleratorAccess did not pass.")
    # Citing it by hand is what the validator rejects, with its reason.
    sec["evidence"].append("upstream/junit.xml")
    (d / "PRODUCT.yaml").write_text(yaml.safe_dump(product, sort_keys=False))
    out = preflight(d)
    assert sorted(f["rule"] for f in evidence_findings(out) if f["validator"] == cv.REJECTS) == ["test-artifact-failure", "test-failed"]


def test_before_v137_the_own_junit_is_cited_as_a_plain_path(tmp_path):
    results = [r for r in all_musts_pass() if r["requirement"] != "dra_support"] + [res("dra_support", "pass", "allocated")]
    d = render_bundle(tmp_path, results, version="v1.35")[0]
    out = preflight(d)
    assert out["ruleset"]["name"] == "legacy" and out["sections"]["evidence"]["would_reject"] is False
    product = yaml.safe_load((d / "PRODUCT.yaml").read_text())
    sec = next(i for i in product["spec"]["security"] if i["id"] == "secure_accelerator_access")
    assert sec["evidence"] == ["evidence/secure_accelerator_access.md", "junit/secure_accelerator_access/junit.xml"]


def test_the_role_renders_every_bundle_file_and_a_page_and_junit_per_requirement(tmp_path):
    d, out = render_bundle(tmp_path, [res("dra_support", "pass"), res("gang_scheduling", "fail")])
    got = sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
    for name in ("PRODUCT.yaml", "README.md", "evidence/index.md", "junit.xml", "results.json", "upstream/comparison.md"):
        assert name in got, got
    for row in out["rows"] + out["extras"]:
        assert "evidence/%s.md" % row["id"] in got and row["junit_file"] in got, row["id"]
    assert (d / "evidence" / "gang_scheduling.md").read_text().startswith("# gang_scheduling\n")


# What the role's write_files task rendered before bundle_files.json.j2: one template lookup per file.
LOOKUP_PER_FILE = """{% set out = [] %}{% for f in _evidence_bundle_files %}{%
set _ = out.append({'path': f.dest, 'content': lookup('ansible.builtin.template', f.src)}) %}{%
endfor %}{% for row in _evidence_out.rows + _evidence_out.extras %}{%
set _ = out.append({'path': 'evidence/' ~ row.id ~ '.md',
                    'content': lookup('ansible.builtin.template', 'requirement.md.j2', template_vars={'row': row})}) %}{%
set _ = out.append({'path': row.junit_file,
                    'content': lookup('ansible.builtin.template', 'junit.xml.j2', template_vars={'_evidence_junit_rows': [row]})}) %}{%
endfor %}{{ out | to_json }}"""


def test_every_included_template_ends_in_one_newline():
    """The template lookup keeps a template's final newlines and an include drops one: bundle_files.json.j2
    gives back one newline where the text lacks it, which is the lookup's output only for templates
    ending in exactly one newline."""
    task = next(t for t in role_tasks() if "ai_conformance.kubernetes.write_files" in t)
    for name in [f["src"] for f in task["vars"]["_evidence_bundle_files"]] + ["requirement.md.j2", "junit.xml.j2"]:
        text = (ROLE / "templates" / name).read_text()
        assert text.endswith("\n") and not text.endswith("\n\n"), name


@pytest.mark.parametrize("case", ["recorded", "legacy", "upstream", "signed"])
def test_one_lookup_renders_what_a_lookup_per_file_rendered(case):
    upstream = None
    if case == "upstream":
        events = up.parse_events(RECORDED_UPSTREAM.read_text())
        upstream = {"ran": True, "unavailable": "", "verdicts": up.verdicts(events), "tests": {n: t["verdict"] for n, t in up.tests_from(events).items()}}
    results = recorded() if case == "recorded" else all_musts_pass()
    if case == "signed":
        results = [res("gang_scheduling", "pass"), res("ai_inference", "fail", reason='no route <&> "q" \u00fc')]
    version = "v1.35" if case == "legacy" else "v1.37"
    if case == "legacy":
        results = [r for r in results if r["requirement"] != "dra_support"] + [res("dra_support", "pass", "allocated")]
    task = next(t for t in role_tasks() if "ai_conformance.kubernetes.write_files" in t)
    variables = {
        "_evidence_out": build_rows(results, version, upstream=upstream),
        "evidence_version": version,
        "evidence_run_id": "recorded",
        "evidence_product": "recorded",
        "evidence_metadata": yaml.safe_load((SAMPLE / "PRODUCT.yaml").read_text())["metadata"],
        "evidence_cluster_version": "v1.37.2",
        "evidence_base_conformance": {"url": "https://example.invalid/base"} if case == "signed" else {},
        "evidence_accept_partial": False,
        "evidence_generated_at": "2026-12-06T02:51:15Z",
        "evidence_signing_key": "/k.pem" if case == "signed" else "",
        "_evidence_signer": {"fingerprint": "sha256:abc"},
        "ansible_search_path": [str(ROLE)],
        **task["vars"],
    }
    per_file = json.loads(str(templar(copy.deepcopy(variables)).template(trusted(LOOKUP_PER_FILE))))
    one = json.loads(
        str(templar(copy.deepcopy(variables)).template(trusted(task["ai_conformance.kubernetes.write_files"]["files"].replace("| from_json", ""))))
    )
    assert [f["path"] for f in one] == [f["path"] for f in per_file]
    for a, b in zip(one, per_file):
        assert a["content"] == b["content"], a["path"]
