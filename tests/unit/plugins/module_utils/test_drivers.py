from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import drivers as drv


def node(name, version=None, gpus=8, product="NVIDIA-H100-80GB-HBM3"):
    labels = {"nvidia.com/gpu.product": product}
    if version:
        labels[drv.DRIVER_LABEL] = version
    return {"metadata": {"name": name, "labels": labels}, "status": {"allocatable": {"nvidia.com/gpu": str(gpus)}}}


def slice_(node_name, version):
    return {
        "metadata": {"name": node_name},
        "spec": {
            "driver": "gpu.nvidia.com",
            "nodeName": node_name,
            "pool": {"name": node_name},
            "devices": [{"name": "gpu-0", "attributes": {"driverVersion": {"version": version}}}],
        },
    }


def test_zero_padded_and_semver_versions_are_the_same_driver():
    assert drv.normalize("580.159.04") == drv.normalize("580.159.4") == "580.159.4"


def test_consistent_cluster_has_no_problems():
    by = drv.versions_by_node(
        [node("a", "580.159.04"), node("b", "580.159.04"), node("cpu", gpus=0)],
        [slice_("a", "580.159.4"), slice_("b", "580.159.4")],
        "gpu.nvidia.com",
        "nvidia.com/gpu",
    )
    assert sorted(by) == ["a", "b"]
    assert drv.problems(by) == []


def test_unreported_mismatched_and_mixed_pool_are_each_found():
    by = drv.versions_by_node([node("a", "580.159.04"), node("b", "570.86.10"), node("c")], [slice_("a", "575.0.0")], "gpu.nvidia.com", "nvidia.com/gpu")
    found = dict(drv.problems(by))
    assert found["every accelerator node reports its driver version"].startswith("node c reports no driver version")
    assert found["node label and DRA attributes agree"] == "node a: label 580.159.4, DRA ['575.0.0']"
    assert "pool NVIDIA-H100-80GB-HBM3 runs" in found["one driver version per node pool"]


def test_pools_are_judged_separately():
    by = drv.versions_by_node([node("a", "580.1.1"), node("b", "570.1.1", product="NVIDIA-A100")], [], "gpu.nvidia.com", "nvidia.com/gpu")
    assert drv.problems(by) == []


def test_the_version_just_above_and_the_affinity_that_demands_it():
    assert drv.just_above("580.159.04") == "580.159.5" and drv.just_above("570") == "570.0.1"
    node = {"metadata": {"labels": dict(zip(drv.DRIVER_LABEL_PARTS, ("580", "159", "04")))}}
    assert drv.label_parts(node) == (580, 159, 4) and drv.label_parts({"metadata": {"labels": {drv.DRIVER_LABEL_MAJOR: "580"}}}) is None
    terms = drv.affinity_above((580, 159, 4), "n1")["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert len(terms) == 3 and all(t["matchExpressions"][0] == {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]} for t in terms)
    assert terms[0]["matchExpressions"][1:] == [{"key": drv.DRIVER_LABEL_MAJOR, "operator": "Gt", "values": ["580"]}]
    assert terms[2]["matchExpressions"][-1] == {"key": drv.DRIVER_LABEL_PARTS[2], "operator": "Gt", "values": ["4"]}
