"""driver_runtime_probe on the reference cluster, healthy and broken."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure
from tests.refcluster.fakes import gpus

pytestmark = pytest.mark.integration


def test_passes_with_versions_from_dra_and_labels(ansible_module):
    res = ansible_module("driver_runtime_probe", run_id="it-drv-pass", observe_seconds=3, min_driver_version="570.0.0")
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    want = ".".join(str(int(x)) for x in gpus.recorded_gpu()["driver_version"].split("."))
    assert r["observations"]["versions"]["refcluster-gpu-1"] == {"label": want, "dra": [want], "pool": "NVIDIA-H100-80GB-HBM3"}
    assert [n["refused"] for n in r["negative"]] == [True, True]
    # The negative cases sit just above the driver (what a container saw, else the advertised one);
    # the 9999 ones every cluster refuses are only steps.
    assert [n["case"].split(" above ")[0] for n in r["negative"]] == ["DRA claim demanding a driver", "pod demanding a driver"]
    assert not any("9999" in n["case"] for n in r["negative"]) and sum("9999" in s["action"] for s in r["steps"]) == 2
    checks = {c["name"]: c for c in r["checks"]}
    assert checks["claim requiring the installed driver is allocated"]["ok"] is True
    assert checks["driver lifecycle managed by the GPU operator"]["ok"] is None
    assert checks["container runtime exposes the advertised driver"]["kind"] == "runtime"
    assert checks["container runtime exposes the advertised driver"]["ok"] is True  # nvidia-smi on refcluster-rt-1


@pytest.mark.fault
def test_fails_when_a_node_runs_another_driver(ansible_module, breaker):
    with breaker.labelled("refcluster-gpu-2", {"nvidia.com/cuda.driver-version.full": "570.86.10"}):
        res = ansible_module("driver_runtime_probe", run_id="it-drv-mismatch", observe_seconds=2)
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("node label and DRA attributes agree: node refcluster-gpu-2: label 570.86.10, DRA")


@pytest.mark.fault
def test_fails_below_the_supported_minimum(ansible_module):
    res = ansible_module("driver_runtime_probe", run_id="it-drv-min", observe_seconds=2, min_driver_version="600.0.0")
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("drivers at or above the supported minimum: below 600.0.0")


@pytest.mark.fault
def test_fails_when_the_gpu_operator_policy_is_not_ready(ansible_module, k8s):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "clusterpolicies.nvidia.com"},
        "spec": {
            "group": "nvidia.com",
            "scope": "Cluster",
            "names": {"plural": "clusterpolicies", "singular": "clusterpolicy", "kind": "ClusterPolicy"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    name = "clusterpolicies.nvidia.com"
    if k8s.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", name):  # a leftover, e.g. from a chart
        k8s.wait_gone("apiextensions.k8s.io/v1", "CustomResourceDefinition", name, timeout_s=60)
    k8s.create(crd)
    try:
        k8s.wait_for(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "clusterpolicies.nvidia.com",
            lambda o: any(c["type"] == "Established" and c["status"] == "True" for c in ((o or {}).get("status") or {}).get("conditions") or []),
        )
        k8s.create({"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {"name": "cluster-policy"}, "spec": {}})
        k8s.patch("nvidia.com/v1", "ClusterPolicy", "cluster-policy", {"status": {"state": "notReady"}}, subresource="status")
        res = ansible_module("driver_runtime_probe", run_id="it-drv-notready", observe_seconds=2)
    finally:
        k8s.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "clusterpolicies.nvidia.com")
    assert res["verdict"] == "fail"
    assert res["reason"] == "driver lifecycle managed by the GPU operator: ClusterPolicy state {'cluster-policy': 'notReady'}"
