# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The traffic of inference_pool_probe: OpenAI-style requests through the gateway, the pool
endpoints' counters and gauges read through the API server's pod proxy, and the choice-follows-load
step: every endpoint but one is loaded with long requests sent to it directly (through the pod
proxy) until it advertises the load in its metrics; then requests go through the gateway, and the
idle endpoint must get them.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import threading
import time
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mt
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import Client, ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import ProbeResult
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import disagg as dg
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import inferencepool as ip
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import serving as sv


class PoolTraffic(sv.ServingProbe):
    """The traffic of inference_pool_probe: requests through the gateway, the endpoints' counters
    and gauges, and the choice-follows-load step (the probe itself subclasses this)."""

    seq = 0
    standins = False

    def post(self, url: str, host: str, run_id: str, model: str, seq: int, max_tokens: int, timeout_s: float) -> dict[str, Any]:
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

    def send(
        self, url: str, host: str, run_id: str, model: str, n: int, failed: list[dict[str, Any]] | None = None, before: Callable[[], None] | None = None
    ) -> tuple[dict[str, int], int, list[int]]:
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

    def counters(self, client: Client, eps: list[dict[str, Any]], metric: str | None = None) -> dict[str, float | None]:
        p = self.params
        return {e["name"]: dg.counter_sum(dg.scrape(client, e["pod"], e["port"], p["metrics_path"]), metric or p["success_metric"]) for e in eps}

    def gauges(self, client: Client, eps: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
        p = self.params
        out = {}
        for e in eps:
            text = dg.scrape(client, e["pod"], e["port"], p["metrics_path"])
            out[e["name"]] = {m: dg.counter_sum(text, p[m + "_metric"]) for m in ("queue", "kv_cache", "running")}
        return out

    def counted(self, client: Client, eps: list[dict[str, Any]], before: dict[str, float | None], n: int) -> tuple[dict[str, float | None], float]:
        """The counters read until their growth since ``before`` accounts for ``n`` requests."""
        return sv.read_until(lambda: self.counters(client, eps), lambda now: sum(ip.deltas(before, now).values()) >= n, min(30, self.params["timeout"]))

    def start_load(self, client: Client, result: ProbeResult, loaded: list[dict[str, Any]], done: dict[str, int]) -> list[threading.Thread]:
        """``load_requests`` long requests to each of ``loaded``, one thread each, sent straight to
        the endpoint through the pod proxy; ``done`` counts those that finished per endpoint."""
        p = self.params
        lock = threading.Lock()

        def load(e: dict[str, Any], seq: int) -> None:
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
        return threads

    def choice(self, client: Client, result: ProbeResult, url: str, host: str, eps: list[dict[str, Any]]) -> None:
        p = self.params
        idle, loaded = eps[-1], eps[:-1]
        before = self.counters(client, eps)
        done = {e["name"]: 0 for e in loaded}
        threads = self.start_load(client, result, loaded, done)

        def advertised() -> dict[str, Any] | None:
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
        in_flight: list[int] = []
        statuses, answers = self.send(
            url, host, result.run_id, p["model"], p["choice_requests"], before=lambda: in_flight.append(sum(t.is_alive() for t in threads))
        )[:2]
        # A request that landed on a loaded endpoint waits behind its queue; what matters is that the
        # load was still running when the last request was sent.
        still = bool(in_flight) and in_flight[-1] > 0
        for t in threads:
            t.join(4 * p["request_timeout_s"])
        after = self.counted(client, eps, before, answers + sum(done.values()))[0]
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
