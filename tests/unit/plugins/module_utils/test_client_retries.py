"""Retries through urllib3's Retry, against a real local HTTP server: idempotent requests survive
transient failures and honour Retry-After; a POST or PATCH is sent once."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import client as cl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import transport
from tests.unit.conftest import closed_port, status_body

DISCOVERY = {"resources": [{"name": "configmaps", "kind": "ConfigMap", "namespaced": True, "verbs": ["get", "list", "create", "patch", "delete"]}]}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"}}
DROP = "drop"  # close the connection without an answer


@pytest.fixture(autouse=True)
def _no_pool():
    cl._POOL.clear()
    yield
    cl._POOL.clear()


class Scripted:
    """An API server whose answers to one path are scripted: each request takes the next answer
    (status, extra headers) or DROP; the last answer repeats.  Discovery always answers."""

    def __init__(self, answers: list, port: int = 0, body: bytes | None = None) -> None:
        self.answers = list(answers)
        self.body = body
        self.seen: list[tuple[str, str]] = []
        script = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                path = self.path.split("?", 1)[0]
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if path == "/api/v1":
                    return self._send(200, {}, json.dumps(DISCOVERY).encode())
                script.seen.append((self.command, path))
                answer = script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
                if answer == DROP:
                    self.close_connection = True
                    return None
                code, headers = answer
                if code >= 400:
                    data = json.dumps(status_body(code, "x", "failure %d" % code)).encode()
                else:
                    data = script.body if script.body is not None else json.dumps(CM).encode()
                return self._send(code, headers, data)

            def _send(self, code, headers, data):
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def client(self, backoff: float = 0.01) -> cl.Client:
        c = cl.get_client({"host": self.url, "api_key": "t"})
        c.retry_backoff = backoff
        return c


@pytest.fixture
def scripted():
    made: list[Scripted] = []

    def start(answers, **kw):
        s = Scripted(answers, **kw)
        made.append(s)
        return s

    yield start
    for s in made:
        s.srv.shutdown()
        s.srv.server_close()


CM_PATH = "/api/v1/namespaces/ns/configmaps/cm"


def test_a_get_that_fails_twice_then_succeeds_returns_the_object(scripted):
    s = scripted([(503, {}), (502, {}), (200, {})])
    assert s.client().get("v1", "ConfigMap", "cm", "ns") == CM
    assert s.seen == [("GET", CM_PATH)] * 3


def test_retry_after_is_honoured(scripted):
    s = scripted([(429, {"Retry-After": "1"}), (200, {})])
    c = s.client(backoff=0.01)  # the backoff alone would retry at once
    t0 = time.monotonic()
    assert c.get("v1", "ConfigMap", "cm", "ns") == CM
    assert time.monotonic() - t0 >= 0.9
    assert len(s.seen) == 2


def test_retries_end_with_the_last_answer_as_one_line(scripted):
    s = scripted([(503, {})])
    with pytest.raises(cl.ClusterError) as e:
        s.client().get("v1", "ConfigMap", "cm", "ns")
    assert (e.value.kind, e.value.status) == ("api", 503)
    assert e.value.message == "API error 503 while trying to get ConfigMap ns/cm: failure 503"
    assert len(s.seen) == 1 + cl.RETRIES


@pytest.mark.parametrize("answer", [(503, {}), (429, {"Retry-After": "1"}), DROP])
def test_a_post_is_sent_once_whatever_the_answer(scripted, answer):
    s = scripted([answer, (201, {})])
    with pytest.raises(cl.ClusterError) as e:
        s.client().create(CM)
    assert e.value.status == (0 if answer == DROP else answer[0])
    assert s.seen == [("POST", "/api/v1/namespaces/ns/configmaps")]


def test_a_patch_is_sent_once_after_a_broken_connection(scripted):
    s = scripted([DROP, (200, {})])
    with pytest.raises(cl.ClusterError) as e:
        s.client().patch("v1", "ConfigMap", "cm", {"data": {"a": "b"}}, "ns")
    assert e.value.kind == "unreachable"
    assert s.seen == [("PATCH", CM_PATH)]


def test_a_get_is_retried_after_a_broken_connection(scripted):
    s = scripted([DROP, (200, {})])
    assert s.client().get("v1", "ConfigMap", "cm", "ns") == CM
    assert s.seen == [("GET", CM_PATH)] * 2


def test_a_delete_is_retried(scripted):
    s = scripted([(500, {}), (200, {})])
    assert s.client().delete("v1", "ConfigMap", "cm", "ns") is True
    assert s.seen == [("DELETE", CM_PATH)] * 2


def test_a_watch_is_retried_until_it_starts(scripted):
    events = [{"type": "ADDED", "object": CM}, {"type": "DELETED", "object": CM}]
    s = scripted([(503, {}), (200, {})], body=b"".join(json.dumps(e).encode() + b"\n" for e in events))
    assert list(s.client().watch("v1", "ConfigMap", "ns", timeout_s=1)) == events
    assert [m for m, _p in s.seen] == ["GET", "GET"]


def test_a_server_that_comes_up_during_the_backoff_is_reached(scripted):
    port = closed_port()
    c = cl.get_client({"host": "http://127.0.0.1:%d" % port, "api_key": "t"})
    c.retry_backoff = 0.3  # attempts at 0, 0, 0.6 and 1.8 s
    started = []
    timer = threading.Timer(0.3, lambda: started.append(scripted([(200, {})], port=port)))
    timer.start()
    try:
        assert c.get_path("/api/v1/namespaces/ns/configmaps/cm") == CM
    finally:
        timer.join()
    assert started and started[0].seen == [("GET", CM_PATH)]


class _Resp:
    def __init__(self, retry_after):
        self.headers = {"Retry-After": retry_after}


def test_the_policy_retries_only_idempotent_methods_on_statuses_and_caps_retry_after():
    policy = transport.retry_policy()
    assert all(policy.is_retry(m, code, has_retry_after=False) for m in ("GET", "DELETE") for code in (429, 500, 502, 503, 504))
    assert not policy.is_retry("GET", 404, has_retry_after=False)
    assert not any(policy.is_retry(m, code, has_retry_after=True) for m in ("POST", "PATCH", "PUT") for code in (429, 503))
    assert policy.get_retry_after(_Resp("3600")) == transport.RETRY_AFTER_MAX_S and policy.get_retry_after(_Resp("2")) == 2.0
    assert (policy.total, policy.connect, policy.status, policy.read, policy.other, policy.backoff_factor) == (3, 3, 3, 1, 0, 0.5)
