"""virtualization_probe's verdicts against the fake cluster (tests/unit/fakecluster.py)."""

from __future__ import annotations

import copy

from ansible_collections.ai_conformance.kubernetes.plugins.modules import virtualization_probe as mod
from tests.unit import fakecluster as fc

VFIO_CLASS = {  # the NVIDIA DRA driver's passthrough class (shared/reference/apis.md section 1)
    "apiVersion": "resource.k8s.io/v1",
    "kind": "DeviceClass",
    "metadata": {"name": "vfio.gpu.nvidia.com"},
    "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'vfio'"}}]},
}


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def vgpu(c, node="refcluster-gpu-2"):
    c.obj("v1", "Node", node)["metadata"]["labels"]["nvidia.com/vgpu.present"] = "true"
    return c


def passthrough(c, with_devices=True):
    c.apply(VFIO_CLASS)
    if with_devices:  # the driver publishes refcluster-gpu-2's GPUs bound to vfio-pci
        s = c.obj("resource.k8s.io/v1", "ResourceSlice", "refcluster-gpu-2-gpu.nvidia.com")
        for d in s["spec"]["devices"]:
            d["attributes"]["type"] = {"string": "vfio"}
    return c


def test_declared_none_on_a_cluster_without_virtualization_is_not_applicable(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster())
    assert r.verdict == "not_applicable" and r.reason.startswith("the platform exposes physical GPUs")


def test_declared_none_but_vgpu_nodes_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, vgpu(fc.reference_cluster()))
    assert r.verdict == "fail" and r.reason.endswith("exposes them (vGPU nodes ['refcluster-gpu-2'])")


def test_declared_none_but_a_passthrough_class_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, passthrough(fc.reference_cluster()))
    assert r.verdict == "fail" and r.reason.endswith("exposes them (DeviceClass vfio.gpu.nvidia.com)")


def test_vgpu_declared_and_exposed_passes(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, vgpu(fc.reference_cluster()), declared="vgpu")
    assert r.verdict == "pass" and r.ok("a vGPU is schedulable like a physical GPU")
    assert "Insufficient nvidia.com/gpu" in r.negative("nvidia.com/gpu=9")["outcome"]


def test_vgpu_declared_but_absent_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(), declared="vgpu")
    assert r.verdict == "fail" and r.reason.startswith("vGPU is declared but no node is labelled nvidia.com/vgpu.present=true")


def test_vgpu_over_request_admitted_fails(run_module, monkeypatch):
    c = vgpu(fc.reference_cluster())
    c.faults.add("no-extended-resource-fit")
    r = probe(run_module, monkeypatch, c, declared="vgpu")
    assert r.verdict == "fail" and r.reason == "negative case not proven refused: nvidia.com/gpu=9, more vGPUs than any node advertises"


def test_passthrough_declared_and_allocated_exclusively_passes(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, passthrough(fc.reference_cluster()), declared="passthrough")
    assert r.verdict == "pass" and r.ok("claim allocated") and r.ok("pod on the device's node")
    assert r.negative("second claim for the passthrough device")["refused"] is True


def test_passthrough_without_the_class_or_devices_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(), declared="passthrough")
    assert r.verdict == "fail" and r.reason == "passthrough is declared but DeviceClass vfio.gpu.nvidia.com is missing"
    r = probe(run_module, monkeypatch, passthrough(fc.reference_cluster(), with_devices=False), declared="passthrough")
    assert r.verdict == "fail" and r.reason.endswith("has no vfio device published by gpu.nvidia.com")


def test_passthrough_device_handed_to_a_second_claim_fails(run_module, monkeypatch):
    c = passthrough(fc.reference_cluster())
    c.faults.add("dra-double-allocate")
    r = probe(run_module, monkeypatch, c, declared="passthrough")
    assert r.verdict == "fail" and r.negative("second claim for the passthrough device")["refused"] is False


def test_passthrough_class_matching_nothing_schedulable_fails(run_module, monkeypatch):
    c = passthrough(fc.reference_cluster())
    c.obj("resource.k8s.io/v1", "DeviceClass", "vfio.gpu.nvidia.com")["spec"] = copy.deepcopy(VFIO_CLASS["spec"])
    c.obj("resource.k8s.io/v1", "DeviceClass", "vfio.gpu.nvidia.com")["spec"]["selectors"][0]["cel"]["expression"] += " && device.driver == 'none'"
    r = probe(run_module, monkeypatch, c, declared="passthrough")
    assert r.verdict == "fail" and r.failed() == ["passthrough claim scheduled"]
