from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import client as cl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe
from ansible_collections.ai_conformance.kubernetes.plugins.modules import cluster_info
from tests.unit.conftest import FakeClient, closed_port, kubeconfig_text, status_body


@pytest.fixture(autouse=True)
def _no_pool():
    cl._POOL.clear()


def gpu_node(name, gpus, ready=True):
    return {
        "metadata": {"name": name, "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "kubernetes.io/os": "linux"}},
        "status": {
            "capacity": {"cpu": "96", "nvidia.com/gpu": str(gpus)},
            "allocatable": {"cpu": "96", "nvidia.com/gpu": str(gpus)},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "nodeInfo": {"kubeletVersion": "v1.37.2"},
        },
    }


def cpu_node(name):
    return {
        "metadata": {"name": name, "labels": {}},
        "status": {"capacity": {"cpu": "16"}, "allocatable": {"cpu": "16"}, "conditions": [{"type": "Ready", "status": "True"}]},
    }


FAKE = FakeClient(
    paths={
        "/version": {"major": "1", "minor": "37+", "gitVersion": "v1.37.2", "platform": "linux/amd64"},
        "/api": {"versions": ["v1"]},
        "/apis": {
            "groups": [
                {"name": "resource.k8s.io", "versions": [{"groupVersion": "resource.k8s.io/v1"}], "preferredVersion": {"groupVersion": "resource.k8s.io/v1"}}
            ]
        },
    },
    lists={
        ("v1", "Node"): [gpu_node("g1", 8), gpu_node("g2", 8, ready=False), cpu_node("c1")],
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): [
            {
                "metadata": {"name": "rayclusters.ray.io"},
                "spec": {"group": "ray.io", "names": {"kind": "RayCluster"}, "versions": [{"name": "v1", "served": True, "storage": True}]},
                "status": {"conditions": [{"type": "Established", "status": "True"}]},
            }
        ],
        ("resource.k8s.io/v1", "DeviceClass"): [{"metadata": {"name": "gpu.nvidia.com"}}],
        ("resource.k8s.io/v1", "ResourceSlice"): [{"spec": {"driver": "gpu.nvidia.com", "nodeName": "g1", "devices": [{"name": "gpu-0"}, {"name": "gpu-1"}]}}],
        ("node.k8s.io/v1", "RuntimeClass"): [{"metadata": {"name": "gvisor"}, "handler": "runsc"}],
    },
)


def test_facts_from_api_objects(run_module, monkeypatch):
    monkeypatch.setattr(probe, "get_client", lambda params: FAKE)
    res = run_module(cluster_info.main, {"kubeconfig": "/unused"})
    assert not res.failed and res.result["changed"] is False
    c = res.result["cluster"]
    assert c["version"] == {"git_version": "v1.37.2", "major": "1", "minor": "37", "platform": "linux/amd64"}
    assert c["accelerator_totals"] == {"nvidia.com/gpu": 16}
    assert c["accelerator_nodes"] == ["g1", "g2"]
    assert (c["node_count"], c["ready_node_count"]) == (3, 2)
    assert c["gpu_products"] == ["NVIDIA-H100-80GB-HBM3"]
    assert c["nodes"][0]["labels"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert c["apis"]["dra"] is True and c["apis"]["gateway_api"] is False
    assert c["crds"][0]["established"] is True
    assert c["dra"]["drivers"] == {"gpu.nvidia.com": {"slices": 1, "devices": 2, "nodes": ["g1"]}}
    assert c["runtime_classes"] == [{"name": "gvisor", "handler": "runsc"}]


def test_check_mode_reads_the_same(run_module, monkeypatch):
    monkeypatch.setattr(probe, "get_client", lambda params: FAKE)
    res = run_module(cluster_info.main, {"kubeconfig": "/unused", "gather": ["nodes"]}, check_mode=True)
    assert res.result["cluster"]["accelerator_totals"] == {"nvidia.com/gpu": 16}
    assert "version" not in res.result["cluster"]


def test_nonexistent_kubeconfig_fails_in_one_line(run_module, tmp_path):
    res = run_module(cluster_info.main, {"kubeconfig": str(tmp_path / "missing")})
    assert res.failed
    assert res.result["msg"] == "kubeconfig %s does not exist (set kubeconfig, K8S_AUTH_KUBECONFIG or KUBECONFIG)" % (tmp_path / "missing")
    assert res.result["error_kind"] == "config"


def test_wrong_context_fails(run_module, tmp_path):
    kc = tmp_path / "kc"
    kc.write_text(kubeconfig_text("http://127.0.0.1:1", context="a"))
    res = run_module(cluster_info.main, {"kubeconfig": str(kc), "context": "b"})
    assert res.failed and "context 'b' not found" in res.result["msg"] and "\n" not in res.result["msg"]


def test_unreachable_fails(run_module, tmp_path):
    kc = tmp_path / "kc"
    kc.write_text(kubeconfig_text("http://127.0.0.1:%d" % closed_port()))
    res = run_module(cluster_info.main, {"kubeconfig": str(kc)})
    assert res.failed and res.result["error_kind"] == "unreachable"
    assert res.result["msg"].startswith("cannot reach the Kubernetes API at http://127.0.0.1:")


def test_forbidden_fails_with_the_servers_reason(run_module, api_server):
    kc = api_server(
        {
            "/version": (200, {"major": "1", "minor": "37", "gitVersion": "v1.37.2"}),
            "/api/v1": (200, {"resources": [{"name": "nodes", "kind": "Node", "namespaced": False}]}),
            "/api/v1/nodes": (403, status_body(403, "Forbidden", 'nodes is forbidden: User "nobody" cannot list resource "nodes" at the cluster scope')),
        }
    )
    res = run_module(cluster_info.main, {"kubeconfig": kc, "gather": ["nodes"]})
    assert res.failed and res.result["error_kind"] == "forbidden"
    assert res.result["msg"] == ('forbidden (403) to list Node: nodes is forbidden: User "nobody" cannot list resource "nodes" at the cluster scope')


def test_bad_gather_choice_is_rejected(run_module):
    res = run_module(cluster_info.main, {"gather": ["gpus"]})
    assert res.failed and "gather" in res.result["msg"]
