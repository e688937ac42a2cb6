"""driver_runtime_probe's verdicts against the fake cluster (tests/unit/fakecluster.py)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.modules import driver_runtime_probe as mod
from tests.unit import fakecluster as fc

LABEL = "nvidia.com/cuda.driver-version.full"
MANAGED = "driver lifecycle managed by the GPU operator"
TOOLKIT = "container toolkit configured by the GPU operator"
RUNTIME = "container runtime exposes the advertised driver"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def with_operator(c, state="ready", toolkit=True):
    c.serve("nvidia.com/v1", "ClusterPolicy", "clusterpolicies", namespaced=False)
    # Shape of the GPU operator's ClusterPolicy (tests/fixtures/charts/gpu-operator/crds/clusterpolicy.yaml).
    c.apply(
        {
            "apiVersion": "nvidia.com/v1",
            "kind": "ClusterPolicy",
            "metadata": {"name": "cluster-policy"},
            "spec": {"driver": {"enabled": True}, "toolkit": {"enabled": toolkit, "version": "v1.20.0"}},
            "status": {"state": state},
        }
    )
    return c


DRA_ABOVE = "DRA claim demanding a driver above "
LABEL_ABOVE = "pod demanding a driver above "
EXTRA = "extra (every cluster refuses it, so it proves only that the selector is read): "


def step(r, action):
    found = [s for s in r["steps"] if s["action"] == action]
    assert found, [s["action"] for s in r["steps"]]
    return found[0]


def test_kwok_cluster_passes_partially_refusing_a_driver_just_above_the_advertised_one(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster())
    assert r.verdict == "pass" and r.undecided() == [MANAGED, TOOLKIT, RUNTIME]
    assert r.reason.endswith(
        "driver 580.159.4 on 2 accelerator node(s), reported consistently through DRA; a workload demanding a driver just above the advertised one was refused"
    )
    assert r.ok("claim requiring the installed driver is allocated") and r.ok("pod selecting the installed driver label is scheduled")
    # No container could look: the bar is the highest version advertised.
    assert [n["case"].split(":")[0] for n in r["negative"]] == [
        DRA_ABOVE + "580.159.4 (the highest driverVersion advertised; no container could look)",
        LABEL_ABOVE + "580.159.4 by its node labels (the highest version the labels advertise)",
    ]
    assert [n["refused"] for n in r["negative"]] == [True, True]
    assert r["negative"][0]["case"].endswith("isLessThan(semver('580.159.5'))") and "cannot allocate all claims" in r["negative"][0]["outcome"]
    assert "didn't match Pod's node affinity/selector" in r.negative(LABEL_ABOVE)["outcome"]
    # The versions no cluster has are still tried, as steps: they prove the selectors are read, no more.
    assert step(r, EXTRA + "DRA claim demanding a driver newer than 9999.0.0")["ok"] is True
    assert step(r, EXTRA + "pod selecting driver major version 9999")["ok"] is True


def test_operator_and_real_node_decide_everything(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, with_operator(fc.reference_cluster(runtime_node=True)))
    assert (r.verdict, r.undecided(), r.failed()) == ("pass", [], [])
    assert r["observations"]["runtime"]["advertised"] == ["580.159.4"]
    # The bar is what nvidia-smi reported, on the node it ran on.
    basis = "(what nvidia-smi reported in a container on refcluster-rt-1)"
    assert r.negative(DRA_ABOVE)["case"].startswith(DRA_ABOVE + "580.159.4 on refcluster-rt-1 " + basis)
    assert r.negative(LABEL_ABOVE)["case"] == LABEL_ABOVE + "580.159.4 on refcluster-rt-1 by its node labels " + basis
    assert [n["refused"] for n in r["negative"]] == [True, True]


@pytest.mark.parametrize("dra", [True, False], ids=["dra-attribute", "node-label"])
def test_platform_advertising_a_driver_above_the_real_one_admits_workloads_demanding_more(run_module, monkeypatch, dra):
    # The node advertises 580.159.04 (DRA driverVersion and GFD labels), its driver is 570.86.15.
    c = fc.reference_cluster(dra=dra)
    fc.add_runtime_gpu_node(c, dra=dra, driver_version="570.86.15")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [RUNTIME]
    lying = [r.negative(LABEL_ABOVE + "570.86.15 on refcluster-rt-1")]
    if dra:
        lying.append(r.negative(DRA_ABOVE + "570.86.15 on refcluster-rt-1"))
    assert [n["refused"] for n in lying] == [False] * len(lying) and all("bound to node refcluster-rt-1" in n["outcome"] for n in lying), lying


def test_no_accelerator_node_is_not_applicable(run_module, monkeypatch):
    c = fc.reference_cluster(dra=False)
    for n in c.all("v1", "Node"):
        n["status"]["allocatable"].pop("nvidia.com/gpu", None)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "not_applicable" and r.reason.startswith("the cluster has no accelerator nodes")


def test_host_driver_other_than_advertised_fails_the_runtime_check(run_module, monkeypatch):
    c = fc.reference_cluster()
    fc.add_runtime_gpu_node(c, driver_version="570.86.15")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [RUNTIME]
    assert r.reason == RUNTIME + ": nvidia-smi in a pod on refcluster-rt-1: ['570.86.15'], advertised: ['580.159.4']"


def test_operator_policy_not_ready_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, with_operator(fc.reference_cluster(), state="notReady"))
    assert r.verdict == "fail" and r.failed() == [MANAGED] and "notReady" in r.reason


def test_toolkit_disabled_in_the_policy_is_undecided_not_failed(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, with_operator(fc.reference_cluster(), toolkit=False))
    assert r.verdict == "pass" and r.ok(MANAGED) and r.check(TOOLKIT)["ok"] is None


def test_label_and_dra_disagreeing_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.obj("v1", "Node", "refcluster-gpu-2")["metadata"]["labels"][LABEL] = "570.86.15"
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == ["node label and DRA attributes agree", "one driver version per node pool"]
    assert "node refcluster-gpu-2: label 570.86.15, DRA ['580.159.4']" in r.reason


def test_two_versions_in_one_pool_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.obj("v1", "Node", "refcluster-gpu-2")["metadata"]["labels"][LABEL] = "570.86.15"
    for d in c.obj("resource.k8s.io/v1", "ResourceSlice", "refcluster-gpu-2-gpu.nvidia.com")["spec"]["devices"]:
        d["attributes"]["driverVersion"] = {"version": "570.86.15"}
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == ["one driver version per node pool"]
    assert "570.86.15 on refcluster-gpu-2; 580.159.4 on refcluster-gpu-1" in r.reason


def test_node_reporting_no_version_fails(run_module, monkeypatch):
    c = fc.reference_cluster(dra=False)
    c.obj("v1", "Node", "refcluster-gpu-2")["metadata"]["labels"].pop(LABEL)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == ["every accelerator node reports its driver version"]


def test_below_the_supported_minimum_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(), min_driver_version="590.0.0")
    assert r.verdict == "fail" and r.failed() == ["drivers at or above the supported minimum"] and "below 590.0.0: ['580.159.4']" in r.reason


def test_driver_version_published_as_a_string_cannot_be_selected(run_module, monkeypatch):
    c = fc.reference_cluster()
    for s in c.all("resource.k8s.io/v1", "ResourceSlice"):
        for d in s["spec"]["devices"]:
            d["attributes"]["driverVersion"] = {"string": "580.159.4"}  # CEL: a string has no isLessThan
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == ["claim requiring the installed driver is allocated"]


def test_scheduler_ignoring_the_version_selector_fails_the_negative_case(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.faults.add("dra-ignore-request-selectors")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("negative case not proven refused: " + DRA_ABOVE + "580.159.4")
    assert r.negative(DRA_ABOVE)["refused"] is False and r.negative(LABEL_ABOVE)["refused"] is True
    assert step(r, EXTRA + "DRA claim demanding a driver newer than 9999.0.0")["ok"] is False


def test_nodes_without_the_split_driver_labels_leave_only_the_dra_case(run_module, monkeypatch):
    c = fc.reference_cluster()
    for n in c.all("v1", "Node"):
        for k in ("major", "minor", "revision"):
            n["metadata"]["labels"].pop("nvidia.com/cuda.driver-version." + k, None)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and [n["case"].split(" (")[0] for n in r["negative"]] == [DRA_ABOVE + "580.159.4"]
    assert step(r, "pod demanding a driver above the advertised one by node labels")["result"].startswith("not attempted: no node carries")
