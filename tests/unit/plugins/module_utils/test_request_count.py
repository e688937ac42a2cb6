"""Every HTTP request the client sends is counted, by verb (a watch as WATCH), against a real local
HTTP server that records what it received: per client (the pool) and per probe
(observations.timing.api_requests)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import client as cl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe as probe_mod
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import transport
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict

DISCOVERY = {"resources": [{"name": "configmaps", "kind": "ConfigMap", "namespaced": True, "verbs": ["get", "list", "watch", "create", "patch", "delete"]}]}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns", "resourceVersion": "5"}}


class Recorder:
    """An API server that records (method, path, watch?) of every request it receives, including
    discovery and /version.  A path in ``flaky`` answers 503 once, then 200."""

    def __init__(self, flaky: tuple[str, ...] = ()) -> None:
        self.received: list[tuple[str, str, bool]] = []
        self.flaky = set(flaky)
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                path, _sep, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                rec.received.append((self.command, path, "watch=true" in query))
                if path in rec.flaky:
                    rec.flaky.discard(path)
                    return self._send(503, {"kind": "Status", "code": 503, "message": "busy"})
                if path == "/version":
                    return self._send(200, {"major": "1", "minor": "37", "gitVersion": "v1.37.2"})
                if path == "/api/v1":
                    return self._send(200, DISCOVERY)
                if "watch=true" in query:
                    return self._send(200, {"type": "ADDED", "object": CM})
                if path.endswith("/configmaps"):
                    return self._send(200, {"items": [CM], "metadata": {"resourceVersion": "5"}} if self.command == "GET" else CM)
                return self._send(200, CM)

            def _send(self, code, doc):
                data = (json.dumps(doc) + "\n").encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def params(self) -> dict:
        return {"host": self.url, "api_key": "t"}

    def by_verb(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for method, _path, watch in self.received:
            verb = "WATCH" if watch else method
            out[verb] = out.get(verb, 0) + 1
        return out


@pytest.fixture
def server():
    cl._POOL.clear()
    srv = Recorder(flaky=("/api/v1/namespaces/ns/configmaps/flaky",))
    yield srv
    srv.srv.shutdown()
    cl._POOL.clear()


def exercise(c: cl.Client) -> None:
    c.get("v1", "ConfigMap", "cm", "ns")
    c.get("v1", "ConfigMap", "flaky", "ns")  # 503, retried once
    c.list("v1", "ConfigMap", "ns")
    c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm2", "namespace": "ns"}})
    c.patch("v1", "ConfigMap", "cm", {"data": {"a": "b"}}, "ns")
    c.delete("v1", "ConfigMap", "cm", "ns")
    assert [ev["type"] for ev in c.watch("v1", "ConfigMap", "ns", "5", timeout_s=1)] == ["ADDED"]


def test_the_counts_match_what_the_server_received(server):
    c = cl.get_client(server.params())
    c.retry_backoff = 0.01
    counter = transport.RequestCounter()
    with transport.counting(counter):
        exercise(c)
    # The server saw one more GET than was sent as a request: the retry of the 503.
    seen = server.by_verb()
    assert counter.retries == 1
    assert seen == {"GET": 5, "POST": 1, "PATCH": 1, "DELETE": 1, "WATCH": 1}
    assert counter.to_dict() == {"total": 8, "by_verb": {"DELETE": 1, "GET": 4, "PATCH": 1, "POST": 1, "WATCH": 1}, "retries": 1}
    assert counter.total + counter.retries == len(server.received)
    # The client's pool counts its whole life; outside ``counting`` nothing else is counted.
    c.get("v1", "ConfigMap", "cm", "ns")
    assert c.pool.requests.total == 9 and counter.total == 8


def test_a_thread_of_the_probe_counts_while_its_counter_is_the_only_one(server):
    c = cl.get_client(server.params())
    counter = transport.RequestCounter()
    with transport.counting(counter):
        worker = threading.Thread(target=lambda: c.get("v1", "ConfigMap", "cm", "ns"))
        worker.start()
        worker.join()
    assert counter.by_verb == {"GET": 2}  # discovery and the get, both from the thread


class ReadingProbe(probe_mod.Probe):
    requirement = "robust_controller"

    def run(self, client, ctx, result):
        exercise(client)
        result.decide(Verdict.ERROR, "read only")


def main():
    ReadingProbe().main()


def test_a_probe_reports_its_requests_by_verb(run_module, server):
    res = run_module(main, dict(server.params(), run_id="t1"))
    assert not res.failed, res.result
    t = res.result["result"]["observations"]["timing"]
    # /version (check_reachable), discovery, and what the probe sent.
    assert t["api_requests"] == {"total": 9, "by_verb": {"DELETE": 1, "GET": 5, "PATCH": 1, "POST": 1, "WATCH": 1}, "retries": 1}
    assert t["api_requests"]["total"] + t["api_requests"]["retries"] == len(server.received)
    assert [s["what"] for s in t["spans"] if s["phase"] == "connect"] == ["client and server version"]
    assert [s["what"] for s in t["spans"] if s["phase"] == "setup"] == ["create ConfigMap ns/cm2"]
