"""A run that ends before its evidence phase leaves its bundle directory marked incomplete:
INCOMPLETE.json (run id, start, plan, reason) and, in partial/, the result of each probe that
finished, written by the probe itself (journal_dir from the play's module_defaults).

The play runs for real (not --check) against a stand-in API server that answers cluster_info's
reads and nothing else, so the probe that runs decides an error verdict and creates nothing;
--tags probe stops the run before its evidence phase, as an interrupt would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb
from tests.unit.conftest import playbook_env

REPO = Path(__file__).resolve().parents[2]
# What cluster_info reads: the version, the API groups, the nodes and the CRDs (none).
ROUTES = {
    "/version": (200, {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"}),
    "/api": (200, {"versions": ["v1"]}),
    "/apis": (200, {"groups": [{"name": "apiextensions.k8s.io", "versions": [{"groupVersion": "apiextensions.k8s.io/v1"}]}]}),
    "/api/v1": (200, {"resources": [{"name": "nodes", "kind": "Node", "namespaced": False}, {"name": "namespaces", "kind": "Namespace", "namespaced": False}]}),
    "/api/v1/nodes": (200, {"items": []}),
    "/apis/apiextensions.k8s.io/v1": (200, {"resources": [{"name": "customresourcedefinitions", "kind": "CustomResourceDefinition", "namespaced": False}]}),
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions": (200, {"items": []}),
}


def run_play(kubeconfig, out, *args):
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "conformance.yml",
        "-i",
        "inventories/local",
        "-e",
        json.dumps(
            {
                "conformance_kubeconfig": kubeconfig,
                "conformance_output_dir": str(out),
                "conformance_product": "cut-short",
                "conformance_domains": ["operators"],
                "conformance_concurrency": "serial",
            }
        ),
        *args,
    ]
    env = playbook_env(ANSIBLE_STDOUT_CALLBACK="default")
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO), env=env, timeout=300, check=False)
    return res.returncode, res.stdout


def test_a_run_without_its_evidence_phase_leaves_incomplete_json_and_the_probes_results(api_server, tmp_path):
    out = tmp_path / "out"
    bundle = out / "v1.37" / "cut-short"
    # An earlier run's partial result: this run starts its partial/ afresh.
    (bundle / "partial").mkdir(parents=True)
    (bundle / "partial" / "gang_scheduling.json").write_text("{}")
    rc, log = run_play(api_server(ROUTES), out, "--tags", "probe")
    assert rc == 0, log[-4000:]
    assert "TASK [Mark the bundle directory incomplete until the run has finished" in log and "ai_conformance.kubernetes.evidence" not in log
    marker = json.loads((bundle / "INCOMPLETE.json").read_text())
    assert marker["plan"] == ["robust_controller"] and marker["reason"] == "the run has not finished: interrupted or still running"
    assert marker["run_id"] and marker["started"].endswith("Z")
    # The probe wrote its own result, with this run's id; nothing of the earlier run is left.
    assert sorted(p.name for p in (bundle / "partial").iterdir()) == ["robust_controller.json"]
    result = json.loads((bundle / "partial" / "robust_controller.json").read_text())
    assert (result["requirement"], result["run_id"]) == ("robust_controller", marker["run_id"])
    assert result["verdict"] in ("error", "fail", "not_applicable"), result
    assert not (bundle / "results.json").exists()
    # Never taken for a complete bundle.
    assert sb.incomplete(str(bundle)).startswith("INCOMPLETE.json is present: run %s" % marker["run_id"])


def test_check_mode_marks_nothing(api_server, tmp_path):
    out = tmp_path / "out"
    rc, log = run_play(api_server(ROUTES), out, "--tags", "probe", "--check")
    assert rc == 0, log[-4000:]
    assert list(out.rglob("*.json")) == []
