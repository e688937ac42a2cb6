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
    description: Namespace of the serving stack. Without it (or O(model), or a gateway) the verdict is C(error), saying what is missing.
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
    description: The model name the stack serves (the OpenAI C(model) field). Required with O(declared=auto).
    type: str
  gateway_url:
    description: C(http://host:port) of the inference gateway. Empty reads the first address of O(gateway)'s status.
    type: str
    default: ""
  gateway:
    description: The Gateway in front of the stack, as C(namespace/name), when O(gateway_url) is empty.
    type: str
    default: ""
  listener_port:
    description: Port of O(gateway)'s listener.
    type: int
    default: 80
  hostname:
    description: Host header of the requests (the HTTPRoute's hostname). Empty uses the host of the gateway URL.
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
    description: Port of the prefill pods' metrics endpoint (vLLM's API port).
    type: int
    default: 8000
  decode_metrics_port:
    description: Port of the decode pods' metrics endpoint (vLLM's API port, not a routing sidecar's; llm-d's decode vLLM listens on 8200).
    type: int
    default: 8200
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
  - "RBAC: get, list and watch pods; get pods/proxy; get and patch the C(/scale) subresource of the two workloads; get Gateways."
"""

EXAMPLES = r"""
- name: Probe llm-d's prefill/decode split behind its inference gateway
  ai_conformance.kubernetes.disaggregated_inference_probe:
    serving_namespace: llm-d
    model: Qwen/Qwen3-0.6B
    gateway: llm-d/infra-inference-gateway
  register: disagg

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
      description: Structured facts the verdict was computed from (workloads, counter deltas per phase, responses, scaling timeline).
      type: dict
      returned: always
      sample: {workloads: {prefill: [apps/v1/Deployment aic-pd/pd-prefill]}, counters: {prefill: {delta: 10}}}
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

import time

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import disagg as dg
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import gateway as gw
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.client import selector
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.metrics import poll
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import Verdict

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
    "prefill_metrics_port": {"type": "int", "default": 8000},
    "decode_metrics_port": {"type": "int", "default": 8200},
    "metrics_path": {"type": "str", "default": "/metrics"},
    "unknown_model": {"type": "str", "default": ""},
    "request_timeout_s": {"type": "int", "default": 60},
    "quiet_seconds": {"type": "int", "default": 5},
}

NEGATIVE_REQUESTS = 3


class DisaggregatedInferenceProbe(Probe):
    requirement = "disaggregated_inference"
    param_error = staticmethod(dg.param_error)

    def run(self, client, ctx, result):
        p = self.params
        if p["declared"] == "none":
            result.decide(Verdict.NOT_APPLICABLE, p["justification"])
            return
        missing = dg.missing_config(p)
        if missing:
            result.decide(Verdict.ERROR, missing)
            return
        ns = p["serving_namespace"]
        sel = {"prefill": selector(p["prefill_selector"]), "decode": selector(p["decode_selector"])}
        pods = {ph: dg.ready_pods(client, ns, sel[ph]) for ph in dg.PHASES}
        result.observations["pods"] = {ph: [x["metadata"]["name"] for x in pods[ph]] for ph in dg.PHASES}
        result.step("kubectl get pods -n %s -l %s / -l %s" % (ns, sel["prefill"], sel["decode"]), "%(prefill)s / %(decode)s" % result.observations["pods"])
        missing = [ph for ph in dg.PHASES if not pods[ph]]
        if missing:
            result.decide(
                Verdict.FAIL,
                "no ready %s pod in namespace %s (selector %s): prefill and decode are not served as separate components"
                % (" or ".join(missing), ns, " / ".join(sel[ph] for ph in missing)),
            )
            return
        both = sorted({x["metadata"]["uid"] for x in pods["prefill"]} & {x["metadata"]["uid"] for x in pods["decode"]})
        result.check("no pod serves both phases", not both, "%d pod(s) match both selectors" % len(both) if both else "prefill and decode pods are disjoint")
        scalable = {}
        targets = {ph: self.targets(client, pods[ph], scalable) for ph in dg.PHASES}
        result.observations["workloads"] = {ph: sorted(dg.ref_key(r) for r in targets[ph].values()) for ph in dg.PHASES}
        unscaled = {ph: sorted(n for n, r in targets[ph].items() if r is None) for ph in dg.PHASES}
        shared = sorted({dg.ref_key(r) for r in targets["prefill"].values() if r} & {dg.ref_key(r) for r in targets["decode"].values() if r})
        result.check(
            "prefill and decode are distinct workloads",
            not shared and not any(unscaled.values()),
            "one workload scales both phases: %s" % shared
            if shared
            else (
                "pods no scalable workload controls: %s" % unscaled if any(unscaled.values()) else "%(prefill)s / %(decode)s" % result.observations["workloads"]
            ),
        )
        url = p["gateway_url"] or self.url_from_gateway(client)
        if not url:
            result.check("requests traversed both phases", False, "Gateway %s has no address in its status" % p["gateway"])
            result.decide_from_checks("")
            return
        result.observations["gateway_url"] = url
        self.traversal(client, result, url, pods)
        if not result.checks or any(c["ok"] is False for c in result.checks):
            # Scaling a stack that is not split, or not serving, proves nothing and disturbs it.
            result.decide_from_checks("")
            return
        firsts = {ph: next(iter(targets[ph].values())) for ph in dg.PHASES}
        self.scale_one(client, result, firsts, "prefill", "decode")
        self.scale_one(client, result, firsts, "decode", "prefill")
        proved = {c["name"] for c in result.checks if c["ok"] is True}
        counted = [ph for ph in dg.PHASES if "requests traversed the %s phase" % ph in proved]
        by = "by both phases' model servers"
        if len(counted) < 2:
            by = "by the %s servers; the counters of the other phase could not be tied to them" % counted[0] if counted else "(neither phase's counters tied)"
        result.decide_from_checks(
            "prefill (%s) and decode (%s) are distinct workloads that scale independently; %d requests through the gateway "
            "were completed and counted %s; requests for an unserved model were refused"
            % (dg.ref_key(firsts["prefill"]), dg.ref_key(firsts["decode"]), p["requests"], by)
            + dg.STANDIN_NOTE * ("standin_phase_headers" in result.observations)
        )

    @staticmethod
    def targets(client, pods, scalable):
        return {x["metadata"]["name"]: dg.scale_target(client, x, scalable) for x in pods}

    def url_from_gateway(self, client):
        p = self.params
        gns, gname = p["gateway"].split("/")
        return gw.gateway_url(client.get(gw.GATEWAY_API, "Gateway", gname, gns), p["listener_port"])

    def counters(self, client, pods):
        p = self.params
        ports = {"prefill": p["prefill_metrics_port"], "decode": p["decode_metrics_port"]}
        return dg.counters(client, pods, ports, p["metrics_path"], p["success_metric"])

    def still(self, client, pods, start):
        """Counter growth over one quiet window with no request of the probe in flight: other traffic."""
        time.sleep(self.params["quiet_seconds"])
        end = self.counters(client, pods)
        return dg.deltas(start, end), end

    def traversal(self, client, result, url, pods):
        p = self.params
        host = p["hostname"] or gw.parse_url(url)[0]
        chat = p["path"].rstrip("/").endswith("/chat/completions")
        start = self.counters(client, pods)
        absent = {ph: sorted(n for n, v in start[ph].items() if v is None) for ph in dg.PHASES}
        if any(absent.values()):
            result.check("model servers export %s" % p["success_metric"], False, "no such series on %s" % absent)
            return
        other_before, before = self.still(client, pods, start)
        result.step("GET <pod>:<port>%s via the API server's pod proxy" % p["metrics_path"], "%s before: %s" % (p["success_metric"], before))
        ids = ["aic-%s-%d" % (result.run_id, i) for i in range(p["requests"])]
        bodies = [dg.completion_body(p["model"], p["prompt_words"], p["max_tokens"], chat, i) for i in range(p["requests"])]
        responses = [dg.post_json(url, host, p["path"], b, {dg.REQUEST_ID_HEADER: i}, timeout_s=p["request_timeout_s"]) for b, i in zip(bodies, ids)]
        answers, statuses, pairs, failed = dg.summarize(responses)
        if failed:
            result.observations["failed_responses"] = failed
        result.observations["responses"] = {"statuses": statuses, "completions": answers, "request_ids_echoed": dg.echoed(responses, ids)}
        if any(k != "? -> ?" for k in pairs):
            # Only the reference cluster's stand-in model servers send these headers; recorded, never decisive.
            result.observations["standin_phase_headers"] = pairs
            result.observations["model_servers"] = dg.STANDIN_NOTE.lstrip("; ")
        result.step(
            "POST %s%s (Host %s, %s aic-%s-<n>) x%d, model %s, %d-word prompt"
            % (url, p["path"], host, dg.REQUEST_ID_HEADER, result.run_id, p["requests"], p["model"], p["prompt_words"]),
            "statuses %s, %d completion(s)" % (statuses, answers),
        )
        result.check("every request through the gateway completed", answers == p["requests"], "%d of %d were OpenAI completions" % (answers, p["requests"]))
        # Counters are read until they account for every completed request (a server may export them
        # a moment after it answered); requests that were not completed are not waited for.
        after, waited = poll(lambda: self.grown(client, pods, before, answers), min(30, p["timeout"]), 1.0)
        after = after or self.counters(client, pods)
        delta = dg.deltas(before, after)
        other_after, _end = self.still(client, pods, after)
        other = {ph: other_before[ph] + other_after[ph] for ph in dg.PHASES}
        result.observations["counters"] = {ph: {"before": before[ph], "after": after[ph], "delta": delta[ph], "other_traffic": other[ph]} for ph in dg.PHASES}
        result.step(
            "GET <pod>:<port>%s again (waited %.1f s), and %d s before and after the requests" % (p["metrics_path"], waited, p["quiet_seconds"]),
            "%s delta: %s; other traffic: %s" % (p["success_metric"], delta, other),
        )
        for ph in dg.PHASES:
            ok, detail = dg.traversed(p["success_metric"], ph, delta[ph], p["requests"], len(pods[ph]), other[ph], p["quiet_seconds"])
            result.check("requests traversed the %s phase" % ph, ok, detail)
        self.unknown_model(client, result, url, host, pods, chat, any(other.values()))

    def grown(self, client, pods, before, n):
        now = self.counters(client, pods)
        return now if all(d >= n for d in dg.deltas(before, now).values()) else None

    def unknown_model(self, client, result, url, host, pods, chat, busy):
        p = self.params
        model = p["unknown_model"] or "aic-no-such-model-%s" % result.run_id
        before = self.counters(client, pods)
        statuses = []
        for i in range(NEGATIVE_REQUESTS):
            r = dg.post_json(url, host, p["path"], dg.completion_body(model, 8, p["max_tokens"], chat, i), timeout_s=p["request_timeout_s"])
            statuses.append(r["status"])
        time.sleep(1.0)
        moved = {ph: d for ph, d in dg.deltas(before, self.counters(client, pods)).items() if d}
        if busy:  # other traffic moves the counters too: only the answers decide
            refused, outcome = dg.unserved_model_refused(statuses, {}, "counters not compared, other traffic moves them (%s)" % moved)
        else:
            refused, outcome = dg.unserved_model_refused(statuses, moved, "no counter of either phase moved")
        result.negative_case("requests for model %s, which no one serves" % model, refused, outcome)

    def scale_one(self, client, result, firsts, phase, other):
        p = self.params
        ref, oref = firsts[phase], firsts[other]
        key = dg.ref_key(ref)
        start = dg.read_scale(client, ref)
        replicas = int((start.get("spec") or {}).get("replicas") or 0)
        sel = (start.get("status") or {}).get("selector") or ""
        other_before = dg.workload_state(client, oref)
        timeline = {"replicas_before": replicas}
        try:
            t0 = time.monotonic()
            dg.set_replicas(client, ref, replicas + 1)
            ups, waited = poll(lambda: len(dg.ready_pods(client, ref["namespace"], sel)) >= replicas + 1, p["timeout"], 0.5)
            timeline["scaled_up_ready_s"] = round(time.monotonic() - t0, 1)
            other_mid = dg.workload_state(client, oref)
        finally:
            dg.set_replicas(client, ref, replicas)
        # Restored once the workload keeps no more than its replicas: the extra pod is gone or
        # terminating (its graceful shutdown is the kubelet's business, not the workload's).
        downs, waited_down = poll(lambda: len(dg.live_pods(client, ref["namespace"], sel)) <= replicas, p["timeout"], 0.5)
        timeline["restored_s"] = round(time.monotonic() - t0, 1)
        timeline["scale_down_wait_s"] = waited_down
        other_after = dg.workload_state(client, oref)
        changes = dg.state_changes(other_before, other_mid) + dg.state_changes(other_before, other_after)
        result.observations.setdefault("scaling", {})[phase] = dict(timeline, other_changes=changes)
        result.step("kubectl scale %s --replicas=%d, then back to %d" % (key, replicas + 1, replicas), "ready after %.1f s" % waited if ups else "not ready")
        up_detail = "%s reached %d ready pod(s) in %.1f s" % (key, replicas + 1, waited)
        if not ups:
            up_detail = "%s did not reach %d ready pod(s) in %d s" % (key, replicas + 1, p["timeout"])
        result.check("%s scales up by itself" % phase, bool(ups), up_detail)
        result.check(
            "%s unchanged while %s scales" % (other, phase),
            not changes,
            "; ".join(changes) if changes else "%s kept %s replica(s), its generation and its ready pods" % (dg.ref_key(oref), other_before["replicas"]),
        )
        if not downs:
            result.check(
                "%s restored to %d replica(s)" % (phase, replicas), False, "%s still has more than %d pod(s) after %d s" % (key, replicas, p["timeout"])
            )


def main():
    DisaggregatedInferenceProbe(EXTRA).main()


if __name__ == "__main__":
    main()
