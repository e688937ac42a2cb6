# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gang-scheduling backends for gang_probe.

Each backend knows how one scheduler joins pods into a group and how that group reports its state:
the native Workload API (scheduling.k8s.io PodGroup with a gang policy), Kueue (pod groups admitted
as one Workload against a ClusterQueue), Volcano (PodGroup with minMember) and KAI (PodGroup with
minMember in a queue).  The probe itself (plugins/modules/gang_probe.py) is backend-independent:
it only asks a backend to create pods that belong to a group, to say whether the group's own
status counts them as members, and to give the group's reason when it is refused.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import lease
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl

# The Workload API's PodGroup: beta (v1beta1) in 1.37, alpha (v1alpha3) before; newest served wins.
NATIVE_APIS = ("scheduling.k8s.io/v1", "scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1alpha3")
KUEUE_API = "kueue.x-k8s.io/v1beta2"
VOLCANO_API = "scheduling.volcano.sh/v1beta1"
# How long a group object may take to count members that are already running.
MEMBERSHIP_WAIT_S = 30
KAI_API = "scheduling.run.ai/v2alpha2"

GROUP_LABEL = "gang.ai-conformance.io/group"


def exclusive(client: Any, ctx: Any, result: Any, params: dict[str, Any]) -> bool:
    """Take the cluster's GPU-capacity Lease before the free GPUs are counted: the probe fills
    every free GPU but a group's worth with blockers, so another run's pods (its gang probe, its
    autoscaler probe) taking GPUs meanwhile would change the outcome.  False: another run held it
    for the whole wait, and the result is decided (skip, naming the holder)."""
    wait = params.get("exclusive_wait")
    return lease.hold_for_probe(client, ctx, result, lease.GPU_CAPACITY, lease.WAIT_S if wait is None else wait) is not None


class GangNotWorking(Exception):
    """The gang scheduler is installed but does not work (a finding: the probe fails with it)."""


def _cond(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    return wl.condition(obj, ctype) or {}


def _cond_text(c: dict[str, Any]) -> str:
    if not c:
        return ""
    return "%s=%s %s: %s" % (c.get("type"), c.get("status"), c.get("reason", ""), c.get("message", ""))


class Backend:
    """What gang_probe needs from a gang scheduler."""

    name = ""
    api = ""
    kind = ""
    scheduler_name: str | None = None

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def served(self, client: Any) -> bool:
        return bool(client.served(self.api, self.kind))

    def prepare(self, client: Any, ctx: Any, ns: str, quota: int) -> dict[str, Any]:
        """Create what groups need (queues); returns observations.  ``quota``: free GPUs now."""
        return {}

    def _pod(self, name: str, ns: str, gpus: int, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
        return wl.pod(
            name,
            ns,
            limits={self.params["resource_name"]: str(gpus)},
            scheduler_name=self.scheduler_name,
            labels=labels,
            annotations=annotations,
            **kw,
        )

    def single_pod(self, ctx: Any, ns: str, name: str, gpus: int, node: str | None = None) -> str:
        """A pod outside any gang that still goes through this scheduler (blockers, the control pod)."""
        ctx.create(self._pod(name, ns, gpus, node_selector={"kubernetes.io/hostname": node} if node else None))
        return name

    def group(self, ctx: Any, ns: str, group: str, size: int, gpus: int) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def membership(self, client: Any, ns: str, group: str, pods: list[dict[str, Any]]) -> tuple[bool | None, str]:  # pragma: no cover - abstract
        """Does the group's own object count these pods as its members (admitted/scheduled)?"""
        raise NotImplementedError

    def refusal(self, client: Any, ns: str, group: str) -> str:  # pragma: no cover - abstract
        """The group's own account of why it is not placed."""
        raise NotImplementedError

    # Whether the group object reports a refusal (refused_signal); otherwise it is only observed.
    reports_refusal = False

    def refused_signal(self, obj: dict[str, Any] | None) -> bool:
        """True once the group object reports that it could not be placed."""
        return False

    def wait_refused(self, client: Any, ns: str, group: str, timeout_s: float) -> None:
        """Give the scheduler time to consider the whole group before the observation window
        starts, where the group object reports a refusal; a group that never says so is simply
        observed."""
        if not self.reports_refusal:
            return
        client.wait_until(self.api, self.kind, group, self.refused_signal, ns, timeout_s)

    def release(self, client: Any, ns: str, names: list[str]) -> None:
        """Make the group's pods deletable (a scheduler may hold them with a finalizer)."""

    def retire(self, client: Any, ctx: Any, ns: str, groups: list[str]) -> None:
        """Remove what the probe created for these groups besides their pods, once the pods are gone."""


def release_and_delete(backend: Backend, client: Any, ctx: Any, ns: str, names: list[str]) -> None:
    live = [client.get("v1", "Pod", n, ns) for n in names]
    groups = sorted({(x["metadata"].get("labels") or {}).get(GROUP_LABEL) for x in live if x} - {None})
    backend.release(client, ns, names)
    wl.delete_together(client, ctx, ns, names)
    backend.retire(client, ctx, ns, groups)


class Native(Backend):
    """Kubernetes' own Workload API: a PodGroup with a gang policy, pods join it through
    spec.schedulingGroup; kube-scheduler places all minCount pods or none."""

    name = "native"
    api = NATIVE_APIS[1]
    kind = "PodGroup"

    def served(self, client: Any) -> bool:
        for api in NATIVE_APIS:
            if client.served(api, "PodGroup"):
                self.api = api
                return True
        return False

    def group(self, ctx: Any, ns: str, group: str, size: int, gpus: int) -> list[str]:
        ctx.create(
            {
                "apiVersion": self.api,
                "kind": "PodGroup",
                "metadata": {"name": group, "namespace": ns},
                "spec": {"schedulingPolicy": {"gang": {"minCount": size}}},
            }
        )
        names = []
        for i in range(size):
            p = self._pod("%s-%d" % (group, i), ns, gpus, labels={GROUP_LABEL: group})
            p["spec"]["schedulingGroup"] = {"podGroupName": group}
            ctx.create(p)
            names.append(p["metadata"]["name"])
        return names

    def membership(self, client: Any, ns: str, group: str, pods: list[dict[str, Any]]) -> tuple[bool | None, str]:
        pg = client.get(self.api, "PodGroup", group, ns)
        joined = [p["metadata"]["name"] for p in pods if (p.get("spec", {}).get("schedulingGroup") or {}).get("podGroupName") == group]
        cond = _cond(pg, "PodGroupInitiallyScheduled")
        ok = len(joined) == len(pods) and cond.get("status") == "True"
        return ok, "%d/%d pods reference PodGroup %s; %s" % (len(joined), len(pods), group, _cond_text(cond) or "no PodGroupInitiallyScheduled condition")

    reports_refusal = True

    def refused_signal(self, obj: dict[str, Any] | None) -> bool:
        return _cond(obj, "PodGroupInitiallyScheduled").get("status") == "False"

    def refusal(self, client: Any, ns: str, group: str) -> str:
        return _cond_text(_cond(client.get(self.api, "PodGroup", group, ns), "PodGroupInitiallyScheduled")) or "PodGroup %s reports no condition" % group


class Kueue(Backend):
    """Kueue: pods labelled with a queue and a pod-group name are gated until Kueue admits the
    whole group as one Workload within the ClusterQueue's quota."""

    name = "kueue"
    api = KUEUE_API
    kind = "Workload"

    def served(self, client: Any) -> bool:
        return bool(client.served(self.api, "Workload") and client.served(self.api, "ClusterQueue"))

    def prepare(self, client: Any, ctx: Any, ns: str, quota: int) -> dict[str, Any]:
        res = self.params["resource_name"]
        flavor, cq = ctx.name("flavor"), ctx.name("cq")
        ctx.create({"apiVersion": self.api, "kind": "ResourceFlavor", "metadata": {"name": flavor}, "spec": {}})
        ctx.create(
            {
                "apiVersion": self.api,
                "kind": "ClusterQueue",
                "metadata": {"name": cq},
                "spec": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                    "queueingStrategy": "BestEffortFIFO",
                    "resourceGroups": [{"coveredResources": [res], "flavors": [{"name": flavor, "resources": [{"name": res, "nominalQuota": quota}]}]}],
                },
            }
        )
        ctx.create({"apiVersion": self.api, "kind": "LocalQueue", "metadata": {"name": "gang", "namespace": ns}, "spec": {"clusterQueue": cq}})
        active, live = client.wait_until(self.api, "ClusterQueue", cq, lambda o: _cond(o, "Active").get("status") == "True", None, self.params["timeout"])
        if not active:
            raise GangNotWorking(
                "ClusterQueue %s never became Active within %ss (%s): Kueue's controller is not reconciling"
                % (cq, self.params["timeout"], _cond_text(_cond(live, "Active")) or "no Active condition")
            )
        return {"cluster_queue": cq, "local_queue": "%s/gang" % ns, "quota": {res: quota}, "cluster_queue_active": _cond_text(_cond(live, "Active"))}

    def single_pod(self, ctx: Any, ns: str, name: str, gpus: int, node: str | None = None) -> str:
        labels = {"kueue.x-k8s.io/queue-name": "gang"}
        ctx.create(self._pod(name, ns, gpus, labels=labels, node_selector={"kubernetes.io/hostname": node} if node else None))
        return name

    def group(self, ctx: Any, ns: str, group: str, size: int, gpus: int) -> list[str]:
        names = []
        for i in range(size):
            labels = {"kueue.x-k8s.io/queue-name": "gang", "kueue.x-k8s.io/pod-group-name": group, GROUP_LABEL: group}
            p = self._pod("%s-%d" % (group, i), ns, gpus, labels=labels, annotations={"kueue.x-k8s.io/pod-group-total-count": str(size)})
            ctx.create(p)
            names.append(p["metadata"]["name"])
        return names

    def release(self, client: Any, ns: str, names: list[str]) -> None:
        for n in names:
            if client.get("v1", "Pod", n, ns) is not None:
                wl.end_kueue_group(client, n, ns)

    def workload(self, client: Any, ns: str, group: str, uids: list[str] | None = None) -> dict[str, Any] | None:
        items = client.list(self.api, "Workload", ns)["items"]
        for w in items:
            owners = {o.get("uid") for o in w["metadata"].get("ownerReferences", []) or []}
            if w["metadata"]["name"] == group or (uids and set(uids) <= owners):
                return w
        return None

    def membership(self, client: Any, ns: str, group: str, pods: list[dict[str, Any]]) -> tuple[bool | None, str]:
        w = self.workload(client, ns, group, [p["metadata"]["uid"] for p in pods])
        if w is None:
            return False, "no Kueue Workload owns the %d pods of group %s: they were not joined into one group" % (len(pods), group)
        counted = sum(int(a.get("count", 0) or 0) for a in ((w.get("status") or {}).get("admission") or {}).get("podSetAssignments", []) or [])
        owners = {o.get("uid") for o in w["metadata"].get("ownerReferences", []) or []}
        owned = sum(1 for p in pods if p["metadata"]["uid"] in owners)
        admitted = _cond(w, "Admitted")
        ok = counted == len(pods) and owned == len(pods) and admitted.get("status") == "True"
        return ok, "Workload %s owns %d/%d pods, admission counts %d; %s" % (w["metadata"]["name"], owned, len(pods), counted, _cond_text(admitted))

    def refusal(self, client: Any, ns: str, group: str) -> str:
        w = self.workload(client, ns, group)
        if w is None:
            return "no Kueue Workload for group %s" % group
        return _cond_text(_cond(w, "QuotaReserved")) or "Workload %s has no QuotaReserved condition" % w["metadata"]["name"]


class Volcano(Backend):
    """Volcano: a PodGroup with minMember; pods join through the group-name annotation."""

    name = "volcano"
    api = VOLCANO_API
    kind = "PodGroup"
    scheduler_name = "volcano"

    def group(self, ctx: Any, ns: str, group: str, size: int, gpus: int) -> list[str]:
        res = self.params["resource_name"]
        ctx.create(
            {
                "apiVersion": self.api,
                "kind": "PodGroup",
                "metadata": {"name": group, "namespace": ns},
                "spec": {"minMember": size, "queue": self.params.get("queue") or "default", "minResources": {res: str(size * gpus)}},
            }
        )
        names = []
        for i in range(size):
            p = self._pod("%s-%d" % (group, i), ns, gpus, labels={GROUP_LABEL: group}, annotations={"scheduling.k8s.io/group-name": group})
            ctx.create(p)
            names.append(p["metadata"]["name"])
        return names

    @staticmethod
    def _counted(pg: dict[str, Any] | None) -> int:
        st = (pg or {}).get("status") or {}
        return int(st.get("running", 0) or 0) + int(st.get("succeeded", 0) or 0)

    def membership(self, client: Any, ns: str, group: str, pods: list[dict[str, Any]]) -> tuple[bool | None, str]:
        # The scheduler writes the PodGroup's counts in its next cycle after the pods run.
        def counts_all(o: dict[str, Any] | None) -> bool:
            return self._counted(o) == len(pods) and ((o or {}).get("status") or {}).get("phase") in ("Running", "Completed")

        ok, pg = client.wait_until(self.api, "PodGroup", group, counts_all, ns, MEMBERSHIP_WAIT_S)
        st = (pg or {}).get("status") or {}
        return ok, "PodGroup %s phase %s counts %d running/succeeded of %d" % (group, st.get("phase"), self._counted(pg), len(pods))

    def retire(self, client: Any, ctx: Any, ns: str, groups: list[str]) -> None:
        # A PodGroup left behind keeps its minResources reserved in its queue and holds back
        # later groups; it goes with its pods.
        for g in groups:
            ctx.delete({"apiVersion": self.api, "kind": "PodGroup", "name": g, "namespace": ns}, wait=True)

    reports_refusal = True

    def refused_signal(self, obj: dict[str, Any] | None) -> bool:
        return _cond(obj, "Unschedulable").get("status") == "True"

    def refusal(self, client: Any, ns: str, group: str) -> str:
        pg = client.get(self.api, "PodGroup", group, ns)
        return _cond_text(_cond(pg, "Unschedulable")) or "PodGroup %s phase %s" % (group, ((pg or {}).get("status") or {}).get("phase"))


class Kai(Backend):
    """KAI scheduler: a PodGroup with minMember in a leaf queue; pods name it and skip the podgrouper."""

    name = "kai"
    api = KAI_API
    kind = "PodGroup"
    scheduler_name = "kai-scheduler"

    def _queue(self) -> str:
        return self.params.get("queue") or "default-queue"

    def single_pod(self, ctx: Any, ns: str, name: str, gpus: int, node: str | None = None) -> str:
        ctx.create(self._pod(name, ns, gpus, labels={"kai.scheduler/queue": self._queue()}, node_selector={"kubernetes.io/hostname": node} if node else None))
        return name

    def group(self, ctx: Any, ns: str, group: str, size: int, gpus: int) -> list[str]:
        ctx.create(
            {"apiVersion": self.api, "kind": "PodGroup", "metadata": {"name": group, "namespace": ns}, "spec": {"minMember": size, "queue": self._queue()}}
        )
        names = []
        for i in range(size):
            labels = {"kai.scheduler/queue": self._queue(), GROUP_LABEL: group}
            annotations = {"pod-group-name": group, "kai.scheduler/skip-podgrouper": "true"}
            p = self._pod("%s-%d" % (group, i), ns, gpus, labels=labels, annotations=annotations)
            ctx.create(p)
            names.append(p["metadata"]["name"])
        return names

    def membership(self, client: Any, ns: str, group: str, pods: list[dict[str, Any]]) -> tuple[bool | None, str]:
        pg = client.get(self.api, "PodGroup", group, ns) or {}
        joined = [p for p in pods if (p["metadata"].get("annotations") or {}).get("pod-group-name") == group]
        unsched = [c for c in (pg.get("status") or {}).get("schedulingConditions", []) or [] if c.get("type") == "UnschedulableOnNodePool"]
        ok = len(joined) == len(pods) and not unsched
        return ok, "%d/%d pods name PodGroup %s; %d unschedulable conditions" % (len(joined), len(pods), group, len(unsched))

    def refusal(self, client: Any, ns: str, group: str) -> str:
        pg = client.get(self.api, "PodGroup", group, ns) or {}
        conds = (pg.get("status") or {}).get("schedulingConditions", []) or []
        return "; ".join("%s %s: %s" % (c.get("type"), c.get("reason", ""), c.get("message", "")) for c in conds) or "PodGroup %s reports nothing" % group


BACKENDS = {b.name: b for b in (Kueue, Volcano, Kai, Native)}
# What `auto` tries, in order: a dedicated gang scheduler the platform installed wins over the
# native API, which a cluster may serve without anyone relying on it.
AUTO_ORDER = ("kueue", "volcano", "kai", "native")


def pick(client: Any, params: dict[str, Any]) -> tuple[Backend | None, list[str]]:
    """The backend to probe and every backend the cluster serves."""
    backends = {n: BACKENDS[n](params) for n in AUTO_ORDER}
    served = [n for n, b in backends.items() if b.served(client)]
    want = params.get("scheduler", "auto")
    if want == "auto":
        return (backends[served[0]] if served else None), served
    return (backends[want] if want in served else None), served


def bind_time(p: dict[str, Any]) -> str | None:
    c = wl.condition(p, "PodScheduled") or {}
    return c.get("lastTransitionTime") if c.get("status") == "True" else None


def blocker_plan(free: dict[str, int], leave: int) -> list[tuple[str, int]]:
    """Per node, how many GPUs a blocker pod takes so that exactly ``leave`` stay free in total.

    Nodes are taken in name order; the last node that still has room keeps the remainder."""
    plan = []
    remaining = sum(v for v in free.values() if v > 0) - leave
    for node in sorted(n for n, v in free.items() if v > 0):
        if remaining <= 0:
            break
        take = min(free[node], remaining)
        plan.append((node, take))
        remaining -= take
    return plan
