"""The reference cluster's shape (tests/unit/fixtures/refcluster.json): its kwok nodes, the NVIDIA
DRA driver's and DRANET's slices, and its real GPU and gVisor nodes."""

from __future__ import annotations

import copy
from typing import Any

from .base import CONTAINERD, GVISOR_KERNEL, HOST_KERNEL, REFCLUSTER
from .cluster import FakeCluster
from .leases import serve_leases


def kwok_nodes() -> list[dict[str, Any]]:
    """The reference cluster's kwok nodes (two 8-GPU H100 nodes, a CPU node, a gVisor sandbox node),
    with the Ready condition kwok gives them."""
    out = copy.deepcopy(REFCLUSTER["kwok_nodes"])
    for n in out:
        n["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    return out


def gfd_driver_labels(version: str) -> dict[str, str]:
    """The driver labels GPU feature discovery sets (as on the kwok nodes of the fixture)."""
    major, minor, rev = (version.split(".") + ["", ""])[:3]
    prefix = "nvidia.com/cuda.driver-version."
    return {prefix + "full": version, prefix + "major": major, prefix + "minor": minor, prefix + "revision": rev}


def runtime_gpu_node(name: str = "refcluster-rt-1", runtime: str = CONTAINERD) -> dict[str, Any]:
    """The reference cluster's real GPU node (kubelet + containerd, 2 fake GPUs, GPU taint)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": dict(gfd_driver_labels(REFCLUSTER["driver_version"]), **{"kubernetes.io/hostname": name, "nvidia.com/gpu.present": "true"}),
        },
        "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
        "status": {
            "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "2"},
            "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "2"},
            "nodeInfo": {"containerRuntimeVersion": runtime, "kernelVersion": HOST_KERNEL, "kubeletVersion": "v1.37.2"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def sandbox_runtime_node(name: str = "refcluster-rt-2") -> dict[str, Any]:
    """The reference cluster's real gVisor node, labelled and tainted as GKE Sandbox nodes are."""
    node = runtime_gpu_node(name)
    node["metadata"]["labels"] = {"kubernetes.io/hostname": name, "sandbox.gke.io/runtime": "gvisor"}
    node["spec"]["taints"] = [{"key": "sandbox.gke.io/runtime", "value": "gvisor", "effect": "NoSchedule"}]
    for k in ("capacity", "allocatable"):
        node["status"][k].pop("nvidia.com/gpu")
    return node


def reference_cluster(dra: bool = True, runtime_node: bool = False, nics: bool = False) -> FakeCluster:
    """A fake shaped like the reference cluster: its kwok nodes, and (dra) the NVIDIA DRA driver's
    DeviceClass and slices, (nics) DRANET's, (runtime_node) the real GPU node refcluster-rt-1."""
    c = FakeCluster()
    serve_leases(c)  # a real API server always serves coordination.k8s.io Leases
    for n in kwok_nodes():
        c.create_obj(n)
    if dra:
        c.apply(REFCLUSTER["device_classes"][0], *REFCLUSTER["gpu_slices"])
    if nics:
        c.apply(REFCLUSTER["device_classes"][1], *REFCLUSTER["nic_slices"])
    if runtime_node:
        add_runtime_gpu_node(c, dra=dra)
    c.settle()
    return c


def add_sandbox_node(c: FakeCluster, handlers: dict[str, str] | None = None) -> None:
    """The real gVisor node: runc runs on the host kernel, runsc on gVisor's."""
    c.create_obj(sandbox_runtime_node())
    c.node_runtime["refcluster-rt-2"] = {"kernel": HOST_KERNEL, "handlers": handlers or {"runc": HOST_KERNEL, "runsc": GVISOR_KERNEL}}
    c.settle()


def add_runtime_gpu_node(c: FakeCluster, dra: bool = True, faults: tuple[str, ...] = (), driver_version: str | None = None, replicas: int = 1) -> None:
    """The real GPU node; ``replicas`` > 1: its device plugin time-slices each GPU that many times."""
    c.create_obj(runtime_gpu_node())
    c.node_runtime["refcluster-rt-1"] = {
        "replicas": replicas,
        "gpus": REFCLUSTER["rt_gpus"],
        "driver_version": driver_version or REFCLUSTER["driver_version"],
        "kernel": HOST_KERNEL,
        "handlers": {"runc": HOST_KERNEL},
        "faults": faults,
    }
    if dra:
        c.create_obj(REFCLUSTER["rt_gpu_slice"])
    c.settle()
