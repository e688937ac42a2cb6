"""DRA verdict functions on recorded-shape objects (ResourceSlice as the fake driver and the
NVIDIA driver publish it; claim/pod status as kube-scheduler v1.37 wrote them on the reference cluster)."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra

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


def _device(**attrs):
    sl = slice_("n1", ["GPU-1"])
    sl["spec"]["devices"][0]["attributes"].update(attrs)
    return dra.published_devices([sl], DRIVER)[("n1", "gpu-0")]


def test_class_selector_clauses_evaluated_and_refused():
    dev = _device(driverVersion={"version": "580.159.4"}, **{"resource.kubernetes.io/pciBusID": {"string": "0000:18:00.0"}})
    assert dra.eval_clause("device.driver == 'gpu.nvidia.com'", DRIVER, dev)[0] is True
    assert dra.eval_clause('device.driver != "gpu.nvidia.com"', DRIVER, dev)[0] is False
    assert dra.eval_clause("device.attributes['gpu.nvidia.com'].type == 'gpu'", DRIVER, dev)[0] is True
    assert dra.eval_clause("device.attributes['gpu.nvidia.com'].index == 1", DRIVER, dev)[0] is False
    assert dra.eval_clause("device.attributes['resource.kubernetes.io'].pciBusID == '0000:18:00.0'", DRIVER, dev)[0] is True
    assert dra.eval_clause("device.attributes['gpu.nvidia.com'].brand == 'NVIDIA'", DRIVER, dev) == (
        False,
        "the device has no attribute gpu.nvidia.com/brand (a CEL error: the class does not select it)",
    )
    # Not evaluated: a version compared with a string, functions, other operators.
    for clause in (
        "device.attributes['gpu.nvidia.com'].driverVersion == '580.159.4'",
        "device.attributes['gpu.nvidia.com'].driverVersion.isGreaterThan(semver('1.0.0'))",
        "device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('40Gi')) >= 0",
    ):
        assert dra.eval_clause(clause, DRIVER, dev)[0] is None, clause


def test_class_selector_check_over_conjunctions():
    dev = {("n1", "gpu-0"): _device()}
    claim = {"metadata": {"name": "c"}, "status": {"allocation": {"devices": {"results": [{"driver": DRIVER, "pool": "n1", "device": "gpu-0"}]}}}}

    def cls(*exprs):
        return {"metadata": {"name": "k"}, "spec": {"selectors": [{"cel": {"expression": e}} for e in exprs]}}

    assert dra.class_selector_check(cls("(device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu')"), claim, dev)[0] is True
    ok, why = dra.class_selector_check(cls("device.driver == 'gpu.nvidia.com'", "device.attributes['gpu.nvidia.com'].type == 'mig'"), claim, dev)
    assert ok is False and why.startswith("claim c got device gpu-0 of pool n1, which DeviceClass k does not select: device.attributes")
    # A false clause decides even next to one not evaluated; an || is not evaluated at all.
    assert dra.class_selector_check(cls("device.attributes['gpu.nvidia.com'].index > 0 && device.driver == 'x'"), claim, dev)[0] is False
    assert dra.class_selector_check(cls("device.driver == 'gpu.nvidia.com' || device.driver == 'x'"), claim, dev)[0] is None
    assert dra.class_selector_check(cls(), claim, dev)[0] is True


def test_stale_allocations_name_claim_device_and_pool():
    claim = {"metadata": {"name": "c"}, "status": {"allocation": {"devices": {"results": [{"driver": DRIVER, "pool": "n1", "device": "gpu-0"}]}}}}
    assert dra.stale_allocations(claim, {}, DRIVER) == ["claim c holds device gpu-0 of pool n1"]
    assert dra.stale_allocations(claim, dra.published_devices([slice_("n1", ["GPU-1"])], DRIVER), DRIVER) == []
