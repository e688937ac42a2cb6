#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gang_probe
short_description: Prove all-or-nothing scheduling of GPU pod groups (requirement gang_scheduling)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Positive case: a group of O(group_size) GPU pods, joined to one group the way the chosen
    scheduler defines it, is placed whole, and the group's own object counts every pod as a member
    (Kueue Workload admission and owner references, Volcano PodGroup running count, the native
    PodGroup's C(PodGroupInitiallyScheduled) condition and every pod's C(spec.schedulingGroup))."
  - "Negative case, the heart of the requirement: the probe's own blocker pods leave exactly
    O(group_size) - 1 GPUs free; a new group of O(group_size) must then stay entirely unplaced
    (0 pods bound) for O(observe_seconds) while a smaller pod outside the group is placed at once,
    and must start whole once the blockers are deleted and capacity appears.  A partial placement
    (some members bound) fails the probe with the number bound."
  - Bind timestamps of every member (the C(PodScheduled) condition) are recorded as evidence.
  - "Objects are not trusted as written: each group the probe creates is read back from the API
    (the PodGroup's C(minCount) or C(minMember) and spec, every member's labels, annotations,
    scheduler name, scheduling group and resources) and compared with what was asked. A mutating
    admission webhook that changed any of it (lowered the minimum member count, moved the pods to
    another scheduler) fails the probe, naming the field and the mutating webhooks registered for
    those kinds."
  - "Backends: V(kueue), V(volcano), V(kai), V(native) (the Kubernetes Workload API,
    C(scheduling.k8s.io/v1alpha3) PodGroup).  V(auto) picks the first one the cluster serves in
    that order; when none is served the probe fails."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  scheduler:
    description: Gang scheduler the platform declares.
    type: str
    choices: [auto, kueue, volcano, kai, native]
    default: auto
  resource_name:
    description: Extended resource each member requests (one unit per pod).
    type: str
    default: nvidia.com/gpu
  group_size:
    description: Members per group (at least 2).
    type: int
    default: 2
  queue:
    description: Volcano or KAI queue the groups are submitted to (Kueue gets a ClusterQueue and LocalQueue of the probe's own).
    type: str
  max_blockers:
    description: Most blocker pods (one per GPU node) the negative case may create; on larger clusters that case is undecided.
    type: int
    default: 32
  observe_seconds:
    description: How long the unplaceable group is watched for any member being bound.
    type: int
    default: 10
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Probe gang scheduling with whatever gang scheduler the cluster serves
  ai_conformance.kubernetes.gang_probe:
  register: gang

- name: Probe Kueue explicitly with groups of four
  ai_conformance.kubernetes.gang_probe:
    scheduler: kueue
    group_size: 4
    kubeconfig: ~/.kube/config
"""

RETURN = r"""
verdict:
  description: One of pass, fail, skip, not_applicable, error.
  returned: always
  type: str
  sample: pass
reason:
  description: One sentence explaining the verdict.
  returned: always
  type: str
  sample: kueue placed a group of 2 whole; a group that could not fit stayed at 0 bound while a single pod fit, then started whole
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: gang_scheduling
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: kueue placed a group of 2 whole
    observations:
      description: Backend, free GPUs per node, blockers, bind timestamps of each group, the group's refusal message, cleanup.
      type: dict
      returned: always
      sample: {scheduler: kueue, fit_bind_times: {gang-fit-0: "2026-11-23T10:00:01Z"}}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: group placed whole, ok: true, detail: 2/2 bound, kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: create group gang-fit of 2, result: 2/2 bound, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: group of 2 with 1 GPU free, refused: true, outcome: "QuotaReserved=False Pending: insufficient unused quota"}]
    owner:
      description: Owning layer.
      type: str
      returned: always
      sample: platform
    run_id:
      description: Run id on every created object.
      type: str
      returned: always
      sample: r2611231030-ab12
    started:
      description: UTC start time.
      type: str
      returned: always
      sample: "2026-11-23T10:30:00Z"
    duration_s:
      description: Seconds the probe took.
      type: float
      returned: always
      sample: 21.4
"""

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import readback
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gang
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import isolation as iso

EXTRA = {
    "scheduler": {"type": "str", "default": "auto", "choices": ["auto", "kueue", "volcano", "kai", "native"]},
    "resource_name": {"type": "str", "default": "nvidia.com/gpu"},
    "group_size": {"type": "int", "default": 2},
    "queue": {"type": "str"},
    "max_blockers": {"type": "int", "default": 32},
    "observe_seconds": {"type": "int", "default": 10},
}


class GangProbe(Probe):
    requirement = "gang_scheduling"

    def __init__(self, extra_spec):
        super().__init__(extra_spec)
        if self.params["group_size"] < 2:
            self.module.fail_json(msg="group_size must be at least 2 (a group of one proves nothing about gangs), got %d" % self.params["group_size"])
        if self.params["observe_seconds"] < 1:
            self.module.fail_json(msg="observe_seconds must be at least 1, got %d" % self.params["observe_seconds"])

    def plan(self, run_id):
        p = self.params
        out = super().plan(run_id)
        size, res = p["group_size"], p["resource_name"]
        via = "Kueue, Volcano, KAI or the native Workload API, the first served" if p["scheduler"] == "auto" else p["scheduler"]
        out["creates"] = [
            "group gang-fit: %d Pods x 1 %s and its group object through %s (Kueue: also a ResourceFlavor and a ClusterQueue)" % (size, res, via),
            "blocker Pods that leave %d %s free, then group gang-wait of %d Pods and a control Pod" % (size - 1, res, size),
        ]
        out["observes"] = ["gang-fit bound whole and counted by its group object", "gang-wait starting whole once the blockers are gone"]
        out["negative"] = ["gang-wait (%d Pods, %d %s free) stays at 0 bound for %ds while the control Pod fits" % (size, size - 1, res, p["observe_seconds"])]
        return out

    def run(self, client, ctx, result):
        p = self.params
        size = p["group_size"]
        backend, served = gang.pick(client, p)
        result.observations["schedulers_served"] = served
        if backend is None:
            want = p["scheduler"]
            result.decide(
                Verdict.FAIL,
                "no gang scheduler is served (looked for Kueue, Volcano, KAI and the scheduling.k8s.io PodGroup API)"
                if want == "auto"
                else "the declared gang scheduler %s is not served by the cluster (it serves: %s)" % (want, ", ".join(served) or "none"),
            )
            return
        result.observations["scheduler"] = backend.name
        if not gang.exclusive(client, ctx, result, p):
            return
        free = self.free(client)
        total = sum(free.values())
        result.observations["free_gpus"] = free
        if total < size:
            result.decide(Verdict.SKIP, "the cluster has %d free %s; a group of %d needs %d" % (total, p["resource_name"], size, size))
            return
        ns = ctx.ensure_namespace(p["namespace"])
        try:
            result.observations.update(backend.prepare(client, ctx, ns, total))
        except gang.GangNotWorking as exc:
            result.decide(Verdict.FAIL, str(exc))
            return

        # Positive: a group that fits is placed whole and its group object counts every member.
        rec = readback.Recorder(ctx)
        names = backend.group(rec, ns, "gang-fit", size, 1)
        result.check("the group is stored as the probe asked", *readback.stored_as_asked(client, rec.take()))
        pods = self.wait_bound(client, ns, names)
        bound = [x for x in pods if wl.is_bound(x)]
        result.observations["fit_bind_times"] = {x["metadata"]["name"]: gang.bind_time(x) for x in bound}
        result.check("group that fits is placed whole", len(bound) == size, "%d/%d members bound" % (len(bound), size))
        ok, detail = backend.membership(client, ns, "gang-fit", pods)
        result.check("the group counts every member", ok, detail)
        result.step(
            "create group gang-fit of %d pods x 1 %s via %s" % (size, p["resource_name"], backend.name),
            "%d/%d bound; %s" % (len(bound), size, detail),
            bool(ok),
        )
        gang.release_and_delete(backend, client, ctx, ns, names)
        passed = (
            "%s placed a group of %d whole and counted its members; a group that could not fit stayed at 0 bound while a single pod fit, then started whole"
            % (backend.name, size)
        )
        if not bound:
            result.negative_case("group of %d with %d GPU(s) free" % (size, size - 1), None, "not attempted: no member of a group that fits was placed")
            result.decide_from_checks(passed)  # fails on the check above
            return

        try:
            self.negative(client, ctx, result, backend, ns, size)
        finally:
            waiting = [x["metadata"]["name"] for x in client.list("v1", "Pod", ns, label_selector="%s=gang-wait" % gang.GROUP_LABEL)["items"]]
            gang.release_and_delete(backend, client, ctx, ns, waiting)
        result.decide_from_checks(passed)

    def free(self, client):
        nodes = client.list("v1", "Node")["items"]
        pods = client.list("v1", "Pod")["items"]
        return {n: f for n, f in iso.free_by_node(nodes, pods, self.params["resource_name"]).items() if f > 0}

    def wait_bound(self, client, ns, names):
        return wl.wait_all_bound(client, ns, names, self.params["timeout"])

    def bound_count(self, client, ns, group):
        pods = client.list("v1", "Pod", ns, label_selector="%s=%s" % (gang.GROUP_LABEL, group))["items"]
        return [x for x in pods if wl.is_bound(x)]

    def negative(self, client, ctx, result, backend, ns, size):
        p = self.params
        free = self.free(client)
        plan = gang.blocker_plan(free, size - 1)
        result.observations["blockers"] = [{"node": n, "gpus": g} for n, g in plan]
        if len(plan) > p["max_blockers"]:
            result.negative_case(
                "group of %d with %d GPUs free" % (size, size - 1),
                None,
                "needs %d blocker pods (one per GPU node), above max_blockers %d" % (len(plan), p["max_blockers"]),
            )
            return
        blockers = [backend.single_pod(ctx, ns, "blocker-%d" % i, g, node) for i, (node, g) in enumerate(plan)]
        placed = self.wait_bound(client, ns, blockers)
        if not all(wl.is_bound(x) for x in placed):
            result.negative_case(
                "group of %d with %d GPUs free" % (size, size - 1),
                None,
                "could not set up the case: blockers not placed (%s)" % "; ".join(wl.unschedulable_message(x) for x in placed if not wl.is_bound(x)),
            )
            return
        result.step("blocker pods take %d GPUs on %s" % (sum(g for _node, g in plan), ", ".join(n for n, _gpus in plan)), "%d GPU(s) left free" % (size - 1))

        rec = readback.Recorder(ctx)
        names = backend.group(rec, ns, "gang-wait", size, 1)
        result.check("the waiting group is stored as the probe asked", *readback.stored_as_asked(client, rec.take()))
        backend.wait_refused(client, ns, "gang-wait", p["timeout"])
        held, _last = client.holds("v1", "Pod", names[0], wl.is_bound, ns, p["observe_seconds"])
        early = self.bound_count(client, ns, "gang-wait")
        why = backend.refusal(client, ns, "gang-wait")
        result.observations["refusal"] = why
        backend.single_pod(ctx, ns, "control", 1)
        control = self.wait_bound(client, ns, ["control"])[0]
        result.check(
            "a smaller pod outside the group fits meanwhile",
            wl.is_bound(control),
            "control pod bound to %s" % control["spec"]["nodeName"] if wl.is_bound(control) else wl.unschedulable_message(control),
        )
        late = self.bound_count(client, ns, "gang-wait")
        partial = sorted(x["metadata"]["name"] for x in early + late)
        refused = held and not early and not late
        outcome = (
            "0/%d bound for %ds; %s" % (size, p["observe_seconds"], why)
            if refused
            else "partial placement: %s bound while the group could not fit (%s)" % (", ".join(sorted(set(partial))), why)
        )
        result.negative_case("group of %d with %d GPU(s) free" % (size, size - 1), refused, outcome)
        result.step("create group gang-wait of %d, then a single control pod" % size, outcome, refused)

        # Capacity appears: the group must start whole.
        gang.release_and_delete(backend, client, ctx, ns, blockers + ["control"])
        pods = self.wait_bound(client, ns, names)
        bound = [x for x in pods if wl.is_bound(x)]
        result.observations["wait_bind_times"] = {x["metadata"]["name"]: gang.bind_time(x) for x in bound}
        result.check("the waiting group starts whole once capacity appears", len(bound) == size, "%d/%d members bound after blockers left" % (len(bound), size))
        ok, detail = backend.membership(client, ns, "gang-wait", pods)
        result.check("the started group counts every member", ok, detail)
        result.step("delete blockers and control pod", "%d/%d bound; %s" % (len(bound), size, detail), len(bound) == size)


def main():
    GangProbe(EXTRA).main()


if __name__ == "__main__":
    main()
