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
    description: The InferencePool, as C(namespace/name). Without it (or O(model), or O(gateway)) the verdict is C(error), saying what is missing.
    type: str
  gateway:
    description: The inference Gateway, as C(namespace/name); the probe's HTTPRoute attaches to it.
    type: str
  gateway_url:
    description: C(http://host:port) of the gateway. Empty reads the first address of O(gateway)'s status.
    type: str
    default: ""
  listener_port:
    description: Port of O(gateway)'s HTTP listener.
    type: int
    default: 80
  hostname:
    description: Host of the probe's route and requests. Empty uses the listener's hostname, or C(<run id>.inference.conformance.test) when it has none.
    type: str
    default: ""
  model:
    description: The model name the pool serves (the OpenAI C(model) field).
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
  - "RBAC: get InferencePools, Gateways and GatewayClasses; create, get and delete HTTPRoutes in the pool's namespace;
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
      description: Structured facts the verdict was computed from (pool, endpoints, route status, counter deltas per endpoint, advertised load).
      type: dict
      returned: always
      sample: {endpoints: [vllm-tiny-0:8000, vllm-tiny-1:8000], choice: {shares: {vllm-tiny-1:8000: 20}}}
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
import threading
import time

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import disagg as dg
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import gateway as gw
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import inferencepool as ip
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import metrics as mt
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import Verdict

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
    "listener_port": {"type": "int", "default": 80},
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

NEGATIVE_REQUESTS = 3


def missing_config(p):
    """What the probe needs and was not given: an explicit error verdict in the bundle, not a crash of the play."""
    missing = [name for name in ("pool", "gateway", "model") if not p.get(name)]
    if missing:
        return "advanced_inference_ingress is not configured: set %s (or declare none)" % ", ".join(missing)
    return None


def param_error(p):
    """Malformed values: a one-line failure before anything is touched."""
    for name in ("pool", "gateway"):
        if p[name] and p[name].count("/") != 1:
            return "%s must be namespace/name, got %r" % (name, p[name])
    if p["gateway_url"]:
        try:
            gw.parse_url(p["gateway_url"])
        except ValueError as exc:
            return str(exc)
    if min(p["requests"], p["choice_requests"], p["load_requests"], p["load_max_tokens"], p["max_tokens"], p["prompt_words"]) < 1:
        return "requests, choice_requests, load_requests, load_max_tokens, max_tokens and prompt_words must be at least 1"
    if not 0.5 < p["min_idle_share"] <= 1:
        return "min_idle_share must be above 0.5 and at most 1, got %s" % p["min_idle_share"]
    if not p["path"].startswith("/"):
        return "path must start with /, got %r" % p["path"]
    return None


class InferencePoolProbe(Probe):
    requirement = "advanced_inference_ingress"
    param_error = staticmethod(param_error)
    seq = 0
    standins = False

    def run(self, client, ctx, result):
        p = self.params
        if p["declared"] == "none":
            result.decide(Verdict.NOT_APPLICABLE, p["justification"])
            return
        missing = missing_config(p)
        if missing:
            result.decide(Verdict.ERROR, missing)
            return
        pns, pname = p["pool"].split("/")
        gns, gname = p["gateway"].split("/")
        if not client.served(ip.POOL_API, "InferencePool"):
            result.decide(Verdict.FAIL, "the InferencePool API (%s) is not served: the Gateway API Inference Extension is not installed" % ip.POOL_API)
            return
        pool = client.get(ip.POOL_API, "InferencePool", pname, pns)
        if pool is None:
            result.decide(Verdict.FAIL, "InferencePool %s does not exist" % p["pool"])
            return
        entry = gw.parent_status(pool, gns, gname)
        result.observations["pool"] = {
            "selector": ip.pool_selector(pool),
            "target_ports": ip.pool_ports(pool),
            "endpoint_picker": (pool.get("spec") or {}).get("endpointPickerRef"),
        }
        result.observations["pool_parents"] = (pool.get("status") or {}).get("parents") or []
        conds = {t: gw.is_true(gw.entry_condition(entry, t)) for t in ("Accepted", "ResolvedRefs")}
        result.step(
            "kubectl get inferencepool %s -n %s -o jsonpath='{.status.parents}'" % (pname, pns),
            "; ".join(gw.describe(gw.entry_condition(entry, t), t) for t in ("Accepted", "ResolvedRefs"))
            if entry
            else "no entry for Gateway %s" % p["gateway"],
        )
        result.check(
            "the Gateway accepted the InferencePool",
            all(conds.values()),
            "Gateway %s: Accepted=%s ResolvedRefs=%s" % (p["gateway"], conds["Accepted"], conds["ResolvedRefs"])
            if entry
            else "the pool's status has no entry for Gateway %s (accepted by: %s)" % (p["gateway"], ip.accepted_parents(pool) or "none"),
        )
        sel = ip.pool_selector(pool)
        pods = dg.ready_pods(client, pns, sel) if sel else []
        eps = ip.endpoints(pods, ip.pool_ports(pool))
        result.observations["endpoints"] = [e["name"] for e in eps]
        result.step(
            "kubectl get pods -n %s -l %s" % (pns, sel or "<no selector>"), "%d ready pod(s) x %d target port(s)" % (len(pods), len(ip.pool_ports(pool)))
        )
        if not eps:
            result.decide(
                Verdict.FAIL, "InferencePool %s selects no ready endpoint (selector %s, target ports %s)" % (p["pool"], sel or "none", ip.pool_ports(pool))
            )
            return
        if len(eps) < 2:
            result.decide(
                Verdict.FAIL,
                "InferencePool %s has one ready endpoint (%s): a choice by the endpoints' metrics needs at least two; scale the model servers"
                % (p["pool"], eps[0]["name"]),
            )
            return
        gateway = client.get(gw.GATEWAY_API, "Gateway", gname, gns)
        if gateway is None:
            result.decide(Verdict.FAIL, "Gateway %s does not exist" % p["gateway"])
            return
        cls = client.get(gw.GATEWAY_API, "GatewayClass", (gateway.get("spec") or {}).get("gatewayClassName") or "")
        controller = ((cls or {}).get("spec") or {}).get("controllerName") or "an unknown controller"
        result.observations["gateway_controller"] = controller
        url = p["gateway_url"] or gw.gateway_url(gateway, p["listener_port"])
        if not url:
            result.decide(Verdict.FAIL, "Gateway %s has no address in its status" % p["gateway"])
            return
        result.observations["gateway_url"] = url
        host = p["hostname"] or ip.listener_hostname(gateway, p["listener_port"]) or "%s.inference.conformance.test" % ctx.run_id
        if not self.attach_route(client, ctx, result, pns, gns, gname, pname, host, url):
            result.decide_from_checks("")
            return
        self.only_pool(client, result, url, host, eps)
        if any(c["ok"] is False for c in result.checks):
            result.decide_from_checks("")
            return
        self.choice(client, result, url, host, eps)
        self.unknown_model(client, result, url, host, eps)
        shares = result.observations.get("choice", {})
        note = ""
        if self.standins:
            result.observations["model_servers"] = "stand-ins that speak the OpenAI API and export vLLM's metrics, not vLLM"
            note = "; the model servers were stand-ins, not vLLM"
        result.decide_from_checks(
            "InferencePool %s is accepted by Gateway %s (%s); %d requests through it reached only its %d endpoints; with the other endpoints "
            "loaded, %g of %d went to the idle one; requests for an unserved model were refused%s"
            % (p["pool"], p["gateway"], controller, p["requests"], len(eps), shares.get("idle_got", 0), p["choice_requests"], note)
        )

    def post(self, url, host, run_id, model, seq, max_tokens, timeout_s):
        p = self.params
        chat = p["path"].rstrip("/").endswith("/chat/completions")
        body = dg.completion_body(model, p["prompt_words"], max_tokens, chat, seq)
        # Distinct prompts: a prefix-cache scorer has no earlier request to favour.
        key = "messages" if chat else "prompt"
        tag = "%s-%d " % (run_id, seq)
        if chat:
            body[key][0]["content"] = tag + body[key][0]["content"]
        else:
            body[key] = tag + body[key]
        return dg.post_json(url, host, p["path"], body, headers={ip.RUN_HEADER: run_id}, timeout_s=timeout_s)

    def send(self, url, host, run_id, model, n, failed=None, before=None):
        """``n`` requests through the gateway: ({status: count}, completions, [status of each]).
        ``before`` is called before each request is sent."""
        p = self.params
        statuses, seq, answers = {}, [], 0
        while len(seq) < n:
            if before is not None:
                before()
            self.seq += 1
            r = self.post(url, host, run_id, model, self.seq, p["max_tokens"], p["request_timeout_s"])
            seq.append(r["status"])
            statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
            if any(h.startswith(dg.STANDIN_HEADER_PREFIX) for h in r["headers"]):
                # Only the reference cluster's stand-in model servers send these; recorded, never decisive.
                self.standins = True
            if r["status"] == 200 and dg.is_completion(r["json"]):
                answers += 1
            elif failed is not None and len(failed) < 5:
                failed.append({"status": r["status"], "body": r["text"][:200]})
        return dict(sorted(statuses.items())), answers, seq

    def attach_route(self, client, ctx, result, pns, gns, gname, pname, host, url):
        p = self.params
        name = ctx.name("pool")
        route = ctx.create(ip.pool_route(name, pns, gns, gname, [host], p["path"], ctx.run_id, pname))

        def accepted(live):
            return all(gw.is_true(gw.route_condition(live, gns, gname, t)) for t in ("Accepted", "ResolvedRefs"))

        t0 = time.monotonic()
        ok, live = client.wait_until(gw.GATEWAY_API, "HTTPRoute", name, accepted, pns, min(60, p["timeout"]))
        waited = time.monotonic() - t0
        detail = "; ".join(gw.describe(gw.route_condition(live or route, gns, gname, t), t) for t in ("Accepted", "ResolvedRefs"))
        result.step(
            "kubectl apply HTTPRoute %s/%s (Exact %s, header %s, backendRef InferencePool %s)" % (pns, name, p["path"], ip.RUN_HEADER, pname),
            detail,
            ok,
        )
        result.check("the Gateway accepted an HTTPRoute to the InferencePool", ok, "%s after %.1f s" % (detail, waited))
        if not ok:
            return False

        def routed():
            self.seq += 1
            r = self.post(url, host, ctx.run_id, p["model"], self.seq, 1, p["request_timeout_s"])
            return r if r["status"] == 200 and dg.is_completion(r["json"]) else None

        first, waited = mt.poll(routed, min(30, p["timeout"]), 1.0)
        result.step(
            "POST %s%s (Host %s, %s) until routed" % (url, p["path"], host, ip.RUN_HEADER),
            "completion after %.1f s" % waited if first else "no completion in %.0f s" % waited,
            bool(first),
        )
        if not first:
            result.check("requests reach the pool through the gateway", False, "no completion through the new route in %.0f s" % waited)
            return False
        return True

    def counters(self, client, eps, metric=None):
        p = self.params
        return {e["name"]: dg.counter_sum(dg.scrape(client, e["pod"], e["port"], p["metrics_path"]), metric or p["success_metric"]) for e in eps}

    def gauges(self, client, eps):
        p = self.params
        out = {}
        for e in eps:
            text = dg.scrape(client, e["pod"], e["port"], p["metrics_path"])
            out[e["name"]] = {m: dg.counter_sum(text, p[m + "_metric"]) for m in ("queue", "kv_cache", "running")}
        return out

    def only_pool(self, client, result, url, host, eps):
        p = self.params
        before = self.counters(client, eps)
        absent = sorted(n for n, v in before.items() if v is None)
        if absent:
            result.check("pool endpoints export %s" % p["success_metric"], False, "no such series on %s" % absent)
            return
        statuses, answers = self.send(url, host, result.run_id, p["model"], p["requests"], result.observations.setdefault("failed_responses", []))[:2]
        result.observations["responses"] = {"statuses": statuses, "completions": answers}
        result.step(
            "POST %s%s (Host %s) x%d, model %s" % (url, p["path"], host, p["requests"], p["model"]),
            "statuses %s, %d completion(s)" % (result.observations["responses"]["statuses"], answers),
        )
        result.check("every request through the gateway completed", answers == p["requests"], "%d of %d were OpenAI completions" % (answers, p["requests"]))
        after, waited = mt.poll(lambda: self.grown(client, eps, before, answers), min(30, p["timeout"]), 1.0)
        after = after or self.counters(client, eps)
        delta = ip.deltas(before, after)
        counted = sum(delta.values())
        result.observations["only_pool"] = {"before": before, "after": after, "delta": delta}
        result.step(
            "GET <pod>:<target port>%s via the API server's pod proxy, before and after (waited %.1f s)" % (p["metrics_path"], waited),
            "%s delta: %s" % (p["success_metric"], delta),
        )
        result.negative_case(
            "completions served by an endpoint outside the pool",
            counted == answers if answers else None,
            "%g of %d completions counted on the pool's %d endpoints" % (counted, answers, len(eps)),
        )
        result.check(
            "requests reached only the pool's endpoints",
            answers > 0 and counted == answers,
            "%g of %d completions counted on the pool's endpoints (%s)" % (counted, answers, ", ".join("%s +%g" % kv for kv in sorted(delta.items()))),
        )

    def grown(self, client, eps, before, n):
        now = self.counters(client, eps)
        return now if sum(ip.deltas(before, now).values()) >= n else None

    def choice(self, client, result, url, host, eps):
        p = self.params
        idle, loaded = eps[-1], eps[:-1]
        before = self.counters(client, eps)
        done = {e["name"]: 0 for e in loaded}
        lock = threading.Lock()

        def load(e, seq):
            pod = e["pod"]["metadata"]
            body = dg.completion_body(p["model"], p["prompt_words"], p["load_max_tokens"], False, 100000 + seq)
            body["prompt"] = "load-%s-%d %s" % (result.run_id, seq, body["prompt"])
            path = "/api/v1/namespaces/%s/pods/%s:%d/proxy%s" % (pod["namespace"], pod["name"], e["port"], "/v1/completions")
            try:
                client.request("POST", path, body=body, what="load endpoint %s" % e["name"], timeout=4 * p["request_timeout_s"])
            except ClusterError:
                return
            with lock:
                done[e["name"]] += 1

        threads = [threading.Thread(target=load, args=(e, k * p["load_requests"] + j)) for k, e in enumerate(loaded) for j in range(p["load_requests"])]
        for t in threads:
            t.daemon = True
            t.start()

        def advertised():
            g = self.gauges(client, eps)
            busy = all((g[e["name"]]["queue"] or 0) > 0 or (g[e["name"]]["running"] or 0) > 0 or (g[e["name"]]["kv_cache"] or 0) > 0 for e in loaded)
            return g if busy else None

        gauges, waited = mt.poll(advertised, min(30, p["timeout"]), 0.3)
        result.observations["load_first_seen"] = gauges or self.gauges(client, eps)
        result.step(
            "POST <pod>:<port>/v1/completions via the pod proxy x%d per endpoint %s (max_tokens %d)"
            % (p["load_requests"], [e["name"] for e in loaded], p["load_max_tokens"]),
            "advertised after %.1f s: %s" % (waited, result.observations["load_first_seen"]) if gauges else "no load advertised in %.0f s" % waited,
            bool(gauges),
        )
        if not gauges:
            result.check(
                "loaded endpoints advertise their load",
                False,
                "no %s, %s or %s above 0 on %s" % (p["queue_metric"], p["running_metric"], p["kv_cache_metric"], [e["name"] for e in loaded]),
            )
            for t in threads:
                t.join(4 * p["request_timeout_s"])
            return
        # The picker reads the endpoints' metrics on its own schedule (the EPP every 50 ms): give it
        # time to see the load before the first request.
        time.sleep(p["load_settle_s"])
        # What the endpoints advertise as the requests start (the picker's view, give or take its refresh).
        result.observations["advertised_load"] = self.gauges(client, eps)
        in_flight = []
        statuses, answers = self.send(
            url, host, result.run_id, p["model"], p["choice_requests"], before=lambda: in_flight.append(sum(t.is_alive() for t in threads))
        )[:2]
        # A request that landed on a loaded endpoint waits behind its queue; what matters is that the
        # load was still running when the last request was sent.
        still = bool(in_flight) and in_flight[-1] > 0
        for t in threads:
            t.join(4 * p["request_timeout_s"])
        expected = answers + sum(done.values())
        after = mt.poll(lambda: self.grown(client, eps, before, expected), min(30, p["timeout"]), 1.0)[0] or self.counters(client, eps)
        shares = ip.gateway_shares(ip.deltas(before, after), done)
        ok, detail = ip.choice_follows_load(shares, idle["name"], answers, p["min_idle_share"])
        result.observations["choice"] = {
            "idle": idle["name"],
            "loaded": [e["name"] for e in loaded],
            "load_finished": done,
            "shares": shares,
            "idle_got": shares.get(idle["name"], 0),
            "load_in_flight_at_each_request": in_flight,
        }
        result.step(
            "POST %s%s x%d while %s are loaded" % (url, p["path"], p["choice_requests"], [e["name"] for e in loaded]),
            "statuses %s; per endpoint (load subtracted): %s" % (statuses, shares),
        )
        result.check(
            "every request during the load completed", answers == p["choice_requests"], "%d of %d were OpenAI completions" % (answers, p["choice_requests"])
        )
        if not still:
            detail += "; the load had ended before the last request was sent (raise load_max_tokens or load_requests)"
        result.check("the endpoint picker's choice follows the load the endpoints advertise", ok and still, detail)

    def unknown_model(self, client, result, url, host, eps):
        p = self.params
        model = p["unknown_model"] or "aic-no-such-model-%s" % result.run_id
        before = self.counters(client, eps)
        statuses = self.send(url, host, result.run_id, model, NEGATIVE_REQUESTS)[2]
        time.sleep(1.0)
        moved = {k: v for k, v in ip.deltas(before, self.counters(client, eps)).items() if v}
        result.negative_case(
            "requests for model %s, which the pool does not serve" % model, *dg.unserved_model_refused(statuses, moved, "no endpoint counter moved")
        )


def main():
    InferencePoolProbe(EXTRA).main()


if __name__ == "__main__":
    main()
