"""gateway_check's verdicts against the fake cluster's Gateway API controller and data plane
(agnhost backends answering /hostname with their pod name)."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import gateway_check as mod
from tests.unit import fakecluster as fc

SPLIT = "weighted split within tolerance"
WITH_H = "requests with the header reach only backend B"
WITHOUT_H = "requests without the header (or with another value) reach only backend A"
REPORTED = "a route to a missing Service reports ResolvedRefs=False (BackendNotFound)"
GOT_500 = "requests on a route with a missing backend get HTTP 500"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def cluster(*broken):
    c = fc.reference_cluster(dra=False)
    fc.GatewayController(c, broken=broken)
    return c


def test_weighted_split_header_routing_and_missing_backend_refused(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster())
    assert r.verdict == "pass" and r.failed() == []
    assert r["observations"]["split"]["by_backend"] == {"a": 140, "b": 60}
    assert r.ok(WITH_H) and r.ok(WITHOUT_H) and r.ok(REPORTED) and r.ok(GOT_500)
    assert r.negative("route aic-broken-t1 to missing Service")["refused"] is True
    assert r.reason.startswith("traefik split 200 requests 70%/30% for weights 70/30")


def test_data_plane_ignoring_weights_fails_the_split(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("ignore-weights"))
    assert r.verdict == "fail" and r.failed() == [SPLIT] and r.reason.startswith(SPLIT + ": a 0.500 (weight share 0.700)")


def test_data_plane_ignoring_header_matches_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("ignore-headers"))
    assert r.verdict == "fail" and WITHOUT_H in r.failed()


def test_missing_backend_answered_by_another_service_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("missing-backend-falls-through"))
    assert r.verdict == "fail" and r.failed() == [GOT_500]
    assert r.negative("route aic-broken-t1")["refused"] is False and "10 of 10 requests reached a backend" in r.negative("route aic-broken-t1")["outcome"]


def test_gateway_not_programmed_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("not-programmed"))
    assert r.verdict == "fail" and r.failed() == ["the Gateway is Programmed"]


def test_gateway_without_an_address_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("no-address"))
    assert r.verdict == "fail" and r.reason.endswith("is Programmed but has no address in its status (set gateway_url to reach it)")


def test_no_gateway_api_or_no_accepted_class_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(dra=False))
    assert r.verdict == "fail" and r.reason == "the Gateway API is not served: gateway.networking.k8s.io/v1 GatewayClass is missing"
    c = cluster()
    c.obj("gateway.networking.k8s.io/v1", "GatewayClass", "traefik")["status"]["conditions"][0]["status"] = "False"
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason == "no GatewayClass is accepted by a controller (1 exist)"
    r = probe(run_module, monkeypatch, cluster(), gateway_class="istio")
    assert r.verdict == "fail" and r.reason.startswith("GatewayClass istio does not exist")


def test_named_gateway_that_does_not_exist_is_an_error(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), gateway="infra/gw")
    assert r.verdict == "error" and r.reason == "Gateway infra/gw does not exist"


def test_unreachable_data_plane_fails_the_traffic_check(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), gateway_url="http://10.0.0.99")
    assert r.verdict == "fail" and r.failed() == ["traffic through the gateway reaches the backends"]
