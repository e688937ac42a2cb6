# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe of gateway_check (requirement ai_inference): two backends, a Gateway of an accepted
GatewayClass (or the one named), three HTTPRoutes (weighted split, header match, missing backend),
and real HTTP requests through the gateway counted per backend.

The module plugins/modules/gateway_check.py holds the documentation and the argument spec; the
objects, status reading and the HTTP traffic are in module_utils/gateway.py.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import Client
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import ProbeResult, Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RunContext
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gateway as gw

SERVICE_PORT = 80
NEGATIVE_REQUESTS = 10


def param_error(p: dict[str, Any]) -> str | None:
    """One line for the first invalid parameter, or None."""
    if len(p["backend_ports"]) != 2 or not all(1 <= x <= 65535 for x in p["backend_ports"]):
        return "backend_ports must be two ports between 1 and 65535, got %s" % p["backend_ports"]
    if p["host_network"] and p["backend_ports"][0] == p["backend_ports"][1]:
        return "backend_ports must differ when host_network is set (both backends share the node's address)"
    if len(p["weights"]) != 2 or not all(w > 0 for w in p["weights"]):
        return "weights must be two integers above 0, got %s" % p["weights"]
    if not 0 < p["tolerance"] <= 0.5:
        return "tolerance must be above 0 and at most 0.5, got %s" % p["tolerance"]
    if not 20 <= p["requests"] <= 5000:
        return "requests must be between 20 and 5000, got %d" % p["requests"]
    if not 1 <= p["listener_port"] <= 65535:
        return "listener_port must be between 1 and 65535, got %d" % p["listener_port"]
    if p["traffic_seconds"] < 5:
        return "traffic_seconds must be at least 5, got %d" % p["traffic_seconds"]
    return gw.ref_params_error(p, ("gateway",))


class GatewayCheck(Probe):
    """The module (plugins/modules/gateway_check.py) subclasses it with its requirement."""

    param_error = staticmethod(param_error)

    def backend(self, name: str, ns: str, port: int) -> tuple[dict[str, Any], dict[str, Any]]:
        p = self.params
        labels = {"app.kubernetes.io/name": name}
        pod = wl.pod(
            name,
            ns,
            image=p["image"],
            labels=labels,
            restart_policy="Always",
            node_selector=p["node_selector"],
            tolerations=p["tolerations"],
        )
        c = pod["spec"]["containers"][0]
        c["ports"] = [{"name": "http", "containerPort": port}]
        if p["image"].startswith("registry.k8s.io/e2e-test-images/agnhost"):
            c["args"] = ["netexec", "--http-port=%d" % port]
        c["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 2}
        if p["host_network"]:
            pod["spec"]["hostNetwork"] = True
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": port}]},
        }
        return wl.deployment(pod), service

    def pick_class(self, client: Client, result: ProbeResult) -> tuple[dict[str, Any] | None, str]:
        classes = client.list(gw.GATEWAY_API, "GatewayClass")["items"]
        accepted = gw.accepted_classes(classes)
        result.observations["gateway_classes"] = {
            c["metadata"]["name"]: {"controller": c["spec"].get("controllerName"), "accepted": gw.is_true(gw.condition(c, "Accepted"))} for c in classes
        }
        want = self.params["gateway_class"]
        if want:
            chosen = next((c for c in classes if c["metadata"]["name"] == want), None)
            if chosen is None:
                return None, "GatewayClass %s does not exist (classes: %s)" % (want, sorted(c["metadata"]["name"] for c in classes) or "none")
            if not gw.is_true(gw.condition(chosen, "Accepted")):
                return None, "GatewayClass %s is not accepted by a controller: %s" % (want, gw.describe(gw.condition(chosen, "Accepted"), "Accepted"))
            return chosen, ""
        if not accepted:
            return None, "no GatewayClass is accepted by a controller (%d exist)" % len(classes)
        return accepted[0], ""

    def run(self, client: Client, ctx: RunContext, result: ProbeResult) -> None:
        p = self.params
        for kind in ("GatewayClass", "Gateway", "HTTPRoute"):
            if not client.served(gw.GATEWAY_API, kind):
                result.decide(Verdict.FAIL, "the Gateway API is not served: %s %s is missing" % (gw.GATEWAY_API, kind))
                return
        result.observations["inference_extension"] = (
            "InferencePool served (%s); pool routing is checked by advanced_inference_ingress" % gw.INFERENCE_API
            if client.served(gw.INFERENCE_API, "InferencePool")
            else "not served (%s InferencePool)" % gw.INFERENCE_API
        )
        ns = ctx.ensure_namespace(p["namespace"])
        if p["gateway"]:
            gw_ns, gw_name = p["gateway"].split("/")
            live = client.get(gw.GATEWAY_API, "Gateway", gw_name, gw_ns)
            if live is None:
                result.decide(Verdict.ERROR, "Gateway %s does not exist" % p["gateway"])
                return
            cls_name = live["spec"]["gatewayClassName"]
        else:
            chosen, why = self.pick_class(client, result)
            if chosen is None:
                result.decide(Verdict.FAIL, why)
                return
            cls_name = chosen["metadata"]["name"]
            gw_ns, gw_name = ns, ctx.name("gw")
        result.observations["gateway_class"] = cls_name
        # Backends first, so the routes resolve as soon as they exist.
        names = {"a": ctx.name("backend-a"), "b": ctx.name("backend-b")}
        pods = self.start_backends(client, ctx, result, ns, names)
        if pods is None or not self.gateway_programmed(client, ctx, result, gw_ns, gw_name, cls_name):
            return
        routes = self.attach_routes(client, ctx, result, ns, gw_ns, gw_name, names)
        if routes is None:
            return
        url = p["gateway_url"] or gw.gateway_url(client.get(gw.GATEWAY_API, "Gateway", gw_name, gw_ns), p["listener_port"])
        if not url:
            result.decide(Verdict.FAIL, "Gateway %s/%s is Programmed but has no address in its status (set gateway_url to reach it)" % (gw_ns, gw_name))
            return
        result.observations["gateway_url"] = url
        ok, secs, last = gw.wait_routed(url, routes["split"]["host"], "/hostname", pods, p["timeout"])
        result.observations["first_routed_response_s"] = secs if ok else None
        result.check(
            "traffic through the gateway reaches the backends",
            ok,
            "first answer from a backend %.2f s after the routes were accepted" % secs
            if ok
            else "no backend answered through %s in %.0f s; last: %s" % (url, secs, last),
            kind="traffic",
        )
        if not ok:
            result.decide_from_checks("")
            return
        split, detail = self.weighted_split(result, url, routes["split"]["host"], pods)
        with_h, n = self.header_routing(result, url, routes["header"], pods)
        self.missing_backend(result, url, routes["broken"], pods)
        result.decide_from_checks(
            "%s split %d requests %.0f%%/%.0f%% for weights %d/%d (tolerance %.0f%%), routed %d/%d on %s exactly, and refused a route to a missing backend"
            % (
                cls_name,
                split.sent,
                100 * detail["a"]["observed"],
                100 * detail["b"]["observed"],
                p["weights"][0],
                p["weights"][1],
                100 * p["tolerance"],
                with_h.by_backend["b"],
                n,
                p["header_name"],
            )
        )

    def start_backends(self, client: Client, ctx: RunContext, result: ProbeResult, ns: str, names: dict[str, str]) -> dict[str, set[str]] | None:
        """Backends A and B (Deployment + Service each): the pod names each answers with, or None
        (an error verdict) when one never had an available pod."""
        p = self.params
        for key, port in zip(("a", "b"), p["backend_ports"]):
            dep, svc = self.backend(names[key], ns, port)
            ctx.create(dep)
            ctx.create(svc)
        pods = {}
        for key, name in names.items():
            ok, last, bound = wl.wait_available(client, name, ns, p["timeout"])
            if not ok:
                result.decide(Verdict.ERROR, "backend Deployment %s never had an available pod in %d s: %s" % (name, p["timeout"], (last or {}).get("status")))
                return None
            pods[key] = {x["metadata"]["name"] for x in bound}
        result.step("create backends %s and %s (Deployment + Service each)" % (names["a"], names["b"]), "pods %s" % {k: sorted(v) for k, v in pods.items()})
        return pods

    def gateway_programmed(self, client: Client, ctx: RunContext, result: ProbeResult, gw_ns: str, gw_name: str, cls_name: str) -> bool:
        """Create the Gateway (unless one was named) and wait until it is Accepted and Programmed;
        the result is decided when it is not."""
        p = self.params
        t0 = time.monotonic()
        if not p["gateway"]:
            ctx.create(gw.gateway(gw_name, gw_ns, cls_name, p["listener_port"]))
        programmed, live_gw = client.wait_until(
            gw.GATEWAY_API,
            "Gateway",
            gw_name,
            lambda o: gw.is_true(gw.condition(o, "Accepted")) and gw.is_true(gw.condition(o, "Programmed")),
            gw_ns,
            p["timeout"],
        )
        accepted_c, programmed_c = gw.condition(live_gw, "Accepted"), gw.condition(live_gw, "Programmed")
        result.check("the Gateway is Accepted", gw.is_true(accepted_c), gw.describe(accepted_c, "Accepted"))
        result.check("the Gateway is Programmed", gw.is_true(programmed_c), gw.describe(programmed_c, "Programmed"))
        result.step(
            "%s Gateway %s/%s (class %s, HTTP listener on port %d)" % ("use" if p["gateway"] else "create", gw_ns, gw_name, cls_name, p["listener_port"]),
            "Accepted and Programmed after %.2f s" % (time.monotonic() - t0)
            if programmed
            else "%s; %s" % (gw.describe(accepted_c, "Accepted"), gw.describe(programmed_c, "Programmed")),
            ok=programmed,
        )
        if not programmed:
            result.decide_from_checks("")
        return bool(programmed)

    def attach_routes(
        self, client: Client, ctx: RunContext, result: ProbeResult, ns: str, gw_ns: str, gw_name: str, names: dict[str, str]
    ) -> dict[str, dict[str, Any]] | None:
        """The split, header and broken HTTPRoutes, created and waited for: {key: {route, host,
        ...}}, the broken one with its ResolvedRefs condition; None (the result decided) when a
        route the probe needs was not accepted or resolved."""
        p = self.params
        suffix = "%s.conformance.test" % ctx.run_id
        header_value = "aic-canary-%s" % ctx.run_id
        missing = ctx.name("missing")
        a, b = gw.backend_ref(names["a"], SERVICE_PORT), gw.backend_ref(names["b"], SERVICE_PORT)
        rules = {
            "split": [{"backendRefs": [gw.backend_ref(names["a"], SERVICE_PORT, p["weights"][0]), gw.backend_ref(names["b"], SERVICE_PORT, p["weights"][1])]}],
            "header": [
                {"matches": [{"headers": [{"type": "Exact", "name": p["header_name"], "value": header_value}]}], "backendRefs": [b]},
                {"backendRefs": [a]},
            ],
            "broken": [{"backendRefs": [gw.backend_ref(missing, SERVICE_PORT)]}],
        }
        routes = {}
        for key, rule in rules.items():
            host = "%s.%s" % (key, suffix)
            routes[key] = {"route": gw.http_route(ctx.name(key), ns, gw_ns, gw_name, host, rule), "host": host}
        routes["header"]["value"] = header_value
        routes["broken"]["service"] = missing
        for r in routes.values():
            ctx.create(r["route"])
        status = {}
        for key, r in routes.items():
            name = r["route"]["metadata"]["name"]
            live = gw.wait_route(client, name, ns, gw_ns, gw_name, p["timeout"], resolved=key != "broken")[1]
            acc = gw.route_condition(live, gw_ns, gw_name, "Accepted")
            res = gw.route_condition(live, gw_ns, gw_name, "ResolvedRefs")
            entry = gw.parent_status(live, gw_ns, gw_name)
            status[key] = {
                "accepted": gw.describe(acc, "Accepted"),
                "resolved_refs": gw.describe(res, "ResolvedRefs"),
                "controller": (entry or {}).get("controllerName"),
            }
            if key != "broken":
                result.check(
                    "HTTPRoute %s is Accepted" % name,
                    gw.is_true(acc),
                    gw.describe(acc, "Accepted") if entry else "the controller wrote no status for Gateway %s/%s" % (gw_ns, gw_name),
                )
                result.check("HTTPRoute %s has ResolvedRefs" % name, gw.is_true(res), gw.describe(res, "ResolvedRefs"))
            else:
                r["resolved_refs"] = res
        result.observations["routes"] = status
        if any(c["ok"] is False for c in result.checks):
            result.decide_from_checks("")
            return None
        return routes

    def weighted_split(self, result: ProbeResult, url: str, host: str, pods: dict[str, set[str]]) -> tuple[gw.Tally, dict[str, dict[str, float]]]:
        p = self.params
        split = gw.drive(url, host, "/hostname", p["requests"], pods, p["traffic_seconds"])
        weights = {"a": p["weights"][0], "b": p["weights"][1]}
        within, detail = gw.split_within(split, weights, p["tolerance"])
        result.observations["split"] = dict(split.to_dict(), weights=weights, shares=detail, tolerance=p["tolerance"])
        result.step("send %d GET /hostname with Host %s" % (split.sent, host), "per backend %s, statuses %s" % (split.by_backend, split.statuses))
        result.check(
            "every split request was answered by a backend",
            split.answered == split.sent == p["requests"],
            "%d of %d requested, %d sent, answered by A or B; other answers: %s" % (split.answered, p["requests"], split.sent, split.unknown or "none"),
            kind="traffic",
        )
        result.check(
            "weighted split within tolerance",
            within,
            ", ".join("%s %.3f (weight share %.3f)" % (k, v["observed"], v["expected"]) for k, v in sorted(detail.items()))
            + ", tolerance %.2f" % p["tolerance"],
            kind="traffic",
        )
        return split, detail

    def header_routing(self, result: ProbeResult, url: str, route: dict[str, Any], pods: dict[str, set[str]]) -> tuple[gw.Tally, int]:
        p = self.params
        budget, host, value = p["traffic_seconds"], route["host"], route["value"]
        n = max(10, p["requests"] // 4)
        with_h = gw.drive(url, host, "/hostname", n, pods, budget, headers={p["header_name"]: value})
        without = gw.drive(url, host, "/hostname", n, pods, budget)
        wrong_value = gw.drive(url, host, "/hostname", 10, pods, budget, headers={p["header_name"]: value + "-other"})
        result.observations["header_routing"] = {
            "header": "%s: %s" % (p["header_name"], value),
            "with_header": with_h.to_dict(),
            "without_header": without.to_dict(),
            "other_value": wrong_value.to_dict(),
        }
        result.step(
            "send %d GET /hostname with %s: %s, %d without, 10 with another value" % (n, p["header_name"], value, n),
            "with %s, without %s, other %s" % (with_h.by_backend, without.by_backend, wrong_value.by_backend),
        )
        result.check(
            "requests with the header reach only backend B",
            with_h.by_backend["b"] == with_h.sent == n,
            "%d of %d to B (%s)" % (with_h.by_backend["b"], n, with_h.by_backend),
            kind="traffic",
        )
        result.check(
            "requests without the header (or with another value) reach only backend A",
            without.by_backend["a"] == without.sent == n and wrong_value.by_backend["a"] == wrong_value.sent == 10,
            "without: %d of %d to A; other value: %d of 10 to A" % (without.by_backend["a"], n, wrong_value.by_backend["a"]),
            kind="traffic",
        )
        return with_h, n

    def missing_backend(self, result: ProbeResult, url: str, route: dict[str, Any], pods: dict[str, set[str]]) -> None:
        """The negative case: a route to a missing Service must report it and answer HTTP 500."""
        missing, res = route["service"], route["resolved_refs"]
        broken = gw.drive(url, route["host"], "/hostname", NEGATIVE_REQUESTS, pods, self.params["traffic_seconds"])
        result.observations["invalid_backend"] = dict(broken.to_dict(), service=missing, resolved_refs=gw.describe(res, "ResolvedRefs"))
        result.step(
            "send %d GET /hostname with Host %s (route to missing Service %s)" % (broken.sent, route["host"], missing),
            "statuses %s, %d answered by a backend" % (broken.statuses, broken.answered),
        )
        reported = res is not None and res.get("status") == "False" and res.get("reason") == "BackendNotFound"
        leaked = broken.answered
        got_500 = broken.statuses.get(500, 0) == broken.sent == NEGATIVE_REQUESTS
        result.check(
            "a route to a missing Service reports ResolvedRefs=False (BackendNotFound)",
            reported,
            gw.describe(res, "ResolvedRefs"),
        )
        result.check(
            "requests on a route with a missing backend get HTTP 500",
            got_500,
            "statuses %s of %d" % (broken.statuses, NEGATIVE_REQUESTS),
            kind="traffic",
        )
        result.negative_case(
            "route %s to missing Service %s" % (route["route"]["metadata"]["name"], missing),
            reported and leaked == 0,
            "%s; %d of %d requests reached a backend; statuses %s" % (gw.describe(res, "ResolvedRefs"), leaked, broken.sent, broken.statuses),
        )
