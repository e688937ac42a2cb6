from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import client as cl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import validate_result_dict
from ansible_collections.ai_conformance.kubernetes.plugins.modules import dra_probe
from tests.unit.conftest import closed_port, kubeconfig_text


@pytest.fixture(autouse=True)
def _no_pool():
    cl._POOL.clear()


def test_unreachable_cluster_is_an_error_verdict_not_a_traceback(run_module, tmp_path):
    kc = tmp_path / "kc"
    kc.write_text(kubeconfig_text("http://127.0.0.1:%d" % closed_port()))
    res = run_module(dra_probe.main, {"kubeconfig": str(kc), "run_id": "u1"})
    assert not res.failed
    r = res.result["result"]
    assert (r["verdict"], r["requirement"], r["run_id"]) == ("error", "dra_support", "u1")
    assert r["reason"].startswith("cannot reach the Kubernetes API") and "\n" not in r["reason"]
    assert validate_result_dict(r) == []


def test_missing_kubeconfig_is_an_error_verdict(run_module, tmp_path):
    res = run_module(dra_probe.main, {"kubeconfig": str(tmp_path / "none")})
    assert res.result["verdict"] == "error"
    assert res.result["result"]["observations"]["error_kind"] == "config"


def test_bad_run_id_is_rejected_in_one_line(run_module):
    res = run_module(dra_probe.main, {"run_id": "Not_Valid!"})
    assert res.failed and res.result["msg"].startswith("run_id 'Not_Valid!' must be")


def test_check_mode_skips_without_touching_the_cluster(run_module, tmp_path):
    res = run_module(dra_probe.main, {"kubeconfig": str(tmp_path / "none"), "run_id": "u2"}, check_mode=True)
    assert res.result["verdict"] == "skip" and res.result["reason"].startswith("check mode")


def test_a_defect_in_a_probe_is_an_error_verdict_not_a_failed_task(run_module, monkeypatch):
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import probe as probe_mod

    class Boom:
        source = "fake"

    monkeypatch.setattr(probe_mod, "get_client", lambda params: Boom())
    monkeypatch.setattr(probe_mod, "check_reachable", lambda c: {})

    def broken_run(self, client, ctx, result):
        raise KeyError("status")

    monkeypatch.setattr(dra_probe.DraProbe, "run", broken_run)
    res = run_module(dra_probe.main, {"run_id": "u3"})
    assert not res.failed
    r = res.result["result"]
    assert r["verdict"] == "error" and r["reason"] == "internal error in the dra_support probe: KeyError: 'status'"
    assert "Traceback" in r["observations"]["traceback"]


@pytest.mark.parametrize(
    ("module", "args", "msg"),
    [
        ("gang_probe", {"group_size": 1}, "group_size must be at least 2"),
        ("gang_probe", {"observe_seconds": 0}, "observe_seconds must be at least 1"),
        ("autoscaler_probe", {"scale_up_timeout": 0}, "scale_up_timeout must be at least 1"),
        ("gang_probe", {"scheduler": "slurm"}, "value of scheduler must be one of"),
    ],
)
def test_scheduling_probes_reject_bad_input_in_one_line(run_module, tmp_path, module, args, msg):
    import importlib

    mod = importlib.import_module("ansible_collections.ai_conformance.kubernetes.plugins.modules.%s" % module)
    res = run_module(mod.main, dict(args, kubeconfig=str(tmp_path / "none")))
    assert res.failed and msg in res.result["msg"] and "\n" not in res.result["msg"]
