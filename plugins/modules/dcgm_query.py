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

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mx
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dcgm_probe

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


class DcgmProbe(dcgm_probe.DcgmProbe):
    requirement = "accelerator_metrics"


def main():
    probe = DcgmProbe(EXTRA)
    if probe.params["query"]:
        dcgm_probe.query_mode(probe.module)
    probe.main()


if __name__ == "__main__":
    main()
