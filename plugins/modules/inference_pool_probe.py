#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: inference_pool_probe
short_description: Prove a Gateway routes to an InferencePool by the load its endpoints advertise (requirement advanced_inference_ingress)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Probes an InferencePool of the Gateway API Inference Extension (C(inference.networking.k8s.io/v1))
    that is already deployed with its endpoint picker (the C(inference_extension) role, or the
    upstream C(inferencepool) chart, deploys one). The pool is O(pool); its endpoints are its ready
    pods times its target ports, as the endpoint picker counts them."
  - "Acceptance: the pool's status must carry an entry for O(gateway) with C(Accepted=True) and
    C(ResolvedRefs=True), written by the Gateway's controller. The probe then attaches its own
    HTTPRoute (run-id label, exact O(path) plus an C(x-aic-run-id) header, so no existing route takes
    its requests) from O(gateway) to the pool, and waits until the controller accepts it and requests
    are routed."
  - "Only the pool: O(requests) OpenAI-style requests for O(model) go through the gateway; every one
    must complete, and the endpoints' own counter O(success_metric), read through the API server's
    pod proxy before and after, must account for every one of them. A completion not counted on a
    pool endpoint was served outside the pool."
  - "Choice follows the metrics: every endpoint but one is loaded with O(load_requests) long requests
    sent to it directly (through the pod proxy) until it advertises the load (queue or KV-cache
    usage, O(queue_metric)/O(kv_cache_metric)); then O(choice_requests) requests go through the
    gateway, and at least O(min_idle_share) of them must land on the idle endpoint. A picker blind
    to the metrics (round robin, random, a plain Service) spreads them over every endpoint."
  - "Negative case: requests for a model the pool does not serve must be refused (HTTP 4xx) and
    finish on no endpoint."
  - "O(pool), O(gateway), O(listener_port) and O(model) left empty (O(listener_port=0)) are found in the cluster, each recorded
    with where it came from in C(observations.discovered); one that cannot be found without doubt is an C(error) verdict saying
    which option to set."
  - "O(declared=none): C(not_applicable) with O(justification) as the reason."
  - The probe creates one HTTPRoute, labelled with the run id, and deletes it, also on failure.
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  declared:
    description: V(auto) probes O(pool); V(none) declares that the platform offers no model-aware inference ingress.
    type: str
    choices: [auto, none]
    default: auto
  justification:
    description: Why the platform offers no model-aware ingress (with O(declared=none)); the CNCF FAQ wants a reason, not "unsupported".
    type: str
    default: >-
      the platform exposes inference servers through plain Services and Gateway routes only; it offers no
      endpoint picker that routes by model-server metrics
  pool:
    description:
      - The InferencePool, as C(namespace/name).
      - Empty uses the only InferencePool in the cluster (any namespace); with none or several the verdict is C(error), naming what was found.
    type: str
  gateway:
    description:
      - The inference Gateway, as C(namespace/name); the probe's HTTPRoute attaches to it.
      - Empty uses the Gateway the pool's C(status.parents) names, when they name exactly one; else the only Gateway in the pool's
        namespace; otherwise the verdict is C(error), naming the candidates.
    type: str
  gateway_url:
    description: C(http://host:port) of the gateway. Empty reads the first address of O(gateway)'s status.
    type: str
    default: ""
  listener_port:
    description:
      - Port of O(gateway)'s HTTP listener.
      - V(0) uses the port of O(gateway)'s only listener with protocol C(HTTP); with several, the one on port 80; otherwise the verdict is
        C(error), listing them.
    type: int
    default: 0
  hostname:
    description: Host of the probe's route and requests. Empty uses the listener's hostname, or C(<run id>.inference.conformance.test) when it has none.
    type: str
    default: ""
  model:
    description:
      - The model name the pool serves (the OpenAI C(model) field).
      - Empty uses the model the pool's ready pods serve (C(--served-model-name), else C(--model), else C(vllm serve <model>));
        when there is no such pod, or they do not all name the same model, the verdict is C(error), saying what was seen.
    type: str
  path:
    description: API path of the requests; V(/v1/chat/completions) sends C(messages) instead of C(prompt).
    type: str
    default: /v1/completions
  requests:
    description: Requests of the only-the-pool check.
    type: int
    default: 10
  choice_requests:
    description: Requests sent through the gateway while the other endpoints are loaded.
    type: int
    default: 20
  min_idle_share:
    description: Share of O(choice_requests) that must land on the idle endpoint (a blind picker with two endpoints gets about half).
    type: float
    default: 0.9
  load_requests:
    description: Long requests sent directly to each loaded endpoint.
    type: int
    default: 8
  load_max_tokens:
    description: C(max_tokens) of each load request (long enough that the load outlasts O(choice_requests)).
    type: int
    default: 512
  load_settle_s:
    description: Seconds between the load showing in the endpoints' metrics and the first request (the picker's metrics refresh).
    type: float
    default: 1.0
  max_tokens:
    description: C(max_tokens) of each request through the gateway.
    type: int
    default: 8
  prompt_words:
    description: Words per prompt (every prompt is distinct, so a prefix-cache scorer has nothing to favour).
    type: int
    default: 64
  success_metric:
    description: The model servers' counter of finished requests (summed over all its series).
    type: str
    default: "vllm:request_success_total"
  queue_metric:
    description: The gauge of queued requests the endpoints advertise (recorded as evidence of the load).
    type: str
    default: "vllm:num_requests_waiting"
  kv_cache_metric:
    description: The gauge of KV-cache usage the endpoints advertise (recorded as evidence of the load).
    type: str
    default: "vllm:kv_cache_usage_perc"
  running_metric:
    description: The gauge of requests in execution the endpoints advertise.
    type: str
    default: "vllm:num_requests_running"
  metrics_path:
    description: Path of the endpoints' metrics (served on each target port, as vLLM does).
    type: str
    default: /metrics
  unknown_model:
    description: Model name of the negative case; empty uses C(aic-no-such-model-<run id>).
    type: str
    default: ""
  request_timeout_s:
    description: Seconds one request may take (load requests get four times as long).
    type: int
    default: 60
requirements:
  - kubernetes >= 24.2.0
notes:
  - "RBAC: get InferencePools, Gateways and GatewayClasses (list InferencePools in every namespace and Gateways in the pool's
    when O(pool) or O(gateway) is left empty); create, get and delete HTTPRoutes in the pool's namespace;
    list pods; get and create pods/proxy (metrics are read and load is sent through the pod proxy)."
  - The counters must be quiet apart from the probe's requests (a pool serving other traffic fails the only-the-pool check).
"""

EXAMPLES = r"""
- name: Probe the InferencePool behind the inference gateway
  ai_conformance.kubernetes.inference_pool_probe:
    pool: inference/vllm-llama3-8b-instruct
    gateway: inference/inference-gateway
    model: meta-llama/Llama-3.1-8B-Instruct
  register: pool_probe

- name: Probe the only InferencePool of the cluster, its Gateway, listener and model found from the cluster
  ai_conformance.kubernetes.inference_pool_probe: {}
  register: pool_probe

- name: A platform without model-aware ingress
  ai_conformance.kubernetes.inference_pool_probe:
    declared: none
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
  sample: InferencePool inference/vllm-tiny is accepted by its Gateway; with the other endpoints loaded, 20 of 20 went to the idle one
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: advanced_inference_ingress
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: the endpoint picker's choice follows the load the endpoints advertise
    observations:
      description:
        - Structured facts the verdict was computed from (pool, endpoints, route status, counter deltas per endpoint, advertised load).
        - C(discovered) holds each option that was found in the cluster, as C({value, from}).
      type: dict
      returned: always
      sample:
        discovered: {pool: {value: inference/vllm-tiny, from: the only InferencePool in the cluster}}
        endpoints: [vllm-tiny-0:8000, vllm-tiny-1:8000]
        choice: {shares: {vllm-tiny-1:8000: 20}}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable.
      type: list
      elements: dict
      returned: always
      sample: [{name: requests reached only the pool endpoints, ok: true, detail: "10 of 10 counted on the pool endpoints", kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: kubectl apply HTTPRoute aic-r1-pool, result: Accepted=True ResolvedRefs=True, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: requests for a model the pool does not serve, refused: true, outcome: "HTTP [404, 404, 404]; no endpoint counter moved"}]
    owner:
      description: Owning layer.
      type: str
      returned: always
      sample: platform
    run_id:
      description: Run id of this probe run.
      type: str
      returned: always
      sample: r2612011030-ab12
    started:
      description: UTC start time.
      type: str
      returned: always
      sample: "2026-12-01T10:30:00Z"
    duration_s:
      description: Seconds the probe took.
      type: float
      returned: always
      sample: 20.4
"""

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import disagg as dg
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import inferencepool_probe

EXTRA = {
    "declared": {"type": "str", "default": "auto", "choices": ["auto", "none"]},
    "justification": {
        "type": "str",
        "default": "the platform exposes inference servers through plain Services and Gateway routes only; it offers no "
        "endpoint picker that routes by model-server metrics",
    },
    "pool": {"type": "str"},
    "gateway": {"type": "str"},
    "gateway_url": {"type": "str", "default": ""},
    "listener_port": {"type": "int", "default": 0},
    "hostname": {"type": "str", "default": ""},
    "model": {"type": "str"},
    "path": {"type": "str", "default": "/v1/completions"},
    "requests": {"type": "int", "default": 10},
    "choice_requests": {"type": "int", "default": 20},
    "min_idle_share": {"type": "float", "default": 0.9},
    "load_requests": {"type": "int", "default": 8},
    "load_max_tokens": {"type": "int", "default": 512, "no_log": False},
    "load_settle_s": {"type": "float", "default": 1.0},
    "max_tokens": {"type": "int", "default": 8, "no_log": False},
    "prompt_words": {"type": "int", "default": 64},
    "success_metric": {"type": "str", "default": dg.SUCCESS_METRIC},
    "queue_metric": {"type": "str", "default": "vllm:num_requests_waiting"},
    "kv_cache_metric": {"type": "str", "default": "vllm:kv_cache_usage_perc"},
    "running_metric": {"type": "str", "default": "vllm:num_requests_running"},
    "metrics_path": {"type": "str", "default": "/metrics"},
    "unknown_model": {"type": "str", "default": ""},
    "request_timeout_s": {"type": "int", "default": 60},
}


class InferencePoolProbe(inferencepool_probe.InferencePoolProbe):
    requirement = "advanced_inference_ingress"


def main():
    InferencePoolProbe(EXTRA).main()


if __name__ == "__main__":
    main()
