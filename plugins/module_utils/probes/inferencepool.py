# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for inference_pool_probe: its options' checks, an InferencePool's endpoints, the status
its Gateway writes, the probe's own HTTPRoute to the pool, and the arithmetic of where requests
landed (the probe itself is in module_utils/inferencepool_probe.py).

An InferencePool endpoint is one (ready pod, target port) pair, as the endpoint picker counts
them: a pod serving several data-parallel ranks on several target ports is several endpoints.
Where a request landed is read from each endpoint's own finished-request counter (vLLM's
``vllm:request_success_total``) through the API server's pod proxy; response headers never decide.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import selector
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gateway as gw

POOL_API = "inference.networking.k8s.io/v1"
POOL_GROUP = "inference.networking.k8s.io"
RUN_HEADER = "x-aic-run-id"


def missing_options(p: dict[str, Any]) -> list[str]:
    """What the probe needs and was not given (an explicit error verdict in the bundle, not a crash of the play)."""
    return [name for name in ("pool", "gateway", "model") if not p.get(name)]


def param_error(p: dict[str, Any]) -> str | None:
    """Malformed values: a one-line failure before anything is touched."""
    bad = gw.ref_params_error(p, ("pool", "gateway"))
    if bad:
        return bad
    if min(p["requests"], p["choice_requests"], p["load_requests"], p["load_max_tokens"], p["max_tokens"], p["prompt_words"]) < 1:
        return "requests, choice_requests, load_requests, load_max_tokens, max_tokens and prompt_words must be at least 1"
    if not 0.5 < p["min_idle_share"] <= 1:
        return "min_idle_share must be above 0.5 and at most 1, got %s" % p["min_idle_share"]
    if not p["path"].startswith("/"):
        return "path must start with /, got %r" % p["path"]
    return None


def pool_ports(pool: dict[str, Any]) -> list[int]:
    return [int(p["number"]) for p in (pool.get("spec") or {}).get("targetPorts") or [] if p.get("number")]


def pool_selector(pool: dict[str, Any]) -> str:
    """The pool's label selector (InferencePool v1 selects by matchLabels only); "" for none."""
    labels = ((pool.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return selector(labels) if labels else ""


def endpoints(pods: list[dict[str, Any]], ports: list[int]) -> list[dict[str, Any]]:
    """(pod, port) pairs, named ``<pod>:<port>``, sorted by name then port."""
    out = []
    for pod in sorted(pods, key=lambda x: x["metadata"]["name"]):
        for port in ports:
            out.append({"name": "%s:%d" % (pod["metadata"]["name"], port), "pod": pod, "port": port, "ip": (pod.get("status") or {}).get("podIP")})
    return out


def accepted_parents(pool: dict[str, Any] | None) -> list[str]:
    """namespace/name of every parent whose entry has Accepted=True and ResolvedRefs=True."""
    out = []
    for entry in ((pool or {}).get("status") or {}).get("parents") or []:
        if all(gw.is_true(gw.entry_condition(entry, t)) for t in gw.PARENT_CONDITIONS):
            ref = entry.get("parentRef") or {}
            out.append("%s/%s" % (ref.get("namespace") or (pool or {}).get("metadata", {}).get("namespace"), ref.get("name")))
    return sorted(out)


def pool_route(name: str, namespace: str, gw_namespace: str, gw_name: str, hostnames: list[str], path: str, run_id: str, pool: str) -> dict[str, Any]:
    """An HTTPRoute sending the probe's requests (exact path + the run-id header: the most specific
    match on the listener, so no existing route takes them) to the InferencePool."""
    parent: dict[str, Any] = {"name": gw_name}
    if gw_namespace != namespace:
        parent["namespace"] = gw_namespace
    spec: dict[str, Any] = {
        "parentRefs": [parent],
        "rules": [
            {
                "matches": [{"path": {"type": "Exact", "value": path}, "headers": [{"type": "Exact", "name": RUN_HEADER, "value": run_id}]}],
                "backendRefs": [{"group": POOL_GROUP, "kind": "InferencePool", "name": pool}],
            }
        ],
    }
    if hostnames:
        spec["hostnames"] = hostnames
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def listener_hostname(gateway: dict[str, Any] | None, port: int) -> str:
    """The hostname of the Gateway's listener on ``port`` ("" when it takes any host)."""
    for lst in ((gateway or {}).get("spec") or {}).get("listeners") or []:
        if int(lst.get("port") or 0) == port:
            return str(lst.get("hostname") or "")
    return ""


def ref(obj: dict[str, Any]) -> str:
    """``namespace/name`` of an object."""
    md = obj.get("metadata") or {}
    return "%s/%s" % (md.get("namespace"), md.get("name"))


def parent_gateways(pool: dict[str, Any]) -> list[str]:
    """namespace/name of the distinct Gateways in the pool's ``status.parents`` (a parentRef of kind
    Gateway in gateway.networking.k8s.io, the defaults; its namespace defaults to the pool's)."""
    ns = (pool.get("metadata") or {}).get("namespace")
    refs = {gw.gateway_ref(entry.get("parentRef") or {}, ns) for entry in (pool.get("status") or {}).get("parents") or []}
    return sorted(r for r in refs if r)


def http_listener_port(gateway: dict[str, Any]) -> tuple[int, str]:
    """The port of the Gateway's HTTP listener: the only listener whose protocol is HTTP, else the
    HTTP one on port 80: (port, where it came from), or (0, why none can be chosen)."""
    listeners = (gateway.get("spec") or {}).get("listeners") or []
    http = [lst for lst in listeners if lst.get("protocol") == "HTTP"]
    if len(http) == 1:
        return int(http[0].get("port") or 0), "the only HTTP listener (%s) of Gateway %s" % (http[0].get("name"), ref(gateway))
    if any(int(lst.get("port") or 0) == 80 for lst in http):
        return 80, "the HTTP listener on port 80 of Gateway %s, one of %d HTTP listeners" % (ref(gateway), len(http))
    if http:
        named = ", ".join("%s:%s" % (lst.get("name"), lst.get("port")) for lst in http)
        return 0, "Gateway %s has %d HTTP listeners and none on port 80 (%s)" % (ref(gateway), len(http), named)
    named = ", ".join("%s:%s %s" % (lst.get("name"), lst.get("port"), lst.get("protocol")) for lst in listeners) or "none"
    return 0, "Gateway %s has no HTTP listener (listeners: %s)" % (ref(gateway), named)


def agreed_model(models: dict[str, str | None]) -> str | None:
    """The one model every pod (``{pod name: model}``) serves, or None when they are none, one
    states none, or they disagree."""
    seen = set(models.values())
    return seen.pop() if len(seen) == 1 and None not in seen else None


def deltas(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, float]:
    return {k: (after.get(k) or 0) - (before.get(k) or 0) for k in before}


def gateway_shares(delta: dict[str, float], load_done: dict[str, int]) -> dict[str, float]:
    """Requests each endpoint finished for the gateway: its counter delta less the load the probe
    sent to it directly (each of which finished, by ``load_done``)."""
    return {k: v - load_done.get(k, 0) for k, v in delta.items()}


def choice_follows_load(shares: dict[str, float], cold: str, sent: int, min_share: float) -> tuple[bool, str]:
    """Did the requests go to the endpoint that advertised no load?  ``min_share`` of ``sent``
    must land on ``cold``; a picker blind to the metrics spreads them over every endpoint."""
    got = shares.get(cold, 0)
    ok = sent > 0 and got >= min_share * sent
    loaded = {k: v for k, v in shares.items() if k != cold}
    return ok, "%g of %d on the idle endpoint %s (needed %g); loaded endpoints got %s" % (got, sent, cold, min_share * sent, loaded)
