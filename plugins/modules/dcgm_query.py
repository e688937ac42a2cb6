#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dcgm_query
short_description: Prove per-accelerator metrics are exposed (requirement accelerator_metrics), or run a PromQL query
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Reads the DCGM exporter's fields through Prometheus (O(prometheus_url), O(prometheus_service),
    or a Prometheus Service discovered in any namespace, reached through the API server's service
    proxy) or, with no Prometheus, straight from the exporter's endpoint."
  - "Every GPU node (allocatable O(resource_name), or devices of O(driver) in ResourceSlices) must
    report every GPU (distinct C(UUID)s) for each of O(fields), with C(UUID) and C(modelName)
    labels, samples younger than O(max_age_seconds) and values in physical range."
  - "Liveness: every GPU's readings are read twice, at least one scrape interval apart (the
    interval of the exporter's Prometheus target, else its configuration, else
    O(scrape_interval_seconds)). Prometheus: every GPU's sample timestamps must advance. Both
    sources: every GPU's C(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION) counter must move where it is
    exposed; without it a reading must change, else liveness of the readings is undecided."
  - "Attribution: a pod holding one GPU must appear on exactly one GPU's series, on the pod's
    node, with its C(pod), C(namespace) and C(container) labels, and that GPU's C(UUID) must be
    the one allocated to the pod: through DRA (O(attribution_via)) the claim's device's C(uuid)
    attribute in its ResourceSlice; through the device plugin what the pod's container reports
    (C(nvidia-smi), C(NVIDIA_VISIBLE_DEVICES)), decided only where the node runs containers.
    Negative case: a CPU-only pod started alongside must appear on none."
  - "With O(query) the module only runs that PromQL query and returns the samples (no verdict).
    This query mode is deprecated and will be removed in release 1.0.0 of this collection."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
  - ai_conformance.kubernetes.prometheus
options:
  query:
    description:
      - A PromQL query to run instead of the probe; the samples come back in RV(series).
      - Deprecated, to be removed in release 1.0.0; no role or playbook of the collection sets it. Query
        Prometheus's HTTP API (C(/api/v1/query)) with M(ansible.builtin.uri) instead.
    type: str
  source:
    description: Where to read the metrics. C(auto) prefers Prometheus and falls back to the exporter endpoint.
    type: str
    choices: [auto, prometheus, exporter]
    default: auto
  exporter_service:
    description:
      - C(namespace/name[:port]) of the DCGM exporter Service.
      - Default the Service labelled C(app=nvidia-dcgm-exporter) or C(app.kubernetes.io/name=dcgm-exporter).
    type: str
  fields:
    description: DCGM fields every GPU must report.
    type: list
    elements: str
    default: [DCGM_FI_DEV_GPU_UTIL, DCGM_FI_DEV_FB_USED, DCGM_FI_DEV_FB_FREE, DCGM_FI_DEV_GPU_TEMP, DCGM_FI_DEV_POWER_USAGE, DCGM_FI_DEV_SM_CLOCK]
  node_label:
    description: Label naming the node in the series; C(auto) picks among C(Hostname), C(hostname), C(node), C(kubernetes_node), C(nodename).
    type: str
    default: auto
  resource_name:
    description: Extended resource of the accelerators (device plugin).
    type: str
    default: nvidia.com/gpu
  driver:
    description: DRA driver whose ResourceSlices list the accelerators.
    type: str
    default: gpu.nvidia.com
  device_class:
    description: DeviceClass of the attribution's GPU claim (DRA path).
    type: str
    default: gpu.nvidia.com
  max_age_seconds:
    description: Oldest acceptable sample (Prometheus source).
    type: int
    default: 120
  scrape_interval_seconds:
    description:
      - Seconds between the two liveness reads where the interval is not exposed.
      - Used with Prometheus when neither the exporter's target (C(scrapeInterval)) nor the
        configuration shows its scrape interval, and always in exporter mode (dcgm-exporter's
        collection interval, its C(-c) option, is 30 s by default).
      - The second read comes this long plus a quarter of it (at least 2 s) after the first.
    type: int
    default: 30
  attribution:
    description:
      - Run the pod attribution check (creates a 1-GPU pod and a CPU-only pod).
      - It holds the probe's negative case; without it the probe can report failures but never pass.
    type: bool
    default: true
  attribution_via:
    description:
      - How the attribution's GPU pod gets its GPU. V(dra) through a ResourceClaim on
        O(device_class); V(device_plugin) by requesting one O(resource_name).
      - V(auto) uses DRA when O(driver) publishes devices and O(device_class) exists.
    type: str
    choices: [auto, dra, device_plugin]
    default: auto
  gpu_image:
    description: Image of the device-plugin GPU pod; it reports what its container was given, so it needs C(sh) (and C(nvidia-smi) to list UUIDs).
    type: str
    default: nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04
  node_selector:
    description: Node labels for the attribution pods.
    type: dict
  tolerations:
    description: Tolerations for the attribution pods.
    type: list
    elements: dict
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Prove DCGM metrics reach Prometheus with pod attribution
  ai_conformance.kubernetes.dcgm_query:
    prometheus_service: monitoring/prometheus-k8s
  register: accel_metrics

- name: Average GPU utilisation per node (query mode)
  ai_conformance.kubernetes.dcgm_query:
    query: avg by (Hostname) (DCGM_FI_DEV_GPU_UTIL)
  register: util
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
  sample: 16 GPUs on 2 nodes report 6 DCGM fields with UUID and model labels, fresh; a GPU pod's GPU is attributed to it
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: accelerator_metrics
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: 16 GPUs on 2 nodes report DCGM fields
    observations:
      description: Metrics source, fields seen, GPUs per node expected and reporting, oldest sample age, liveness reads, attribution.
      type: dict
      returned: always
      sample: {source: prometheus, node_label: Hostname, gpus_reporting: {gpu-node-1: 8}}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: every GPU reports, ok: true, detail: "16/16", kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: "query DCGM_FI_DEV_GPU_UTIL", result: 16 series, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: a CPU-only pod, refused: true, outcome: no GPU series names it}]
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
      sample: 12.3
series:
  description: In query mode (O(query) set), the samples of the query.
  returned: when O(query) is set
  type: list
  elements: dict
  sample: [{metric: {UUID: GPU-..., Hostname: gpu-node-1}, value: 37.0, ts: 1795000000.0}]
prometheus:
  description: Where the metrics were read (URL, or Service reached through the API server proxy).
  returned: when O(query) is set
  type: str
  sample: service monitoring/prometheus-k8s port web (through the API server proxy)
"""

import time

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import dcgm, dra
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import metrics as mx
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probe import Probe, client_or_fail
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import Verdict

EXTRA = dict(mx.PROMETHEUS_ARGSPEC)
EXTRA.update(
    {
        "query": {"type": "str", "removed_in_version": "1.0.0", "removed_from_collection": "ai_conformance.kubernetes"},
        "source": {"type": "str", "default": "auto", "choices": ["auto", "prometheus", "exporter"]},
        "exporter_service": {"type": "str"},
        "fields": {"type": "list", "elements": "str", "default": list(mx.DCGM_FIELDS)},
        "node_label": {"type": "str", "default": "auto"},
        "resource_name": {"type": "str", "default": "nvidia.com/gpu"},
        "driver": {"type": "str", "default": "gpu.nvidia.com"},
        "device_class": {"type": "str", "default": "gpu.nvidia.com"},
        "max_age_seconds": {"type": "int", "default": 120},
        "scrape_interval_seconds": {"type": "int", "default": 30},
        "attribution": {"type": "bool", "default": True},
        "attribution_via": {"type": "str", "default": "auto", "choices": ["auto", "dra", "device_plugin"]},
        "gpu_image": {"type": "str", "default": "nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04"},
        "node_selector": {"type": "dict"},
        "tolerations": {"type": "list", "elements": "dict"},
    }
)
ATTR_LABELS = "a GPU pod's GPU carries its pod, namespace and container labels"
ATTR_UUID = "the series naming the GPU pod carry the GPU allocated to it"


class DcgmProbe(Probe):
    requirement = "accelerator_metrics"

    def __init__(self, extra_spec):
        super().__init__(extra_spec)
        p = self.params
        bad = mx.prometheus_param_error(p)
        if not bad and p["exporter_service"]:
            try:
                mx.parse_service_ref(p["exporter_service"])
            except ValueError as exc:
                bad = str(exc).replace("prometheus_service", "exporter_service")
        if bad:
            self.module.fail_json(msg=bad)
        for opt in ("max_age_seconds", "scrape_interval_seconds"):
            if p[opt] < 1:
                self.module.fail_json(msg="%s must be at least 1, got %d" % (opt, p[opt]))
        if not p["fields"]:
            self.module.fail_json(msg="fields must name at least one DCGM field")
        self.mutates = bool(p["attribution"]) and not p["query"]

    def run(self, client, ctx, result):
        p = self.params
        src, why, obs = dcgm.pick_source(client, p)
        result.observations.update(obs)
        if src is None:
            result.decide(Verdict.FAIL, why)
            return
        fields = list(dict.fromkeys(p["fields"]))
        slices = client.list(dra.API, "ResourceSlice")["items"] if client.served(dra.API, "ResourceSlice") else []
        nodes = client.list("v1", "Node")["items"]
        expected = mx.gpu_nodes(nodes, slices, p["resource_name"], p["driver"])
        result.observations["gpus_expected"] = expected
        if not expected:
            result.decide(Verdict.SKIP, "no node advertises %s or devices of DRA driver %s: no accelerator to report on" % (p["resource_name"], p["driver"]))
            return
        first = dcgm.snapshot(src, fields)
        by_field = {f: src.query(f) for f in fields}
        result.step("query %s from %s" % (", ".join(fields), src.where), ", ".join("%s: %d series" % (f, len(s)) for f, s in by_field.items()))
        label = mx.pick_node_label(by_field[fields[0]], set(expected), p["node_label"])
        result.observations["node_label"] = label
        result.observations["gpus_reporting"] = mx.gpus_reporting(by_field[fields[0]], label, expected)
        for name, ok, detail in dcgm.exposition_checks(by_field, expected, label):
            result.check(name, ok, detail)
        if isinstance(src, mx.Prometheus):
            ok, detail, obs = dcgm.freshness(src, fields[0], p["max_age_seconds"])
            result.observations.update(obs)
            result.check("samples are fresh", ok, detail)
        interval, interval_from = dcgm.read_interval(src, by_field[fields[0]], p["scrape_interval_seconds"])
        if p["attribution"]:
            self.attribution(client, ctx, result, src, fields[0], label, nodes, slices)
        else:
            result.negative_case("a CPU-only pod must not be attributed any GPU", None, "not attempted: attribution is false")
        # The second read comes at least one interval (and a margin for the scrape itself) after
        # the first; the attribution pods' wait counts toward it.
        wait = interval + max(2.0, interval / 4.0)
        time.sleep(max(0.0, wait - (time.monotonic() - first["at"])))
        second = dcgm.snapshot(src, fields)
        result.observations["liveness"] = dcgm.liveness_observations(first, second, interval, interval_from)
        for name, ok, detail in dcgm.liveness(first, second, isinstance(src, mx.Prometheus), "interval %g s: %s" % (interval, interval_from)):
            result.check(name, ok, detail)
        result.step("read every GPU's readings again after %.1f s" % (second["at"] - first["at"]), "%d GPUs" % len(second["gpus"]))
        result.decide_from_checks(
            "%d GPUs on %d nodes report %s with UUID and model labels, live across two reads %.0f s apart%s"
            % (
                sum(expected.values()),
                len(expected),
                ", ".join(fields),
                second["at"] - first["at"],
                "; a GPU pod's own GPU carries its pod, namespace and container, a CPU pod's name appears on no GPU" if p["attribution"] else "",
            )
        )

    def attribution(self, client, ctx, result, src, field, label, nodes, slices):
        p = self.params
        ns = ctx.ensure_namespace(p["namespace"])
        holder, control = ctx.name("gpu"), ctx.name("cpu")
        via = dcgm.attribution_path(client, slices, p)
        for obj in dcgm.gpu_pod(holder, ns, via, nodes, p):
            ctx.create(obj)
        ctx.create(wl.pod(control, ns, node_selector=p["node_selector"], tolerations=p["tolerations"]))
        pod = wl.wait_placed(client, holder, ns, p["timeout"])
        other = wl.wait_placed(client, control, ns, p["timeout"])
        if not wl.is_bound(pod) or not wl.is_bound(other):
            stuck = pod if not wl.is_bound(pod) else other
            why = "pod %s could not be placed: %s" % (stuck["metadata"]["name"], wl.unschedulable_message(stuck))
            result.check(ATTR_LABELS, None, why)
            result.check(ATTR_UUID, None, why)
            return
        node = pod["spec"]["nodeName"]
        allocated, how, kind = dcgm.allocated(client, via, holder, ns, node, nodes, p)
        # Both pods are bound before the first look, so any scrape that shows the GPU pod also
        # reflects the CPU pod.
        seen, waited = mx.poll(lambda: dcgm.naming(src.query(field), holder, ns), p["timeout"])
        uuids = sorted({s["metric"].get("UUID") for s in seen})
        on = sorted({s["metric"].get(label or "", "") for s in seen})
        containers = sorted({mx.label_of(s["metric"], mx.CONTAINER_LABELS) for s in seen})
        result.observations["attribution"] = {
            "pod": "%s/%s" % (ns, holder),
            "node": node,
            "via": via,
            "gpus": uuids,
            "allocated": allocated,
            "allocated_from": how,
            "seen_after_s": waited if seen else None,
        }
        result.check(
            ATTR_LABELS,
            len(uuids) == 1 and on == [node] and containers == ["main"],
            ("GPUs %s on %s, container %s, after %.1f s" % (uuids, on, containers, waited))
            if seen
            else "no %s series names pod %s/%s after %d s" % (field, ns, holder, p["timeout"]),
        )
        if allocated is None or not seen:
            result.check(ATTR_UUID, None, how if allocated is None else "no series names the pod", kind=kind)
        else:
            result.check(ATTR_UUID, uuids == allocated, "series name %s; the pod was allocated %s (%s)" % (uuids, allocated, how), kind=kind)
        result.step("create pod %s with 1 GPU through %s (bound to %s)" % (holder, via, node), "series for it: %s" % (uuids or "none"), bool(seen))
        # The CPU pod is watched as long as the GPU pod took to show up (at least one refresh).
        wrong = mx.poll(lambda: dcgm.naming(src.query(field), control, ns), max(waited, 5.0))[0]
        result.negative_case(
            "a CPU-only pod (%s) must not be attributed any GPU" % control,
            not wrong,
            "no GPU series names it in %.0f s" % max(waited, 5.0) if not wrong else "named on %s" % sorted({s["metric"].get("UUID") for s in wrong}),
        )


def query_mode(module):
    p = module.params
    client = client_or_fail(module)
    try:
        prom, why = mx.discover(client, p)
        if prom is None:
            module.fail_json(msg=why)
        module.exit_json(changed=False, series=prom.query(p["query"]), prometheus=prom.where)
    except ClusterError as exc:
        module.fail_json(msg=exc.message)


def main():
    probe = DcgmProbe(EXTRA)
    if probe.params["query"]:
        query_mode(probe.module)
    probe.main()


if __name__ == "__main__":
    main()
