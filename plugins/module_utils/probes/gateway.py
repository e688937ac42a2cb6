# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateway API helpers for gateway_check: objects, status reading, and measured HTTP traffic.

Verdicts come from two structured sources only: the conditions the controller writes on the
Gateway and on each route's ``status.parents`` entry for our Gateway, and the HTTP responses
counted per backend (a backend answers ``/hostname`` with its pod's name, as agnhost netexec does).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import http.client
import socket
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl

GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_GROUP = GATEWAY_API.split("/", maxsplit=1)[0]
INFERENCE_API = "inference.networking.k8s.io/v1"
DEFAULT_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"
# The conditions a controller writes on a route's (or an InferencePool's) status.parents entry.
PARENT_CONDITIONS = ("Accepted", "ResolvedRefs")


condition = wl.condition


def is_true(cond: dict[str, Any] | None) -> bool:
    return bool(cond) and cond.get("status") == "True"


def describe(cond: dict[str, Any] | None, ctype: str) -> str:
    """One line for a condition: 'Accepted=False (NotAllowedByListeners: ...)' or 'no Accepted condition'."""
    if not cond:
        return "no %s condition" % ctype
    msg = (cond.get("message") or "").strip()
    return "%s=%s (%s%s)" % (ctype, cond.get("status"), cond.get("reason") or "no reason", ": %s" % msg[:160] if msg else "")


def accepted_classes(classes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GatewayClasses a controller has accepted, sorted by name."""
    return sorted((c for c in classes if is_true(condition(c, "Accepted"))), key=lambda c: c["metadata"]["name"])


def gateway_ref(parent: dict[str, Any], namespace: str | None) -> str | None:
    """``namespace/name`` of a parentRef (of an HTTPRoute's spec, or of a status.parents entry) that
    names a Gateway: kind and group default to the Gateway's, the namespace to ``namespace`` (the
    referring object's); None for a parent of another kind."""
    group = GATEWAY_GROUP if parent.get("group") is None else parent["group"]
    if not parent.get("name") or (parent.get("kind") or "Gateway") != "Gateway" or group != GATEWAY_GROUP:
        return None
    return "%s/%s" % (parent.get("namespace") or namespace, parent["name"])


def parent_status(route: dict[str, Any] | None, gw_namespace: str, gw_name: str) -> dict[str, Any] | None:
    """The status.parents entry written for our Gateway (any controller), or None: of an HTTPRoute,
    or of an InferencePool, whose parents have the same shape."""
    for entry in ((route or {}).get("status") or {}).get("parents") or []:
        ref = entry.get("parentRef") or {}
        if ref.get("name") == gw_name and (ref.get("namespace") or (route or {}).get("metadata", {}).get("namespace")) == gw_namespace:
            return entry
    return None


def entry_condition(entry: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    # A status.parents entry carries its conditions the way an object's status does.
    return wl.condition({"status": entry} if entry else None, ctype)


def route_condition(route: dict[str, Any] | None, gw_namespace: str, gw_name: str, ctype: str) -> dict[str, Any] | None:
    return entry_condition(parent_status(route, gw_namespace, gw_name), ctype)


def entry_conditions(entry: dict[str, Any] | None) -> str:
    """'Accepted=True (Accepted); ResolvedRefs=True (ResolvedRefs)' for a status.parents entry."""
    return "; ".join(describe(entry_condition(entry, t), t) for t in PARENT_CONDITIONS)


def route_settled(gw_namespace: str, gw_name: str, resolved: bool = True) -> Callable[[dict[str, Any] | None], bool]:
    """A wait predicate: our Gateway accepted the route and its ResolvedRefs is True (or False,
    for a route whose backend is meant to be missing)."""

    def settled(route: dict[str, Any] | None) -> bool:
        res = route_condition(route, gw_namespace, gw_name, "ResolvedRefs")
        return is_true(route_condition(route, gw_namespace, gw_name, "Accepted")) and res is not None and res.get("status") == ("True" if resolved else "False")

    return settled


def wait_route(client: Any, name: str, namespace: str, gw_namespace: str, gw_name: str, timeout_s: float, resolved: bool = True) -> tuple[bool, Any]:
    """Wait (watching) until HTTPRoute ``namespace/name`` is settled on our Gateway
    (``route_settled``).  Returns (settled, the route as last seen)."""
    return client.wait_until(GATEWAY_API, "HTTPRoute", name, route_settled(gw_namespace, gw_name, resolved), namespace, timeout_s)


def gateway(name: str, namespace: str, gateway_class: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "gatewayClassName": gateway_class,
            "listeners": [{"name": "http", "protocol": "HTTP", "port": port, "allowedRoutes": {"namespaces": {"from": "Same"}}}],
        },
    }


def backend_ref(service: str, port: int, weight: int | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"kind": "Service", "name": service, "port": port}
    if weight is not None:
        ref["weight"] = weight
    return ref


def http_route(name: str, namespace: str, gw_namespace: str, gw_name: str, hostname: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    parent: dict[str, Any] = {"name": gw_name}
    if gw_namespace != namespace:
        parent["namespace"] = gw_namespace
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"parentRefs": [parent], "hostnames": [hostname], "rules": rules},
    }


def gateway_url(gw: dict[str, Any] | None, port: int) -> str | None:
    """http://<first status address>:<listener port>, or None while the Gateway has no address."""
    for addr in ((gw or {}).get("status") or {}).get("addresses") or []:
        value = addr.get("value")
        if value:
            host = "[%s]" % value if ":" in value else value
            return "http://%s:%d" % (host, port)
    return None


def ref_params_error(p: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """The first of the options ``names`` that is set but not ``namespace/name``, then a
    ``gateway_url`` that is not an http:// URL: one line, or None."""
    for name in names:
        if p[name] and p[name].count("/") != 1:
            return "%s must be namespace/name, got %r" % (name, p[name])
    if p["gateway_url"]:
        try:
            parse_url(p["gateway_url"])
        except ValueError as exc:
            return str(exc)
    return None


def parse_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("gateway_url must be an http:// URL with a host, got %r" % url)
    return parts.hostname, parts.port or 80


def send(url: str, host: str, path: str, headers: dict[str, str] | None = None, timeout_s: float = 5) -> tuple[int, str]:
    """One GET through the gateway with the given Host header.  Returns (status, body); status 0
    means no HTTP answer (refused, reset, timeout) and the body then says why."""
    addr, port = parse_url(url)
    conn = http.client.HTTPConnection(addr, port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers=dict(headers or {}, Host=host, Connection="close"))
        resp = conn.getresponse()
        return resp.status, resp.read(4096).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException, socket.timeout) as exc:
        return 0, "%s: %s" % (exc.__class__.__name__, exc)
    finally:
        conn.close()


class Tally:
    """Responses of a bounded request loop, counted per backend (by the pod name it answered)."""

    def __init__(self, backends: dict[str, set[str]]) -> None:
        self.backends = backends
        self.by_backend: dict[str, int] = {b: 0 for b in backends}
        self.statuses: dict[int, int] = {}
        self.unknown: list[str] = []
        self.sent = 0

    def add(self, status: int, body: str) -> None:
        self.sent += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 200:
            for name, pods in self.backends.items():
                if body in pods:
                    self.by_backend[name] += 1
                    return
        if len(self.unknown) < 5:
            self.unknown.append("%d %s" % (status, body[:80]))

    @property
    def answered(self) -> int:
        return sum(self.by_backend.values())

    def share(self, backend: str) -> float:
        return self.by_backend[backend] / self.answered if self.answered else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "by_backend": dict(self.by_backend),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "unmatched_samples": list(self.unknown),
        }


def drive(
    url: str,
    host: str,
    path: str,
    count: int,
    backends: dict[str, set[str]],
    budget_s: float,
    headers: dict[str, str] | None = None,
    timeout_s: float = 5,
) -> Tally:
    """Send at most ``count`` requests, stopping early when ``budget_s`` is spent."""
    tally = Tally(backends)
    deadline = time.monotonic() + budget_s
    for _i in range(count):
        if time.monotonic() >= deadline:
            break
        tally.add(*send(url, host, path, headers, min(timeout_s, max(0.5, deadline - time.monotonic()))))
    return tally


def wait_routed(url: str, host: str, path: str, backends: dict[str, set[str]], timeout_s: float) -> tuple[bool, float, str]:
    """Poll until one request through the gateway is answered by one of ``backends`` (the data
    path is programmed).  Returns (ok, seconds, last response)."""
    t0 = time.monotonic()
    last = ""
    while True:
        status, body = send(url, host, path, timeout_s=3)
        last = "%d %s" % (status, body[:120])
        if status == 200 and any(body in pods for pods in backends.values()):
            return True, round(time.monotonic() - t0, 2), last
        if time.monotonic() - t0 >= timeout_s:
            return False, round(time.monotonic() - t0, 2), last
        time.sleep(0.5)


def split_within(tally: Tally, weights: dict[str, int], tolerance: float) -> tuple[bool, dict[str, dict[str, float]]]:
    """Whether each backend's observed share is within ``tolerance`` (absolute) of its weight share."""
    total = float(sum(weights.values()))
    detail = {}
    ok = tally.answered > 0
    for name, w in weights.items():
        want = w / total if total else 0.0
        got = tally.share(name)
        detail[name] = {"expected": round(want, 3), "observed": round(got, 3)}
        ok = ok and abs(got - want) <= tolerance
    return ok, detail
