"""gpu_sharing_probe's verdicts against the fake cluster (tests/unit/fakecluster.py)."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import gpu_sharing_probe as mod
from tests.unit import fakecluster as fc

RUNTIME = "each consumer of a shared claim sees exactly the shared GPU"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def time_sliced(c, replicas=4, count=1, strategy="time-slicing"):
    """Node refcluster-gpu-2 as the device plugin's time-slicing config labels and advertises it
    (shared/reference/apis.md section 9: nvidia.com/gpu.replicas, .sharing-strategy)."""
    n = c.obj("v1", "Node", "refcluster-gpu-2")
    n["metadata"]["labels"].update({"nvidia.com/gpu.replicas": str(replicas), "nvidia.com/gpu.count": str(count), "nvidia.com/gpu.sharing-strategy": strategy})
    n["status"]["allocatable"]["nvidia.com/gpu"] = str(count * replicas)
    return c


def test_shared_claim_passes_partially_on_kwok(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster())
    assert r.verdict == "pass" and r.undecided() == [RUNTIME]
    assert r.reason.endswith("one DRA device shared by two pods through one claim; a separate claim for that device was refused")
    assert r.ok("both pods bound through one claim") and r.ok("one device shared") and r.ok("claim reserved for both pods")
    assert r.negative("separate claim for the shared device")["refused"] is True
    assert r["observations"]["strategy"] == "dra_shared_claim"


def test_both_consumers_see_the_shared_gpu_on_a_real_node(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(runtime_node=True))
    assert (r.verdict, r.undecided()) == ("pass", [])
    seen = r["observations"]["runtime_shared"]
    assert seen["seen"]["rt-user-a"]["gpus"] == seen["seen"]["rt-user-b"]["gpus"] and len(seen["allocated_uuids"]) == 1


def test_plugin_handing_every_gpu_to_a_sharer_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    fc.add_runtime_gpu_node(c, faults=("all-devices",))
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [RUNTIME] and "(device nodes ['nvidia0', 'nvidia1'])" in r.reason


def test_allocator_handing_the_shared_device_to_a_separate_claim_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.faults.add("dra-double-allocate")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("negative case not proven refused: separate claim for the shared device")
    assert r.negative("separate claim")["refused"] is False


def test_nothing_to_share_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(dra=False))
    assert r.verdict == "fail" and r.reason.startswith("no GPU sharing strategy is exposed")


def test_declared_strategy_the_cluster_does_not_expose_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(), strategy="time_slicing")
    assert r.verdict == "fail" and r.reason == "the declared sharing strategy time_slicing is not exposed by the cluster (it shows: dra_shared_claim)"


def test_time_slicing_oversubscribes_and_refuses_one_more(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, time_sliced(fc.reference_cluster(dra=False)))
    assert r.verdict == "pass" and r.ok("more pods than physical GPUs each get a GPU")
    assert r.reason == "4 pods shared 1 physical GPUs on refcluster-gpu-2 by time-slicing; one more was refused"
    assert "Insufficient nvidia.com/gpu" in r.negative("one pod beyond the 4 advertised replicas")["outcome"]


def test_time_slicing_without_accounting_lets_one_more_in_and_fails(run_module, monkeypatch):
    c = time_sliced(fc.reference_cluster(dra=False))
    c.faults.add("no-extended-resource-accounting")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason == "negative case not proven refused: one pod beyond the 4 advertised replicas"


def test_time_slicing_advertising_no_more_than_the_physical_gpus_is_a_skip(run_module, monkeypatch):
    c = time_sliced(fc.reference_cluster(dra=False))
    c.obj("v1", "Node", "refcluster-gpu-2")["status"]["allocatable"]["nvidia.com/gpu"] = "1"
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "skip" and r.reason.startswith("node refcluster-gpu-2 has 1 free nvidia.com/gpu (physical 1 x 4 replicas)")


def test_mig_slices_schedule_and_over_requests_are_refused(run_module, monkeypatch):
    c = fc.reference_cluster(dra=False)
    c.obj("v1", "Node", "refcluster-gpu-1")["status"]["allocatable"]["nvidia.com/mig-1g.10gb"] = "7"
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and r.ok("a MIG slice is schedulable")
    assert r.negative("nvidia.com/mig-1g.10gb=8")["refused"] is True


def test_mig_over_request_admitted_fails(run_module, monkeypatch):
    c = fc.reference_cluster(dra=False)
    c.obj("v1", "Node", "refcluster-gpu-1")["status"]["allocatable"]["nvidia.com/mig-1g.10gb"] = "7"
    c.faults.add("no-extended-resource-fit")
    r = probe(run_module, monkeypatch, c, strategy="mig")
    assert r.verdict == "fail" and r.reason == "negative case not proven refused: nvidia.com/mig-1g.10gb=8, more slices than any node has"
