"""The main job without cluster-admin: conformance.yml on the reference cluster under a
ServiceAccount bound only to docs/rbac/prober.yaml (what the README promises and AWX uses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError, get_client
from tests.integration.test_conformance_lanes import interval
from tests.refcluster.ansible_run import run_conformance
from tests.refcluster.config import REPO

pytestmark = pytest.mark.integration

NS, SA = "ai-conformance", "prober"
RBAC = REPO / "docs/rbac/prober.yaml"
VERSION = "v1.37"


@pytest.fixture(scope="module")
def prober_kubeconfig(k8s, kubeconfig, tmp_path_factory):
    """A kubeconfig for ServiceAccount ai-conformance/prober, bound to the shipped ClusterRole only."""
    if k8s.get("v1", "Namespace", NS) is None:
        k8s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    if k8s.get("v1", "ServiceAccount", SA, NS) is None:
        k8s.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SA, "namespace": NS}})
    docs = yaml.safe_load(RBAC.read_text())["items"]
    for d in docs:
        if k8s.get(d["apiVersion"], d["kind"], d["metadata"]["name"]) is None:
            k8s.create(d)
    path = "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (NS, SA)
    token = k8s.request("POST", path, body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}})["status"][
        "token"
    ]
    kc = yaml.safe_load(Path(kubeconfig).read_text())
    kc["users"] = [{"name": "prober", "user": {"token": token}}]
    for ctx in kc["contexts"]:
        ctx["context"]["user"] = "prober"
    out = tmp_path_factory.mktemp("prober") / "kubeconfig"
    out.write_text(yaml.safe_dump(kc))
    yield str(out), token
    for d in reversed(docs):
        k8s.delete(d["apiVersion"], d["kind"], d["metadata"]["name"])
    k8s.delete("v1", "Namespace", NS)


def test_the_prober_identity_is_not_an_admin(prober_kubeconfig):
    c = get_client({"kubeconfig": prober_kubeconfig[0]})
    for verb, call in (
        ("list secrets", lambda: c.list("v1", "Secret", "kube-system")),
        (
            "create a ClusterRoleBinding",
            lambda: c.create(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": "aic-escalate"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": NS}],
                }
            ),
        ),
        ("patch a node", lambda: c.patch("v1", "Node", "refcluster-gpu-1", {"metadata": {"labels": {"aic": "x"}}})),
    ):
        with pytest.raises(ClusterError) as info:
            call()
        assert info.value.kind == "forbidden", (verb, info.value.message)


def test_conformance_runs_whole_without_cluster_admin(prober_kubeconfig, tmp_path):
    kc, token = prober_kubeconfig
    res = run_conformance({"conformance_kubeconfig": kc, "conformance_output_dir": str(tmp_path), "conformance_version": VERSION})[0]
    assert res.returncode == 0, res.stdout[-3000:]
    results = json.loads(next(tmp_path.rglob("results.json")).read_text())
    verdicts = {r["requirement"]: (r["verdict"], r["reason"]) for r in results["requirements"]}
    assert set(verdicts) >= {r.id for r in catalog.requirements(VERSION)}
    for rid, (verdict, reason) in verdicts.items():
        assert "forbidden" not in reason.lower(), (rid, reason)
        assert verdict in ("pass", "not_applicable"), (rid, verdict, reason)
    # Lanes, the default: the serial lane began while the background probes ran, cluster autoscaling
    # (a background job: its pool starts empty here) and pod autoscaling (its pods pinned to one
    # node) ran beside the serial lane, and gang scheduling began only after every background probe
    # had ended.
    rows = {r["requirement"]: r for r in results["requirements"] + results["extras"]}
    background = ("ai_inference", "ai_service_metrics", "pod_autoscaling", "robust_controller", "workload_sandboxing", "cluster_autoscaling")
    background_end = max(interval(rows[rid])[1] for rid in background)
    assert interval(rows["dra_support"])[0] < background_end - 1
    assert interval(rows["cluster_autoscaling"])[0] < interval(rows["high_performance_networking"])[0] - 1
    assert rows["cluster_autoscaling"]["observations"]["alongside"]["waited_s"] == 0.0
    assert interval(rows["pod_autoscaling"])[0] < interval(rows["secure_accelerator_access"])[1] - 1
    assert rows["pod_autoscaling"]["observations"]["placement"]["pinned_node"]
    assert interval(rows["gang_scheduling"])[0] >= background_end - 1
    # The identity's token is in no file of the bundle.
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert token not in f.read_text(errors="replace"), f
