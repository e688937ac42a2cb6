"""A Gateway API implementation: its controller (GatewayClass, Gateway, HTTPRoute and InferencePool
status) and its data plane (routing, weighted splits, endpoint picking for InferencePools)."""

from __future__ import annotations

import json
from typing import Any

from .base import cond, is_ready
from .cluster import FakeCluster
from .serving import ModelServers, agnhost, service_pods

GATEWAY_API = "gateway.networking.k8s.io/v1"
POOL_API = "inference.networking.k8s.io/v1"


def _untimed(parents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Route parent statuses without their conditions' lastTransitionTime (to compare them)."""
    return [dict(p, conditions=[{k: v for k, v in x.items() if k != "lastTransitionTime"} for x in p["conditions"]]) for p in parents]


class GatewayController:
    """A Gateway API implementation: accepts its GatewayClass, programs Gateways of that class
    (address 10.96.0.10), writes each HTTPRoute's status.parents (Accepted; ResolvedRefs, False
    with BackendNotFound for a missing Service) and each InferencePool's, and serves HTTP: routes
    by hostname, path and exact header matches (the rule with more header matches first), splits
    by backendRef weight (smooth weighted round robin), answers 500 for a backend that does not
    exist, and sends InferencePool traffic to the endpoint with the fewest running requests.
    broken: a set of "ignore-weights", "ignore-headers", "missing-backend-falls-through",
    "no-address", "not-programmed"."""

    ADDRESS = "10.96.0.10"

    def __init__(self, c: FakeCluster, class_name: str = "traefik", broken: tuple[str, ...] = (), pools: bool = False) -> None:
        self.c, self.name, self.broken = c, class_name, set(broken)
        self.controller = "traefik.io/gateway-controller"
        self.rr: dict[Any, Any] = {}
        c.serve(GATEWAY_API, "GatewayClass", "gatewayclasses", namespaced=False)
        c.serve(GATEWAY_API, "Gateway", "gateways")
        c.serve(GATEWAY_API, "HTTPRoute", "httproutes")
        if pools:
            c.serve(POOL_API, "InferencePool", "inferencepools")
        c.apply(
            {
                "apiVersion": GATEWAY_API,
                "kind": "GatewayClass",
                "metadata": {"name": class_name},
                "spec": {"controllerName": self.controller},
                "status": {"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted"}]},
            }
        )
        c.gateway_controller = self
        c.apps.append(agnhost)
        c.controllers.append(self.reconcile)

    def ours(self) -> list[dict[str, Any]]:
        return [g for g in self.c.all(GATEWAY_API, "Gateway") if g["spec"].get("gatewayClassName") == self.name]

    def reconcile(self) -> bool:
        changed = False
        now = self.c.iso()
        for g in self.ours():
            before = json.dumps(g.get("status"), sort_keys=True)
            cond(g, "Accepted", "True", "Accepted", "", now)
            cond(
                g, "Programmed", "False" if "not-programmed" in self.broken else "True", "Invalid" if "not-programmed" in self.broken else "Programmed", "", now
            )
            g["status"]["addresses"] = [] if "no-address" in self.broken else [{"type": "IPAddress", "value": self.ADDRESS}]
            if json.dumps(g.get("status"), sort_keys=True) != before:
                self.c.touch(g)
                changed = True
        gws = {(g["metadata"]["namespace"], g["metadata"]["name"]) for g in self.ours()}
        kinds = [(GATEWAY_API, "HTTPRoute")] + ([(POOL_API, "InferencePool")] if self.c.served(POOL_API) else [])
        for av, kind in kinds:
            for r in self.c.all(av, kind):
                ns = r["metadata"]["namespace"]
                parents = []
                refs = r["spec"].get("parentRefs") or [] if kind == "HTTPRoute" else [{"name": n, "namespace": gns} for gns, n in sorted(gws)]
                for ref in refs:
                    if (ref.get("namespace") or ns, ref["name"]) not in gws:
                        continue
                    ok, reason = self.resolved(r) if kind == "HTTPRoute" else (True, "ResolvedRefs")
                    conds = [
                        {"type": "Accepted", "status": "True", "reason": "Accepted", "lastTransitionTime": now},
                        {"type": "ResolvedRefs", "status": "True" if ok else "False", "reason": reason, "lastTransitionTime": now},
                    ]
                    parents.append({"parentRef": dict(ref, namespace=ref.get("namespace") or ns), "controllerName": self.controller, "conditions": conds})
                if _untimed(parents) != _untimed((r.get("status") or {}).get("parents") or []):
                    r["status"] = {"parents": parents}
                    self.c.touch(r)
                    changed = True
        return changed

    def resolved(self, route: dict[str, Any]) -> tuple[bool, str]:
        ns = route["metadata"]["namespace"]
        for rule in route["spec"].get("rules") or []:
            for b in rule.get("backendRefs") or []:
                if b.get("kind", "Service") == "Service" and self.c.obj("v1", "Service", b["name"], ns) is None:
                    return False, "BackendNotFound"
                if b.get("kind") == "InferencePool" and self.c.obj(POOL_API, "InferencePool", b["name"], ns) is None:
                    return False, "BackendNotFound"
        return True, "ResolvedRefs"

    def pick(self, key: Any, refs: list[dict[str, Any]]) -> dict[str, Any]:
        weights = [1 if "ignore-weights" in self.broken else int(b.get("weight", 1)) for b in refs]
        cur = self.rr.setdefault(key, [0] * len(refs))
        for i, w in enumerate(weights):
            cur[i] += w
        best = max(range(len(refs)), key=lambda i: cur[i])
        cur[best] -= sum(weights)
        return refs[best]

    def serve_http(self, method: str, url: str, host: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        if self.ADDRESS not in url or "no-address" in self.broken:
            return 0, "ConnectionRefusedError: [Errno 111] Connection refused", {}
        gws = {(g["metadata"]["namespace"], g["metadata"]["name"]) for g in self.ours()}
        for route in self.c.all(GATEWAY_API, "HTTPRoute"):
            ns = route["metadata"]["namespace"]
            if not any((r.get("namespace") or ns, r["name"]) in gws for r in route["spec"].get("parentRefs") or []):
                continue
            if route["spec"].get("hostnames") and host not in route["spec"]["hostnames"]:
                continue
            rules = sorted(
                enumerate(route["spec"].get("rules") or []), key=lambda ir: -max([len(m.get("headers") or []) for m in ir[1].get("matches") or [{}]])
            )
            for idx, rule in rules:
                if not any(self.matches(m, path, headers) for m in rule.get("matches") or [{}]):
                    continue
                ref = self.pick((route["metadata"]["uid"], idx), rule.get("backendRefs") or [])
                return self.forward(ns, ref, method, path, body)
        return 404, "404 page not found", {}

    def matches(self, m: dict[str, Any], path: str, headers: dict[str, str]) -> bool:
        p = m.get("path") or {"type": "PathPrefix", "value": "/"}
        if (p["type"] == "Exact" and path != p["value"]) or (p["type"] == "PathPrefix" and not path.startswith(p["value"])):
            return False
        if "ignore-headers" in self.broken:
            return True
        return all(headers.get(h["name"].lower()) == h["value"] for h in m.get("headers") or [])

    def forward(self, ns: str, ref: dict[str, Any], method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if ref.get("kind") == "InferencePool":
            pool = self.c.obj(POOL_API, "InferencePool", ref["name"], ns)
            eps = [
                (p, t["number"]) for p in self.c.pods_matching(ns, pool["spec"]["selector"]["matchLabels"]) if is_ready(p) for t in pool["spec"]["targetPorts"]
            ]
            return self.call(*min(eps, key=self.load), method, path, body) if eps else (503, "no healthy upstream", {})
        if self.c.obj("v1", "Service", ref["name"], ns) is None:
            if "missing-backend-falls-through" not in self.broken:
                return 500, "Internal Server Error", {}
            others = [s for s in self.c.all("v1", "Service", ns) if service_pods(self.c, ns, s["metadata"]["name"])]
            ref = {"name": others[0]["metadata"]["name"]} if others else ref
        pods = service_pods(self.c, ns, ref["name"])
        if not pods:
            return 503, "no available server", {}
        n = self.rr.setdefault(("svc", ns, ref["name"]), [0])
        n[0] += 1
        svc = self.c.obj("v1", "Service", ref["name"], ns)
        port = (svc["spec"].get("ports") or [{}])[0]
        return self.call(pods[n[0] % len(pods)], int(port.get("targetPort") or port.get("port") or 80), method, path, body)

    def load(self, ep: tuple[dict[str, Any], int]) -> int:
        servers = next((a.__self__ for a in self.c.apps if isinstance(getattr(a, "__self__", None), ModelServers)), None)
        return servers.running.get((ep[0]["metadata"]["uid"], ep[1]), 0) if servers else 0

    def call(self, pod: dict[str, Any], port: int, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        for app in self.c.apps:
            h = app(pod)
            if h is not None:
                return h(port, method, path, {}, body)
        return 502, "Bad Gateway", {}
