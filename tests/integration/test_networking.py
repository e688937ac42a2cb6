"""gateway_check on the reference cluster: the real Traefik Gateway API provider routing real HTTP
requests to the FAKE backend containers (tests/refcluster/fakes/http_backends.py) of host-network
pods on the host node.  Each fault breaks the cluster on purpose and asserts the FAIL reason."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure
from tests.refcluster.config import gateway_check_args

pytestmark = pytest.mark.integration

# The reference cluster's gateway settings (inventories/local), with a shorter wait.
GATEWAY = dict(gateway_check_args(), timeout=60)


def test_gateway_splits_and_routes_real_traffic(ansible_module):
    res = ansible_module("gateway_check", run_id="it-gateway", requests=200, **GATEWAY)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    obs = r["observations"]
    # The split was measured on every request, and it follows the 70/30 weights.
    split = obs["split"]
    assert split["sent"] == 200 and sum(split["by_backend"].values()) == 200, split
    assert abs(split["by_backend"]["a"] / 200 - 0.7) <= 0.1, split
    assert split["by_backend"]["b"] > 0
    # Header routing is exact both ways.
    hr = obs["header_routing"]
    assert hr["with_header"]["by_backend"] == {"a": 0, "b": 50}, hr
    assert hr["without_header"]["by_backend"] == {"a": 50, "b": 0}, hr
    assert hr["other_value"]["by_backend"] == {"a": 10, "b": 0}, hr
    # The route to a missing Service: reported by its condition, 500 for every request, none leaked.
    inv = obs["invalid_backend"]
    assert inv["statuses"] == {"500": 10} and sum(inv["by_backend"].values()) == 0, inv
    assert "BackendNotFound" in inv["resolved_refs"]
    assert r["negative"][0]["refused"] is True
    assert obs["routes"]["split"]["controller"] == "traefik.io/gateway-controller"
    # Nothing left behind.
    assert all(x["outcome"] in ("deleted", "delete requested", "already gone") for x in obs["cleanup"]), obs["cleanup"]


def test_gateway_ignoring_weights_fails(ansible_module, breaker):
    """A mutating webhook stores every route with its first backend only: the split route sends
    everything to A, which only measured traffic can show (the route's conditions stay True)."""
    with breaker.running("route-mangler"):
        res = ansible_module("gateway_check", run_id="it-gw-noweights", requests=100, **GATEWAY)
    r = res["result"]
    assert res["verdict"] == "fail", r["reason"]
    assert first_failure(r["reason"]).startswith("weighted split within tolerance"), r["reason"]
    assert r["observations"]["split"]["by_backend"] == {"a": 100, "b": 0}


def test_gateway_controller_stopped_fails(ansible_module, breaker):
    with breaker.stopped("traefik"):
        res = ansible_module("gateway_check", run_id="it-gw-stopped", **dict(GATEWAY, timeout=15))
    r = res["result"]
    assert res["verdict"] == "fail", r["reason"]
    assert first_failure(r["reason"]).startswith("the Gateway is Accepted"), r["reason"]
    assert not any(c["kind"] == "traffic" for c in r["checks"])


def test_gateway_backends_unreachable_fails(ansible_module, breaker):
    """The routes are accepted and resolved, but no backend container answers: no pass from
    conditions alone."""
    with breaker.stopped("fake-http-backends"):
        res = ansible_module("gateway_check", run_id="it-gw-nobackend", **dict(GATEWAY, timeout=15))
    r = res["result"]
    assert res["verdict"] == "fail", r["reason"]
    assert first_failure(r["reason"]).startswith("traffic through the gateway reaches the backends"), r["reason"]


def test_gateway_api_absent_class_is_a_readable_fail(ansible_module, k8s):
    res = ansible_module("gateway_check", run_id="it-gw-noclass", **dict(GATEWAY, gateway_class="no-such-class"))
    assert res["verdict"] == "fail"
    # The reference cluster has Traefik's class and the fake inference gateway's.
    classes = sorted(c["metadata"]["name"] for c in k8s.list("gateway.networking.k8s.io/v1", "GatewayClass")["items"])
    assert "traefik" in classes and len(classes) == 2
    assert res["reason"] == "GatewayClass no-such-class does not exist (classes: %s)" % classes


def test_gateway_bad_input_is_one_line(ansible_module):
    res = ansible_module("gateway_check", **dict(GATEWAY, weights=[100, 0]))
    assert res.get("failed") and res["msg"] == "weights must be two integers above 0, got [100, 0]"


def test_gateway_check_attaches_to_an_existing_gateway(ansible_module, k8s):
    """Platforms with a shared, pre-provisioned Gateway: the probe attaches its routes to it and
    leaves it alone."""
    ns = "it-shared-gw"
    k8s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    try:
        k8s.create(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "shared", "namespace": ns},
                "spec": {
                    "gatewayClassName": "traefik",
                    "listeners": [{"name": "http", "protocol": "HTTP", "port": 18000, "allowedRoutes": {"namespaces": {"from": "All"}}}],
                },
            }
        )
        args = {k: v for k, v in GATEWAY.items() if k != "gateway_class"}
        res = ansible_module("gateway_check", run_id="it-gw-shared", gateway="%s/shared" % ns, requests=100, **args)
        r = res["result"]
        assert res["verdict"] == "pass", r["reason"]
        assert r["observations"]["gateway_class"] == "traefik"
        assert r["steps"][1]["action"].startswith("use Gateway %s/shared" % ns)
        # The shared Gateway is not the probe's: still there after its cleanup.
        assert k8s.get("gateway.networking.k8s.io/v1", "Gateway", "shared", ns) is not None
    finally:
        k8s.delete("v1", "Namespace", ns)
