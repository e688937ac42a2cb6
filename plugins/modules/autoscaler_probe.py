#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

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
    (O(impossible_gpus)) must make the autoscaler launch nothing and stays unbound. It is watched
    alone for a window derived from the autoscaler's own settings (twice the time it takes to act
    on a pending pod: Karpenter's C(BATCH_MAX_DURATION) + C(BATCH_IDLE_DURATION) from its
    Deployment, the Cluster Autoscaler's C(--scan-interval) + C(--new-pod-scale-up-delay); at least
    15 s; O(observe_seconds) where they cannot be read), then stays pending through the scale-up.
    Every NodeClaim (Karpenter) or node created since the probe started is replayed from a watch,
    also those already gone again, and attributed: nominated for this pod (Karpenter's
    C(Nominated) event), or launched while it was the probe's only pending pod, fails the case,
    as does a C(TriggeredScaleUp) or C(Nominated) event on the pod."
  - "The scale-up node must be launched for the workload: nominated for a workload pod, or
    launched after the workload was created; a node launched for the impossible pod that the
    workload happens to use does not count."
  - "The scale-down wait the autoscaler itself applies (the NodePool's
    C(disruption.consolidateAfter); the Cluster Autoscaler's C(--scale-down-unneeded-time) and
    C(--scale-down-delay-after-add)) is recorded and named when nodes stay."
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
    description: >-
      How long the pod of the negative case is watched alone, when the autoscaler's settings cannot be
      read (it runs outside the cluster); with readable settings, the window they give unless this is
      longer; unset, the autoscaler's own defaults give it. The result records the window and where it
      came from (C(observations.negative_window)).
    type: int
  alongside_marker:
    description: >-
      A file that says the run's accelerator probes are done (C(conformance.yml) starts this probe
      beside them). A Karpenter pool with no node is probed at once; otherwise the probe waits for
      the file first (up to 1800 s), so that it fills no GPU they may need. Unset: no wait.
    type: path
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
      description: >-
        Provider, pool, headroom, the negative window and the scale-down wait with where each came from, every
        NodeClaim or node launched since the probe began and for whom (launched), the nodes that joined and which
        of them were launched for the workload, scale_up_s, scale_down_s, the autoscaler's events.
      type: dict
      returned: always
      sample: {provider: karpenter, negative_window: {seconds: 22, source: "karpenter's defaults"}, scale_up_s: 3.1, scale_down_s: 24.0}
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

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import selector
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import autoscale as asc
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import isolation as iso

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
    "observe_seconds": {"type": "int"},
    "alongside_marker": {"type": "path"},
}


class AutoscalerProbe(Probe):
    requirement = "cluster_autoscaling"

    def __init__(self, extra_spec):
        super().__init__(extra_spec)
        self.pool = None
        for k in ("gpus_per_pod", "max_pods", "scale_up_timeout", "scale_down_timeout", "observe_seconds"):
            if self.params[k] is not None and self.params[k] < 1:
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
            self.pool = pool
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
        if not asc.exclusive(client, ctx, result, p) or not asc.alongside(client, result, provider, sel, p["alongside_marker"], asc.lease.WAIT_S):
            return
        obs = result.observations
        obs.update({"provider": provider, "node_selector": sel, "tolerations": tol})
        settings, source = asc.karpenter_settings(client) if provider == "karpenter" else asc.cluster_autoscaler_settings(client)
        window, wsource = asc.negative_window(provider, settings, source, p["observe_seconds"])
        down, dsource = asc.scale_down_window(provider, self.pool, settings)
        obs["negative_window"] = {"seconds": window, "source": wsource}
        obs["scale_down_window"] = {"seconds": down, "source": dsource}
        ns = ctx.ensure_namespace(p["namespace"])
        res = p["resource_name"]
        base = self.baseline(client, provider, sel)

        # Negative: nothing the pool offers fits this pod, so nothing may be launched for it.  It is
        # watched alone for the window the autoscaler's settings give, and stays pending through the
        # scale-up: a node launched for it later is told apart from the workload's by the
        # autoscaler's nomination or by when it was launched.
        imp = ctx.create(wl.pod("impossible", ns, limits={res: str(p["impossible_gpus"])}, node_selector=sel, tolerations=tol))
        held, _last = client.holds("v1", "Pod", "impossible", wl.is_bound, ns, window)

        # Scale-up: fill what the pool already has free, plus one pod that needs a new node.
        nodes = client.list("v1", "Node", label_selector=selector(sel))["items"]
        free = iso.free_by_node(nodes, client.list("v1", "Pod")["items"], res)
        count = sum(f // p["gpus_per_pod"] for f in free.values()) + 1
        obs["pool_free_before"] = free
        if count > p["max_pods"]:
            self.negative(client, result, ns, provider, sel, base, imp, None, held, window)
            wl.delete_together(client, ctx, ns, ["impossible"])
            result.decide(Verdict.SKIP, "the pool already has room for %d pods; a scale-up needs more than max_pods %d" % (count - 1, p["max_pods"]))
            return
        names = ["load-%d" % i for i in range(count)]
        t0 = time.monotonic()
        t_load = min(asc.created(ctx.create(wl.pod(n, ns, limits={res: str(p["gpus_per_pod"])}, node_selector=sel, tolerations=tol))) for n in names)
        placed = wl.wait_all_bound(client, ns, names, p["scale_up_timeout"])
        up_s = round(time.monotonic() - t0, 1)
        bound = [x for x in placed if wl.is_bound(x)]
        joined = sorted({x["spec"]["nodeName"] for x in bound} - base["nodes"])
        whose = self.negative(client, result, ns, provider, sel, base, imp, t_load, held, window)
        mine = [n for n in joined if whose.get(n) == "workload"]
        obs.update({"scale_up_s": up_s if mine else None, "joined_nodes": joined, "launched_for_workload": mine})
        obs["launched_before_workload"] = sorted(n for n in joined if whose.get(n) != "workload")
        if len(bound) < count:
            waiting = [x for x in placed if not wl.is_bound(x)]
            why = "; ".join(asc.events_for(client, ns, "Pod", waiting[0]["metadata"]["name"])[-3:]) if waiting else ""
            detail = "%d/%d pods bound after %ds; new nodes: %s; events: %s" % (len(bound), count, p["scale_up_timeout"], joined or "none", why or "none")
        elif joined and not mine:
            detail = "%d pods bound in %.1f s, but only on node(s) %s, not launched for the workload (%s)" % (
                count,
                up_s,
                joined,
                ", ".join("%s: %s" % (n, whose.get(n)) for n in joined),
            )
        else:
            detail = "%d pods bound in %.1f s; new nodes %s" % (count, up_s, mine or "none")
        result.check("a node joined and runs the workload", len(bound) == count and bool(mine), detail)
        done = "%d bound in %.1f s, new nodes %s" % (len(bound), up_s, joined)
        result.step("create %d pods x %d %s on %s" % (count, p["gpus_per_pod"], res, selector(sel)), done, bool(mine))

        # Scale-down: the nodes that joined for the workload leave once it is gone.
        wl.delete_together(client, ctx, ns, names + ["impossible"])
        asc.scale_down(client, result, joined, p["scale_down_timeout"], down, dsource)
        result.decide_from_checks(
            "%s added a node in %s s for GPU pods that did not fit and removed it %s s after they left; a pod no node can hold launched nothing in %d s"
            % (provider, obs.get("scale_up_s"), obs.get("scale_down_s"), window)
        )

    def baseline(self, client, provider, sel):
        """Nodes (and Karpenter's NodeClaims) before the probe, with the resourceVersions to replay from."""
        doc = client.list("v1", "Node", label_selector=selector(sel))
        base = {"nodes": {n["metadata"]["name"] for n in client.list("v1", "Node")["items"]}, "nodes_rv": doc["resourceVersion"], "claims": set()}
        if provider == "karpenter" and client.served(asc.KARPENTER_API, "NodeClaim"):
            doc = client.list(asc.KARPENTER_API, "NodeClaim", label_selector=self.claim_selector())
            base.update(claims={c["metadata"]["name"] for c in doc["items"]}, claims_rv=doc["resourceVersion"])
        return base

    def claim_selector(self):
        return "%s=%s" % (asc.KARPENTER_POOL_LABEL, self.pool["metadata"]["name"])

    def negative(self, client, result, ns, provider, sel, base, imp, t_load, held, window):
        """Decide the negative case once the workload is placed (or not created): nothing may have
        been launched for the pod no node can hold, at any time, and it stayed unbound.  Returns,
        for every node launched since the baseline, for whom it was launched."""
        t_imp, t_load = asc.created(imp), t_load or "9999"
        nodes = asc.launched(client, "v1", "Node", selector(sel), base["nodes"], base["nodes_rv"])
        claims = asc.launched(client, asc.KARPENTER_API, "NodeClaim", self.claim_selector(), base["claims"], base["claims_rv"]) if "claims_rv" in base else {}
        noms = asc.nominations(client, None) if provider == "karpenter" else {}
        load = {k for k in noms if k.startswith(ns + "/load-")}
        units = claims or nodes  # Karpenter launches NodeClaims; the Cluster Autoscaler, nodes
        by_unit = {n: asc.whose(n, asc.created(u), t_imp, t_load, noms, "%s/impossible" % ns, load) for n, u in units.items()}
        whose = {}
        for node, obj in nodes.items():
            claim = asc.claim_of(obj, claims)
            # A node from no new NodeClaim came from one launched before the probe began.
            whose[node] = by_unit[claim["metadata"]["name"]] if claim else by_unit.get(node, "before")
        events = asc.events_for(client, ns, "Pod", "impossible")
        last = client.get("v1", "Pod", "impossible", ns)
        stray = sorted(n for n, w in by_unit.items() if w == "impossible")
        triggered = [e for e in events if e.startswith(("TriggeredScaleUp", "Nominated"))]
        result.observations.update({"impossible_pod_events": events, "launched": {n: by_unit[n] for n in sorted(by_unit)}})
        refused = held and not wl.is_bound(last) and not stray and not triggered
        if refused:
            seen = list(dict.fromkeys(reversed(events)))[:4][::-1]  # the last distinct events, oldest first
            outcome = "nothing launched for it and unbound for %ds alone and through the scale-up; %s" % (window, "; ".join(seen) or "no events")
        else:
            kind = "NodeClaim" if claims else "node"
            launched = ["%s %s (created %s%s)" % (kind, n, asc.created(units[n]), ", gone again" if units[n].get("deleted") else "") for n in stray]
            outcome = "%s launched for a pod no node can hold%s%s" % (
                "; ".join(launched) or "a node",
                "; %s" % "; ".join(triggered[-2:]) if triggered else "",
                "; the pod was bound to %s" % last["spec"]["nodeName"] if wl.is_bound(last) else "",
            )
        p = self.params
        result.negative_case("pod needing %d %s, more than any pool node has" % (p["impossible_gpus"], p["resource_name"]), refused, outcome)
        return whose


def main():
    AutoscalerProbe(EXTRA).main()


if __name__ == "__main__":
    main()
