#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: hpa_probe
short_description: Prove a HorizontalPodAutoscaler scales GPU pods on a custom GPU metric (requirement pod_autoscaling)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Creates a Deployment of 1-GPU pods whose load container drives the GPU to the utilisation
    written in a ConfigMap (mounted as volume C(gpu-load), key C(utilization)), and an
    C(autoscaling/v2) HPA on the pods metric O(metric) from C(custom.metrics.k8s.io) with short
    behaviour windows."
  - "Positive: with the load high the controller-manager's HPA raises the replicas above
    O(min_replicas); with the load low it brings them back to O(min_replicas). Every replica
    change is recorded with its time; both durations are measured."
  - "The HPA's own view of the metric is recorded at every replica change and at least every 5 s
    (a third of the default HPA sync period): the value in C(status.currentMetrics) with the
    time since the probe started, and the target from the stored C(spec.metrics). A scale-up
    counts only if that value exceeded the target while the load was high, a scale-down only if
    it fell below it: replicas changed by anything else (another autoscaler, a schedule, a manual
    scale, an HPA rewritten to scale on CPU) fail with that reason."
  - "Negative case: an HPA on a metric nobody serves must report C(ScalingActive=False) and keep
    its replicas. When the GPU metric itself cannot be computed the probe fails with the HPA's
    own condition as reason, and when the HPA computes a replica count without showing the GPU
    metric in C(status.currentMetrics) it fails naming what the HPA scales on instead."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  metric:
    description: Pods metric of C(custom.metrics.k8s.io) to scale on.
    type: str
    default: DCGM_FI_DEV_GPU_UTIL
  target_value:
    description: Target average value of O(metric) per pod.
    type: int
    default: 50
  high_load:
    description: Utilisation (percent) the load container drives for the scale-up phase.
    type: int
    default: 95
  min_replicas:
    description: HPA minimum, and the replica count the scale-down phase must return to.
    type: int
    default: 1
  max_replicas:
    description: HPA maximum (each replica holds one GPU).
    type: int
    default: 3
  resource_name:
    description: Extended resource each pod requests one of.
    type: str
    default: nvidia.com/gpu
  load_image:
    description: Image of the load container (it must provide C(dcgmproftester12)).
    type: str
    default: nvcr.io/nvidia/cloud-native/dcgm:4.4.1-1-ubuntu22.04
  load_command:
    description: Shell loop of the load container; it reads C(/load/utilization).
    type: list
    elements: str
    default:
      - /bin/sh
      - -c
      - >-
        while true; do u=$(cat /load/utilization 2>/dev/null || echo 0); if [ "$u" -gt 0 ]; then
        dcgmproftester12 --no-dcgm-validation -t 1004 -d 10 >/dev/null 2>&1 || sleep 10; else sleep 2; fi; done
  node_selector:
    description: Node labels for the GPU pods.
    type: dict
  tolerations:
    description: Tolerations for the GPU pods.
    type: list
    elements: dict
  scale_timeout:
    description: Seconds each of scale-up and scale-down may take.
    type: int
    default: 300
  alongside_marker:
    description:
      - "Set when the probe runs beside the accelerator probes (C(conformance.yml)'s background lane): a file the play
        writes once they are done. The GPU pods are pinned to one node (a C(kubernetes.io/hostname) node selector): the
        Ready node matching O(node_selector), whose taints O(tolerations) tolerate, with the fewest free O(resource_name)
        that still fits O(max_replicas) (the last by name among equals). The probes that fill a node's free accelerators
        leave out nodes where this run's other probes hold some. When no node fits, the probe waits for this file first
        and runs unpinned. Where it was pinned, and how long it waited, is in C(observations.placement)."
      - Unset (the role used alone, or the serial run), the pods go where the scheduler puts them.
    type: path
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Prove HPA scales GPU pods on DCGM utilisation through prometheus-adapter
  ai_conformance.kubernetes.hpa_probe:
    metric: DCGM_FI_DEV_GPU_UTIL
    target_value: 50
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
  register: pod_autoscaling
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
  sample: the HPA scaled 1 -> 3 replicas in 21.0 s on DCGM_FI_DEV_GPU_UTIL and back to 1 in 16.2 s
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: pod_autoscaling
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: the HPA scaled on a GPU metric
    observations:
      description:
        - Replica changes with their time since the load was raised or dropped (C(replica_changes)), C(scale_up_s), C(scale_down_s).
        - C(metric_target), the target of the metric in the stored HPA's spec.metrics (type, target_type, field, raw, value).
        - "C(metric_samples): the HPA's current value of the metric (C(current), as written C(raw)), its C(desired) replicas and the
          Deployment's C(replicas), with C(t_s) seconds since the probe started and the C(phase) idle, up or down;
          C(load_raised_at_s) and C(load_dropped_at_s) on the same clock."
      type: dict
      returned: always
      sample: {scale_up_s: 21.0, scale_down_s: 16.2, metric_target: {raw: "50", value: 50.0},
               metric_samples: [{t_s: 31.0, phase: up, replicas: 2, current: 95.0, raw: "95", desired: 2}]}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: "the scale-up followed the HPA's metric above its target", ok: true, detail: "the HPA's current DCGM_FI_DEV_GPU_UTIL was 95", kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: set GPU load to 95 %, result: 3 replicas after 21.0 s, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: HPA on a metric nobody serves, refused: true, outcome: "ScalingActive=False FailedGetPodsMetric"}]
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
      sample: 64.0
"""

import time

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import hpa_metrics as hm
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runmates as rm

CUSTOM_API = "custom.metrics.k8s.io"
EXTRA = {
    "metric": {"type": "str", "default": "DCGM_FI_DEV_GPU_UTIL"},
    "target_value": {"type": "int", "default": 50},
    "high_load": {"type": "int", "default": 95},
    "min_replicas": {"type": "int", "default": 1},
    "max_replicas": {"type": "int", "default": 3},
    "resource_name": {"type": "str", "default": "nvidia.com/gpu"},
    "load_image": {"type": "str", "default": "nvcr.io/nvidia/cloud-native/dcgm:4.4.1-1-ubuntu22.04"},
    "load_command": {
        "type": "list",
        "elements": "str",
        "default": [
            "/bin/sh",
            "-c",
            'while true; do u=$(cat /load/utilization 2>/dev/null || echo 0); if [ "$u" -gt 0 ]; then '
            "dcgmproftester12 --no-dcgm-validation -t 1004 -d 10 >/dev/null 2>&1 || sleep 10; else sleep 2; fi; done",
        ],
    },
    "node_selector": {"type": "dict"},
    "tolerations": {"type": "list", "elements": "dict"},
    "scale_timeout": {"type": "int", "default": 300},
    "alongside_marker": {"type": "path"},
}


class HpaProbe(Probe):
    requirement = "pod_autoscaling"

    def __init__(self, extra_spec):
        super().__init__(extra_spec)
        p = self.params
        if not 1 <= p["min_replicas"] < p["max_replicas"]:
            self.module.fail_json(msg="need 1 <= min_replicas < max_replicas, got %d and %d" % (p["min_replicas"], p["max_replicas"]))
        if not 0 < p["target_value"] < p["high_load"] <= 100:
            self.module.fail_json(msg="need 0 < target_value < high_load <= 100, got %d and %d" % (p["target_value"], p["high_load"]))
        if p["scale_timeout"] < 10:
            self.module.fail_json(msg="scale_timeout must be at least 10, got %d" % p["scale_timeout"])

    def run(self, client, ctx, result):
        p = self.params
        t0 = time.monotonic()
        apis = [a for a in client.list("apiregistration.k8s.io/v1", "APIService")["items"] if a.get("spec", {}).get("group") == CUSTOM_API]
        available = [a["metadata"]["name"] for a in apis if (wl.condition(a, "Available") or {}).get("status") == "True"]
        result.observations["custom_metrics_api"] = {a["metadata"]["name"]: hm.condition_text(a, "Available") for a in apis}
        if not apis:
            result.decide(Verdict.FAIL, "%s is not served: no metrics adapter is registered, so no HPA can scale on a GPU metric" % CUSTOM_API)
            return
        if not available:
            result.decide(Verdict.FAIL, "%s is registered but not available: %s" % (CUSTOM_API, "; ".join(hm.condition_text(a, "Available") for a in apis)))
            return
        sel = rm.placement(client, result, p)
        if sel is None:
            return
        ns = ctx.ensure_namespace(p["namespace"])
        load, dep, hpa_name = ctx.name("load"), ctx.name("gpu-workload"), ctx.name("gpu-hpa")
        ctx.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": load, "namespace": ns}, "data": {"utilization": "0"}})
        ctx.create(hm.load_deployment(p, dep, ns, load, True, sel))
        ctx.create(hm.manifest(hpa_name, ns, dep, p["metric"], p["target_value"], p["min_replicas"], p["max_replicas"]))
        absent_metric = "aic_absent_metric_%s" % ctx.run_id.replace("-", "_")
        blind, blind_hpa = ctx.name("no-metric"), ctx.name("no-metric-hpa")
        ctx.create(hm.load_deployment(p, blind, ns, load, False, sel))
        ctx.create(hm.manifest(blind_hpa, ns, blind, absent_metric, p["target_value"], p["min_replicas"], p["max_replicas"]))
        result.step(
            "create Deployment %s (1 %s per pod), ConfigMap %s (load 0), HPA %s on %s target %d"
            % (dep, p["resource_name"], load, hpa_name, p["metric"], p["target_value"]),
            "created",
        )

        computed, live = client.wait_until(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            hpa_name,
            lambda o: (wl.condition(o, "ScalingActive") or {}).get("status") == "True" and hm.current_of(o, p["metric"])[0] is not None,
            ns,
            p["timeout"],
        )
        if not computed and (wl.condition(live, "ScalingActive") or {}).get("status") == "True":
            result.decide(
                Verdict.FAIL,
                "the HPA computes a replica count but never showed %s in status.currentMetrics after %d s (stored spec.metrics: %s; currentMetrics: %s)"
                % (p["metric"], p["timeout"], hm.specified(live), hm.shown(live)),
            )
            result.observations["hpa_status"] = (live or {}).get("status")
            return
        if not computed:
            result.decide(Verdict.FAIL, "the HPA cannot compute %s after %d s: %s" % (p["metric"], p["timeout"], hm.condition_text(live, "ScalingActive")))
            result.observations["hpa_status"] = (live or {}).get("status")
            return
        result.check("the HPA computes the GPU metric", True, "ScalingActive=True, %s" % self.current(live))

        sampler = hm.Sampler(client, ns, hpa_name, p["metric"], t0)
        sampler.take("idle", ((client.get("apps/v1", "Deployment", dep, ns) or {}).get("spec") or {}).get("replicas"), live)
        result.observations["metric_target"] = sampler.target
        changes = []
        t_up = self.drive(client, ns, load, p["high_load"])
        result.observations["load_raised_at_s"] = sampler.since_start()
        up_ok, top = hm.follow_replicas(client, ns, dep, lambda r: r > p["min_replicas"], p["scale_timeout"], changes, t_up, sampler, "up")
        if up_ok:
            # Let it climb while the load stays high (each new replica's GPU is loaded too).
            hm.follow_replicas(client, ns, dep, lambda r: r >= p["max_replicas"], min(p["scale_timeout"], 60), changes, t_up, sampler, "up")
        peak = max([c["replicas"] for c in changes] or [top])
        if up_ok:
            sampler.catch_up("up", peak, lambda d: d >= peak)
        else:
            sampler.take("up", top)
        result.observations["scale_up_s"] = changes[0]["t_s"] if up_ok and changes else None
        result.check(
            "scaled up while the GPU metric is high",
            up_ok,
            "%d -> %s replicas, first change after %s s (%s)" % (p["min_replicas"], peak, result.observations["scale_up_s"], self.current(sampler.last_hpa))
            if up_ok
            else "still %s replicas after %d s: %s; %s"
            % (top, p["scale_timeout"], hm.condition_text(sampler.last_hpa, "AbleToScale"), hm.condition_text(sampler.last_hpa, "ScalingActive")),
        )
        if up_ok:
            result.check(
                "the scale-up followed the HPA's metric above its target", *hm.drove_scale_up(sampler.samples, sampler.target, p["metric"], sampler.last_hpa)
            )
        result.step("set the load to %d %%" % p["high_load"], "replicas %s" % [c["replicas"] for c in changes], up_ok)
        if up_ok:
            down = []
            t_down = self.drive(client, ns, load, 0)
            result.observations["load_dropped_at_s"] = sampler.since_start()
            down_ok, last = hm.follow_replicas(client, ns, dep, lambda r: r <= p["min_replicas"], p["scale_timeout"], down, t_down, sampler, "down")
            if down_ok:
                sampler.catch_up("down", last, lambda d: d <= last)
            else:
                sampler.take("down", last)
            result.observations["scale_down_s"] = down[-1]["t_s"] if down_ok and down else None
            result.check(
                "scaled back down when the GPU metric is low",
                down_ok,
                "%s -> %s replicas after %s s" % (peak, last, result.observations["scale_down_s"])
                if down_ok
                else "still %s replicas after %d s: %s" % (last, p["scale_timeout"], hm.condition_text(sampler.last_hpa, "ScalingActive")),
            )
            if down_ok:
                result.check("the scale-down followed the HPA's metric below its target", *hm.followed_scale_down(sampler.samples, sampler.target, p["metric"]))
            result.step("set the load to 0 %", "replicas %s" % [c["replicas"] for c in down], down_ok)
            changes += [dict(c, phase="down") for c in down]
        result.observations["replica_changes"] = changes
        result.observations["metric_target"] = sampler.target
        result.observations["metric_samples"] = sampler.samples

        blind_live = client.wait_until(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            blind_hpa,
            lambda o: (wl.condition(o, "ScalingActive") or {}).get("status") == "False",
            ns,
            p["timeout"],
        )[1]
        blind_dep = client.get("apps/v1", "Deployment", blind, ns) or {}
        refused = (wl.condition(blind_live, "ScalingActive") or {}).get("status") == "False" and blind_dep.get("spec", {}).get("replicas") == p["min_replicas"]
        result.negative_case("HPA %s on metric %s that nobody serves" % (blind_hpa, absent_metric), refused, hm.condition_text(blind_live, "ScalingActive"))
        high = hm.highest(sampler.samples, "up")
        result.decide_from_checks(
            "the HPA scaled %s from %d to %s replicas in %s s on %s (its current value up to %s, target %s) and back to %d in %s s"
            % (
                dep,
                p["min_replicas"],
                peak,
                result.observations.get("scale_up_s"),
                p["metric"],
                "%g" % high if high is not None else "never seen",
                (sampler.target or {}).get("raw"),
                p["min_replicas"],
                result.observations.get("scale_down_s"),
            )
        )

    @staticmethod
    def current(hpa_obj):
        return "current " + hm.shown(hpa_obj)

    @staticmethod
    def drive(client, ns, cm, value):
        client.patch("v1", "ConfigMap", cm, {"data": {"utilization": str(value)}}, ns)
        return time.monotonic()


def main():
    HpaProbe(EXTRA).main()


if __name__ == "__main__":
    main()
