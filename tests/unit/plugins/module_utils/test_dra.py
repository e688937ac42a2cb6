"""DRA verdict functions on recorded-shape objects (ResourceSlice as the fake driver and the
NVIDIA driver publish it; claim/pod status as kube-scheduler v1.37 wrote them on the reference cluster)."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import dra

DRIVER = "gpu.nvidia.com"


def slice_(node, uuids):
    return {
        "metadata": {"name": "%s-%s" % (node, DRIVER)},
        "spec": {
            "driver": DRIVER,
            "nodeName": node,
            "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
            "devices": [
                {
                    "name": "gpu-%d" % i,
                    "attributes": {"uuid": {"string": u}, "type": {"string": "gpu"}, "index": {"int": i}},
                    "capacity": {"memory": {"value": "81559Mi"}},
                }
                for i, u in enumerate(uuids)
            ],
        },
    }


SLICES = [
    slice_("n1", ["GPU-a", "GPU-b"]),
    slice_("n2", ["GPU-c"]),
    {"metadata": {"name": "other"}, "spec": {"driver": "nic.example.com", "devices": [{"name": "x"}]}},
]
DEVICES = dra.published_devices(SLICES, DRIVER)


def claim(pool="n1", device="gpu-0", driver=DRIVER, reserved=("uid-1",)):
    return {
        "metadata": {"name": "holder"},
        "status": {
            "allocation": {"devices": {"results": [{"request": "accel", "driver": driver, "pool": pool, "device": device}]}},
            "reservedFor": [{"resource": "pods", "name": "holder", "uid": u} for u in reserved],
        },
    }


def pod(node="n1", uid="uid-1"):
    return {"metadata": {"name": "holder", "uid": uid}, "spec": {"nodeName": node}}


def test_published_devices_only_for_the_driver():
    assert set(DEVICES) == {("n1", "gpu-0"), ("n1", "gpu-1"), ("n2", "gpu-0")}
    assert DEVICES[("n1", "gpu-1")]["attributes"] == {"uuid": "GPU-b", "type": "gpu", "index": 1}
    assert DEVICES[("n2", "gpu-0")]["node"] == "n2"


def test_healthy_allocation_passes_every_check():
    checks = dra.check_allocation(claim(), pod(), DEVICES, DRIVER)
    assert [c[1] for c in checks] == [True, True, True, True]


def test_device_on_another_node_than_the_pod_fails():
    checks = dra.check_allocation(claim(pool="n2", device="gpu-0"), pod(node="n1"), DEVICES, DRIVER)
    bad = [c for c in checks if not c[1]]
    assert bad == [("pod on the device's node", False, "device gpu-0 is on node n2 but the pod was bound to n1")]


def test_unpublished_device_fails():
    checks = dra.check_allocation(claim(device="gpu-7"), pod(), DEVICES, DRIVER)
    assert ("device published in a ResourceSlice", False, "no ResourceSlice of gpu.nvidia.com publishes device gpu-7 in pool n1") in checks


def test_other_driver_fails():
    checks = dra.check_allocation(claim(driver="gpu.example.com"), pod(), DEVICES, DRIVER)
    assert any(c[0] == "allocated by the expected driver" and not c[1] for c in checks)


def test_claim_not_reserved_for_the_pod_fails():
    checks = dra.check_allocation(claim(reserved=("someone-else",)), pod(), DEVICES, DRIVER)
    assert ("claim reserved for the pod", False, "reservedFor uids ['someone-else'], pod uid uid-1") in checks


def test_unallocated_claim_fails_first():
    c = {"metadata": {"name": "holder"}, "status": {}}
    assert dra.check_allocation(c, pod(), DEVICES, DRIVER) == [("claim allocated", False, "ResourceClaim holder has no allocation")]
    assert not dra.is_allocated(c)


def test_unique_selector_uses_uuid_and_refuses_ambiguous_devices():
    assert dra.unique_selector(DEVICES[("n1", "gpu-1")], DEVICES, DRIVER) == "device.attributes['gpu.nvidia.com'].uuid == 'GPU-b'"
    dup = dra.published_devices([slice_("n1", ["GPU-same", "GPU-same"])], DRIVER)
    assert dra.unique_selector(dup[("n1", "gpu-0")], dup, DRIVER) is None
