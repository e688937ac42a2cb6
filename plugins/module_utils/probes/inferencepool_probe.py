# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe of inference_pool_probe (requirement advanced_inference_ingress): the pool accepted
by its Gateway, the probe's own HTTPRoute to it, requests through the gateway counted on the pool's
endpoints only, and the unserved-model negative case.  Its traffic (requests, counters, the
choice-follows-load step) is in module_utils/inferencepool_load.py; the objects and arithmetic in
module_utils/inferencepool.py.

Options left empty (``listener_port`` 0) are found in the cluster before ServingProbe's prologue
(``discover``): the only InferencePool, the Gateway its status names, that Gateway's HTTP listener,
the model its pods serve.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mt
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import Client
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import ProbeResult, Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RunContext
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import disagg as dg
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gateway as gw
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import inferencepool as ip
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import serving as sv
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes.inferencepool_load import PoolTraffic


class InferencePoolProbe(PoolTraffic):
    """The module (plugins/modules/inference_pool_probe.py) subclasses it with its requirement."""

    param_error = staticmethod(ip.param_error)
    missing_options = staticmethod(ip.missing_options)

    def run(self, client: Client, ctx: RunContext, result: ProbeResult) -> None:
        """The options left empty are discovered first, so ServingProbe's prologue finds none missing."""
        if self.params["declared"] != "none" and not self.discover(client, result):
            return
        super().run(client, ctx, result)

    def discover(self, client: Client, result: ProbeResult) -> bool:
        """Fill pool, gateway, listener_port (0) and model where not given, each with where it came
        from in ``observations["discovered"]``; False (the result decided) when one cannot be."""
        self.params = dict(self.params)  # the module's params keep what was given
        found: dict[str, dict[str, Any]] = {}
        try:
            outcome = self.find_options(client, found)
        finally:
            if found:
                result.observations["discovered"] = found
        if outcome is None:
            return True
        result.decide(*outcome)
        return False

    def find_options(self, client: Client, found: dict[str, dict[str, Any]]) -> tuple[Verdict, str] | None:
        p = self.params
        pool = None
        if not p["pool"]:
            if not client.served(ip.POOL_API, "InferencePool"):
                return Verdict.ERROR, "pool is not set and the InferencePool API (%s) is not served: set pool (or declare none)" % ip.POOL_API
            pools = sorted(client.list(ip.POOL_API, "InferencePool")["items"], key=ip.ref)
            if not pools:
                return Verdict.ERROR, "pool is not set and no InferencePool (%s) exists in the cluster: set pool (or declare none)" % ip.POOL_API
            if len(pools) > 1:
                return Verdict.ERROR, "pool is not set and the cluster has %d InferencePools (%s): set pool" % (len(pools), ", ".join(map(ip.ref, pools)))
            pool = pools[0]
            p["pool"] = ip.ref(pool)
            found["pool"] = {"value": p["pool"], "from": "the only InferencePool in the cluster"}
        pns = p["pool"].split("/")[0]
        if pool is None and not (p["gateway"] and p["model"]):
            pool, missing = self.read_pool(client, p["pool"])
            if pool is None:
                return Verdict.FAIL, missing
        if not p["gateway"]:
            named = ip.parent_gateways(pool or {})
            local = [] if len(named) == 1 else self.gateways_in(client, pns)
            if len(named) == 1:
                p["gateway"], where = named[0], "the status.parents of InferencePool %s" % p["pool"]
            elif len(local) == 1:
                p["gateway"], where = local[0], "the only Gateway in namespace %s" % pns
            else:
                return Verdict.ERROR, "gateway is not set, the status of InferencePool %s names %s and namespace %s has %s: set gateway" % (
                    p["pool"],
                    _gateways(named),
                    pns,
                    _gateways(local),
                )
            found["gateway"] = {"value": p["gateway"], "from": where}
        if not p["listener_port"]:
            gns, gname = p["gateway"].split("/")
            gateway = client.get(gw.GATEWAY_API, "Gateway", gname, gns) if client.served(gw.GATEWAY_API, "Gateway") else None
            if gateway is not None:  # a missing Gateway fails in probe(), as with a port given
                port, where = ip.http_listener_port(gateway)
                if not port:
                    return Verdict.ERROR, "listener_port is 0 and %s: set listener_port" % where
                p["listener_port"] = port
                found["listener_port"] = {"value": port, "from": where}
        if not p["model"]:
            sel = ip.pool_selector(pool or {})
            models = {x["metadata"]["name"]: sv.served_model(x) for x in (dg.ready_pods(client, pns, sel) if sel else [])}
            model = ip.agreed_model(models)
            if not models:  # the platform's pool is empty: the same finding as probe()'s with the model given
                why = "InferencePool %s selects no ready endpoint (selector %s, target ports %s)" % (p["pool"], sel or "none", ip.pool_ports(pool or {}))
                return Verdict.FAIL, why
            if model is None:
                seen = ", ".join("%s: %s" % (k, v or "no model argument") for k, v in sorted(models.items()))
                return Verdict.ERROR, "model is not set and the ready pods of InferencePool %s do not name one model (%s): set model" % (p["pool"], seen)
            p["model"] = model
            found["model"] = {"value": model, "from": "the model-server arguments of the pool's %d ready pod(s)" % len(models)}
        return None

    @staticmethod
    def gateways_in(client: Client, namespace: str) -> list[str]:
        if not client.served(gw.GATEWAY_API, "Gateway"):
            return []
        return sorted(map(ip.ref, client.list(gw.GATEWAY_API, "Gateway", namespace)["items"]))

    @staticmethod
    def read_pool(client: Client, pool: str) -> tuple[dict[str, Any] | None, str]:
        """The InferencePool ``namespace/name``, or (None, why: its API is not served, or it does not exist)."""
        if not client.served(ip.POOL_API, "InferencePool"):
            return None, "the InferencePool API (%s) is not served: the Gateway API Inference Extension is not installed" % ip.POOL_API
        pns, pname = pool.split("/")
        found = client.get(ip.POOL_API, "InferencePool", pname, pns)
        return found, "" if found is not None else "InferencePool %s does not exist" % pool

    def probe(self, client: Client, ctx: RunContext, result: ProbeResult) -> None:
        p = self.params
        pns, pname = p["pool"].split("/")
        eps = self.pool_endpoints(client, result, pns, pname)
        if not eps:
            return
        gns, gname = p["gateway"].split("/")
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

    def pool_endpoints(self, client: Client, result: ProbeResult, pns: str, pname: str) -> list[dict[str, Any]]:
        """The pool's status for our Gateway checked, and its endpoints; [] (the result decided)
        when the API or the pool is missing or it has fewer than two ready endpoints."""
        p = self.params
        gns, gname = p["gateway"].split("/")
        pool, missing = self.read_pool(client, "%s/%s" % (pns, pname))
        if pool is None:
            result.decide(Verdict.FAIL, missing)
            return []
        entry = gw.parent_status(pool, gns, gname)
        result.observations["pool"] = {
            "selector": ip.pool_selector(pool),
            "target_ports": ip.pool_ports(pool),
            "endpoint_picker": (pool.get("spec") or {}).get("endpointPickerRef"),
        }
        result.observations["pool_parents"] = (pool.get("status") or {}).get("parents") or []
        conds = {t: gw.is_true(gw.entry_condition(entry, t)) for t in gw.PARENT_CONDITIONS}
        result.step(
            "kubectl get inferencepool %s -n %s -o jsonpath='{.status.parents}'" % (pname, pns),
            gw.entry_conditions(entry) if entry else "no entry for Gateway %s" % p["gateway"],
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
            return []
        if len(eps) < 2:
            result.decide(
                Verdict.FAIL,
                "InferencePool %s has one ready endpoint (%s): a choice by the endpoints' metrics needs at least two; scale the model servers"
                % (p["pool"], eps[0]["name"]),
            )
            return []
        return eps

    def attach_route(self, client: Client, ctx: RunContext, result: ProbeResult, pns: str, gns: str, gname: str, pname: str, host: str, url: str) -> bool:
        p = self.params
        name = ctx.name("pool")
        route = ctx.create(ip.pool_route(name, pns, gns, gname, [host], p["path"], ctx.run_id, pname))
        t0 = time.monotonic()
        ok, live = gw.wait_route(client, name, pns, gns, gname, min(60, p["timeout"]))
        waited = time.monotonic() - t0
        detail = gw.entry_conditions(gw.parent_status(live or route, gns, gname))
        result.step(
            "kubectl apply HTTPRoute %s/%s (Exact %s, header %s, backendRef InferencePool %s)" % (pns, name, p["path"], ip.RUN_HEADER, pname),
            detail,
            ok,
        )
        result.check("the Gateway accepted an HTTPRoute to the InferencePool", ok, "%s after %.1f s" % (detail, waited))
        if not ok:
            return False

        def routed() -> dict[str, Any] | None:
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

    def only_pool(self, client: Client, result: ProbeResult, url: str, host: str, eps: list[dict[str, Any]]) -> None:
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
        after, waited = self.counted(client, eps, before, answers)
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

    def unknown_model(self, client: Client, result: ProbeResult, url: str, host: str, eps: list[dict[str, Any]]) -> None:
        p = self.params
        model = p["unknown_model"] or "aic-no-such-model-%s" % result.run_id
        statuses, moved = sv.unserved_model_moves(
            lambda: self.counters(client, eps), ip.deltas, lambda: self.send(url, host, result.run_id, model, sv.NEGATIVE_REQUESTS)[2]
        )
        result.negative_case(
            "requests for model %s, which the pool does not serve" % model, *dg.unserved_model_refused(statuses, moved, "no endpoint counter moved")
        )


def _gateways(refs: list[str]) -> str:
    """``no Gateway``, ``Gateway a/b`` or ``2 Gateways (a/b, c/d)``."""
    if len(refs) < 2:
        return "Gateway %s" % refs[0] if refs else "no Gateway"
    return "%d Gateways (%s)" % (len(refs), ", ".join(refs))
