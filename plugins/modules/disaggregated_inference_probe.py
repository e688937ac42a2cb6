#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: disaggregated_inference_probe
short_description: Prove prefill and decode run as separately scalable workloads that each request traverses (requirement disaggregated_inference)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Probes a disaggregated serving stack that is already deployed (llm-d, vLLM with a KV connector,
    SGLang or Dynamo; the C(disaggregated_serving) role deploys one). Prefill and decode pods are found
    by O(prefill_selector) and O(decode_selector) in O(serving_namespace)."
  - "Separation: both phases have ready pods, no pod matches both selectors, and the workloads that
    scale them (the highest owner serving C(/scale): a Deployment, StatefulSet or LeaderWorkerSet) are
    distinct objects."
  - "Traversal: O(requests) OpenAI-style requests for O(model), each with its own C(X-Request-Id)
    (C(aic-<run id>-<n>)), are sent through the gateway; every one must be answered with a completion,
    and the model servers' own counter O(success_metric), read from every serving pod through the API
    server's pod proxy before and after, must grow by exactly O(requests) on the prefill pods and on
    the decode pods. The counter counts every request, not only the probe's, so it is also watched for
    O(quiet_seconds) just before and just after the requests: growth there (other traffic), or more
    growth than requests sent, leaves the check undecided; less growth than requests sent fails it."
  - "Negative case: requests for a model nobody serves must be refused (HTTP 4xx) and move no counter
    of either phase."
  - "Independent scaling: each phase in turn is scaled up by one replica through its C(/scale)
    subresource and waited on until the extra pod is ready, then scaled back; the other phase's
    replicas, generation and ready pod UIDs must not change. The original replica counts are restored
    even when the probe fails."
  - "O(declared=none): C(not_applicable) with O(justification) as the reason."
  - The probe creates no object; it changes only the replica counts of the two workloads, and restores them.
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  declared:
    description: V(auto) probes the stack in O(serving_namespace); V(none) declares that the platform offers no disaggregated serving.
    type: str
    choices: [auto, none]
    default: auto
  justification:
    description: Why the platform offers no disaggregated serving (with O(declared=none)); the CNCF FAQ wants a reason, not "unsupported".
    type: str
    default: >-
      the platform serves models that fit one accelerator group with aggregated serving only; it offers no
      separately scaled prefill and decode components
  serving_namespace:
    description: >-
      Namespace of the serving stack. Without it the verdict is C(error), saying what is missing. The options left
      empty below are discovered there; what was found, and where, is in C(observations.discovered).
    type: str
  prefill_selector:
    description: Labels of the prefill pods (llm-d's by default).
    type: dict
    default: {llm-d.ai/role: prefill}
  decode_selector:
    description: Labels of the decode pods (llm-d's by default).
    type: dict
    default: {llm-d.ai/role: decode}
  model:
    description: >-
      The model name the stack serves (the OpenAI C(model) field). Empty discovers the model the decode pods serve
      (C(--served-model-name), else C(--model), else C(vllm serve <model>)); prefill pods that state one must agree.
      None stated, or a disagreement, is an C(error) verdict that says to set it.
    type: str
  gateway_url:
    description: C(http://host:port) of the inference gateway. Empty reads the first address of O(gateway)'s status (given or discovered).
    type: str
    default: ""
  gateway:
    description: >-
      The Gateway in front of the stack, as C(namespace/name), when O(gateway_url) is empty. Both empty discovers it:
      the parentRefs of the HTTPRoutes in O(serving_namespace) whose backendRefs name a Service there whose selector
      matches the decode pods' labels must give exactly one Gateway; none or several is an C(error) verdict that says
      to set it.
    type: str
    default: ""
  listener_port:
    description: Port of O(gateway)'s listener.
    type: int
    default: 80
  hostname:
    description: >-
      Host header of the requests (the HTTPRoute's hostname). Empty uses the first C(spec.hostnames) entry of the
      HTTPRoute to the decode pods whose parent is the (given or discovered) O(gateway), else the host of the gateway URL.
    type: str
    default: ""
  path:
    description: API path of the requests; V(/v1/chat/completions) sends C(messages) instead of C(prompt).
    type: str
    default: /v1/completions
  requests:
    description: How many requests the traversal check sends.
    type: int
    default: 10
  prompt_words:
    description: Words per prompt; long enough that a router that keeps short prompts on the decode side (llm-d's prefix threshold) still disaggregates.
    type: int
    default: 256
  max_tokens:
    description: C(max_tokens) of each request.
    type: int
    default: 8
  success_metric:
    description: The model servers' counter of finished requests (summed over all its series).
    type: str
    default: "vllm:request_success_total"
  prefill_metrics_port:
    description: >-
      Port of the prefill pods' metrics endpoint (vLLM's API port). V(0) reads each prefill pod's vLLM C(--port)
      (the container named C(vllm) first), else uses 8000.
    type: int
    default: 0
  decode_metrics_port:
    description: >-
      Port of the decode pods' metrics endpoint (vLLM's API port, not a routing sidecar's). V(0) reads each decode pod's
      vLLM C(--port) (the container named C(vllm) first: llm-d's decode vLLM listens on 8200 behind a sidecar on 8000),
      else uses 8200.
    type: int
    default: 0
  metrics_path:
    description: Path of the metrics endpoint.
    type: str
    default: /metrics
  unknown_model:
    description: Model name of the negative case; empty uses C(aic-no-such-model-<run id>).
    type: str
    default: ""
  request_timeout_s:
    description: Seconds one inference request may take.
    type: int
    default: 60
  quiet_seconds:
    description: >-
      Length of the windows just before and just after the probe's requests in which the counters are
      watched with no request of the probe in flight; growth there is other traffic, and then the
      counter deltas cannot be tied to the probe's requests (the traversal checks are undecided).
    type: int
    default: 5
requirements:
  - kubernetes >= 24.2.0
notes:
  - "RBAC: get, list and watch pods; get pods/proxy; get and patch the C(/scale) subresource of the two workloads; get Gateways;
    list Services and HTTPRoutes when O(gateway) or O(hostname) is discovered."
"""

EXAMPLES = r"""
- name: Probe llm-d's prefill/decode split behind its inference gateway
  ai_conformance.kubernetes.disaggregated_inference_probe:
    serving_namespace: llm-d
    model: Qwen/Qwen3-0.6B
    gateway: llm-d/infra-inference-gateway
  register: disagg

- name: The same, with the model, the gateway, its hostname and the metrics ports discovered in the namespace
  ai_conformance.kubernetes.disaggregated_inference_probe:
    serving_namespace: llm-d

- name: A platform without disaggregated serving
  ai_conformance.kubernetes.disaggregated_inference_probe:
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
  sample: prefill (Deployment pd-prefill) and decode (Deployment pd-decode) are distinct workloads; 10 requests traversed both
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: disaggregated_inference
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: prefill and decode scale independently and every request traversed both
    observations:
      description: >-
        Structured facts the verdict was computed from (workloads, counter deltas per phase, responses, scaling
        timeline); C(discovered) maps each option that was left empty and found in the cluster to its C(value) and
        where it came C(from).
      type: dict
      returned: always
      sample:
        workloads: {prefill: [apps/v1/Deployment aic-pd/pd-prefill]}
        counters: {prefill: {delta: 10}}
        discovered: {model: {value: Qwen/Qwen3-0.6B, from: "--served-model-name, --model or vllm serve <model> of the decode pods"}}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable.
      type: list
      elements: dict
      returned: always
      sample: [{name: requests traversed the prefill phase, ok: true, detail: "vllm:request_success_total +10 on 1 prefill pod(s)", kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: kubectl scale deployment/pd-prefill --replicas=2, result: 2 ready in 1.2 s, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: a request for a model no one serves, refused: true, outcome: "HTTP 404 x3; no counter moved"}]
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
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import disagg_probe

EXTRA = {
    "declared": {"type": "str", "default": "auto", "choices": ["auto", "none"]},
    "justification": {
        "type": "str",
        "default": "the platform serves models that fit one accelerator group with aggregated serving only; it offers no "
        "separately scaled prefill and decode components",
    },
    "serving_namespace": {"type": "str"},
    "prefill_selector": {"type": "dict", "default": {"llm-d.ai/role": "prefill"}},
    "decode_selector": {"type": "dict", "default": {"llm-d.ai/role": "decode"}},
    "model": {"type": "str"},
    "gateway_url": {"type": "str", "default": ""},
    "gateway": {"type": "str", "default": ""},
    "listener_port": {"type": "int", "default": 80},
    "hostname": {"type": "str", "default": ""},
    "path": {"type": "str", "default": "/v1/completions"},
    "requests": {"type": "int", "default": 10},
    "prompt_words": {"type": "int", "default": 256},
    "max_tokens": {"type": "int", "default": 8, "no_log": False},
    "success_metric": {"type": "str", "default": dg.SUCCESS_METRIC},
    "prefill_metrics_port": {"type": "int", "default": 0},
    "decode_metrics_port": {"type": "int", "default": 0},
    "metrics_path": {"type": "str", "default": "/metrics"},
    "unknown_model": {"type": "str", "default": ""},
    "request_timeout_s": {"type": "int", "default": 60},
    "quiet_seconds": {"type": "int", "default": 5},
}


class DisaggregatedInferenceProbe(disagg_probe.DisaggregatedInferenceProbe):
    requirement = "disaggregated_inference"


def main():
    DisaggregatedInferenceProbe(EXTRA).main()


if __name__ == "__main__":
    main()
