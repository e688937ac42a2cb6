"""journal_dir: a probe writes its result to <journal_dir>/<requirement>.json as soon as it has it
(conformance.yml points it at the bundle's partial/ directory), atomically; never in check mode."""

from __future__ import annotations

import json
import os

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe as probe_mod
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import validate_result_dict
from ansible_collections.ai_conformance.kubernetes.plugins.modules import dra_probe, virtualization_probe
from tests.unit import fakecluster as fc


def test_a_probe_with_journal_dir_writes_its_result_there(run_module, monkeypatch, tmp_path):
    journal = tmp_path / "bundle" / "partial"  # created by the probe
    r = fc.run_probe(run_module, monkeypatch, dra_probe, fc.reference_cluster(), journal_dir=str(journal))
    assert r.verdict == "pass", r.reason
    written = json.loads((journal / "dra_support.json").read_text())
    # The whole result the module returned, no other file (no temporary file left behind).
    assert written == dict(r) and validate_result_dict(written) == []
    assert sorted(os.listdir(journal)) == ["dra_support.json"]


def test_each_probe_writes_its_own_file_and_a_rerun_replaces_it(run_module, monkeypatch, tmp_path):
    cluster = fc.reference_cluster()
    fc.run_probe(run_module, monkeypatch, dra_probe, cluster, journal_dir=str(tmp_path))
    first = fc.run_probe(run_module, monkeypatch, virtualization_probe, cluster, journal_dir=str(tmp_path))
    again = fc.run_probe(run_module, monkeypatch, virtualization_probe, cluster, journal_dir=str(tmp_path), run_id="t2")
    assert sorted(os.listdir(tmp_path)) == ["dra_support.json", "virtualized_accelerator.json"]
    assert first["run_id"] == "t1" and json.loads((tmp_path / "virtualized_accelerator.json").read_text())["run_id"] == again["run_id"] == "t2"


def test_without_journal_dir_or_in_check_mode_nothing_is_written(run_module, monkeypatch, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    fc.run_probe(run_module, monkeypatch, dra_probe, fc.reference_cluster())
    res = run_module(dra_probe.main, {"run_id": "c1", "journal_dir": str(tmp_path / "partial")}, check_mode=True)
    assert res.result["verdict"] == "skip"
    assert not (tmp_path / "partial").exists() and os.listdir(cwd) == []


def test_a_journal_that_cannot_be_written_is_a_warning_not_the_verdict(run_module, monkeypatch, tmp_path):
    blocker = tmp_path / "partial"
    blocker.write_text("a file where the directory should be")
    warned = []
    monkeypatch.setattr(probe_mod.AnsibleModule, "warn", lambda self, msg: warned.append(msg))
    r = fc.run_probe(run_module, monkeypatch, dra_probe, fc.reference_cluster(), journal_dir=str(blocker))
    assert r.verdict == "pass"
    assert len(warned) == 1 and warned[0].startswith("cannot write the partial result of dra_support to %s" % blocker)


def test_write_journal_replaces_the_file_whole(tmp_path):
    path = probe_mod.write_journal(str(tmp_path), {"requirement": "gpu_sharing", "verdict": "pass"})
    probe_mod.write_journal(str(tmp_path), {"requirement": "gpu_sharing", "verdict": "fail"})
    assert path == str(tmp_path / "gpu_sharing.json") and json.loads((tmp_path / "gpu_sharing.json").read_text())["verdict"] == "fail"
    assert os.listdir(tmp_path) == ["gpu_sharing.json"]
