#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_check
short_description: Prove the Gateway API implementation splits and routes real traffic (requirement ai_inference)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Deploys two backends (A and B), a Gateway of an accepted GatewayClass (or uses O(gateway)),
    and three HTTPRoutes, then sends a bounded number of real HTTP requests through the gateway's
    address and counts which backend answered each one (a backend answers C(/hostname) with its
    pod's name)."
  - "Weighted split: one route sends to A and B with O(weights); the observed shares must be
    within O(tolerance) of the weights. Header routing: a second route sends requests carrying
    O(header_name) (the header an OpenAI-style body-based router sets from the request's model)
    to B and all others to A; both must be exact."
  - "The Gateway must be Accepted and Programmed, and every route Accepted with ResolvedRefs True
    on its status entry for this Gateway, as written by the controller."
  - "Negative case: a route to a Service that does not exist must be reported by its conditions
    (ResolvedRefs False, reason BackendNotFound) and none of its requests may reach a backend; the
    Gateway API specification requires them to get HTTP 500."
  - "Where the Gateway API Inference Extension (C(inference.networking.k8s.io/v1) InferencePool)
    is served, that is recorded in the observations; routing through a pool is checked by the
    advanced_inference_ingress probe."
  - Request loops are bounded by O(requests) and O(traffic_seconds).
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  gateway_class:
    description: GatewayClass for the probe's Gateway. Empty picks the first GatewayClass (by name) that a controller has Accepted.
    type: str
    default: ""
  gateway:
    description:
      - An existing Gateway to attach the routes to, as C(namespace/name), instead of creating one.
      - Its listener on O(listener_port) must allow routes from the probe's namespace.
    type: str
    default: ""
  listener_port:
    description: Port of the HTTP listener of the probe's Gateway (some implementations need it to match a configured entry point).
    type: int
    default: 80
  gateway_url:
    description:
      - Base URL (C(http://host:port)) at which this machine reaches the Gateway's listener.
      - Empty uses the first address in the Gateway's status and O(listener_port).
    type: str
    default: ""
  image:
    description: Backend image; it must answer C(GET /hostname) with the pod's name on the container port (agnhost netexec does).
    type: str
    default: registry.k8s.io/e2e-test-images/agnhost:2.53
  backend_ports:
    description: Container ports of backends A and B (two entries; they must differ when O(host_network) is set).
    type: list
    elements: int
    default: [8080, 8080]
  host_network:
    description: Run the backends in the host network namespace (the reference cluster's local processes).
    type: bool
    default: false
  node_selector:
    description: Node labels for the backend pods.
    type: dict
  tolerations:
    description: Tolerations for the backend pods.
    type: list
    elements: dict
  weights:
    description: Weights of backends A and B on the split route (two entries, both above 0).
    type: list
    elements: int
    default: [70, 30]
  tolerance:
    description: Largest accepted difference between a backend's observed share and its weight share (0 to 0.5).
    type: float
    default: 0.1
  requests:
    description: Requests sent on the split route; the header route gets a quarter of it with and a quarter without the header (at least 10 each).
    type: int
    default: 200
  traffic_seconds:
    description: Time budget of each request loop; a loop stops at O(requests) or at this budget, whichever comes first.
    type: int
    default: 60
  header_name:
    description: Request header the header-routing rule matches exactly.
    type: str
    default: X-Gateway-Model-Name
requirements:
  - kubernetes >= 24.2.0
notes:
  - The machine running the module must reach the Gateway's address (or O(gateway_url)).
"""

EXAMPLES = r"""
- name: Prove weighted and header routing through the platform's gateway
  ai_conformance.kubernetes.gateway_check:
    gateway_class: eg
  register: ai_inference

- name: Use a pre-provisioned shared Gateway reached through an internal address
  ai_conformance.kubernetes.gateway_check:
    gateway: infra/shared-gateway
    gateway_url: http://10.0.12.7
    requests: 400
    tolerance: 0.05
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
  sample: "traefik split 200 requests 71%/29% for weights 70/30 and routed on X-Gateway-Model-Name exactly"
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: ai_inference
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: traffic split and header routing measured
    observations:
      description: GatewayClass and controller, gateway URL, the measured split and header routing per backend, route conditions, time to first routed response.
      type: dict
      returned: always
      sample: {split: {by_backend: {a: 141, b: 59}}, header_routing: {with_header: {by_backend: {a: 0, b: 50}}}}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: weighted split within tolerance, ok: true, detail: "a 0.705 (0.7), b 0.295 (0.3)", kind: traffic}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: create Gateway aic-gw-r1, result: Programmed after 1.2 s, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: route to a missing Service, refused: true, outcome: "ResolvedRefs=False (BackendNotFound); 10 x HTTP 500"}]
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
      sample: 20.5
"""

import time

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import gateway as gw
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import Verdict

EXTRA = {
    "gateway_class": {"type": "str", "default": ""},
    "gateway": {"type": "str", "default": ""},
    "listener_port": {"type": "int", "default": 80},
    "gateway_url": {"type": "str", "default": ""},
    "image": {"type": "str", "default": gw.DEFAULT_IMAGE},
    "backend_ports": {"type": "list", "elements": "int", "default": [8080, 8080]},
    "host_network": {"type": "bool", "default": False},
    "node_selector": {"type": "dict"},
    "tolerations": {"type": "list", "elements": "dict"},
    "weights": {"type": "list", "elements": "int", "default": [70, 30]},
    "tolerance": {"type": "float", "default": 0.1},
    "requests": {"type": "int", "default": 200},
    "traffic_seconds": {"type": "int", "default": 60},
    "header_name": {"type": "str", "default": "X-Gateway-Model-Name"},
}
SERVICE_PORT = 80
NEGATIVE_REQUESTS = 10


def param_error(p):
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
    if p["gateway"] and p["gateway"].count("/") != 1:
        return "gateway must be namespace/name, got %r" % p["gateway"]
    if p["gateway_url"]:
        try:
            gw.parse_url(p["gateway_url"])
        except ValueError as exc:
            return str(exc)
    return None


class GatewayCheck(Probe):
    requirement = "ai_inference"
    param_error = staticmethod(param_error)

    def backend(self, name, ns, port):
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

    def pick_class(self, client, result):
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

    def run(self, client, ctx, result):
        p = self.params
        timeout = p["timeout"]
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
        for key, port in zip(("a", "b"), p["backend_ports"]):
            dep, svc = self.backend(names[key], ns, port)
            ctx.create(dep)
            ctx.create(svc)
        pods = {}
        for key, name in names.items():
            ok, last, bound = wl.wait_available(client, name, ns, timeout)
            if not ok:
                result.decide(Verdict.ERROR, "backend Deployment %s never had an available pod in %d s: %s" % (name, timeout, (last or {}).get("status")))
                return
            pods[key] = {x["metadata"]["name"] for x in bound}
        result.step("create backends %s and %s (Deployment + Service each)" % (names["a"], names["b"]), "pods %s" % {k: sorted(v) for k, v in pods.items()})

        t0 = time.monotonic()
        if not p["gateway"]:
            ctx.create(gw.gateway(gw_name, gw_ns, cls_name, p["listener_port"]))
        programmed, live_gw = client.wait_until(
            gw.GATEWAY_API,
            "Gateway",
            gw_name,
            lambda o: gw.is_true(gw.condition(o, "Accepted")) and gw.is_true(gw.condition(o, "Programmed")),
            gw_ns,
            timeout,
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
            return

        suffix = "%s.conformance.test" % ctx.run_id
        hosts = {"split": "split.%s" % suffix, "header": "header.%s" % suffix, "broken": "broken.%s" % suffix}
        header_value = "aic-canary-%s" % ctx.run_id
        missing = ctx.name("missing")
        routes = {
            "split": gw.http_route(
                ctx.name("split"),
                ns,
                gw_ns,
                gw_name,
                hosts["split"],
                [{"backendRefs": [gw.backend_ref(names["a"], SERVICE_PORT, p["weights"][0]), gw.backend_ref(names["b"], SERVICE_PORT, p["weights"][1])]}],
            ),
            "header": gw.http_route(
                ctx.name("header"),
                ns,
                gw_ns,
                gw_name,
                hosts["header"],
                [
                    {
                        "matches": [{"headers": [{"type": "Exact", "name": p["header_name"], "value": header_value}]}],
                        "backendRefs": [gw.backend_ref(names["b"], SERVICE_PORT)],
                    },
                    {"backendRefs": [gw.backend_ref(names["a"], SERVICE_PORT)]},
                ],
            ),
            "broken": gw.http_route(ctx.name("broken"), ns, gw_ns, gw_name, hosts["broken"], [{"backendRefs": [gw.backend_ref(missing, SERVICE_PORT)]}]),
        }
        for r in routes.values():
            ctx.create(r)

        def settled(want_resolved):
            def pred(o):
                acc = gw.route_condition(o, gw_ns, gw_name, "Accepted")
                res = gw.route_condition(o, gw_ns, gw_name, "ResolvedRefs")
                return gw.is_true(acc) and res is not None and res.get("status") == ("True" if want_resolved else "False")

            return pred

        status = {}
        for key, r in routes.items():
            name = r["metadata"]["name"]
            _ok, live = client.wait_until(gw.GATEWAY_API, "HTTPRoute", name, settled(key != "broken"), ns, timeout)
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
                broken_res = res
        result.observations["routes"] = status
        if any(c["ok"] is False for c in result.checks):
            result.decide_from_checks("")
            return

        url = p["gateway_url"] or gw.gateway_url(client.get(gw.GATEWAY_API, "Gateway", gw_name, gw_ns), p["listener_port"])
        if not url:
            result.decide(Verdict.FAIL, "Gateway %s/%s is Programmed but has no address in its status (set gateway_url to reach it)" % (gw_ns, gw_name))
            return
        result.observations["gateway_url"] = url
        ok, secs, last = gw.wait_routed(url, hosts["split"], "/hostname", pods, timeout)
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

        budget = p["traffic_seconds"]
        split = gw.drive(url, hosts["split"], "/hostname", p["requests"], pods, budget)
        weights = {"a": p["weights"][0], "b": p["weights"][1]}
        within, detail = gw.split_within(split, weights, p["tolerance"])
        result.observations["split"] = dict(split.to_dict(), weights=weights, shares=detail, tolerance=p["tolerance"])
        result.step("send %d GET /hostname with Host %s" % (split.sent, hosts["split"]), "per backend %s, statuses %s" % (split.by_backend, split.statuses))
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

        n = max(10, p["requests"] // 4)
        with_h = gw.drive(url, hosts["header"], "/hostname", n, pods, budget, headers={p["header_name"]: header_value})
        without = gw.drive(url, hosts["header"], "/hostname", n, pods, budget)
        wrong_value = gw.drive(url, hosts["header"], "/hostname", 10, pods, budget, headers={p["header_name"]: header_value + "-other"})
        result.observations["header_routing"] = {
            "header": "%s: %s" % (p["header_name"], header_value),
            "with_header": with_h.to_dict(),
            "without_header": without.to_dict(),
            "other_value": wrong_value.to_dict(),
        }
        result.step(
            "send %d GET /hostname with %s: %s, %d without, 10 with another value" % (n, p["header_name"], header_value, n),
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

        res = broken_res
        broken = gw.drive(url, hosts["broken"], "/hostname", NEGATIVE_REQUESTS, pods, budget)
        result.observations["invalid_backend"] = dict(broken.to_dict(), service=missing, resolved_refs=gw.describe(res, "ResolvedRefs"))
        result.step(
            "send %d GET /hostname with Host %s (route to missing Service %s)" % (broken.sent, hosts["broken"], missing),
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
            "route %s to missing Service %s" % (routes["broken"]["metadata"]["name"], missing),
            reported and leaked == 0,
            "%s; %d of %d requests reached a backend; statuses %s" % (gw.describe(res, "ResolvedRefs"), leaked, broken.sent, broken.statuses),
        )
        result.decide_from_checks(
            "%s split %d requests %.0f%%/%.0f%% for weights %d/%d (tolerance %.0f%%), routed %d/%d on %s exactly, and refused a route to a missing backend"
            % (
                cls_name,
                split.sent,
                100 * detail["a"]["observed"],
                100 * detail["b"]["observed"],
                weights["a"],
                weights["b"],
                100 * p["tolerance"],
                with_h.by_backend["b"],
                n,
                p["header_name"],
            )
        )


def main():
    GatewayCheck(EXTRA).main()


if __name__ == "__main__":
    main()
