"""virtualization_probe on the reference cluster."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure

pytestmark = pytest.mark.integration


def test_not_applicable_with_a_justification(ansible_module, k8s):
    res = ansible_module("virtualization_probe", run_id="it-virt-none")
    assert res["verdict"] == "not_applicable"
    assert "hypervisor" in res["reason"] and "unsupported" not in res["reason"].lower()
    assert k8s.list("v1", "Namespace", label_selector="ai-conformance.io/run-id=it-virt-none")["items"] == []


def test_vgpu_declared_and_exposed_passes(ansible_module, breaker):
    with breaker.labelled("refcluster-gpu-2", {"nvidia.com/vgpu.present": "true"}):
        res = ansible_module("virtualization_probe", run_id="it-virt-vgpu", declared="vgpu", observe_seconds=3)
    assert res["verdict"] == "pass", res["reason"]
    assert res["result"]["negative"][0]["refused"] is True


@pytest.mark.fault
def test_fails_when_the_cluster_contradicts_the_declaration(ansible_module, breaker):
    with breaker.labelled("refcluster-gpu-1", {"nvidia.com/vgpu.present": "true"}):
        res = ansible_module("virtualization_probe", run_id="it-virt-contra")
    assert res["verdict"] == "fail"
    assert res["reason"] == "the platform declares no virtualized accelerators but the cluster exposes them (vGPU nodes ['refcluster-gpu-1'])"


@pytest.mark.fault
def test_fails_when_declared_vgpu_is_missing(ansible_module):
    res = ansible_module("virtualization_probe", run_id="it-virt-missing", declared="vgpu")
    assert res["verdict"] == "fail" and first_failure(res["reason"]).startswith("vGPU is declared but no node is labelled")
