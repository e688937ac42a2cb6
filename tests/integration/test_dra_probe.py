"""dra_probe on the reference cluster: pass when healthy, FAIL with the right reason when broken."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure

pytestmark = pytest.mark.integration


def _no_leftovers(k8s, run_id):
    sel = "ai-conformance.io/run-id=%s" % run_id
    for ns in k8s.list("v1", "Namespace", label_selector=sel)["items"]:
        assert ns["status"]["phase"] == "Terminating", ns["metadata"]["name"]
    assert k8s.list("resource.k8s.io/v1", "ResourceClaim", label_selector=sel)["items"] == [] or all(
        c["metadata"].get("deletionTimestamp") for c in k8s.list("resource.k8s.io/v1", "ResourceClaim", label_selector=sel)["items"]
    )


def test_dra_probe_passes_on_the_reference_cluster(ansible_module, k8s):
    res = ansible_module("dra_probe", run_id="it-dra-pass", observe_seconds=4)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    assert res.get("changed") is False
    checks = {c["name"]: c for c in r["checks"]}
    for name in (
        "claim allocated",
        "device published in a ResourceSlice",
        "pod on the device's node",
        "claim reserved for the pod",
        "allocated device still published after allocation",
        "allocated device matches the DeviceClass selectors",
        "claim released after its pod is gone",
        "freed device handed to the waiting claim",
    ):
        assert checks[name]["ok"] is True, checks[name]
    runtime = checks["container sees exactly the allocated GPU"]
    # Decided on the real node refcluster-rt-1 (tests/integration/test_runtime_lane.py breaks it).
    assert runtime["ok"] is True and runtime["kind"] == "runtime", runtime
    assert len(r["negative"]) == 2 and all(n["refused"] is True for n in r["negative"])
    assert "Unschedulable" in r["negative"][0]["outcome"]
    assert r["observations"]["allocation"]["device_attributes"]["productName"] == "NVIDIA H100 80GB HBM3"
    assert r["observations"]["allocation"]["pod_node"] in r["observations"]["published"]["nodes"]
    _no_leftovers(k8s, "it-dra-pass")


@pytest.mark.fault
def test_fails_when_no_resourceslices_are_published(ansible_module, breaker, k8s):
    # Both publishers gone: the kwok nodes' driver and the real GPU node's kubelet plugin.
    with breaker.stopped("fake-dra-driver"), breaker.node_fault(dra_fault="stopped"):
        assert [s for s in k8s.list("resource.k8s.io/v1", "ResourceSlice")["items"] if s["spec"]["driver"] == "gpu.nvidia.com"] == []
        res = ansible_module("dra_probe", run_id="it-dra-noslice")
    assert res["verdict"] == "fail"
    assert res["reason"] == "no ResourceSlice publishes a device of driver gpu.nvidia.com"


@pytest.mark.fault
def test_fails_when_the_device_class_is_missing(ansible_module, breaker):
    with breaker.deleted("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com"):
        res = ansible_module("dra_probe", run_id="it-dra-noclass")
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("DeviceClass gpu.nvidia.com does not exist")


@pytest.mark.fault
def test_fails_when_the_driver_publishes_other_devices_than_requested(ansible_module):
    # A platform whose class exists but whose driver name differs (misconfigured driver): nothing published for it.
    res = ansible_module("dra_probe", run_id="it-dra-wrongdrv", driver="gpu.example.com")
    assert res["verdict"] == "fail"
    assert res["reason"] == "no ResourceSlice publishes a device of driver gpu.example.com"


def test_check_mode_creates_nothing(ansible_module, k8s):
    res = ansible_module("dra_probe", check=True, run_id="it-dra-check")
    assert res["verdict"] == "skip" and first_failure(res["reason"]).startswith("check mode")
    assert k8s.list("v1", "Namespace", label_selector="ai-conformance.io/run-id=it-dra-check")["items"] == []
