"""FAKE GPU inventory for the reference cluster, derived from a real recorded H100.

Reads the recorded ``nvidia-smi -q -x`` of one real NVIDIA H100 (fixtures/SOURCE.md) and expands it
into the GPUs of the fake node pools.  Used by the fake DRA driver, the node bootstrap and (later)
the fake DCGM exporter, so that every fake agrees on GPU identity.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass(frozen=True)
class GPU:
    node: str
    minor: int
    uuid: str
    pci_bus_id: str
    product: str
    memory_mib: int
    cc_major: int
    cc_minor: int
    driver_version: str
    cuda_version: str
    architecture: str
    brand: str
    synthesized: bool

    @property
    def device_name(self) -> str:
        """DRA device name as the NVIDIA DRA driver publishes it."""
        return "gpu-%d" % self.minor


def recorded_gpu(path: Path | None = None) -> dict[str, Any]:
    root = ET.parse(str(path or FIXTURES / "h100-nvidia-smi-q.xml")).getroot()
    gpu = root.find("gpu")
    if gpu is None:
        raise ValueError("no <gpu> in recording")

    def t(xpath: str) -> str:
        el = gpu.find(xpath)
        return (el.text or "").strip() if el is not None else ""

    mem = int(t("fb_memory_usage/total").split()[0])
    # nvidia-smi prints "9.0" as compute capability only in the CSV; the XML lacks it on this driver.
    cc = "9.0"
    csv = (FIXTURES / "h100-query.csv").read_text().splitlines()
    if len(csv) > 1:
        head = [h.strip() for h in csv[0].split(",")]
        row = [c.strip() for c in csv[1].split(",")]
        cc = row[head.index("compute_cap")]
    return {
        "product": t("product_name"),
        "brand": t("product_brand"),
        "architecture": t("product_architecture"),
        "uuid": t("uuid"),
        "pci_bus_id": t("pci/pci_bus_id"),
        "memory_mib": mem,
        "driver_version": root.findtext("driver_version", "").strip(),
        "cuda_version": root.findtext("cuda_version", "").strip(),
        "cc": cc,
    }


def load_pools(path: Path | None = None) -> dict[str, Any]:
    with (path or FIXTURES / "gpu-nodes.yaml").open() as fh:
        return yaml.safe_load(fh)


def gpus_for_node(node: str, count: int, rec: dict[str, Any], buses: list[str], first: bool) -> list[GPU]:
    major, minor = (int(x) for x in rec["cc"].split("."))
    out = []
    for i in range(count):
        real = first and i == 0
        gid = rec["uuid"] if real else "GPU-%s" % uuid.uuid5(uuid.UUID(rec["uuid"][4:]), "%s/%d" % (node, i))
        bus = rec["pci_bus_id"] if real else "00000000:%s:00.0" % buses[i % len(buses)].upper()
        out.append(
            GPU(
                node,
                i,
                gid,
                bus,
                rec["product"],
                rec["memory_mib"],
                major,
                minor,
                rec["driver_version"],
                rec["cuda_version"],
                rec["architecture"],
                rec["brand"],
                not real,
            )
        )
    return out


def inventory(pools: dict[str, Any] | None = None) -> dict[str, list[GPU]]:
    """node name -> its GPUs (empty for CPU nodes)."""
    pools = pools or load_pools()
    rec = recorded_gpu()
    result: dict[str, list[GPU]] = {}
    first = True
    for pool in pools["pools"]:
        for node in pool["nodes"]:
            n = int(pool["gpus_per_node"])
            result[node] = gpus_for_node(node, n, rec, pools["hgx_bus_numbers"], first and n > 0)
            if n:
                first = False
    return result


def gfd_labels(gpus: list[GPU]) -> dict[str, str]:
    """The labels NVIDIA GPU feature discovery and the GPU operator put on a GPU node."""
    if not gpus:
        return {}
    g = gpus[0]
    dmaj, dmin, drev = (g.driver_version.split(".") + ["0", "0"])[:3]
    cmaj, cmin = (g.cuda_version.split(".") + ["0"])[:2]
    return {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": g.product.replace(" ", "-"),
        "nvidia.com/gpu.memory": str(g.memory_mib),
        "nvidia.com/gpu.count": str(len(gpus)),
        "nvidia.com/gpu.family": g.architecture.lower(),
        "nvidia.com/gpu.compute.major": str(g.cc_major),
        "nvidia.com/gpu.compute.minor": str(g.cc_minor),
        "nvidia.com/gpu.replicas": "1",
        "nvidia.com/gpu.sharing-strategy": "none",
        "nvidia.com/mig.capable": "true",
        "nvidia.com/mig.strategy": "single",
        "nvidia.com/cuda.driver-version.major": dmaj,
        "nvidia.com/cuda.driver-version.minor": dmin,
        "nvidia.com/cuda.driver-version.revision": drev,
        "nvidia.com/cuda.driver-version.full": g.driver_version,
        "nvidia.com/cuda.driver.major": dmaj,
        "nvidia.com/cuda.driver.minor": dmin,
        "nvidia.com/cuda.driver.rev": drev,
        "nvidia.com/cuda.runtime-version.major": cmaj,
        "nvidia.com/cuda.runtime-version.minor": cmin,
        "nvidia.com/cuda.runtime-version.full": g.cuda_version,
        "nvidia.com/cuda.runtime.major": cmaj,
        "nvidia.com/cuda.runtime.minor": cmin,
        "feature.node.kubernetes.io/pci-10de.present": "true",
    }


def node_manifests(pools: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """kwok-managed Node objects for every pool, with capacity set at creation."""
    pools = pools or load_pools()
    inv = inventory(pools)
    nodes = []
    for pool in pools["pools"]:
        for name in pool["nodes"]:
            gpus = inv[name]
            labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "node.kubernetes.io/instance-type": pool["instance_type"],
                "topology.kubernetes.io/zone": "refcluster-a",
                "refcluster.ai-conformance.io/pool": pool["name"],
            }
            labels.update(gfd_labels(gpus))
            labels.update(pool.get("labels") or {})
            cap = {"cpu": pool["cpu"], "memory": pool["memory"], "pods": "110", "ephemeral-storage": "1Ti"}
            if gpus:
                cap["nvidia.com/gpu"] = str(len(gpus))
            nodes.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
                    "spec": {"taints": list(pool["taints"])} if pool.get("taints") else {},
                    "status": {
                        "capacity": dict(cap),
                        "allocatable": dict(cap),
                        "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "fake", "containerRuntimeVersion": "kwok://fake"},
                    },
                }
            )
    return nodes


HOST_NODE = "refcluster-host"
HOST_TAINT = "refcluster.ai-conformance.io/host-processes"


def host_node_manifest(ip: str) -> dict[str, Any]:
    """The node that stands for this machine: pods bound to it with host networking are the local
    processes (Prometheus, the DCGM exporter, the metrics example service); kwok gives them the
    node's InternalIP, which is this machine's address, so Services and scrapes reach the
    processes.  Tainted so that no other pod lands on it."""
    labels = {
        "kubernetes.io/hostname": HOST_NODE,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        "refcluster.ai-conformance.io/pool": "host",
    }
    cap = {"cpu": "2", "memory": "24Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": HOST_NODE, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"taints": [{"key": HOST_TAINT, "value": "true", "effect": "NoSchedule"}]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": HOST_NODE}],
            "capacity": dict(cap),
            "allocatable": dict(cap),
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "fake", "containerRuntimeVersion": "kwok://fake"},
        },
    }


# Real worker nodes (kubelet + containerd), named apart from the kwok pools so that nothing
# publishes or creates them twice.  refcluster-rt-1 is a GPU node whose GPUs are fakes a container
# can see (device nodes through CDI, a fake nvidia-smi), tainted as GPU pools are on GKE, EKS and
# AKS; refcluster-rt-2 is a gVisor sandbox node, labelled and tainted as GKE Sandbox nodes are.
RUNTIME_NODES = ("refcluster-rt-1", "refcluster-rt-2")
RUNTIME_NODE_SPECS: dict[str, dict[str, Any]] = {
    "refcluster-rt-1": {"gpus": 2, "labels": {}, "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
    "refcluster-rt-2": {
        "gpus": 0,
        "labels": {"sandbox.gke.io/runtime": "gvisor"},
        "taints": [{"key": "sandbox.gke.io/runtime", "value": "gvisor", "effect": "NoSchedule"}],
    },
}
NVIDIA_MAJOR = 195  # char major of /dev/nvidia* (shared/reference/fixtures/h100/dev-nodes.txt)
NVIDIACTL_MINOR = 255


def runtime_node_inventory(node: str) -> dict[str, Any]:
    """The inventory file a real node's fake GPU agents read (gpus.json): the same identity rules as
    the kwok GPUs, from the same recording, so every fake agrees on a GPU's UUID."""
    rec = recorded_gpu()
    buses = load_pools()["hgx_bus_numbers"]
    gpus = gpus_for_node(node, RUNTIME_NODE_SPECS[node]["gpus"], rec, buses, False)
    return {
        "node": node,
        "driver_version": rec["driver_version"],
        "cuda_version": rec["cuda_version"],
        "source": "tests/refcluster/fixtures/h100-nvidia-smi-q.xml (a real H100; UUIDs after the first are derived)",
        "gpus": [
            {
                "minor": g.minor,
                "uuid": g.uuid,
                "pci_bus_id": g.pci_bus_id,
                "product": g.product,
                "brand": g.brand,
                "architecture": g.architecture,
                "memory_mib": g.memory_mib,
                "cc_major": g.cc_major,
                "cc_minor": g.cc_minor,
            }
            for g in gpus
        ],
    }


def gpu_count(node: dict[str, Any]) -> int:
    """How many GPUs a fake node has: what its device plugin would advertise, the larger of its
    capacity and allocatable ``nvidia.com/gpu``.  Karpenter's kwok provider writes a launched node's
    capacity from the pods it was launched for (one GPU) and its allocatable from the instance type
    (eight); a real node's kubelet reports capacity >= allocatable."""
    status = node.get("status") or {}
    counts = [int(str((status.get(k) or {}).get("nvidia.com/gpu", "0") or 0)) for k in ("capacity", "allocatable")]
    return max(counts)
