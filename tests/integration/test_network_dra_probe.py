"""network_dra_probe (high_performance_networking) on the reference cluster.

FAKE DRANET publishes an RDMA EFA adapter on each GPU's PCIe root (tests/refcluster/fakes/dranet.py);
the real scheduler's DRA allocator does the allocation, the multi-device claims and the
matchAttribute alignment with the fake GPU driver's GPUs."""

from __future__ import annotations

import contextlib

import pytest

from tests.integration.reasons import first_failure

pytestmark = pytest.mark.integration

NODE = "refcluster-gpu-1"
ARGS = {"declared": "rdma", "observe_seconds": 3}


def _checks(res):
    return {c["name"]: c for c in res["result"]["checks"]}


@contextlib.contextmanager
def own_nic_slice(k8s, breaker, devices):
    """Replace the fake DRANET's slices with one slice of our own for NODE (a platform whose NICs look like this)."""
    with breaker.stopped("fake-dranet"):
        obj = {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": "it-nic-slice"},
            "spec": {"driver": "dra.net", "nodeName": NODE, "pool": {"name": NODE, "generation": 1, "resourceSliceCount": 1}, "devices": devices},
        }
        k8s.create(obj)
        try:
            yield
        finally:
            k8s.delete("resource.k8s.io/v1", "ResourceSlice", "it-nic-slice")


def test_rdma_nics_are_discoverable_multi_attached_and_aligned_with_gpus(ansible_module, k8s):
    res = ansible_module("network_dra_probe", run_id="it-hpn-pass", **ARGS)
    r = res["result"]
    assert res["verdict"] == "pass", res["reason"]
    assert r["observations"]["rdma_nics"] == {"refcluster-gpu-1": 8, "refcluster-gpu-2": 8}
    assert len(r["observations"]["two_nics"]) == 2
    aligned = _checks(res)["GPU and NIC aligned on resource.kubernetes.io/pcieRoot"]
    assert aligned["ok"] is True
    gpu_root, nic_root = [part.split("=")[1] for part in aligned["detail"].split(", ")]
    assert gpu_root == nic_root and gpu_root.startswith("pci0000:")
    assert [n["refused"] for n in r["negative"]] == [True, True]
    assert r["negative"][0]["case"].startswith("9 RDMA NICs on")
    assert k8s.list("resource.k8s.io/v1", "ResourceClaim", label_selector="ai-conformance.io/run-id=it-hpn-pass")["items"] == []


def test_declared_none_is_not_applicable_with_its_reason(ansible_module):
    res = ansible_module("network_dra_probe", run_id="it-hpn-none", declared="none")
    assert res["verdict"] == "not_applicable" and "single-node" in res["reason"]


@pytest.mark.fault
def test_fails_when_declared_nics_are_not_published(ansible_module, breaker):
    with breaker.stopped("fake-dranet"):
        res = ansible_module("network_dra_probe", run_id="it-hpn-gone", **ARGS)
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("specialized networking is declared: driver dra.net publishes no RDMA NIC (dra.net/rdma=true) on a GPU node")


@pytest.mark.fault
def test_fails_when_the_nic_class_is_missing(ansible_module, breaker):
    with breaker.deleted("resource.k8s.io/v1", "DeviceClass", "rdma.dra.net"):
        res = ansible_module("network_dra_probe", run_id="it-hpn-noclass", **ARGS)
    assert res["verdict"] == "fail" and res["reason"] == "NIC DeviceClass installed: DeviceClass rdma.dra.net does not exist"


@pytest.mark.fault
def test_fails_when_nics_do_not_say_where_they_are(ansible_module, k8s, breaker):
    bare = [{"name": "nic-%d" % i, "attributes": {"dra.net/rdma": {"bool": True}}} for i in range(2)]
    with own_nic_slice(k8s, breaker, bare):
        res = ansible_module("network_dra_probe", run_id="it-hpn-bare", **ARGS)
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("NIC characteristics discoverable: missing:")
    assert "resource.kubernetes.io/pcieRoot" in res["reason"]


@pytest.mark.fault
def test_fails_when_no_nic_shares_a_pcie_root_with_a_gpu(ansible_module, k8s, breaker):
    far = [
        {
            "name": "pci-0000-%s-00-0" % root,
            "attributes": {
                "dra.net/rdma": {"bool": True},
                "dra.net/pciAddress": {"string": "0000:%s:00.0" % root},
                "dra.net/numaNode": {"int": 0},
                "dra.net/rdmaDevice": {"string": "mlx5_%s" % root},
                "resource.kubernetes.io/pcieRoot": {"string": "pci0000:%s" % root},
            },
        }
        for root in ("c0", "c1")
    ]
    with own_nic_slice(k8s, breaker, far):
        res = ansible_module("network_dra_probe", run_id="it-hpn-far", **ARGS)
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("GPU and NIC allocated in one claim: allocated: {}"), res["reason"]
    assert _checks(res)["two RDMA NICs attached to one pod through one claim"]["ok"] is True


def test_bad_input_is_one_line(ansible_module):
    res = ansible_module("network_dra_probe", declared="maybe")
    assert res.get("failed") and "declared" in res["msg"] and "\n" not in res["msg"]
