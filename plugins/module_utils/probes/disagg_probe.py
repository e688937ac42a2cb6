# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe of disaggregated_inference_probe (requirement disaggregated_inference): prefill and
decode served by distinct workloads, requests through the gateway counted by both phases' model
servers, each phase scaled alone while the other stays put, and the unserved-model negative case.
The gateway, its hostname, the model and the metrics ports left empty are first discovered in the
serving namespace (``discover``).
The pods, workloads, counters and requests are read and made with module_utils/disagg.py.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import Client, ClusterError, selector
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.metrics import poll
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import ProbeResult, Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RunContext
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import disagg as dg
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gateway as gw
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import serving as sv

Pods = dict[str, list[dict[str, Any]]]
Counters = dict[str, dict[str, Any]]


class DisaggregatedInferenceProbe(sv.ServingProbe):
    """The module (plugins/modules/disaggregated_inference_probe.py) subclasses it with its requirement."""

    param_error = staticmethod(dg.param_error)
    missing_options = staticmethod(dg.missing_options)
    # phase -> pod name -> the port its counters are read on (discover).
    ports: dict[str, dict[str, int]]

    def probe(self, client: Client, ctx: RunContext, result: ProbeResult) -> None:
        p = self.params
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
        unfound = self.discover(client, result, pods)
        if unfound:
            result.decide(Verdict.ERROR, unfound)
            return
        p = self.params
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

    def discover(self, client: Client, result: ProbeResult, pods: Pods) -> str | None:
        """The options left empty, from the serving namespace (module_utils/disagg.py): the Gateway
        of the HTTPRoutes to the decode pods and their hostname, the model the pods serve, each pod's
        metrics port.  What was found goes to ``self.params`` and ``observations["discovered"]``;
        returns the one-line reason when the gateway or the model cannot be found (the verdict is
        ``error``), else None.  A given option is used as it is."""
        p = self.params
        found: dict[str, dict[str, Any]] = {}
        try:
            return self.discover_into(client, pods, found)
        finally:
            if found:
                result.observations["discovered"] = found
                shown = ", ".join("%s=%s" % (k, v["value"]) for k, v in found.items())
                result.step("kubectl get services,httproutes -n %s; the serving pods' arguments" % p["serving_namespace"], "discovered %s" % shown)

    def discover_into(self, client: Client, pods: Pods, found: dict[str, dict[str, Any]]) -> str | None:
        """``discover``, recording in ``found`` as it goes (what was found before an error is kept)."""
        p = self.params
        ns, gateway, hostname, model = p["serving_namespace"], p["gateway"], p["hostname"], p["model"]
        routes: list[dict[str, Any]] = []
        if not gateway and not p["gateway_url"]:
            routes, services, served = dg.decode_routes(client, ns, pods["decode"])
            gateway, where = dg.discover_gateway(ns, routes, services, served)
            if gateway is None:
                return where
            found["gateway"] = {"value": gateway, "from": where}
        elif gateway and not hostname:
            try:
                routes = dg.decode_routes(client, ns, pods["decode"])[0]
            except ClusterError:
                routes = []  # the hostname falls back to the gateway URL's host, as when no route has one
        if gateway and not hostname:
            hostname, where = dg.route_hostname(routes, gateway)
            if hostname:
                found["hostname"] = {"value": hostname, "from": where}
        if not model:
            model, where = dg.discover_model(pods)
            if model is None:
                return where
            found["model"] = {"value": model, "from": where}
        self.ports = {}
        for ph in dg.PHASES:
            self.ports[ph], seen = dg.metrics_ports(pods[ph], ph, p["%s_metrics_port" % ph])
            if seen:
                found["%s_metrics_port" % ph] = seen
        self.params = dict(p, gateway=gateway, hostname=hostname or "", model=model)
        return None

    @staticmethod
    def targets(client: Client, pods: list[dict[str, Any]], scalable: dict[tuple[str, str], bool]) -> dict[str, dict[str, Any] | None]:
        return {x["metadata"]["name"]: dg.scale_target(client, x, scalable) for x in pods}

    def url_from_gateway(self, client: Client) -> str | None:
        p = self.params
        gns, gname = p["gateway"].split("/")
        return gw.gateway_url(client.get(gw.GATEWAY_API, "Gateway", gname, gns), p["listener_port"])

    def counters(self, client: Client, pods: Pods) -> Counters:
        p = self.params
        return dg.counters(client, pods, self.ports, p["metrics_path"], p["success_metric"])

    def still(self, client: Client, pods: Pods, start: Counters) -> tuple[dict[str, float], Counters]:
        """Counter growth over one quiet window with no request of the probe in flight: other traffic."""
        time.sleep(self.params["quiet_seconds"])
        end = self.counters(client, pods)
        return dg.deltas(start, end), end

    def traversal(self, client: Client, result: ProbeResult, url: str, pods: Pods) -> None:
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
        after, waited = sv.read_until(
            lambda: self.counters(client, pods), lambda now: all(d >= answers for d in dg.deltas(before, now).values()), min(30, p["timeout"])
        )
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

    def unknown_model(self, client: Client, result: ProbeResult, url: str, host: str, pods: Pods, chat: bool, busy: bool) -> None:
        p = self.params
        model = p["unknown_model"] or "aic-no-such-model-%s" % result.run_id

        def send() -> list[int]:
            bodies = [dg.completion_body(model, 8, p["max_tokens"], chat, i) for i in range(sv.NEGATIVE_REQUESTS)]
            return [dg.post_json(url, host, p["path"], b, timeout_s=p["request_timeout_s"])["status"] for b in bodies]

        statuses, moved = sv.unserved_model_moves(lambda: self.counters(client, pods), dg.deltas, send)
        if busy:  # other traffic moves the counters too: only the answers decide
            refused, outcome = dg.unserved_model_refused(statuses, {}, "counters not compared, other traffic moves them (%s)" % moved)
        else:
            refused, outcome = dg.unserved_model_refused(statuses, moved, "no counter of either phase moved")
        result.negative_case("requests for model %s, which no one serves" % model, refused, outcome)

    def scale_one(self, client: Client, result: ProbeResult, firsts: dict[str, dict[str, Any]], phase: str, other: str) -> None:
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
