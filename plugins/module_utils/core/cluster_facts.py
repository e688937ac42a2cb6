# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about a cluster that domain roles use to decide skip and not_applicable."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import Client
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import isolation as iso

# Extended resource names that denote accelerators (device plugins of the major vendors).
ACCELERATOR_PREFIXES = ("nvidia.com/", "amd.com/gpu", "gpu.intel.com/", "google.com/tpu", "aws.amazon.com/neuron", "habana.ai/")
GPU_LABEL_PREFIXES = (
    "nvidia.com/",
    "amd.com/",
    "feature.node.kubernetes.io/pci-10de",
    "cloud.google.com/gke-accelerator",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "karpenter.sh/",
    "eks.amazonaws.com/nodegroup",
)
GATHER_CHOICES = ("version", "nodes", "api_groups", "crds", "dra", "runtime_classes")

# API group-versions whose presence domain roles branch on.
KNOWN_APIS = {
    "dra": "resource.k8s.io/v1",
    "gateway_api": "gateway.networking.k8s.io/v1",
    "inference_extension": "inference.networking.k8s.io/v1",
    "custom_metrics": "custom.metrics.k8s.io/v1beta2",
    "external_metrics": "external.metrics.k8s.io/v1beta1",
    "autoscaling_v2": "autoscaling/v2",
    "volcano": "scheduling.volcano.sh/v1beta1",
    "kai": "scheduling.run.ai/v2alpha2",
    "kueue": "kueue.x-k8s.io/v1beta2",
    "kuberay": "ray.io/v1",
    "kubeflow_trainer": "trainer.kubeflow.org/v1alpha1",
    "gpu_operator": "nvidia.com/v1",
    "prometheus_operator": "monitoring.coreos.com/v1",
    "karpenter": "karpenter.sh/v1",
    "native_workload": "scheduling.k8s.io/v1alpha3",
    "node_runtime_class": "node.k8s.io/v1",
}


def is_accelerator_resource(name: str) -> bool:
    return name.startswith(ACCELERATOR_PREFIXES)


def _ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in node.get("status", {}).get("conditions", []))


def node_facts(node: dict[str, Any]) -> dict[str, Any]:
    md = node.get("metadata", {})
    st = node.get("status", {})
    labels = md.get("labels", {}) or {}
    acc_cap = {k: v for k, v in (st.get("capacity") or {}).items() if is_accelerator_resource(k)}
    acc_alloc = {k: v for k, v in (st.get("allocatable") or {}).items() if is_accelerator_resource(k)}
    return {
        "name": md.get("name"),
        "ready": _ready(node),
        "unschedulable": bool(node.get("spec", {}).get("unschedulable")),
        "taints": node.get("spec", {}).get("taints", []),
        "accelerator_capacity": acc_cap,
        "accelerator_allocatable": acc_alloc,
        "gpu_product": labels.get("nvidia.com/gpu.product") or labels.get("cloud.google.com/gke-accelerator"),
        "labels": {k: v for k, v in sorted(labels.items()) if k.startswith(GPU_LABEL_PREFIXES)},
        "kubelet_version": st.get("nodeInfo", {}).get("kubeletVersion"),
        "container_runtime": st.get("nodeInfo", {}).get("containerRuntimeVersion"),
    }


def gather_nodes(client: Client) -> dict[str, Any]:
    nodes = [node_facts(n) for n in client.list("v1", "Node")["items"]]
    totals: dict[str, int] = {}
    for n in nodes:
        for k, v in n["accelerator_allocatable"].items():
            totals[k] = totals.get(k, 0) + iso.qty(v)
    acc_nodes = [n["name"] for n in nodes if any(iso.qty(v) > 0 for v in n["accelerator_capacity"].values())]
    return {
        "nodes": nodes,
        "accelerator_totals": totals,
        "accelerator_nodes": acc_nodes,
        "gpu_products": sorted({n["gpu_product"] for n in nodes if n["gpu_product"]}),
        "node_count": len(nodes),
        "ready_node_count": sum(1 for n in nodes if n["ready"]),
    }


def gather_api_groups(client: Client) -> dict[str, Any]:
    gvs = ["v1"] if "v1" in client.get_path("/api", what="list core API versions").get("versions", []) else []
    preferred = {"": "v1"}
    for g in client.get_path("/apis", what="list API groups").get("groups", []):
        for v in g.get("versions", []):
            gvs.append(v["groupVersion"])
        if g.get("preferredVersion"):
            preferred[g["name"]] = g["preferredVersion"]["groupVersion"]
    gvs = sorted(set(gvs))
    return {"api_versions": gvs, "preferred_versions": preferred, "apis": {k: v in gvs for k, v in sorted(KNOWN_APIS.items())}}


def gather_crds(client: Client) -> dict[str, Any]:
    crds = []
    for c in client.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")["items"]:
        conds = {x["type"]: x["status"] for x in c.get("status", {}).get("conditions", [])}
        crds.append(
            {
                "name": c["metadata"]["name"],
                "group": c["spec"]["group"],
                "kind": c["spec"]["names"]["kind"],
                "versions": [v["name"] for v in c["spec"].get("versions", []) if v.get("served")],
                "storage_version": next((v["name"] for v in c["spec"].get("versions", []) if v.get("storage")), None),
                "established": conds.get("Established") == "True",
            }
        )
    return {"crds": sorted(crds, key=lambda x: x["name"])}


def gather_dra(client: Client) -> dict[str, Any]:
    if not client.served("resource.k8s.io/v1", "ResourceSlice"):
        return {"dra": {"served": False, "device_classes": [], "drivers": {}}}
    classes = [c["metadata"]["name"] for c in client.list("resource.k8s.io/v1", "DeviceClass")["items"]]
    drivers: dict[str, dict[str, Any]] = {}
    for s in client.list("resource.k8s.io/v1", "ResourceSlice")["items"]:
        spec = s.get("spec", {})
        d = drivers.setdefault(spec.get("driver", "?"), {"slices": 0, "devices": 0, "nodes": []})
        d["slices"] += 1
        d["devices"] += len(spec.get("devices", []))
        if spec.get("nodeName") and spec["nodeName"] not in d["nodes"]:
            d["nodes"].append(spec["nodeName"])
    return {"dra": {"served": True, "device_classes": sorted(classes), "drivers": drivers}}


def gather_runtime_classes(client: Client) -> dict[str, Any]:
    if not client.served("node.k8s.io/v1", "RuntimeClass"):
        return {"runtime_classes": []}
    return {
        "runtime_classes": sorted(
            ({"name": r["metadata"]["name"], "handler": r.get("handler")} for r in client.list("node.k8s.io/v1", "RuntimeClass")["items"]),
            key=lambda r: r["name"],
        )
    }


def gather(client: Client, what: list[str] | None = None) -> dict[str, Any]:
    what = list(what or GATHER_CHOICES)
    facts: dict[str, Any] = {"source": client.source}
    if "version" in what:
        v = client.get_path("/version", what="read the server version")
        facts["version"] = {
            "git_version": v.get("gitVersion"),
            "major": v.get("major"),
            "minor": str(v.get("minor", "")).rstrip("+"),
            "platform": v.get("platform"),
        }
    steps = {"nodes": gather_nodes, "api_groups": gather_api_groups, "crds": gather_crds, "dra": gather_dra, "runtime_classes": gather_runtime_classes}
    for key, fn in steps.items():
        if key in what:
            facts.update(fn(client))
    return facts
