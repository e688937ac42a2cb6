"""accelerator_isolation_probe on the reference cluster, healthy and broken."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure

pytestmark = pytest.mark.integration


def test_passes_with_both_paths_and_runtime_checks_decided(ansible_module, probe_image, runtime_nodes):
    res = ansible_module("accelerator_isolation_probe", run_id="it-iso-pass", observe_seconds=4, probe_image=probe_image)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    checks = {c["name"]: c for c in r["checks"]}
    for name in ("device plugin accelerators are exclusive", "DRA devices are exclusive", "host device access outside the resource framework is refused"):
        assert checks[name]["ok"] is True and checks[name]["kind"] == "api", checks[name]
    assert "Insufficient nvidia.com/gpu" in checks["device plugin accelerators are exclusive"]["detail"]
    # What containers see is decided on the real node (tests/integration/test_runtime_lane.py breaks it).
    runtime = [c for c in r["checks"] if c["kind"] == "runtime"]
    assert len(runtime) == 4 and all(c["ok"] is True for c in runtime), runtime
    assert r["undecided_checks"] == []
    assert [n["refused"] for n in r["negative"]] == [True, True, True]
    # The runtime checks run first, so the NVIDIA_VISIBLE_DEVICES=all case is the first negative case.
    assert "NVIDIA_VISIBLE_DEVICES=all" in r["negative"][0]["case"], r["negative"]
    # The probe's own Pod Security label makes that refusal: a check, never the negative case.
    assert "PodSecurity" in checks["host device access outside the resource framework is refused"]["detail"]
    assert r["observations"]["device_plugin"]["free_before"] == 8


@pytest.mark.fault
def test_fails_when_dra_class_is_installed_but_nothing_is_published(ansible_module, breaker):
    # Both publishers of gpu.nvidia.com devices gone: the kwok nodes' driver and the real node's kubelet plugin.
    with breaker.stopped("fake-dra-driver"), breaker.node_fault(dra_fault="stopped"):
        res = ansible_module("accelerator_isolation_probe", run_id="it-iso-noslice", observe_seconds=2)
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith(
        "DRA devices are exclusive: DeviceClass gpu.nvidia.com is installed but driver gpu.nvidia.com publishes no device"
    ), res["reason"]


@pytest.mark.fault
def test_fails_when_no_accelerator_is_mediated(ansible_module):
    res = ansible_module("accelerator_isolation_probe", run_id="it-iso-none", resource_name="example.com/none", device_class="none.example.com")
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("no accelerator is exposed through a device plugin (example.com/none) or DRA (DeviceClass none.example.com)")
