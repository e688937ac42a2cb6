"""The namespace controller, events, and the Deployment and ReplicaSet controllers (with the
scale subresource)."""

from __future__ import annotations

import copy
from typing import Any

from .base import is_ready, phase_of


class WorkloadsMixin:
    """FakeCluster's namespace and workload controllers."""

    def _namespaces(self) -> bool:
        changed = False
        for ns in self.all("v1", "Namespace"):
            name = ns["metadata"]["name"]
            ns["metadata"]["labels"].setdefault("kubernetes.io/metadata.name", name)
            if self.obj("v1", "ServiceAccount", "default", name) is None:
                self.create_obj({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}})
                changed = True
        return changed

    def event(self, involved: dict[str, Any], reason: str, message: str, etype: str = "Normal") -> None:
        md = involved["metadata"]
        ns = md.get("namespace") or "default"
        self.create_obj(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"generateName": "%s." % md["name"], "namespace": ns},
                "involvedObject": {"kind": involved["kind"], "name": md["name"], "namespace": md.get("namespace"), "uid": md["uid"]},
                "reason": reason,
                "message": message,
                "type": etype,
                "lastTimestamp": self.iso(),
            }
        )

    def terminal(self, pod: dict[str, Any] | None) -> bool:
        return phase_of(pod) in ("Succeeded", "Failed")

    def pods_on(self, node: str) -> list[dict[str, Any]]:
        """The pods bound to ``node`` that have not finished."""
        return [p for p in self.all("v1", "Pod") if (p.get("spec") or {}).get("nodeName") == node and not self.terminal(p)]

    def owned_pods(self, owner: dict[str, Any]) -> list[dict[str, Any]]:
        """The pods of the owner's namespace whose ownerReferences name it."""
        uid = owner["metadata"]["uid"]
        return [
            p for p in self.all("v1", "Pod", owner["metadata"]["namespace"]) if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
        ]

    def _deployments(self) -> bool:
        changed = False
        for d in self.all("apps/v1", "Deployment"):
            ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
            rs_name = "%s-7c9f8d6b5" % name
            rs = self.obj("apps/v1", "ReplicaSet", rs_name, ns)
            want = int(d["spec"].get("replicas", 1))
            if rs is None:
                tmpl = copy.deepcopy(d["spec"]["template"])
                md = tmpl.get("metadata") or {}
                tmpl["metadata"] = {
                    "labels": dict(md.get("labels") or {}, **{"pod-template-hash": "7c9f8d6b5"}),
                    "annotations": dict(md.get("annotations") or {}),
                }
                owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": d["metadata"]["uid"], "controller": True}
                self.create_obj(
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "metadata": {"name": rs_name, "namespace": ns, "labels": tmpl["metadata"]["labels"], "ownerReferences": [owner]},
                        "spec": {"replicas": want, "selector": d["spec"]["selector"], "template": tmpl},
                    }
                )
                changed = True
            elif rs["spec"]["replicas"] != want:
                rs["spec"]["replicas"] = want
                self.touch(rs)
                changed = True
            rs = self.obj("apps/v1", "ReplicaSet", rs_name, ns)
            rst = rs.get("status") or {}
            status = {
                "observedGeneration": d["metadata"]["generation"],
                "replicas": rst.get("replicas", 0),
                "readyReplicas": rst.get("readyReplicas", 0),
                "availableReplicas": rst.get("readyReplicas", 0),
            }
            changed |= self.replace_status(d, status)
        return changed

    def _replicasets(self) -> bool:
        changed = False
        for rs in self.all("apps/v1", "ReplicaSet"):
            ns = rs["metadata"]["namespace"]
            mine = self.owned_pods(rs)
            want = int(rs["spec"]["replicas"])
            for _i in range(want - len(mine)):
                tmpl = copy.deepcopy(rs["spec"]["template"])
                owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"], "uid": rs["metadata"]["uid"], "controller": True}
                md = dict(tmpl.get("metadata") or {}, generateName=rs["metadata"]["name"] + "-", namespace=ns, ownerReferences=[owner])
                self.create_obj({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": tmpl["spec"]}, admit=True)
                changed = True
            for extra in sorted(mine, key=lambda p: p["metadata"]["creationTimestamp"])[want:][::-1][: max(0, len(mine) - want)]:
                self.remove("v1", "Pod", extra["metadata"]["name"], ns)
                changed = True
            mine = self.owned_pods(rs)
            ready = sum(1 for p in mine if is_ready(p) and phase_of(p) == "Running")
            changed |= self.replace_status(rs, {"replicas": len(mine), "readyReplicas": ready, "availableReplicas": ready})
        return changed
