"""kube-scheduler: node selectors and affinity, taints, extended resources from node allocatable,
RuntimeClass overhead, DRA claims allocated at binding; a pod nothing fits is marked
Unschedulable with the scheduler's message.  (The gang plugin is in gang.py.)"""

from __future__ import annotations

from typing import Any

from .base import DEFAULT_SCHEDULER, RESOURCE_API, cond, qty


class SchedulerMixin:
    """FakeCluster's scheduler."""

    def pod_requests(self, pod: dict[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {"pods": 1}
        spec = pod.get("spec") or {}
        for c in spec.get("containers") or []:
            res = c.get("resources") or {}
            for k in set(res.get("limits") or {}) | set(res.get("requests") or {}):
                v = (res.get("requests") or {}).get(k, (res.get("limits") or {}).get(k))
                out[k] = out.get(k, 0) + qty(v)
        for k, v in (spec.get("overhead") or {}).items():
            out[k] = out.get(k, 0) + qty(v)
        return out

    def node_free(self, node: dict[str, Any], extra: dict[str, dict[str, float]] | None = None) -> dict[str, float]:
        name = node["metadata"]["name"]
        free = {k: qty(v) for k, v in ((node.get("status") or {}).get("allocatable") or {}).items()}
        for p in self.pods_on(name):
            for k, v in self.pod_requests(p).items():
                if "/" in k and "no-extended-resource-accounting" in self.faults:
                    continue
                free[k] = free.get(k, 0) - v
        for k, v in ((extra or {}).get(name) or {}).items():
            free[k] = free.get(k, 0) - v
        return free

    @staticmethod
    def affinity_matches(pod: dict[str, Any], labels: dict[str, str]) -> bool:
        """requiredDuringSchedulingIgnoredDuringExecution: any term whose matchExpressions all hold
        (In, NotIn, Exists, DoesNotExist, and Gt/Lt on a label parsed as an integer)."""
        req = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        if not req:
            return True

        def holds(e: dict[str, Any]) -> bool:
            op, key, vals = e["operator"], e["key"], e.get("values") or []
            if op == "Exists":
                return key in labels
            if op == "DoesNotExist":
                return key not in labels
            if op == "In":
                return labels.get(key) in vals
            if op == "NotIn":
                return labels.get(key) not in vals
            try:
                have, want = int(labels[key]), int(vals[0])
            except (KeyError, ValueError, IndexError):
                return False
            return have > want if op == "Gt" else have < want

        return any(all(holds(e) for e in t.get("matchExpressions") or []) for t in req.get("nodeSelectorTerms") or [])

    @staticmethod
    def tolerates(pod: dict[str, Any], taint: dict[str, Any]) -> bool:
        for t in (pod.get("spec") or {}).get("tolerations") or []:
            if t.get("effect") not in (None, "", taint.get("effect")):
                continue
            if t.get("operator") == "Exists" and (not t.get("key") or t["key"] == taint["key"]):
                return True
            if t.get("key") == taint["key"] and t.get("value", "") == taint.get("value", ""):
                return True
        return False

    def fit(self, pod: dict[str, Any], node: dict[str, Any], extra: dict[str, dict[str, float]], taken: set) -> tuple[str | None, dict[str, Any]]:
        """(None, claim allocations) when the pod fits the node, else (the scheduler's reason, {})."""
        spec = pod.get("spec") or {}
        labels = node["metadata"].get("labels") or {}
        if (node.get("spec") or {}).get("unschedulable"):
            return "node(s) were unschedulable", {}
        if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()) or not self.affinity_matches(pod, labels):
            return "node(s) didn't match Pod's node affinity/selector", {}
        for t in (node.get("spec") or {}).get("taints") or []:
            if t.get("effect") in ("NoSchedule", "NoExecute") and not self.tolerates(pod, t):
                return "node(s) had untolerated taint {%s: %s}" % (t["key"], t.get("value", "")), {}
        free = self.node_free(node, extra)
        for k, v in self.pod_requests(pod).items():
            if "/" in k and "no-extended-resource-fit" in self.faults:
                continue
            if v > free.get(k, 0) + 1e-9:
                return "Insufficient %s" % k, {}
        allocations: dict[str, Any] = {}
        mine = set(taken)
        for rc in spec.get("resourceClaims") or []:
            claim = self.claim_of(pod, rc)
            alloc = ((claim or {}).get("status") or {}).get("allocation")
            if alloc:
                where = alloc["nodeSelector"]["nodeSelectorTerms"][0]["matchFields"][0]["values"]
                if node["metadata"]["name"] not in where:
                    return "node(s) didn't match the allocation of a claim", {}
                continue
            got = self.allocate(claim, node["metadata"]["name"], mine)
            if got is None:
                return "cannot allocate all claims", {}
            mine |= {(r["driver"], r["pool"], r["device"]) for r in got}
            allocations[claim["metadata"]["name"]] = got
        return None, allocations

    def place(self, pod: dict[str, Any], extra: dict[str, dict[str, float]], taken: set) -> tuple[dict[str, Any] | None, dict[str, Any], str]:
        for rc in (pod.get("spec") or {}).get("resourceClaims") or []:
            if self.claim_of(pod, rc) is None:
                return None, {}, 'pod "%s": resourceclaim "%s" not found' % (pod["metadata"]["name"], rc.get("resourceClaimName"))
        reasons: dict[str, int] = {}
        nodes = self.all("v1", "Node")
        for node in nodes:
            why, allocs = self.fit(pod, node, extra, taken)
            if why is None:
                return node, allocs, ""
            reasons[why] = reasons.get(why, 0) + 1
        text = ", ".join("%d %s" % (n, r) for r, n in sorted(reasons.items()))
        n = len(nodes)
        return None, {}, "0/%d nodes are available: %s. preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling." % (n, text, n, n)

    def bind(self, pod: dict[str, Any], node: dict[str, Any], allocs: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        for claim_name, results in allocs.items():
            c = self.obj(RESOURCE_API, "ResourceClaim", claim_name, pod["metadata"]["namespace"])
            sel = {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [name]}]}]}
            c.setdefault("status", {})["allocation"] = {"devices": {"results": results}, "nodeSelector": sel}
        for rc in (pod.get("spec") or {}).get("resourceClaims") or []:
            c = self.claim_of(pod, rc)
            c["status"].setdefault("reservedFor", []).append({"resource": "pods", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]})
            self.touch(c)
        pod["spec"]["nodeName"] = name
        cond(pod, "PodScheduled", "True", now=self.iso())
        self.touch(pod)

    def unschedulable(self, pod: dict[str, Any], message: str) -> bool:
        if self.set_cond(pod, "PodScheduled", "False", "Unschedulable", message):
            self.event(pod, "FailedScheduling", message, "Warning")
            return True
        return False

    def pending(self) -> list[dict[str, Any]]:
        pods = [
            p
            for p in self.all("v1", "Pod")
            if not (p.get("spec") or {}).get("nodeName")
            and not (p.get("spec") or {}).get("schedulingGates")
            and (p.get("spec") or {}).get("schedulerName", DEFAULT_SCHEDULER) in self.schedulers
        ]
        return sorted(pods, key=lambda p: int(p["metadata"]["uid"].split("-")[1]))

    def _scheduler(self) -> bool:
        changed = False
        done_groups: set[str] = set()
        for pod in self.pending():
            if pod["metadata"]["uid"] in done_groups:
                continue
            group = self.gang_of(pod)
            if group is not None:
                changed |= self._schedule_gang(pod, group, done_groups)
                continue
            node, allocs, why = self.place(pod, {}, self.taken_devices())
            if node is not None:
                self.bind(pod, node, allocs)
                changed = True
            else:
                changed |= self.unschedulable(pod, why)
        return changed
