"""FAKE NVIDIA DRA driver for the reference cluster.

Stands in for the kubelet plugin of the NVIDIA DRA driver for GPUs (driver name gpu.nvidia.com),
which needs a real GPU and kubelet.  It does what that plugin does at the API level:

- installs the DeviceClass ``gpu.nvidia.com`` that the driver's Helm chart installs, if missing;
- publishes one ResourceSlice per GPU node (pool = node name), devices ``gpu-<minor>`` with the
  attributes and capacity the real driver publishes (apis.md section 1), owned by the Node so the
  garbage collector removes them with the node;
- follows nodes through a watch: a GPU node that appears later (e.g. from the cluster autoscaler)
  gets its slice, with GPUs synthesized from its ``nvidia.com/gpu`` capacity;
- on SIGTERM deletes its slices, as kubelet does when a plugin unregisters.

It cannot prepare devices (no CDI, no containers): kwok pods never see a GPU.  GPU identity comes
from a recorded real H100 (tests/refcluster/fixtures/SOURCE.md).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.refcluster.config import ensure_collection_path

ensure_collection_path()

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError, get_client  # noqa: E402
from tests.refcluster.fakes import gpus as gpumod  # noqa: E402

DRIVER = "gpu.nvidia.com"
LABEL = {"app.kubernetes.io/managed-by": "refcluster-fake-dra-driver"}
GPU_NODE_LABEL = "nvidia.com/gpu.present"


def semver(v: str) -> str:
    """DRA version attributes are semver; NVIDIA driver versions have a zero-padded patch."""
    parts = [str(int(p)) for p in v.split(".")] + ["0", "0"]
    return ".".join(parts[:3])


def device_class() -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": DRIVER, "labels": dict(LABEL)},
        "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'"}}]},
    }


def slice_for(node: dict[str, Any], gpus: list[gpumod.GPU], generation: int = 1) -> dict[str, Any]:
    name = node["metadata"]["name"]
    devices = []
    for g in gpus:
        bus = g.pci_bus_id.lower()[4:] if len(g.pci_bus_id) > 12 else g.pci_bus_id.lower()
        devices.append(
            {
                "name": g.device_name,
                "attributes": {
                    "type": {"string": "gpu"},
                    "uuid": {"string": g.uuid},
                    "productName": {"string": g.product},
                    "brand": {"string": g.brand},
                    "architecture": {"string": g.architecture},
                    "cudaComputeCapability": {"version": "%d.%d.0" % (g.cc_major, g.cc_minor)},
                    "driverVersion": {"version": semver(g.driver_version)},
                    "cudaDriverVersion": {"version": semver(g.cuda_version)},
                    "index": {"int": g.minor},
                    "minor": {"int": g.minor},
                    "resource.kubernetes.io/pciBusID": {"string": bus},
                    "resource.kubernetes.io/pcieRoot": {"string": "pci0000:%s" % bus.split(":")[1]},
                },
                "capacity": {"memory": {"value": "%dMi" % g.memory_mib}},
            }
        )
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {
            "name": "%s-%s" % (name, DRIVER),
            "labels": dict(LABEL),
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}],
        },
        "spec": {"driver": DRIVER, "nodeName": name, "pool": {"name": name, "generation": generation, "resourceSliceCount": 1}, "devices": devices},
    }


class FakeDriver:
    """Follows the GPU nodes and publishes one slice per node; subclasses change what is published."""

    driver = DRIVER
    class_name = DRIVER

    def __init__(self, kubeconfig: str) -> None:
        self.client = get_client({"kubeconfig": kubeconfig})
        self.inventory = gpumod.inventory()
        self.rec = gpumod.recorded_gpu()
        self.published: set[str] = set()
        self.stopping = False

    def make_class(self) -> dict[str, Any]:
        return device_class()

    def make_slice(self, node: dict[str, Any], gpus: list[gpumod.GPU]) -> dict[str, Any]:
        return slice_for(node, gpus)

    def gpus_of(self, node: dict[str, Any]) -> list[gpumod.GPU]:
        name = node["metadata"]["name"]
        if self.inventory.get(name):
            return self.inventory[name]
        count = gpumod.gpu_count(node)
        pools = gpumod.load_pools()
        return gpumod.gpus_for_node(name, count, self.rec, pools["hgx_bus_numbers"], False)

    def ensure_class(self) -> None:
        if self.client.get("resource.k8s.io/v1", "DeviceClass", self.class_name) is None:
            self.client.create(self.make_class())

    def reconcile(self, node: dict[str, Any]) -> None:
        if node["metadata"].get("labels", {}).get(GPU_NODE_LABEL) != "true" or node["metadata"].get("deletionTimestamp"):
            return
        if (node["metadata"].get("annotations") or {}).get("kwok.x-k8s.io/node") != "fake":
            return  # a real node: its own kubelet plugin (fake-gpu-node) publishes and prepares its GPUs
        gpus = self.gpus_of(node)
        if not gpus:
            return
        want = self.make_slice(node, gpus)
        name = want["metadata"]["name"]
        have = self.client.get("resource.k8s.io/v1", "ResourceSlice", name)
        if have is None:
            self.client.create(want)
            print("published %s (%d devices)" % (name, len(want["spec"]["devices"])), flush=True)
        elif len(have["spec"].get("devices") or []) != len(want["spec"]["devices"]):
            # The node's GPUs changed (a launched node's status is completed after it appears): the
            # pool is published again, one generation up, as the driver does when its devices change.
            want["spec"]["pool"]["generation"] = int(have["spec"]["pool"].get("generation") or 1) + 1
            self.client.patch("resource.k8s.io/v1", "ResourceSlice", name, {"spec": want["spec"]})
            print("republished %s (%d devices)" % (name, len(want["spec"]["devices"])), flush=True)
        self.published.add(name)

    def forget(self, node_name: str) -> None:
        self.published.discard("%s-%s" % (node_name, self.driver))

    def withdraw(self) -> None:
        for name in sorted(self.published):
            try:
                self.client.delete("resource.k8s.io/v1", "ResourceSlice", name)
            except ClusterError as exc:
                print("could not delete %s: %s" % (name, exc), flush=True)
        self.published.clear()

    def run(self, ready_file: str) -> None:
        self.ensure_class()
        ready_written = False
        while not self.stopping:
            doc = self.client.list("v1", "Node", label_selector="%s=true" % GPU_NODE_LABEL)
            for node in doc["items"]:
                self.reconcile(node)
            if not ready_written:
                Path(ready_file).parent.mkdir(parents=True, exist_ok=True)
                Path(ready_file).write_text("%d\n" % len(self.published))
                ready_written = True
            for ev in self.client.watch("v1", "Node", resource_version=doc["resourceVersion"], label_selector="%s=true" % GPU_NODE_LABEL, timeout_s=60):
                if self.stopping:
                    break
                if ev.get("type") in ("ADDED", "MODIFIED"):
                    self.reconcile(ev["object"])
                elif ev.get("type") == "DELETED":
                    self.forget(ev["object"]["metadata"]["name"])
                elif ev.get("type") == "ERROR":
                    break


def main(driver_cls: type = FakeDriver, description: str = "") -> int:
    """Run a fake DRA driver until SIGTERM, which withdraws its slices (shared by the fake DRANET)."""
    ap = argparse.ArgumentParser(description=description or __doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--fixture", default="")
    ap.add_argument("--ready-file", required=True)
    args = ap.parse_args()
    drv = driver_cls(args.kubeconfig)

    def stop(_sig: int, _frm: Any) -> None:
        drv.stopping = True
        drv.withdraw()
        print("withdrew slices, exiting", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            drv.run(args.ready_file)
        except ClusterError as exc:
            print("API error, retrying in 2 s: %s" % exc, flush=True)
            time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
