"""Gang scheduling: kube-scheduler's native gang plugin (scheduling.k8s.io PodGroup with a gang
policy, minCount), and Kueue served without its controller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import FakeCluster


def group_name(pod: dict[str, Any]) -> str | None:
    """The PodGroup a pod joins (spec.schedulingGroup.podGroupName)."""
    return ((pod.get("spec") or {}).get("schedulingGroup") or {}).get("podGroupName")


class GangMixin:
    """FakeCluster's gang plugin (``gang_plugin``: True, False or "stuck"; see native_gang)."""

    def gang_of(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        """The native PodGroup with a gang policy the pod joins (scheduling.k8s.io), when the
        scheduler runs the gang plugin."""
        ref = group_name(pod)
        if not ref or self.gang_plugin is False:
            return None
        for av in ("scheduling.k8s.io/v1", "scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1alpha3"):
            if self.served(av, "PodGroup"):
                return self.obj(av, "PodGroup", ref, pod["metadata"]["namespace"])
        return None

    def _schedule_gang(self, pod: dict[str, Any], group: dict[str, Any], done: set[str]) -> bool:
        ns, gname = pod["metadata"]["namespace"], group["metadata"]["name"]
        members = [p for p in self.pending() if p["metadata"]["namespace"] == ns and group_name(p) == gname]
        done.update(p["metadata"]["uid"] for p in members)
        need = int(((group.get("spec") or {}).get("schedulingPolicy") or {}).get("gang", {}).get("minCount", 1))
        bound = [p for p in self.all("v1", "Pod", ns) if group_name(p) == gname and p["spec"].get("nodeName")]
        if len(members) + len(bound) < need or self.gang_plugin == "stuck":
            return False  # waits at PreEnqueue until the group is complete (or forever, when stuck)
        extra: dict[str, dict[str, float]] = {}
        plan, why = [], ""
        for p in members:
            node, allocs, why = self.place(p, extra, self.taken_devices())
            if node is None:
                break
            plan.append((p, node, allocs))
            for k, v in self.pod_requests(p).items():
                extra.setdefault(node["metadata"]["name"], {})[k] = extra.get(node["metadata"]["name"], {}).get(k, 0) + v
        if len(plan) >= need - len(bound):  # the quorum (minCount) fits: those bind, the rest wait as single pods do
            changed = bool(plan)
            for p, node, allocs in plan:
                self.bind(p, node, allocs)
            for p in members[len(plan) :]:
                changed |= self.unschedulable(p, why)
            changed |= self.set_cond(group, "PodGroupInitiallyScheduled", "True", "Scheduled", "")
            return changed
        msg = "%d/%d pods of the gang could not be scheduled: %s" % (len(members) - len(plan), len(members), why)
        marked = [self.unschedulable(p, msg) for p in members]  # every member gets the condition
        changed = any(marked)
        changed |= self.set_cond(group, "PodGroupInitiallyScheduled", "False", "Unschedulable", msg)
        return changed


def native_gang(c: FakeCluster, plugin: Any = True) -> FakeCluster:
    """The native Workload API (scheduling.k8s.io PodGroup with a gang policy) and kube-scheduler's
    gang plugin: True places a group whole or not at all, False ignores groups (pods are placed one
    by one), "stuck" never places a group."""
    c.serve("scheduling.k8s.io/v1beta1", "PodGroup", "podgroups")
    c.gang_plugin = plugin
    return c


def kueue_crds_only(c: FakeCluster) -> FakeCluster:
    """Kueue's CRDs served with no controller running: nothing ever becomes Active."""
    for kind, plural, nsd in (
        ("ResourceFlavor", "resourceflavors", False),
        ("ClusterQueue", "clusterqueues", False),
        ("LocalQueue", "localqueues", True),
        ("Workload", "workloads", True),
    ):
        c.serve("kueue.x-k8s.io/v1beta2", kind, plural, nsd)
    return c
