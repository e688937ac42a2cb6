"""The evidence bundle: complete, parseable, linked, checksummed, secret-free, byte-stable."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog, registry
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import secret_scan
from tests.refcluster.ansible_run import run_conformance
from tests.refcluster.config import REPO

TOKEN = "sha256~PLANTEDtokenDoNotLeak0123456789abcdef"
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdCJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
ALLOWED = {"Implemented", "Not Implemented", "Partially Implemented", "N/A", ""}


def result(rid, verdict, reason, **obs):
    # A pass is a proven one: a decided check and a refused negative case (a pass without them is
    # rendered Partially Implemented: tests/unit/plugins/module_utils/test_evidence.py).
    proven = verdict == "pass"
    return {
        "requirement": rid,
        "verdict": verdict,
        "reason": reason,
        "observations": obs,
        "checks": [{"name": "the behaviour", "ok": True, "detail": "observed", "kind": "api"}] if proven else [],
        "steps": [{"action": "kubectl get nodes", "result": "ok", "ok": True}],
        "negative": [{"case": "the forbidden thing", "outcome": "refused", "refused": True}] if proven else [],
        "owner": "platform",
        "run_id": "bundle-test",
        "started": "2026-11-23T00:00:00Z",
        "duration_s": 1.5,
    }


def canned():
    return [
        result("dra_support", "pass", "claim allocated", kubeconfig_token=TOKEN, header="Authorization: Bearer %s" % JWT),
        result("gang_scheduling", "fail", "2 of 4 gang pods were bound while the group could not fit"),
        result("cluster_autoscaling", "not_applicable", "the platform declares no cluster autoscaler: node pools are fixed size by design"),
        result("gpu_sharing", "skip", "no sharing strategy declared"),
        {"requirement": "pod_autoscaling", "verdict": "maybe"},  # malformed
    ]


def render(tmp_path, version, results=None, upstream=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    rf = tmp_path / "results.json"
    rf.write_text(json.dumps(canned() if results is None else results))
    out = tmp_path / "out"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"))
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(REPO / "tests/integration/playbooks/bundle.yml"),
        "-i",
        "localhost,",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-e",
        "results_file=%s" % rf,
        "-e",
        "planted_token=%s" % TOKEN,
        "-e",
        "evidence_output_dir=%s" % out,
        "-e",
        "evidence_version=%s" % version,
    ]
    if upstream is not None:
        uf = tmp_path / "upstream.json"
        uf.write_text(json.dumps(upstream))
        cmd += ["-e", "upstream_file=%s" % uf]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, check=False)
    assert res.returncode == 0, res.stdout[-3000:]
    return out / version / "testproduct"


@pytest.mark.parametrize("version", ["v1.35", "v1.34", "v1.37"])
def test_bundle_is_complete_and_valid(tmp_path, version):
    d = render(tmp_path, version)
    product = yaml.safe_load((d / "PRODUCT.yaml").read_text())
    ids = [it["id"] for items in product["spec"].values() for it in items]
    assert ids == catalog.ids(version)
    for items in product["spec"].values():
        for it in items:
            assert it["status"] in ALLOWED
            ref = catalog.requirement(version, it["id"])
            assert (it["description"], it["level"]) == (ref.description, ref.level)
            for ev in it["evidence"]:
                assert (d / ev.split("#", 1)[0]).is_file(), ev
    rows = {it["id"]: it for items in product["spec"].values() for it in items}
    assert rows["gang_scheduling"]["status"] == "Not Implemented"
    assert rows["cluster_autoscaling"]["status"] == "N/A" and "fixed size" in rows["cluster_autoscaling"]["notes"]
    assert rows["pod_autoscaling"]["status"] == "" and "malformed" in rows["pod_autoscaling"]["notes"]
    assert rows["ai_inference"]["status"] == "" and "no probe ran" in rows["ai_inference"]["notes"]
    if "gpu_sharing" in rows:  # an undecided SHOULD: left empty so the CNCF validator skips it
        assert rows["gpu_sharing"]["status"] == "" and rows["gpu_sharing"]["evidence"] == []
    if "dra_support" in rows:
        assert rows["dra_support"]["status"] == "Implemented"
    assert product["metadata"]["k8sConformanceUrl"].startswith("https://github.com/cncf/k8s-conformance/tree/master/")
    assert list(product["metadata"])[: len(catalog.metadata_keys(version))] == catalog.metadata_keys(version)

    suite = ET.parse(d / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == catalog.ids(version)
    by = {c.get("name"): c for c in cases}
    assert by["gang_scheduling"].find("failure") is not None
    assert by["cluster_autoscaling"].find("skipped").get("message").startswith("not_applicable:")
    assert by["ai_inference"].find("error") is not None
    # One junit.xml per requirement (and extra), holding only its case under the validator's name;
    # PRODUCT.yaml cites none of them here: no MUST passed but dra_support.
    assert sorted(p.parent.name for p in (d / "junit").glob("*/junit.xml")) == sorted(catalog.ids(version) + registry.extras(version))
    gang = ET.parse(d / "junit" / "gang_scheduling" / "junit.xml").getroot().find("testsuite")
    assert [c.get("name") for c in gang.findall("testcase")] == ["TestGangScheduling"] and gang.find("testcase/failure") is not None
    assert rows["gang_scheduling"]["evidence"] == ["evidence/gang_scheduling.md"]

    for md in (d / "evidence").glob("*.md"):
        for link in re.findall(r"\]\(([^)#]+)\)", md.read_text()):
            if not link.startswith("http"):
                assert (md.parent / link).is_file(), (md, link)
    for link in re.findall(r"\]\(([^)#]+)\)", (d / "README.md").read_text()):
        assert (d / link).is_file(), link

    sums = (d / "SHA256SUMS").read_text().splitlines()
    files = sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    assert sorted(line.split("  ", 1)[1] for line in sums) == files
    for line in sums:
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((d / name).read_bytes()).hexdigest() == digest

    for p in d.rglob("*"):
        if p.is_file():
            text = p.read_text()
            assert TOKEN not in text and JWT not in text, p
    # The scanner the evidence role runs finds nothing either (tokens planted in the results above).
    findings, scanned = secret_scan.scan_tree(str(d))
    assert scanned == len(files) + 1 and [f.describe() for f in findings] == []

    results = json.loads((d / "results.json").read_text())
    assert results["summary"]["must_failed_or_error"] and not results["summary"]["conformant"]

    # The CNCF pre-flight: the failed, undecided and N/A MUSTs are what the validator rejects; the
    # N/A of a conditional MUST is flagged as a conflict with the FAQ, except from v1.37 on, where
    # the validator only warns about cluster_autoscaling's.
    pre = json.loads((d / "preflight.json").read_text())
    assert pre["would_reject"] is True and pre["version"] == version
    v137 = version == "v1.37"
    assert pre["ruleset"]["name"] == ("v1.37" if v137 else "legacy") and any(r["rule"] == "must-implemented" for r in pre["rules"])
    must_rejected = sorted(f["where"].rsplit(".", 1)[1] for f in pre["findings"] if f["rule"] == "must-implemented")
    # dra_support (a MUST in v1.34/v1.35) is the one MUST that passed.
    expected_must = [
        r.id for r in catalog.requirements(version) if r.level == "MUST" and r.id != "dra_support" and not (v137 and r.id == "cluster_autoscaling")
    ]
    assert must_rejected == sorted(expected_must)
    assert [(f["rule"], f["where"]) for f in pre["validator_warnings"]] == (
        [("conditional-na", "spec.schedulingOrchestration.cluster_autoscaling")] if v137 else []
    )
    # The test metadata cites the v1.35 base conformance: for the other versions that is flagged.
    expected = ([] if v137 else ["spec.schedulingOrchestration.cluster_autoscaling"]) + ([] if version == "v1.35" else ["metadata.k8sConformanceUrl"])
    assert sorted(f["where"] for f in pre["conflicts"]) == sorted(expected)
    assert any("malformed" in x for x in results["problems"])


@pytest.mark.parametrize("version", ["v1.37", "v1.35"])
def test_preflight_accepts_a_bundle_whose_musts_pass(tmp_path, version):
    """Every MUST passes, a SHOULD is N/A with its reason and one is undecided: nothing the CNCF
    validator would reject, only the checks that need the network are left."""
    results = [result(r.id, "pass", "proven") for r in catalog.requirements(version) if r.level == "MUST"]
    results.append(result("virtualized_accelerator", "not_applicable", "bare-metal GPUs, no hypervisor layer"))
    results.append(result("gpu_sharing", "error", "the API server went away"))
    d = render(tmp_path, version, results)
    pre = json.loads((d / "preflight.json").read_text())
    assert pre["would_reject"] is False, [f for f in pre["findings"] if f["validator"] == "rejects"]
    assert pre["validator_warnings"] == []  # the auto-tested MUSTs cite their own junit.xml with the validator's test name
    assert {f["rule"] for f in pre["unchecked"]} == {"url-reachable", "cncf-member"}
    assert any(f["rule"] == "should-empty" and f["where"].endswith("gpu_sharing") for f in pre["findings"])
    ok = preflight_playbook(d / "PRODUCT.yaml")
    assert ok.returncode == 0, ok.stdout[-2000:]
    # The same file with a placeholder left in: the playbook fails and says why.
    bad = tmp_path / "bad" / version / "p"
    bad.mkdir(parents=True)
    product = yaml.safe_load((d / "PRODUCT.yaml").read_text())
    product["metadata"]["description"] = "[Describe your product]"
    (bad / "PRODUCT.yaml").write_text(yaml.safe_dump(product))
    (bad / "evidence").symlink_to(d / "evidence")
    (bad / "junit").symlink_to(d / "junit")
    res = preflight_playbook(bad / "PRODUCT.yaml")
    assert res.returncode == 2 and "would reject" in res.stdout and "placeholder [Describe your product]" in res.stdout


def preflight_playbook(path):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"))
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(REPO / "playbooks/preflight.yml"),
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-e",
        "product_yaml=%s" % path,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, check=False)


def test_dra_is_an_extra_from_v136(tmp_path):
    d = render(tmp_path, "v1.36")
    product = yaml.safe_load((d / "PRODUCT.yaml").read_text())
    assert "dra_support" not in [it["id"] for items in product["spec"].values() for it in items]
    assert (d / "evidence" / "dra_support.md").is_file()
    assert json.loads((d / "results.json").read_text())["extras"][0]["requirement"] == "dra_support"


def test_output_is_byte_stable_except_the_run_header(tmp_path):
    a = render(tmp_path / "a", "v1.37")
    b = render(tmp_path / "b", "v1.37")
    for p in a.rglob("*"):
        if p.is_file() and p.name not in ("README.md", "SHA256SUMS"):
            assert p.read_bytes() == (b / p.relative_to(a)).read_bytes(), p
    ra = [line for line in (a / "README.md").read_text().splitlines() if not line.startswith("Run ")]
    rb = [line for line in (b / "README.md").read_text().splitlines() if not line.startswith("Run ")]
    assert ra == rb


def test_missing_metadata_is_one_clear_error(tmp_path):
    (tmp_path / "empty.json").write_text("[]")
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(REPO / "tests/integration/playbooks/bundle.yml"),
        "-i",
        "localhost,",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-e",
        "results_file=%s" % (tmp_path / "empty.json"),
        "-e",
        "planted_token=x",
        "-e",
        "evidence_output_dir=%s" % tmp_path,
        "-e",
        '{"conformance_metadata": {"platformName": "[Platform Name]"}}',
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, check=False)
    assert res.returncode != 0
    assert "evidence metadata incomplete" in res.stdout and "platformName" in res.stdout and "vendorName" in res.stdout
    assert not any(tmp_path.rglob("PRODUCT.yaml"))


@pytest.mark.parametrize(
    ("extra", "text"),
    [
        ({"conformance_version": "v1.99"}, "got v1.99"),
        ({"conformance_mode": "yolo"}, "got yolo"),
        ({"conformance_concurrency": "parallel"}, "got parallel"),
        ({"conformance_domains": ["networking", "gpus"]}, "got ['networking', 'gpus']"),
        ({"conformance_domains": "networking"}, "got networking"),
    ],
)
def test_conformance_refuses_bad_run_inputs_before_touching_the_cluster(tmp_path, extra, text):
    res = run_conformance(dict(extra, conformance_kubeconfig=str(tmp_path / "none")))[0]
    assert res.returncode != 0
    assert text in res.stdout
    assert "Gather the cluster facts" not in res.stdout


def test_upstream_artifacts_and_a_planted_disagreement(tmp_path):
    """The recorded upstream run (TestSecureAcceleratorAccess fails on kwok) beside a canned pass of
    ours: the bundle carries the suite's artifacts, flags the disagreement everywhere, does not cite
    the upstream junit.xml (the v1.37 validator rejects any failing test in a cited artifact), and
    never changes our verdict."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up

    art = tmp_path / "upstream-run"
    art.mkdir()
    stream = (REPO / "tests/fixtures/upstream/refcluster-af907ca8.json").read_text()
    events = up.parse_events(stream)
    (art / "results.json").write_text(stream)
    (art / "e2e.log").write_text(up.e2e_log(events))
    (art / "junit.xml").write_text(up.junit(events))
    upstream = {
        "ran": True,
        "unavailable": "",
        "built_from": "source /src/ai-conformance (af907ca8)",
        "flags_used": ["-accelerator-type=nvidia"],
        "flags_left_out": {"allocation-mode": "this build of the suite does not define -allocation-mode"},
        "verdicts": up.verdicts(events),
        "artifacts": ["e2e.log", "junit.xml", "results.json"],
        "output_dir": str(art),
    }
    results = [result(r.id, "pass", "proven") for r in catalog.requirements("v1.37") if r.level == "MUST"]
    d = render(tmp_path, "v1.37", results, upstream)
    for name in ("e2e.log", "junit.xml", "results.json"):
        assert (d / "upstream" / name).read_bytes() == (art / name).read_bytes()
    assert "upstream/junit.xml" in (d / "SHA256SUMS").read_text()
    comparison = (d / "upstream" / "comparison.md").read_text()
    row = next(line for line in comparison.splitlines() if line.startswith("| [secure_accelerator_access]"))
    assert "| pass | fail | TestSecureAcceleratorAccess | **YES** |" in row
    assert "`-allocation-mode`: this build of the suite does not define" in comparison
    product = yaml.safe_load((d / "PRODUCT.yaml").read_text())
    sec = next(i for i in product["spec"]["security"] if i["id"] == "secure_accelerator_access")
    assert sec["status"] == "Implemented"
    assert sec["evidence"] == ["evidence/secure_accelerator_access.md", "junit/secure_accelerator_access/junit.xml#TestSecureAcceleratorAccess"]
    assert "DISAGREES" in sec["notes"] and "upstream/junit.xml is not cited" in sec["notes"]
    bundle = json.loads((d / "results.json").read_text())
    assert bundle["upstream"]["disagreements"] == ["secure_accelerator_access"]
    assert json.loads((d / "preflight.json").read_text())["would_reject"] is False


def test_upstream_not_run_is_said_in_the_bundle(tmp_path):
    d = render(tmp_path, "v1.37", upstream={"ran": False, "unavailable": "no source of the suite: the Go module proxy serves no version"})
    assert not (d / "upstream" / "junit.xml").exists()
    assert "The upstream suite did not run: no source of the suite" in (d / "upstream" / "comparison.md").read_text()
    assert "Not run: no source of the suite" in (d / "README.md").read_text()


@pytest.mark.parametrize("version", ["v1.35", "v1.37"])
def test_results_json_follows_its_schema(tmp_path, version):
    """results.json validates against docs/schema/results.schema.json (JSON Schema 2020-12): every
    verdict, an extra, and the error result of a malformed input."""
    import jsonschema

    schema = json.loads((REPO / "docs" / "schema" / "results.schema.json").read_text())
    doc = json.loads((render(tmp_path, version) / "results.json").read_text())
    assert doc["problems"] and {r["verdict"] for r in doc["requirements"] + doc["extras"]} == {"pass", "fail", "skip", "not_applicable", "error"}
    errors = [(list(e.absolute_path), e.message) for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
    assert errors == [], errors[:5]
