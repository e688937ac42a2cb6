from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gateway as gw


def cond(ctype, status, reason="", message=""):
    return {"type": ctype, "status": status, "reason": reason, "message": message}


def test_accepted_classes_only_those_a_controller_accepted_sorted():
    classes = [
        {"metadata": {"name": "z"}, "status": {"conditions": [cond("Accepted", "True")]}},
        {"metadata": {"name": "pending"}, "status": {"conditions": [cond("Accepted", "Unknown", "Pending")]}},
        {"metadata": {"name": "a"}, "status": {"conditions": [cond("Accepted", "True")]}},
        {"metadata": {"name": "nostatus"}},
    ]
    assert [c["metadata"]["name"] for c in gw.accepted_classes(classes)] == ["a", "z"]


def test_parent_status_matches_our_gateway_only():
    route = {
        "metadata": {"namespace": "ns"},
        "status": {
            "parents": [
                {"parentRef": {"name": "other"}, "conditions": [cond("Accepted", "True")]},
                {"parentRef": {"name": "gw"}, "controllerName": "x/y", "conditions": [cond("Accepted", "False", "NotAllowedByListeners", "no")]},
            ]
        },
    }
    assert gw.parent_status(route, "ns", "gw")["controllerName"] == "x/y"
    assert gw.parent_status(route, "elsewhere", "gw") is None
    c = gw.route_condition(route, "ns", "gw", "Accepted")
    assert gw.describe(c, "Accepted") == "Accepted=False (NotAllowedByListeners: no)"
    assert gw.describe(gw.route_condition(route, "ns", "gw", "ResolvedRefs"), "ResolvedRefs") == "no ResolvedRefs condition"
    assert gw.route_condition(None, "ns", "gw", "Accepted") is None


def test_gateway_url_from_status_addresses():
    assert gw.gateway_url({"status": {"addresses": [{"type": "IPAddress", "value": "10.1.2.3"}]}}, 80) == "http://10.1.2.3:80"
    assert gw.gateway_url({"status": {"addresses": [{"value": "fd00::1"}]}}, 8000) == "http://[fd00::1]:8000"
    assert gw.gateway_url({"status": {}}, 80) is None
    assert gw.parse_url("http://lb.example:8080") == ("lb.example", 8080)
    with pytest.raises(ValueError):
        gw.parse_url("https://lb.example")


def test_route_with_a_foreign_gateway_names_its_namespace():
    r = gw.http_route("r", "probe", "infra", "shared", "h.test", [])
    assert r["spec"]["parentRefs"] == [{"name": "shared", "namespace": "infra"}]
    assert gw.http_route("r", "ns", "ns", "g", "h.test", [])["spec"]["parentRefs"] == [{"name": "g"}]


def test_tally_counts_by_pod_name_and_keeps_samples_of_the_rest():
    t = gw.Tally({"a": {"pod-a"}, "b": {"pod-b"}})
    for status, body in [(200, "pod-a")] * 7 + [(200, "pod-b")] * 3 + [(502, "Bad Gateway"), (200, "stranger")]:
        t.add(status, body)
    assert t.by_backend == {"a": 7, "b": 3} and t.answered == 10 and t.sent == 12
    assert t.statuses == {200: 11, 502: 1}
    assert t.unknown == ["502 Bad Gateway", "200 stranger"]
    assert t.share("a") == pytest.approx(0.7)
    ok, detail = gw.split_within(t, {"a": 70, "b": 30}, 0.05)
    assert ok and detail == {"a": {"expected": 0.7, "observed": 0.7}, "b": {"expected": 0.3, "observed": 0.3}}
    ok, _detail = gw.split_within(t, {"a": 50, "b": 50}, 0.1)
    assert not ok


def test_split_with_no_answers_is_never_within():
    ok, detail = gw.split_within(gw.Tally({"a": {"x"}, "b": {"y"}}), {"a": 1, "b": 1}, 0.5)
    assert not ok and detail["a"]["observed"] == 0.0


@pytest.fixture
def server():
    seen = []

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.headers.get("Host"), self.headers.get("X-Model"), self.path))
            body = b"pod-b" if self.headers.get("X-Model") == "m" else b"pod-a"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1], seen
    srv.shutdown()


def test_drive_sends_host_and_headers_and_stops_at_count(server):
    url, seen = server
    t = gw.drive(url, "split.r1.conformance.test", "/hostname", 5, {"a": {"pod-a"}, "b": {"pod-b"}}, 10, headers={"X-Model": "m"})
    assert t.sent == 5 and t.by_backend == {"a": 0, "b": 5}
    assert seen[0] == ("split.r1.conformance.test", "m", "/hostname")
    assert gw.wait_routed(url, "h", "/hostname", {"a": {"pod-a"}}, 5)[0] is True


def test_send_reports_no_answer_as_status_0():
    status, body = gw.send("http://127.0.0.1:9", "h", "/", timeout_s=1)
    assert status == 0 and "Error" in body


def test_gateway_ref_reads_a_parent_ref_with_the_gateway_api_defaults():
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gateway

    assert gateway.gateway_ref({"name": "pd-gateway"}, "llm-d") == "llm-d/pd-gateway"
    assert gateway.gateway_ref({"name": "g", "namespace": "infra", "kind": "Gateway", "group": "gateway.networking.k8s.io"}, "llm-d") == "infra/g"
    assert gateway.gateway_ref({"name": "svc", "kind": "Service", "group": ""}, "llm-d") is None
    assert gateway.gateway_ref({"name": "g", "group": ""}, "llm-d") is None  # the core group names no Gateway
    assert gateway.gateway_ref({"name": "g", "group": "example.com"}, "llm-d") is None
    assert gateway.gateway_ref({}, "llm-d") is None
