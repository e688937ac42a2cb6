#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: autoscaler_probe
short_description: Prove GPU node autoscaling up and down (requirement cluster_autoscaling)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Scale-up: GPU pods that no existing node of the autoscaled pool can take make the autoscaler
    add a node; the probe measures the time until every pod is bound and at least one runs on a
    node that joined after the pods were created."
  - "Scale-down: once the pods are deleted, every node that joined for them must be removed
    within O(scale_down_timeout); the time is measured."
  - "Negative case: a pod asking for more GPUs than any node of the pool offers
    (O(impossible_gpus)) must not make any node join during O(observe_seconds) and stays unbound;
    the autoscaler's own events on the pod are recorded as the reason."
  - "Discovery: Karpenter (C(karpenter.sh/v1) NodePool; limits and taints are read from the pool)
    or the Cluster Autoscaler (its C(cluster-autoscaler-status) ConfigMap in any namespace).
    No autoscaler, or a Karpenter pool whose limits leave no room, fails the probe with that reason."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  provider:
    description: Node autoscaler the platform declares.
    type: str
    choices: [auto, karpenter, cluster_autoscaler]
    default: auto
  node_pool:
    description: Karpenter NodePool to probe; empty picks the only pool, or the only one with a limit on O(resource_name).
    type: str
  node_selector:
    description: Node labels that select the autoscaled GPU nodes (default for Karpenter C(karpenter.sh/nodepool=<pool>)). Required for the Cluster Autoscaler.
    type: dict
  tolerations:
    description: Tolerations the workload needs for the pool's nodes (default for Karpenter; one per taint of the pool's template).
    type: list
    elements: dict
  resource_name:
    description: Extended resource each workload pod requests.
    type: str
    default: nvidia.com/gpu
  gpus_per_pod:
    description: Units of O(resource_name) per workload pod.
    type: int
    default: 1
  max_pods:
    description: Most workload pods the scale-up may need (existing free capacity in the pool is filled first).
    type: int
    default: 32
  impossible_gpus:
    description: Request of the negative case, more than any node of the pool has.
    type: int
    default: 4096
  scale_up_timeout:
    description: Seconds allowed for a node to join and run the workload.
    type: int
    default: 600
  scale_down_timeout:
    description: Seconds allowed for the joined nodes to be removed after the workload is gone (the pool's scale-down window plus drain).
    type: int
    default: 900
  observe_seconds:
    description: How long the negative case is watched for a node joining.
    type: int
    default: 15
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Probe autoscaling of the GPU pool Karpenter manages
  ai_conformance.kubernetes.autoscaler_probe:
    node_pool: gpu
  register: autoscaling

- name: Probe the Cluster Autoscaler's GPU node group
  ai_conformance.kubernetes.autoscaler_probe:
    provider: cluster_autoscaler
    node_selector: {eks.amazonaws.com/nodegroup: gpu-a100}
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
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
  sample: karpenter added a GPU node in 3.1 s and removed it 24.0 s after the workload left
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: cluster_autoscaling
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: karpenter added a GPU node
    observations:
      description: Provider, pool, headroom, nodes that joined, scale_up_s, scale_down_s, the autoscaler's events.
      type: dict
      returned: always
      sample: {provider: karpenter, scale_up_s: 3.1, scale_down_s: 24.0}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: a node joined and runs the workload, ok: true, detail: "1 new node", kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: create 1 pod x 1 nvidia.com/gpu, result: bound on a new node in 3.1 s, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: pod needing 4096 GPUs, refused: true, outcome: no node joined in 15 s}]
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
      sample: 41.4
"""

import time

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import autoscale as asc
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import isolation as iso
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.client import ClusterError, selector
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import Verdict

EXTRA = {
    "provider": {"type": "str", "default": "auto", "choices": ["auto", "karpenter", "cluster_autoscaler"]},
    "node_pool": {"type": "str"},
    "node_selector": {"type": "dict"},
    "tolerations": {"type": "list", "elements": "dict"},
    "resource_name": {"type": "str", "default": "nvidia.com/gpu"},
    "gpus_per_pod": {"type": "int", "default": 1},
    "max_pods": {"type": "int", "default": 32},
    "impossible_gpus": {"type": "int", "default": 4096},
    "scale_up_timeout": {"type": "int", "default": 600},
    "scale_down_timeout": {"type": "int", "default": 900},
    "observe_seconds": {"type": "int", "default": 15},
}


class AutoscalerProbe(Probe):
    requirement = "cluster_autoscaling"

    def __init__(self, extra_spec):
        super().__init__(extra_spec)
        for k in ("gpus_per_pod", "max_pods", "scale_up_timeout", "scale_down_timeout", "observe_seconds"):
            if self.params[k] < 1:
                self.module.fail_json(msg="%s must be at least 1, got %d" % (k, self.params[k]))

    def discover(self, client, result):
        """(provider, node selector, tolerations) or a decided result."""
        p = self.params
        pools = asc.karpenter_pools(client) if p["provider"] in ("auto", "karpenter") else []
        result.observations["karpenter_pools"] = [x["metadata"]["name"] for x in pools]
        if pools:
            pool, why = asc.pick_pool(pools, p["node_pool"], p["resource_name"])
            if pool is None:
                result.decide(Verdict.FAIL if p["node_pool"] else Verdict.ERROR, why)
                return None
            name = pool["metadata"]["name"]
            result.observations["node_pool"] = name
            ready = wl.condition(pool, "Ready") or {}
            if ready.get("status") == "False":
                result.decide(Verdict.FAIL, "NodePool %s is not Ready: %s %s" % (name, ready.get("reason", ""), ready.get("message", "")))
                return None
            room = asc.pool_headroom(pool, p["resource_name"])
            result.observations["pool_headroom"] = room
            if room is not None and room < p["gpus_per_pod"]:
                limit = ((pool.get("spec") or {}).get("limits") or {}).get(p["resource_name"])
                result.decide(
                    Verdict.FAIL,
                    "NodePool %s is at its limit: %s limit %s leaves room for %d, a pod needs %d" % (name, p["resource_name"], limit, room, p["gpus_per_pod"]),
                )
                return None
            sel = p["node_selector"] or {asc.KARPENTER_POOL_LABEL: name}
            tol = p["tolerations"] if p["tolerations"] is not None else asc.tolerations_for(pool)
            return "karpenter", sel, tol
        ca = asc.cluster_autoscaler_status(client) if p["provider"] in ("auto", "cluster_autoscaler") else None
        result.observations["cluster_autoscaler_status"] = "%s/%s" % (ca["metadata"]["namespace"], ca["metadata"]["name"]) if ca else None
        if ca is not None:
            if not p["node_selector"]:
                result.decide(Verdict.ERROR, "the Cluster Autoscaler is present: set node_selector to the labels of its GPU node group")
                return None
            return "cluster_autoscaler", p["node_selector"], p["tolerations"] or []
        result.decide(
            Verdict.FAIL,
            "no node autoscaler found: no Karpenter NodePool is served and no cluster-autoscaler-status ConfigMap exists"
            if p["provider"] == "auto"
            else "the declared autoscaler %s is not present in the cluster" % p["provider"],
        )
        return None

    def run(self, client, ctx, result):
        p = self.params
        found = self.discover(client, result)
        if found is None:
            return
        provider, sel, tol = found
        result.observations.update({"provider": provider, "node_selector": sel, "tolerations": tol})
        ns = ctx.ensure_namespace(p["namespace"])
        res = p["resource_name"]
        baseline = {n["metadata"]["name"] for n in client.list("v1", "Node")["items"]}

        # Negative: nothing the pool offers fits this pod, so no node may join for it.
        ctx.create(wl.pod("impossible", ns, limits={res: str(p["impossible_gpus"])}, node_selector=sel, tolerations=tol))
        held, last = client.holds("v1", "Pod", "impossible", wl.is_bound, ns, p["observe_seconds"])
        joined = self.new_nodes(client, sel, baseline)
        events = asc.events_for(client, ns, "Pod", "impossible")
        result.observations["impossible_pod_events"] = events
        refused = held and not joined
        outcome = (
            "no node joined in %ds and the pod stayed unbound; %s" % (p["observe_seconds"], "; ".join(events[-3:]) or "no events")
            if refused
            else "node(s) %s joined / pod bound to %s for a pod no node can hold" % (sorted(joined), (last or {}).get("spec", {}).get("nodeName"))
        )
        result.negative_case("pod needing %d %s, more than any pool node has" % (p["impossible_gpus"], res), refused, outcome)
        ctx.delete({"apiVersion": "v1", "kind": "Pod", "name": "impossible", "namespace": ns}, wait=True)

        # Scale-up: fill what the pool already has free, plus one pod that needs a new node.
        nodes = client.list("v1", "Node", label_selector=selector(sel))["items"]
        free = iso.free_by_node(nodes, client.list("v1", "Pod")["items"], res)
        count = sum(f // p["gpus_per_pod"] for f in free.values()) + 1
        result.observations["pool_free_before"] = free
        if count > p["max_pods"]:
            result.decide(Verdict.SKIP, "the pool already has room for %d pods; a scale-up needs more than max_pods %d" % (count - 1, p["max_pods"]))
            return
        names = ["load-%d" % i for i in range(count)]
        t0 = time.monotonic()
        for n in names:
            ctx.create(wl.pod(n, ns, limits={res: str(p["gpus_per_pod"])}, node_selector=sel, tolerations=tol))
        placed = wl.wait_all_bound(client, ns, names, p["scale_up_timeout"])
        up_s = round(time.monotonic() - t0, 1)
        bound = [x for x in placed if wl.is_bound(x)]
        joined = sorted({x["spec"]["nodeName"] for x in bound} - baseline)
        result.observations.update({"scale_up_s": up_s if joined else None, "joined_nodes": joined})
        if len(bound) < count:
            waiting = [x for x in placed if not wl.is_bound(x)]
            why = "; ".join(asc.events_for(client, ns, "Pod", waiting[0]["metadata"]["name"])[-3:]) if waiting else ""
            result.check(
                "a node joined and runs the workload",
                False,
                "%d/%d pods bound after %ds; new nodes: %s; events: %s" % (len(bound), count, p["scale_up_timeout"], joined or "none", why or "none"),
            )
        else:
            result.check("a node joined and runs the workload", bool(joined), "%d pods bound in %.1f s; new nodes %s" % (count, up_s, joined or "none"))
        result.step(
            "create %d pods x %d %s on %s" % (count, p["gpus_per_pod"], res, selector(sel)),
            "%d bound in %.1f s, new nodes %s" % (len(bound), up_s, joined),
            bool(joined),
        )

        # Scale-down: the nodes that joined for the workload leave once it is gone.
        wl.delete_together(client, ctx, ns, names)
        if not joined:
            result.check("joined nodes are removed after the workload leaves", None, "no node joined, nothing to scale down")
        else:
            t1 = time.monotonic()
            gone = []
            for node in joined:
                try:
                    client.wait_gone("v1", "Node", node, None, max(1.0, t1 + p["scale_down_timeout"] - time.monotonic()))
                    gone.append(node)
                except ClusterError as exc:
                    if exc.kind != "timeout":
                        raise
            down_s = round(time.monotonic() - t1, 1)
            result.observations["scale_down_s"] = down_s if len(gone) == len(joined) else None
            left = sorted(set(joined) - set(gone))
            events = [e for node in left for e in asc.events_for(client, None, "Node", node)[-2:]]
            result.check(
                "joined nodes are removed after the workload leaves",
                not left,
                "%d/%d removed in %.1f s%s"
                % (len(gone), len(joined), down_s, "; still there: %s (%s)" % (left, "; ".join(events) or "no events") if left else ""),
            )
            result.step("delete the workload", "%d/%d joined nodes removed in %.1f s" % (len(gone), len(joined), down_s), not left)
        result.decide_from_checks(
            "%s added a node in %s s for GPU pods that did not fit and removed it %s s after they left; a pod no node can hold launched nothing"
            % (provider, result.observations.get("scale_up_s"), result.observations.get("scale_down_s"))
        )

    @staticmethod
    def new_nodes(client, sel, baseline):
        return sorted({n["metadata"]["name"] for n in client.list("v1", "Node", label_selector=selector(sel))["items"]} - baseline)


def main():
    AutoscalerProbe(EXTRA).main()


if __name__ == "__main__":
    main()
