"""gpu_sharing_probe on the reference cluster."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure

pytestmark = pytest.mark.integration


def test_dra_shared_claim_passes(ansible_module):
    res = ansible_module("gpu_sharing_probe", run_id="it-share-dra", observe_seconds=3)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    assert r["observations"]["strategy"] == "dra_shared_claim"
    assert all(c["ok"] for c in r["checks"])
    assert r["negative"][0]["refused"] is True


def test_time_slicing_set_up_by_hand_on_a_kwok_node_is_only_a_partial_pass(ansible_module, breaker):
    # The test itself sets the labels and allocatable a time-slicing device plugin would: they prove
    # the scheduler's accounting, not that any GPU is shared.  The check that could (the pods run
    # and see shared GPUs) needs containers, which kwok does not run: it stays undecided.
    with (
        breaker.labelled("refcluster-gpu-2", {"nvidia.com/gpu.replicas": "2", "nvidia.com/gpu.sharing-strategy": "time-slicing"}),
        breaker.allocatable("refcluster-gpu-2", {"nvidia.com/gpu": "16"}),
    ):
        res = ansible_module("gpu_sharing_probe", run_id="it-share-ts", strategy="time_slicing", observe_seconds=3, undecided_runtime_checks="allow")
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    assert [u["name"] for u in r["undecided_checks"]] == ["time-sliced pods run and share the physical GPUs"], r["undecided_checks"]
    assert first_failure(r["reason"]).startswith("partial: 1 of 2 checks not decided") and "16 pods shared 8 physical GPUs on refcluster-gpu-2" in r["reason"]
    assert "Insufficient nvidia.com/gpu" in r["negative"][0]["outcome"]


@pytest.mark.fault
def test_fails_when_the_declared_strategy_is_not_exposed(ansible_module):
    res = ansible_module("gpu_sharing_probe", run_id="it-share-mig", strategy="mig")
    assert res["verdict"] == "fail"
    assert res["reason"] == "the declared sharing strategy mig is not exposed by the cluster (it shows: dra_shared_claim)"


@pytest.mark.fault
def test_fails_when_nothing_can_be_shared(ansible_module, breaker):
    # No DRA device anywhere (the kwok nodes' driver and the real GPU node's kubelet plugin both gone).
    with breaker.stopped("fake-dra-driver"), breaker.node_fault(dra_fault="stopped"):
        res = ansible_module("gpu_sharing_probe", run_id="it-share-none")
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("no GPU sharing strategy is exposed")
