"""network_dra_probe's verdicts against the fake cluster (tests/unit/fakecluster.py), with the
reference cluster's DRANET slices (one EFA per GPU PCIe root, one ENA without RDMA)."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import network_dra_probe as mod
from tests.unit import fakecluster as fc

ALIGNED = "GPU and NIC aligned on resource.kubernetes.io/pcieRoot"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def test_nics_attached_aligned_and_over_asking_refused(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(nics=True))
    assert r.verdict == "pass" and r.failed() == [] and r.undecided() == []
    assert r.ok("NIC characteristics discoverable") and r.ok("two RDMA NICs attached to one pod through one claim")
    assert r.ok("GPU and NIC allocated in one claim") and r.ok("GPU, NIC and pod on one node") and r.ok(ALIGNED)
    assert r["observations"]["rdma_nics"] == {"refcluster-gpu-1": 8, "refcluster-gpu-2": 8}
    assert [n["refused"] for n in r["negative"]] == [True, True]
    assert r.negative("9 RDMA NICs on refcluster-gpu-1")["outcome"].startswith("claim unallocated=True")


def test_declared_none_is_not_applicable(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(nics=True), declared="none")
    assert r.verdict == "not_applicable" and r.reason.startswith("the platform serves single-node")


def test_dra_not_served_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.kinds.pop("resource.k8s.io/v1")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("the DRA API (resource.k8s.io/v1) is not served")


def test_no_rdma_nic_on_a_gpu_node_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster())
    assert r.verdict == "fail" and r.reason.startswith("no specialized NIC is exposed through DRA: driver dra.net publishes no RDMA NIC")
    r = probe(run_module, monkeypatch, fc.reference_cluster(), declared="rdma")
    assert r.reason.startswith("specialized networking is declared")


def test_nics_that_do_not_say_where_they_are_fail(run_module, monkeypatch):
    c = fc.reference_cluster(nics=True)
    for s in c.all("resource.k8s.io/v1", "ResourceSlice"):
        for d in s["spec"]["devices"]:
            d["attributes"].pop("dra.net/pciAddress", None)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == ["NIC characteristics discoverable"] and "pciAddress" in r.reason


def test_missing_nic_class_fails(run_module, monkeypatch):
    c = fc.reference_cluster(nics=True)
    c.remove("resource.k8s.io/v1", "DeviceClass", "rdma.dra.net")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason == "NIC DeviceClass installed: DeviceClass rdma.dra.net does not exist"


def test_no_nic_sharing_a_root_with_a_gpu_fails_the_alignment(run_module, monkeypatch):
    c = fc.reference_cluster(nics=True)
    for s in c.all("resource.k8s.io/v1", "ResourceSlice"):
        if s["spec"]["driver"] == "dra.net":
            for d in s["spec"]["devices"]:
                d["attributes"]["resource.kubernetes.io/pcieRoot"] = {"string": "pci0000:f0"}
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == ["GPU and NIC allocated in one claim"]


def test_allocator_ignoring_match_attribute_fails_the_misaligned_case(run_module, monkeypatch):
    c = fc.reference_cluster(nics=True)
    c.faults.add("dra-ignore-constraints")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("negative case not proven refused: GPU on pci0000:00 and NIC on pci0000:2a")
    assert r.negative("GPU on")["refused"] is False


def test_one_nic_per_node_leaves_multi_attach_undecided(run_module, monkeypatch):
    c = fc.reference_cluster(nics=True)
    for s in c.all("resource.k8s.io/v1", "ResourceSlice"):
        if s["spec"]["driver"] == "dra.net":
            s["spec"]["devices"] = s["spec"]["devices"][:1]
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and r.undecided() == ["two RDMA NICs attached to one pod through one claim"]
    assert r.reason.startswith("partial: 1 of ")
    assert "two NICs attached to one pod" not in r.reason and "aligned on resource.kubernetes.io/pcieRoot" in r.reason


def test_pass_reason_claims_no_alignment_when_the_alignment_was_not_checked(run_module, monkeypatch):
    # Issue 22: without the GPU DeviceClass the aligned claim is never made; the reason used to
    # say "GPU and NIC allocated together aligned ... an unmeetable alignment refused" all the same.
    c = fc.reference_cluster(nics=True)
    c.remove("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and r.undecided() == ["GPU and NIC allocated in one claim"]
    assert r.reason.startswith("partial: 1 of ") and "GPU-NIC alignment not shown" in r.reason
    assert "aligned on" not in r.reason and "misaligned" not in r.reason and "GPU on" not in r.reason
    assert r.reason.endswith("refused: 9 RDMA NICs on refcluster-gpu-1, which has 8")


def test_full_pass_reason_names_what_was_proved(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(nics=True))
    assert r.reason == (
        "16 RDMA NIC(s) on 2 GPU node(s) exposed through DRA driver dra.net with their characteristics; two NICs attached to one pod "
        "through one claim; GPU and NIC allocated together aligned on resource.kubernetes.io/pcieRoot; refused: 9 RDMA NICs on "
        "refcluster-gpu-1, which has 8; GPU on pci0000:00 and NIC on pci0000:2a under matchAttribute resource.kubernetes.io/pcieRoot"
    )


def test_a_node_tainted_for_other_pods_is_not_the_one_probed(run_module, monkeypatch):
    # An autoscaled pool's node joins meanwhile (cluster_autoscaling runs beside this probe): DRANET
    # publishes its NICs like any GPU node's, and its name sorts first, but its taint would refuse the
    # probe's pods: a failure that proves nothing about the NICs.
    import copy

    c = fc.reference_cluster(nics=True)
    new = "kwok-refcluster-gpu-launched"
    node = copy.deepcopy(c.obj("v1", "Node", "refcluster-gpu-1"))
    node["metadata"] = {"name": new, "labels": dict(node["metadata"]["labels"], **{"kubernetes.io/hostname": new})}
    node["spec"] = {"taints": [{"key": "refcluster.ai-conformance.io/autoscaled", "value": "true", "effect": "NoSchedule"}]}
    slices = []
    for old in c.all("resource.k8s.io/v1", "ResourceSlice"):
        if old["spec"].get("nodeName") == "refcluster-gpu-1":
            s = copy.deepcopy(old)
            s["metadata"] = {"name": "%s-%s" % (new, s["spec"]["driver"])}
            s["spec"]["nodeName"], s["spec"]["pool"]["name"] = new, new
            slices.append(s)
    c.apply(node, *slices)
    r = probe(run_module, monkeypatch, c)
    assert r["observations"]["rdma_nics"][new] == 8
    assert r.verdict == "pass" and r.failed() == [] and r["observations"]["node"] == "refcluster-gpu-1"
