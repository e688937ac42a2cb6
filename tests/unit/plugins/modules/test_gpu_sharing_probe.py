"""gpu_sharing_probe's verdicts against the fake cluster (tests/unit/fakecluster.py)."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import gpu_sharing_probe as mod
from tests.unit import fakecluster as fc

RUNTIME = "each consumer of a shared claim sees exactly the shared GPU"
TS_RUNTIME = "time-sliced pods run and share the physical GPUs"


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


def test_time_slicing_on_kwok_passes_only_partially_from_labels_and_allocatable(run_module, monkeypatch):
    # The labels and allocatable say time-slicing; nothing on a kwok node can show a GPU is shared.
    r = probe(run_module, monkeypatch, time_sliced(fc.reference_cluster(dra=False)))
    assert r.verdict == "pass" and r.ok("more pods than physical GPUs each get a GPU") and r.undecided() == [TS_RUNTIME]
    assert r.reason == "partial: 1 of 2 checks not decided (%s); 4 pods shared 1 physical GPUs on refcluster-gpu-2 by time-slicing; one more was refused" % (
        TS_RUNTIME
    )
    assert r.check(TS_RUNTIME)["kind"] == "runtime" and "refcluster-gpu-2 (kwok://fake)" in r.check(TS_RUNTIME)["detail"]
    assert "Insufficient nvidia.com/gpu" in r.negative("one pod beyond the 4 advertised replicas")["outcome"]


def time_sliced_real_node(plugin_replicas, replicas=2):
    """The real node labelled and advertised as time-sliced (2 GPUs x ``replicas``), its device
    plugin handing each GPU to ``plugin_replicas`` containers."""
    c = fc.reference_cluster(dra=False)
    fc.add_runtime_gpu_node(c, dra=False, replicas=plugin_replicas)
    n = c.obj("v1", "Node", "refcluster-rt-1")
    n["metadata"]["labels"].update({"nvidia.com/gpu.replicas": str(replicas), "nvidia.com/gpu.count": "2", "nvidia.com/gpu.sharing-strategy": "time-slicing"})
    n["status"]["allocatable"]["nvidia.com/gpu"] = str(2 * replicas)
    return c


def test_time_slicing_on_a_real_node_is_seen_in_the_containers(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, time_sliced_real_node(plugin_replicas=2), strategy="time_slicing")
    assert (r.verdict, r.undecided(), r.failed()) == ("pass", [], [])
    per_gpu = r["observations"]["time_slicing_seen"]["pods_per_gpu"]
    assert sorted(len(v) for v in per_gpu.values()) == [2, 2] and set(per_gpu) == {g["uuid"] for g in fc.REFCLUSTER["rt_gpus"]}


def test_node_labelled_time_sliced_whose_plugin_does_not_share_fails(run_module, monkeypatch):
    # Labels and allocatable (set by hand, or by a config the plugin never loaded) say 2 x 2; the
    # device plugin hands each GPU out once: the kubelet rejects the pods beyond the 2 GPUs.
    r = probe(run_module, monkeypatch, time_sliced_real_node(plugin_replicas=1), strategy="time_slicing")
    assert r.verdict == "fail" and r.failed() == [TS_RUNTIME] and r.ok("more pods than physical GPUs each get a GPU")
    assert r.reason.startswith(TS_RUNTIME + ": 2 pods ran on refcluster-rt-1 and saw 2 physical GPUs")
    assert "2 did not: ts-2 Failed UnexpectedAdmissionError: Allocate failed due to requested number of devices unavailable" in r.reason


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
