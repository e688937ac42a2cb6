#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

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
  - "Attribution: a pod holding one GPU must appear on exactly one GPU's series (its C(pod) and
    C(namespace) labels) on the pod's node. Negative case: a CPU-only pod started alongside must
    appear on none."
  - "With O(query) the module only runs that PromQL query and returns the samples (no verdict)."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
  - ai_conformance.kubernetes.prometheus
options:
  query:
    description: A PromQL query to run instead of the probe; the samples come back in RV(series).
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
  max_age_seconds:
    description: Oldest acceptable sample (Prometheus source).
    type: int
    default: 120
  attribution:
    description:
      - Run the pod attribution check (creates a 1-GPU pod and a CPU-only pod).
      - It holds the probe's negative case; without it the probe can report failures but never pass.
    type: bool
    default: true
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
      description: Metrics source, fields seen, GPUs per node expected and reporting, oldest sample age, attribution.
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

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import dra
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import metrics as mx
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probe import Probe, client_or_fail
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import Verdict

EXTRA = dict(mx.PROMETHEUS_ARGSPEC)
EXTRA.update(
    {
        "query": {"type": "str"},
        "source": {"type": "str", "default": "auto", "choices": ["auto", "prometheus", "exporter"]},
        "exporter_service": {"type": "str"},
        "fields": {"type": "list", "elements": "str", "default": list(mx.DCGM_FIELDS)},
        "node_label": {"type": "str", "default": "auto"},
        "resource_name": {"type": "str", "default": "nvidia.com/gpu"},
        "driver": {"type": "str", "default": "gpu.nvidia.com"},
        "max_age_seconds": {"type": "int", "default": 120},
        "attribution": {"type": "bool", "default": True},
        "node_selector": {"type": "dict"},
        "tolerations": {"type": "list", "elements": "dict"},
    }
)
EXPORTER_LABELS = (("app", "nvidia-dcgm-exporter"), ("app.kubernetes.io/name", "dcgm-exporter"), ("app", "dcgm-exporter"))


class Exporter:
    """The exporter's own endpoint read through the API server proxy, answering like Prometheus
    would for a plain metric name (samples are as fresh as the request)."""

    def __init__(self, client, service):
        self.client, self.service = client, service
        self.where = "exporter Service %s/%s port %s (through the API server proxy)" % service

    def samples(self):
        ns, name, port = self.service
        doc = self.client.request("GET", "/api/v1/namespaces/%s/services/%s:%s/proxy/metrics" % (ns, name, port), what="read %s" % self.where)
        return mx.parse_exposition(doc.get("raw", "") if isinstance(doc, dict) else "")

    def query(self, name):
        now = time.time()
        return [{"metric": dict(s["labels"], __name__=s["name"]), "value": s["value"], "ts": now} for s in self.samples() if s["name"] == name]


def find_exporter(client, ref):
    if ref:
        ns, name, port = mx.parse_service_ref(ref)
        svc = client.get("v1", "Service", name, ns)
        if svc is None:
            return None
        return ns, name, port or str((svc["spec"].get("ports") or [{}])[0].get("name") or svc["spec"]["ports"][0]["port"])
    for s in client.list("v1", "Service")["items"]:
        labels = s["metadata"].get("labels") or {}
        if any(labels.get(k) == v for k, v in EXPORTER_LABELS) and s["spec"].get("type") != "ExternalName":
            port = (s["spec"].get("ports") or [{}])[0]
            return s["metadata"]["namespace"], s["metadata"]["name"], str(port.get("name") or port.get("port"))
    return None


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
        if p["max_age_seconds"] < 1:
            self.module.fail_json(msg="max_age_seconds must be at least 1, got %d" % p["max_age_seconds"])
        if not p["fields"]:
            self.module.fail_json(msg="fields must name at least one DCGM field")
        self.mutates = bool(p["attribution"]) and not p["query"]

    def source(self, client, result):
        p = self.params
        why = "source is exporter"
        if p["source"] in ("auto", "prometheus"):
            prom, why = mx.discover(client, p)
            if prom is not None:
                result.observations["source"] = "prometheus"
                result.observations["prometheus"] = "%s (%s)" % (prom.where, why)
                return prom
            if p["source"] == "prometheus":
                result.decide(Verdict.FAIL, why)
                return None
        svc = find_exporter(client, p["exporter_service"])
        if svc is None:
            result.decide(
                Verdict.FAIL,
                "no accelerator metrics endpoint: %s, and no DCGM exporter Service (labels %s)" % (why, ", ".join("%s=%s" % kv for kv in EXPORTER_LABELS)),
            )
            return None
        result.observations["source"] = "exporter"
        exp = Exporter(client, svc)
        result.observations["exporter"] = exp.where
        return exp

    def run(self, client, ctx, result):
        p = self.params
        src = self.source(client, result)
        if src is None:
            return
        fields = list(dict.fromkeys(p["fields"]))
        expected = mx.gpu_nodes(
            client.list("v1", "Node")["items"],
            client.list(dra.API, "ResourceSlice")["items"] if client.served(dra.API, "ResourceSlice") else [],
            p["resource_name"],
            p["driver"],
        )
        result.observations["gpus_expected"] = expected
        if not expected:
            result.decide(Verdict.SKIP, "no node advertises %s or devices of DRA driver %s: no accelerator to report on" % (p["resource_name"], p["driver"]))
            return
        by_field = {f: src.query(f) for f in fields}
        result.step("query %s from %s" % (", ".join(fields), src.where), ", ".join("%s: %d series" % (f, len(s)) for f, s in by_field.items()))
        missing = [f for f, s in by_field.items() if not s]
        result.check("every required field is exposed", not missing, "missing: %s" % ", ".join(missing) if missing else "%d fields" % len(fields))
        util = by_field[fields[0]]
        label = mx.pick_node_label(util, set(expected), p["node_label"])
        result.observations["node_label"] = label
        result.observations["gpus_reporting"] = mx.gpus_reporting(util, label, expected)
        short = {}
        for f, series in by_field.items():
            got = mx.gpus_reporting(series, label, expected)
            short.update({"%s on %s" % (f, n): "%d/%d" % (got[n], c) for n, c in expected.items() if got[n] < c})
        result.check(
            "every GPU of every GPU node reports every field",
            not short,
            ("short: %s" % short)
            if short
            else "%d GPUs on %d nodes x %d fields (node label %s)" % (sum(expected.values()), len(expected), len(by_field), label),
        )
        unnamed = sorted(
            {s["metric"].get(label or "", "?") for f in by_field.values() for s in f if not s["metric"].get("UUID") or not s["metric"].get("modelName")}
        )
        result.check("series identify the GPU (UUID, modelName)", not unnamed, "without UUID/modelName on: %s" % unnamed if unnamed else "all labelled")
        bad = mx.out_of_range({f: s for f, s in by_field.items() if f in mx.DCGM_FIELDS})
        result.check(
            "readings are in physical range", not bad, "; ".join(bad[:5]) if bad else "utilization 0-100 %, temperature, power, clocks, framebuffer plausible"
        )
        if isinstance(src, mx.Prometheus):
            # Per GPU the newest series counts: a series left behind by a relabelling (same GPU,
            # other labels) ages out of the lookback window and is only reported.
            ages = src.query("time() - timestamp(%s)" % fields[0])
            newest = {}
            for a in ages:
                u = a["metric"].get("UUID", "")
                newest[u] = min(newest.get(u, float("inf")), a["value"])
            result.observations["stale_series"] = sum(1 for a in ages if a["value"] > p["max_age_seconds"])
            oldest = max(newest.values() or [float("inf")])
            result.observations["oldest_sample_s"] = round(oldest, 1) if ages else None
            result.check(
                "samples are fresh",
                bool(ages) and oldest <= p["max_age_seconds"],
                "the stalest GPU's newest %s sample is %.1f s old (limit %d s)" % (fields[0], oldest, p["max_age_seconds"]) if ages else "no samples",
            )
        if p["attribution"]:
            self.attribution(client, ctx, result, src, fields[0], label)
        else:
            result.negative_case("a CPU-only pod must not be attributed any GPU", None, "not attempted: attribution is false")
        result.decide_from_checks(
            "%d GPUs on %d nodes report %s with UUID and model labels%s"
            % (
                sum(expected.values()),
                len(expected),
                ", ".join(fields),
                "; a GPU pod's GPU carries its pod and namespace, a CPU pod's name appears on no GPU" if p["attribution"] else "",
            )
        )

    def attribution(self, client, ctx, result, src, field, label):
        p = self.params
        ns = ctx.ensure_namespace(p["namespace"])
        holder = ctx.name("gpu")
        control = ctx.name("cpu")
        ctx.create(wl.pod(holder, ns, limits={p["resource_name"]: "1"}, node_selector=p["node_selector"], tolerations=p["tolerations"]))
        ctx.create(wl.pod(control, ns, node_selector=p["node_selector"], tolerations=p["tolerations"]))
        pod = wl.wait_placed(client, holder, ns, p["timeout"])
        other = wl.wait_placed(client, control, ns, p["timeout"])
        name = "a GPU pod's GPU carries its pod and namespace labels"
        if not wl.is_bound(pod) or not wl.is_bound(other):
            stuck = pod if not wl.is_bound(pod) else other
            result.check(name, None, "pod %s could not be placed: %s" % (stuck["metadata"]["name"], wl.unschedulable_message(stuck)))
            return
        node = pod["spec"]["nodeName"]

        def mine(who):
            return [s for s in src.query(field) if mx.label_of(s["metric"], mx.POD_LABELS) == who and mx.label_of(s["metric"], mx.NAMESPACE_LABELS) == ns]

        # Both pods are bound before the first look, so any scrape that shows the GPU pod also
        # reflects the CPU pod.
        seen, waited = mx.poll(lambda: mine(holder), p["timeout"])
        uuids = sorted({s["metric"].get("UUID") for s in seen})
        nodes = sorted({s["metric"].get(label or "", "") for s in seen})
        result.observations["attribution"] = {"pod": "%s/%s" % (ns, holder), "node": node, "gpus": uuids, "seen_after_s": waited if seen else None}
        result.check(
            name,
            len(uuids) == 1 and nodes == [node],
            ("%s on %s after %.1f s" % (uuids, nodes, waited)) if seen else "no %s series names pod %s/%s after %d s" % (field, ns, holder, p["timeout"]),
        )
        result.step("create pod %s with %s: 1 (bound to %s)" % (holder, p["resource_name"], node), "series for it: %s" % (uuids or "none"), bool(seen))
        # The CPU pod is watched as long as the GPU pod took to show up (at least one refresh).
        wrong = mx.poll(lambda: mine(control), max(waited, 5.0))[0]
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
