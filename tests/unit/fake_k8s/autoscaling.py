"""Node autoscalers with the kwok provider: Karpenter (NodePool, NodeClaim) and the Cluster
Autoscaler (one node group)."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterator
from typing import Any

from .base import KWOK_RUNTIME, REFCLUSTER, get_cond, qty
from .cluster import FakeCluster
from .install import deployment, ensure_namespace


def stranded(c: FakeCluster, handled: set[str]) -> Iterator[dict[str, Any]]:
    """The pods the scheduler reported Unschedulable that the autoscaler has not acted on yet."""
    for pod in c.all("v1", "Pod"):
        if pod["spec"].get("nodeName") or pod["metadata"]["uid"] in handled or get_cond(pod, "PodScheduled").get("reason") != "Unschedulable":
            continue
        yield pod


def admits(c: FakeCluster, pod: dict[str, Any], labels: dict[str, str], taints: list[dict[str, Any]]) -> bool:
    """Whether a node with these labels and taints would take the pod (its nodeSelector, its tolerations)."""
    if any(labels.get(k) != v for k, v in (pod["spec"].get("nodeSelector") or {}).items()):
        return False
    return all(c.tolerates(pod, t) for t in taints)


def kwok_node(
    name: str, labels: dict[str, str], taints: list[dict[str, Any]], resources: dict[str, str], metadata: dict[str, Any], spec: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Ready kwok Node with these labels, taints and resources, and more ``metadata`` and ``spec``."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": dict({"name": name, "labels": labels}, **metadata),
        "spec": dict({"taints": taints}, **(spec or {})),
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "nodeInfo": {"containerRuntimeVersion": KWOK_RUNTIME},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


# The reference cluster's autoscaled pool, tests/refcluster/manifests/karpenter-gpu-pool.yaml.
KARPENTER_POOL = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodePool",
    "metadata": {"name": "refcluster-gpu"},
    "spec": {
        "template": {
            "metadata": {
                "labels": {"ai-conformance.io/node-pool": "refcluster-gpu", "nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
            },
            "spec": {
                "nodeClassRef": {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass", "name": "refcluster"},
                "taints": [{"key": "ai-conformance.io/autoscaled", "value": "true", "effect": "NoSchedule"}],
                "requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["gpu-8x-h100-80gb"]}],
            },
        },
        "limits": {"nvidia.com/gpu": "16"},
        "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "5s"},
    },
}


class Karpenter:
    """Karpenter with the kwok provider: for pods the scheduler reported Unschedulable that a pool
    selects and tolerates, it launches a node of an instance type (tests/refcluster/fixtures/
    karpenter-instance-types.json) that fits them, within the pool's limits, after ``launch_s``;
    it removes a node it launched once no pod has run on it for ``consolidate_s``.  Like Karpenter
    v1 it decides with a NodeClaim (labelled with its pool, created when it decides, the pod's
    ``Nominated`` event naming it), which gets the node's name once the node registers; the node
    names its NodeClaim as owner, and consolidation deletes the NodeClaim (and so the node).
    ``batch_s``: how long a pending pod waits before Karpenter decides (its batch window).
    ``settings``: the environment of a Karpenter Deployment kube-system/karpenter (the Helm chart's
    BATCH_MAX_DURATION, BATCH_IDLE_DURATION); None: it runs outside the cluster, as on the
    reference cluster.  broken: "off" (launches nothing), "no-consolidation", "launch-anyway"
    (launches a node even for a pod no instance type can hold)."""

    API = "karpenter.sh/v1"

    def __init__(
        self,
        c: FakeCluster,
        broken: str = "",
        pool: dict[str, Any] | None = None,
        launch_s: float = 20,
        consolidate_s: float = 30,
        batch_s: float = 0,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.c, self.broken, self.launch_s, self.consolidate_s, self.batch_s = c, broken, launch_s, consolidate_s, batch_s
        self.types = REFCLUSTER["karpenter_instance_types"]
        self.nominated: set[str] = set()
        self.pending_since: dict[str, float] = {}
        self.launched: dict[str, float] = {}
        self.count = itertools.count(1)
        c.serve(self.API, "NodePool", "nodepools", namespaced=False)
        c.serve(self.API, "NodeClaim", "nodeclaims", namespaced=False)
        p = copy.deepcopy(pool or KARPENTER_POOL)
        p["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}], "resources": {}}
        c.apply(p)
        if settings is not None:
            ensure_namespace(c, "kube-system")
            labels = {"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}
            env = [{"name": k, "value": v} for k, v in sorted(settings.items())]
            container = {"name": "controller", "image": "public.ecr.aws/karpenter/controller:1.14.3", "env": env}
            c.apply(deployment("kube-system", "karpenter", labels, [container], replicas=0))
        c.controllers.append(self.reconcile)
        c.every(5.0, self.consolidate)

    def reconcile(self) -> bool:
        if self.broken == "off":
            return False
        changed = False
        for pod in stranded(self.c, self.nominated):
            uid = pod["metadata"]["uid"]
            since = self.pending_since.setdefault(uid, self.c.now)
            if self.c.now < since + self.batch_s:
                if since == self.c.now and self.batch_s:
                    self.c.after(self.batch_s, lambda: None)  # the batch window closes: decide then
                continue
            for pool in self.c.all(self.API, "NodePool"):
                labels = dict(pool["spec"]["template"]["metadata"]["labels"], **{"karpenter.sh/nodepool": pool["metadata"]["name"]})
                if not admits(self.c, pod, labels, pool["spec"]["template"]["spec"].get("taints") or []):
                    continue
                need = self.c.pod_requests(pod)
                fits = [t for t in self.types if all(qty(t["resources"].get(k, 0)) >= v for k, v in need.items())]
                if not fits and self.broken != "launch-anyway":
                    self.nominated.add(uid)
                    self.c.event(
                        pod,
                        "FailedScheduling",
                        "Failed to schedule pod, incompatible with nodepool %r, no instance type satisfied resources %s" % (pool["metadata"]["name"], need),
                        "Warning",
                    )
                    changed = True
                    break
                itype = (fits or self.types)[0]
                limit = (pool["spec"].get("limits") or {}).get("nvidia.com/gpu")
                used = qty((pool["status"].get("resources") or {}).get("nvidia.com/gpu", 0))
                if limit is not None and used + qty(itype["resources"].get("nvidia.com/gpu", 0)) > qty(limit):
                    continue
                self.nominated.add(uid)
                pool["status"].setdefault("resources", {})["nvidia.com/gpu"] = str(int(used + qty(itype["resources"].get("nvidia.com/gpu", 0))))
                claim = self.c.create_obj(
                    {
                        "apiVersion": self.API,
                        "kind": "NodeClaim",
                        "metadata": {"name": "%s-%05d" % (pool["metadata"]["name"], next(self.count)), "labels": dict(labels)},
                        "spec": {
                            "nodeClassRef": copy.deepcopy(pool["spec"]["template"]["spec"]["nodeClassRef"]),
                            "requirements": copy.deepcopy(pool["spec"]["template"]["spec"].get("requirements") or []),
                            "resources": {"requests": {k: str(v) for k, v in need.items()}},
                        },
                        "status": {"conditions": [{"type": "Launched", "status": "Unknown"}]},
                    }
                )
                self.c.event(pod, "Nominated", "Pod should schedule on: nodeclaim/%s" % claim["metadata"]["name"])
                self.c.after(self.launch_s, lambda claim=claim, labels=labels, itype=itype: self.launch(claim, labels, itype))
                changed = True
                break
        return changed

    def launch(self, claim: dict[str, Any], labels: dict[str, str], itype: dict[str, Any]) -> None:
        name = claim["metadata"]["name"]
        if self.c.obj(self.API, "NodeClaim", name) is None:
            return
        res = {k: str(v) for k, v in itype["resources"].items()}
        pool = self.c.obj(self.API, "NodePool", labels["karpenter.sh/nodepool"])
        owner = {"apiVersion": self.API, "kind": "NodeClaim", "name": name, "uid": claim["metadata"]["uid"], "blockOwnerDeletion": True}
        claim["status"] = {
            "nodeName": name,
            "providerID": "kwok://%s" % name,
            "conditions": [{"type": t, "status": "True"} for t in ("Launched", "Registered")],
        }
        self.c.touch(claim)
        node_labels = dict(labels, **{"kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": itype["name"], "karpenter.sh/registered": "true"})
        taints = copy.deepcopy(pool["spec"]["template"]["spec"].get("taints") or [])
        self.c.create_obj(kwok_node(name, node_labels, taints, res, {"ownerReferences": [owner]}))
        self.launched[name] = self.c.now

    def consolidate(self) -> None:
        if self.broken in ("off", "no-consolidation"):
            return
        for name, since in list(self.launched.items()):
            pool = self.c.obj(
                self.API, "NodePool", (self.c.obj(self.API, "NodeClaim", name) or {}).get("metadata", {}).get("labels", {}).get("karpenter.sh/nodepool", "")
            )
            if ((pool or {}).get("spec") or {}).get("disruption", {}).get("consolidateAfter") == "Never":
                continue
            if self.c.pods_on(name):
                self.launched[name] = self.c.now
            elif self.c.now - since >= self.consolidate_s:
                node = self.c.obj("v1", "Node", name)
                pool = self.c.obj(self.API, "NodePool", node["metadata"]["labels"]["karpenter.sh/nodepool"])
                gpus = qty(node["status"]["allocatable"].get("nvidia.com/gpu", 0))
                pool["status"]["resources"]["nvidia.com/gpu"] = str(int(qty(pool["status"]["resources"].get("nvidia.com/gpu", 0)) - gpus))
                self.c.remove(self.API, "NodeClaim", name)  # the node goes with it (owner reference)
                self.c.remove("v1", "Node", name)
                del self.launched[name]


class ClusterAutoscaler:
    """The Cluster Autoscaler with one kwok node group (shared/reference/apis.md section 5): its
    Deployment kube-system/cluster-autoscaler with the flags ``flags`` and its status ConfigMap.
    Every --scan-interval (default 10s) it looks at the pods the scheduler reported Unschedulable:
    one the group's template node fits (labels, taints, resources) triggers a scale-up (event
    TriggeredScaleUp, a node ``kwok-fake-<group>-<n>`` after ``launch_s``), one it does not gets
    NotTriggerScaleUp; a node it added that has had no pod for --scale-down-unneeded-time (default
    10m) is removed (event ScaleDown).  broken: "off", "launch-anyway" (scales up for pods the template cannot hold),
    "no-scale-down"."""

    GROUP_LABEL = "ai-conformance.io/node-group"

    def __init__(
        self,
        c: FakeCluster,
        broken: str = "",
        group: str = "ca-gpu",
        gpus: int = 8,
        launch_s: float = 20,
        flags: list[str] | None = None,
    ) -> None:
        opts = dict(f.lstrip("-").split("=", 1) for f in flags or [] if "=" in f)
        seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}

        def flag(name: str, default: str) -> float:
            return sum(float(n) * seconds[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", opts.get(name, default)))

        self.c, self.broken, self.group, self.launch_s = c, broken, group, launch_s
        self.unneeded_s = flag("scale-down-unneeded-time", "10m")
        self.template = {
            "labels": {self.GROUP_LABEL: group, "nvidia.com/gpu.present": "true"},
            "taints": [{"key": "ai-conformance.io/autoscaled", "value": "true", "effect": "NoSchedule"}],
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": str(gpus)},
        }
        self.triggered: set[str] = set()
        self.added: dict[str, float] = {}
        self.count = itertools.count(1)
        args = ["--cloud-provider=kwok", "--nodes=0:4:%s" % group] + list(flags or [])
        ensure_namespace(c, "kube-system")
        labels = {"app.kubernetes.io/name": "cluster-autoscaler"}
        container = {
            "name": "cluster-autoscaler",
            "image": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.0",
            "command": ["./cluster-autoscaler"],
            "args": args,
        }
        c.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cluster-autoscaler-status", "namespace": "kube-system"},
                "data": {"status": "Healthy"},
            },
            deployment("kube-system", "cluster-autoscaler", labels, [container], replicas=0),
        )
        c.every(flag("scan-interval", "10s"), self.scan)

    def scan(self) -> None:
        if self.broken == "off":
            return
        for pod in stranded(self.c, self.triggered):
            uid = pod["metadata"]["uid"]
            if not admits(self.c, pod, self.template["labels"], self.template["taints"]):
                continue
            fits = all(qty(self.template["allocatable"].get(k, 0)) >= v for k, v in self.c.pod_requests(pod).items())
            if not fits and self.broken != "launch-anyway":
                msg = "pod didn't trigger scale-up: 1 max node group size reached or 1 Insufficient %s" % ", ".join(sorted(self.c.pod_requests(pod)))
                self.c.event(pod, "NotTriggerScaleUp", msg)
                self.triggered.add(uid)
                continue
            self.triggered.add(uid)
            self.c.event(pod, "TriggeredScaleUp", "pod triggered scale-up: [{%s 0->1 (max: 4)}]" % self.group)
            self.c.after(self.launch_s, self.add_node)
        self.c.settle()
        if self.broken != "no-scale-down":
            self.scale_down()

    def add_node(self) -> None:
        name = "kwok-fake-%s-%05d" % (self.group, next(self.count))
        labels = dict(self.template["labels"], **{"kubernetes.io/hostname": name})
        metadata = {"annotations": {"kwok.x-k8s.io/node": "fake"}}
        taints = copy.deepcopy(self.template["taints"])
        self.c.create_obj(kwok_node(name, labels, taints, self.template["allocatable"], metadata, {"providerID": "kwok:%s" % name}))
        self.added[name] = self.c.now

    def scale_down(self) -> None:
        for name, since in list(self.added.items()):
            if self.c.pods_on(name):
                self.added[name] = self.c.now
            elif self.c.now - since >= self.unneeded_s:
                node = self.c.obj("v1", "Node", name)
                self.c.event(node, "ScaleDown", "nodes removed by cluster autoscaler")
                self.c.remove("v1", "Node", name)
                del self.added[name]
