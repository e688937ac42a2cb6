from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import isolation as iso


def node(name, gpus, unschedulable=False):
    return {"metadata": {"name": name}, "spec": {"unschedulable": unschedulable}, "status": {"allocatable": {"nvidia.com/gpu": str(gpus)}}}


def pod(node_name, gpus, phase="Running"):
    return {"spec": {"nodeName": node_name, "containers": [{"resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}, "status": {"phase": phase}}


def test_free_accounts_running_pods_only_and_skips_cordoned_nodes():
    nodes = [node("a", 8), node("b", 8, unschedulable=True), node("c", 0)]
    pods = [pod("a", 2), pod("a", 1, phase="Succeeded"), pod("a", 3), pod(None, 1)]
    assert iso.free_by_node(nodes, pods, "nvidia.com/gpu") == {"a": 3}


def test_idle_dra_nodes_excludes_nodes_with_any_allocated_device():
    slices = [
        {"metadata": {"name": n}, "spec": {"driver": "d", "nodeName": n, "pool": {"name": n}, "devices": [{"name": "g0"}, {"name": "g1"}]}}
        for n in ("n1", "n2")
    ]
    claims = [{"status": {"allocation": {"devices": {"results": [{"driver": "d", "pool": "n1", "device": "g0"}]}}}}]
    assert iso.idle_dra_nodes(slices, claims, "d") == {"n2": 2}


def test_host_device_access_is_found():
    p = {"spec": {"volumes": [{"name": "x", "hostPath": {"path": "/dev/nvidia0"}}], "containers": [{"name": "c", "securityContext": {"privileged": True}}]}}
    assert iso.host_device_access(p) == ["hostPath volume /dev/nvidia0", "privileged container c"]
    assert iso.host_device_access({"spec": {"containers": [{"name": "c"}]}}) == []
