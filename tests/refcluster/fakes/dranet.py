"""FAKE DRANET (kubernetes-sigs/dranet) for the reference cluster.

Stands in for the DRANET node agent, which discovers the host's network interfaces through netlink
and sysfs and therefore needs real NICs.  It does what DRANET does at the API level: for every GPU
node it publishes one ResourceSlice of driver ``dra.net`` (pool = node name, owned by the Node) with
one device per NIC, and installs a DeviceClass selecting the RDMA-capable ones.

The NIC layout is that of an AWS p5 node as DRANET publishes it (the attribute names, value types
and device naming follow the slice recorded on EKS in DRANET's examples, see
tests/refcluster/fixtures/SOURCE.md): one EFA (RDMA) adapter on the PCIe root of each GPU, so a
GPU and a NIC can be allocated aligned on ``resource.kubernetes.io/pcieRoot``, and the primary ENA
interface (no RDMA) on a root without a GPU.  It cannot attach interfaces to pods (no CNI, no
containers).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.refcluster.config import ensure_collection_path

ensure_collection_path()

from tests.refcluster.fakes import dra_driver  # noqa: E402
from tests.refcluster.fakes import gpus as gpumod  # noqa: E402

DRIVER = "dra.net"
DEVICE_CLASS = "rdma.dra.net"
LABEL = {"app.kubernetes.io/managed-by": "refcluster-fake-dranet"}
PRIMARY_ROOT = "20"  # the ENA's root: no GPU of the HGX layout sits there


def device_class() -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": DEVICE_CLASS, "labels": dict(LABEL)},
        "spec": {"selectors": [{"cel": {"expression": "device.driver == 'dra.net' && device.attributes['dra.net'].rdma == true"}}]},
    }


def _root_of(gpu: gpumod.GPU) -> str:
    bus = gpu.pci_bus_id.lower()[4:] if len(gpu.pci_bus_id) > 12 else gpu.pci_bus_id.lower()
    return bus.split(":")[1]


def nic_devices(gpus: list[gpumod.GPU]) -> list[dict[str, Any]]:
    devices = []
    for i, g in enumerate(gpus):
        root = _root_of(g)
        numa = 0 if i < len(gpus) / 2 else 1
        devices.append(
            {
                "name": "pci-0000-%s-1b-0" % root,
                "attributes": {
                    "dra.net/numaNode": {"int": numa},
                    "dra.net/pciAddress": {"string": "0000:%s:1b.0" % root},
                    "dra.net/pciDevice": {"string": "Elastic Fabric Adapter (EFA)"},
                    "dra.net/pciSubsystem": {"string": "efa0"},
                    "dra.net/pciVendor": {"string": "Amazon.com, Inc."},
                    "dra.net/rdma": {"bool": True},
                    "dra.net/rdmaDevice": {"string": "rdmap%ss27" % int(root, 16)},
                    "resource.kubernetes.io/pcieRoot": {"string": "pci0000:%s" % root},
                },
            }
        )
    devices.append(
        {
            "name": "pci-0000-%s-01-0" % PRIMARY_ROOT,
            "attributes": {
                "dra.net/ifName": {"string": "ens65"},
                "dra.net/encapsulation": {"string": "ether"},
                "dra.net/mtu": {"int": 9001},
                "dra.net/numaNode": {"int": 0},
                "dra.net/pciAddress": {"string": "0000:%s:01.0" % PRIMARY_ROOT},
                "dra.net/pciDevice": {"string": "Elastic Network Adapter (ENA)"},
                "dra.net/pciVendor": {"string": "Amazon.com, Inc."},
                "dra.net/rdma": {"bool": False},
                "dra.net/sriov": {"bool": False},
                "dra.net/state": {"string": "up"},
                "dra.net/type": {"string": "device"},
                "dra.net/virtual": {"bool": False},
                "resource.kubernetes.io/pcieRoot": {"string": "pci0000:%s" % PRIMARY_ROOT},
            },
        }
    )
    return devices


def slice_for(node: dict[str, Any], gpus: list[gpumod.GPU], generation: int = 1) -> dict[str, Any]:
    name = node["metadata"]["name"]
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {
            "name": "%s-%s" % (name, DRIVER),
            "labels": dict(LABEL),
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}],
        },
        "spec": {
            "driver": DRIVER,
            "nodeName": name,
            "pool": {"name": name, "generation": generation, "resourceSliceCount": 1},
            "devices": nic_devices(gpus),
        },
    }


class FakeDranet(dra_driver.FakeDriver):
    """The GPU driver's node following and slice life cycle, with NIC slices instead."""

    driver = DRIVER
    class_name = DEVICE_CLASS

    def make_class(self) -> dict[str, Any]:
        return device_class()

    def make_slice(self, node: dict[str, Any], gpus: list[gpumod.GPU]) -> dict[str, Any]:
        return slice_for(node, gpus)


def main() -> int:
    return dra_driver.main(FakeDranet, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
