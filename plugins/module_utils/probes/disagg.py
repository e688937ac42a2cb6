# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for disaggregated_inference_probe (the probe itself is in module_utils/disagg_probe.py):
serving pods per phase, the workloads that scale them, the model servers' own request counters,
and OpenAI-style requests through the gateway (inference_pool_probe sends and counts with these too).

Verdicts come from API objects (owner references, the scale subresource, pod UIDs and readiness)
and from the counters the model servers export (vLLM's ``vllm:request_success_total`` by default),
read from each pod through the API server's pod proxy.  A response header never decides anything:
real model servers send none that names the phase.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import http.client
import json
import socket
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mt
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import serving as sv
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes.gateway import GATEWAY_API, gateway_ref, parse_url, ref_params_error
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import secret_scan as sc

PHASES = ("prefill", "decode")
SUCCESS_METRIC = "vllm:request_success_total"
# Said in the verdict when the answering model servers name themselves as stand-ins (the reference
# cluster's fake vLLM sends x-aic-standin-* headers; real servers send none).
STANDIN_HEADER_PREFIX = "x-aic-standin-"
STANDIN_NOTE = "; the model servers were stand-ins that speak the OpenAI API and report the phase that handled each request, not vLLM"


def missing_options(p: dict[str, Any]) -> list[str]:
    """What the probe needs and was not given (an explicit error verdict in the bundle, not a crash
    of the play): the namespace; the model and the gateway are discovered there when not given."""
    return [] if p.get("serving_namespace") else ["serving_namespace"]


def param_error(p: dict[str, Any]) -> str | None:
    """Malformed values: a one-line failure before anything is touched."""
    bad = ref_params_error(p, ("gateway",))
    if bad:
        return bad
    if min(p["requests"], p["prompt_words"], p["max_tokens"], p["quiet_seconds"]) < 1:
        return "requests, prompt_words, max_tokens and quiet_seconds must be at least 1"
    if not p["prefill_selector"] or not p["decode_selector"]:
        return "prefill_selector and decode_selector must not be empty"
    return None


def is_ready(pod: dict[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if (pod.get("status") or {}).get("phase") != "Running":
        return False
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def ready_pods(client: Any, namespace: str, label_selector: str) -> list[dict[str, Any]]:
    """Ready, not-deleting pods of a selector, by name."""
    items = client.list("v1", "Pod", namespace, label_selector=label_selector)["items"]
    return sorted((p for p in items if is_ready(p)), key=lambda p: p["metadata"]["name"])


def live_pods(client: Any, namespace: str, label_selector: str) -> list[dict[str, Any]]:
    """Pods of a selector that are not being deleted."""
    items = client.list("v1", "Pod", namespace, label_selector=label_selector)["items"]
    return [p for p in items if not (p.get("metadata") or {}).get("deletionTimestamp")]


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def has_scale(client: Any, api_version: str, kind: str, cache: dict[tuple[str, str], bool] | None = None) -> bool:
    """Whether the kind serves the scale subresource (from API discovery, read once per
    group-version when a cache is given: the client's own discovery table leaves subresources out)."""
    cache = {} if cache is None else cache
    if (api_version, kind) not in cache:
        try:
            doc = client.get_path(client.gv_path(api_version), what="discover %s" % api_version)
        except ClusterError:
            doc = {}
        names = {r.get("name") for r in doc.get("resources") or []}
        for r in doc.get("resources") or []:
            if r.get("kind") and "/" not in (r.get("name") or ""):
                cache[(api_version, r["kind"])] = r["name"] + "/scale" in names
        cache.setdefault((api_version, kind), False)
    return cache[(api_version, kind)]


def scale_target(client: Any, pod: dict[str, Any], cache: dict[tuple[str, str], bool] | None = None, max_depth: int = 6) -> dict[str, Any] | None:
    """The workload that scales this pod: walking up the controller owner references, the highest
    owner that serves ``/scale`` before one that does not (Pod -> ReplicaSet -> Deployment gives the
    Deployment; Pod -> StatefulSet -> LeaderWorkerSet gives the LeaderWorkerSet).  None for a pod no
    scalable workload controls."""
    namespace = pod["metadata"]["namespace"]
    obj, found, depth = pod, None, 0
    while depth < max_depth:
        depth += 1
        ref = controller_ref(obj)
        if ref is None or not has_scale(client, ref["apiVersion"], ref["kind"], cache):
            break
        owner = client.get(ref["apiVersion"], ref["kind"], ref["name"], namespace)
        if owner is None:
            break
        found = {"apiVersion": ref["apiVersion"], "kind": ref["kind"], "name": ref["name"], "namespace": namespace, "uid": owner["metadata"]["uid"]}
        obj = owner
    return found


def ref_key(ref: dict[str, Any]) -> str:
    return "%s/%s %s/%s" % (ref["apiVersion"], ref["kind"], ref["namespace"], ref["name"])


def read_scale(client: Any, ref: dict[str, Any]) -> dict[str, Any]:
    path = client.path(ref["apiVersion"], ref["kind"], ref["namespace"], ref["name"], "scale")
    return client.request("GET", path, what="read the scale of %s" % ref_key(ref))


def set_replicas(client: Any, ref: dict[str, Any], replicas: int) -> dict[str, Any]:
    return client.patch(ref["apiVersion"], ref["kind"], ref["name"], {"spec": {"replicas": replicas}}, ref["namespace"], subresource="scale")


def workload_state(client: Any, ref: dict[str, Any]) -> dict[str, Any]:
    """What must not move while the other phase scales: desired replicas, generation, the UIDs of
    its ready pods."""
    scale = read_scale(client, ref)
    obj = client.get(ref["apiVersion"], ref["kind"], ref["name"], ref["namespace"]) or {}
    sel = (scale.get("status") or {}).get("selector") or ""
    uids = sorted(p["metadata"]["uid"] for p in ready_pods(client, ref["namespace"], sel)) if sel else []
    return {
        "replicas": (scale.get("spec") or {}).get("replicas"),
        "generation": (obj.get("metadata") or {}).get("generation"),
        "ready_pods": uids,
        "selector": sel,
    }


def state_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    for key in ("replicas", "generation"):
        if before.get(key) != after.get(key):
            out.append("%s %s -> %s" % (key, before.get(key), after.get(key)))
    gone = set(before.get("ready_pods") or []) - set(after.get("ready_pods") or [])
    new = set(after.get("ready_pods") or []) - set(before.get("ready_pods") or [])
    if gone:
        out.append("%d ready pod(s) replaced or lost" % len(gone))
    if new:
        out.append("%d new ready pod(s)" % len(new))
    return out


def scrape(client: Any, pod: dict[str, Any], port: int, path: str = "/metrics") -> str:
    """A pod's metrics page through the API server's pod proxy (RBAC: pods/proxy get)."""
    md = pod["metadata"]
    url = "/api/v1/namespaces/%s/pods/%s:%d/proxy%s" % (md["namespace"], md["name"], port, path)
    doc = client.request("GET", url, what="read metrics of pod %s/%s port %d" % (md["namespace"], md["name"], port), content_type="text/plain")
    return doc.get("raw", "") if isinstance(doc, dict) else ""


def counter_sum(text: str, metric: str) -> float | None:
    """Sum of every series of a counter (all labels); None when the page has no such series."""
    values = [s["value"] for s in mt.parse_exposition(text) if s["name"] == metric]
    return sum(values) if values else None


def completion_body(model: str, prompt_words: int, max_tokens: int, chat: bool, seq: int) -> dict[str, Any]:
    words = " ".join("w%d" % ((seq * 7919 + i) % 100000) for i in range(prompt_words))
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "temperature": 0, "stream": False}
    if chat:
        body["messages"] = [{"role": "user", "content": words}]
    else:
        body["prompt"] = words
    return body


def post_json(url: str, host: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None, timeout_s: float = 30) -> dict[str, Any]:
    """One POST; {status, json (or None), headers (lower-cased names)}.  Status 0: no HTTP answer."""
    addr, port = parse_url(url)
    conn = http.client.HTTPConnection(addr, port, timeout=timeout_s)
    hdrs = dict(headers or {}, Host=host, Connection="close")
    hdrs["Content-Type"] = "application/json"
    try:
        conn.request("POST", path, body=json.dumps(body), headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read(65536)
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        # Headers and text can end up in the evidence (failed_responses): credentials are redacted here.
        headers = sc.redact_headers({k.lower(): v for k, v in resp.getheaders()})
        return {"status": resp.status, "json": doc, "headers": headers, "text": sc.redact_text(raw[:300].decode("utf-8", "replace"))}
    except (OSError, http.client.HTTPException, socket.timeout) as exc:
        return {"status": 0, "json": None, "headers": {}, "text": "%s: %s" % (exc.__class__.__name__, exc)}
    finally:
        conn.close()


def is_completion(doc: Any) -> bool:
    """An OpenAI completion or chat completion with at least one choice."""
    if not isinstance(doc, dict) or not isinstance(doc.get("choices"), list) or not doc["choices"]:
        return False
    return doc.get("object") in ("text_completion", "chat.completion")


def unserved_model_refused(statuses: list[int], moved: dict[str, float], unmoved: str) -> tuple[bool, str]:
    """The negative case of a request for a model nobody serves: every answer a 4xx and no
    finished-request counter moved.  Returns (refused, the outcome in one line, ``unmoved``
    saying that no counter moved)."""
    refused = bool(statuses) and all(400 <= s < 500 for s in statuses) and not moved
    return refused, "HTTP %s; %s" % (statuses, "counters moved: %s" % moved if moved else unmoved)


# ---- tying the counters to the probe's own requests ----------------------------------------------
# Sent with every request of the probe, "aic-<run id>-<n>": vLLM takes it as the request id (and
# answers with it in the completion's id when it honours request-id headers); recorded, never decisive.
REQUEST_ID_HEADER = "X-Request-Id"


def counters(
    client: Any, pods: dict[str, list[dict[str, Any]]], ports: dict[str, dict[str, int]], path: str, metric: str
) -> dict[str, dict[str, float | None]]:
    """phase -> pod name -> the counter's sum on that pod (None: not exported); ``ports``: phase ->
    pod name -> the port its counters are read on (a pod come since: the phase's one port, else its own)."""

    def port(ph: str, pod: dict[str, Any]) -> int:
        known, name = ports[ph], pod["metadata"]["name"]
        one = set(known.values())
        return known.get(name) or (one.pop() if len(one) == 1 else metrics_ports([pod], ph, 0)[0][name])

    return {ph: {x["metadata"]["name"]: counter_sum(scrape(client, x, port(ph, x), path), metric) for x in pods[ph]} for ph in PHASES}


def deltas(before: dict[str, dict[str, float | None]], after: dict[str, dict[str, float | None]]) -> dict[str, float]:
    return {ph: sum((after[ph].get(n) or 0) - (before[ph].get(n) or 0) for n in before[ph]) for ph in PHASES}


def traversed(metric: str, phase: str, delta: float, sent: int, pods: int, other: float, quiet_s: int) -> tuple[bool | None, str]:
    """(ok, detail) of "requests traversed the <phase> phase".  The counter counts every request
    the phase's servers finished, not only the probe's: it proves the probe's requests only when
    it grew by exactly the number sent and stayed still in the quiet windows just before and
    after them (no other traffic).  Fewer than sent fails whatever else was counted; more than
    sent, or other traffic, cannot be tied to the probe's requests: undecided."""
    base = "%s +%g on %d %s pod(s) for %d requests" % (metric, delta, pods, phase, sent)
    if delta < sent:
        return False, base + ": fewer than the requests sent"
    if other:
        why = "other traffic moved it by +%g in the %d s quiet windows before and after them" % (other, quiet_s)
        return None, base + "; not tied to the probe's requests: " + why
    if delta > sent:
        return None, base + "; not tied to the probe's requests: %g more than sent although the quiet windows around them were still" % (delta - sent)
    return True, base + ", exactly; still in the %d s quiet windows before and after them" % quiet_s


def echoed(responses: list[dict[str, Any]], ids: list[str]) -> int:
    """How many completions carry the probe's request id in their own id."""
    return sum(1 for r, i in zip(responses, ids) if isinstance(r.get("json"), dict) and i in str(r["json"].get("id") or ""))


def summarize(responses: list[dict[str, Any]]) -> tuple[int, dict[str, int], dict[str, int], list[dict[str, Any]]]:
    """(completions, count per HTTP status, count per stand-in "prefill pod -> decode pod" pair,
    the failed responses) of the probe's requests."""
    answers, statuses, pairs, failed = 0, {}, {}, []
    for r in responses:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
        answers += r["status"] == 200 and is_completion(r["json"])
        hdr = r["headers"]
        pair = "%s -> %s" % (hdr.get(STANDIN_HEADER_PREFIX + "prefill-pod", "?"), hdr.get(STANDIN_HEADER_PREFIX + "decode-pod", "?"))
        pairs[pair] = pairs.get(pair, 0) + 1
        if r["status"] != 200:
            failed.append({"status": r["status"], "body": r["text"][:200]})
    return answers, dict(sorted(statuses.items())), pairs, failed


# ---- the options left empty, discovered from the serving namespace -------------------------------
# A phase's metrics port when its pod states no --port: vLLM's default API port for prefill, llm-d's
# decode vLLM port (its routing sidecar holds 8000).
DEFAULT_METRICS_PORTS = {"prefill": 8000, "decode": 8200}
SET_GATEWAY = ": set gateway (namespace/name) or gateway_url"


def selects(service: dict[str, Any], pods: list[dict[str, Any]]) -> bool:
    """Whether the Service's ``spec.selector`` is non-empty and matches the labels of one of ``pods``."""
    sel = (service.get("spec") or {}).get("selector") or {}
    return bool(sel) and any(all((x["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items()) for x in pods)


def backend_services(route: dict[str, Any]) -> set[str]:
    """The Services (core group, the default kind of a backendRef) in the route's own namespace
    that its rules send to."""
    ns = route["metadata"]["namespace"]
    refs = [b for rule in (route.get("spec") or {}).get("rules") or [] for b in rule.get("backendRefs") or []]
    return {b["name"] for b in refs if b.get("kind", "Service") == "Service" and not b.get("group") and (b.get("namespace") or ns) == ns}


def parent_gateways(route: dict[str, Any]) -> set[str]:
    """``namespace/name`` of the Gateways among the route's parentRefs (namespace: the route's)."""
    refs = {gateway_ref(r, route["metadata"]["namespace"]) for r in (route.get("spec") or {}).get("parentRefs") or []}
    return {r for r in refs if r}


def decode_routes(client: Any, namespace: str, decode_pods: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str], bool]:
    """(the HTTPRoutes of ``namespace`` whose rules send to a Service there that selects the decode
    pods, by name; the names of those Services; whether the cluster serves HTTPRoutes)."""
    if not client.served(GATEWAY_API, "HTTPRoute"):
        return [], [], False
    services = sorted(s["metadata"]["name"] for s in client.list("v1", "Service", namespace)["items"] if selects(s, decode_pods))
    routes = [r for r in client.list(GATEWAY_API, "HTTPRoute", namespace)["items"] if backend_services(r) & set(services)]
    return sorted(routes, key=lambda r: r["metadata"]["name"]), services, True


def discover_gateway(namespace: str, routes: list[dict[str, Any]], services: list[str], served: bool) -> tuple[str | None, str]:
    """The one Gateway the routes to the decode pods hang from: (``namespace/name``, where it was
    found), or (None, the one-line reason it could not be)."""
    names = ", ".join(r["metadata"]["name"] for r in routes)
    found: dict[str, list[str]] = {}
    for r in routes:
        for g in parent_gateways(r):
            found.setdefault(g, []).append(r["metadata"]["name"])
    if len(found) == 1:
        gateway, via = next(iter(found.items()))
        return gateway, "parentRefs of HTTPRoute %s in %s, which sends to Service %s selecting the decode pods" % (
            ", ".join(via),
            namespace,
            ", ".join(services),
        )
    why = "HTTPRoute is not served by this cluster"
    if served and not services:
        why = "no Service in namespace %s selects the decode pods" % namespace
    elif served and not routes:
        why = "no HTTPRoute in namespace %s sends to Service %s, which selects the decode pods" % (namespace, ", ".join(services))
    elif served and not found:
        why = "HTTPRoute %s in namespace %s sends to the decode pods but names no parent Gateway" % (names, namespace)
    elif served:
        listed = "; ".join("%s (HTTPRoute %s)" % (g, ", ".join(v)) for g, v in sorted(found.items()))
        why = "the HTTPRoutes to the decode pods in namespace %s name %d Gateways: %s" % (namespace, len(found), listed)
    return None, "cannot discover the gateway: " + why + SET_GATEWAY


def route_hostname(routes: list[dict[str, Any]], gateway: str) -> tuple[str | None, str]:
    """The first hostname of the first route (by name) to ``gateway`` that has one, and where it was found."""
    for r in routes:
        hostnames = (r.get("spec") or {}).get("hostnames") or []
        if gateway in parent_gateways(r) and hostnames:
            return hostnames[0], "spec.hostnames of HTTPRoute %s/%s" % (r["metadata"]["namespace"], r["metadata"]["name"])
    return None, ""


def discover_model(pods: dict[str, list[dict[str, Any]]]) -> tuple[str | None, str]:
    """The model the decode pods serve (``serving.served_model``), which the prefill pods that state
    one must agree with: (the model, where it was found), or (None, the one-line reason)."""
    seen = {ph: sorted({m for m in (sv.served_model(x) for x in pods[ph]) if m}) for ph in PHASES}
    if len(seen["decode"]) == 1 and set(seen["prefill"]) <= set(seen["decode"]):
        return seen["decode"][0], "--served-model-name, --model or vllm serve <model> of the decode pods"
    why = "no decode pod states one"
    if len(seen["decode"]) > 1:
        why = "the decode pods serve different models"
    elif seen["decode"]:
        why = "the prefill pods serve another model than the decode pods"
    what = "; ".join("%s pods: %s" % (ph, ", ".join(seen[ph]) or "none stated") for ph in ("decode", "prefill"))
    return None, "cannot discover the model: %s (%s; read from --served-model-name, --model or vllm serve <model>): set model" % (why, what)


def metrics_ports(pods: list[dict[str, Any]], phase: str, given: int) -> tuple[dict[str, int], dict[str, Any] | None]:
    """pod name -> the port its counters are read on: ``given`` when not 0; else the pod's vLLM
    ``--port`` (``serving.server_arg``), else the phase's DEFAULT_METRICS_PORTS.  With it, what was
    discovered ({value, from}; the value a pod -> port map when the pods differ), None when given."""
    names = [x["metadata"]["name"] for x in pods]
    if given:
        return {n: given for n in names}, None
    stated = {x["metadata"]["name"]: sv.server_arg(x, "port") for x in pods}
    stated = {n: int(v) for n, v in stated.items() if v and v.isdigit()}
    default = DEFAULT_METRICS_PORTS[phase]
    ports = {n: stated.get(n, default) for n in names}
    value: Any = ports[names[0]] if len(set(ports.values())) == 1 else ports
    where = "--port of the %s pods' model server" % phase
    if not stated:
        where = "the default for %s: no %s pod states --port" % (phase, phase)
    elif len(stated) < len(names):
        where = "--port of each %s pod's model server, the default %d where none is stated" % (phase, default)
    elif isinstance(value, dict):
        where = "--port of each %s pod's model server (they differ)" % phase
    return ports, {"value": value, "from": where}
