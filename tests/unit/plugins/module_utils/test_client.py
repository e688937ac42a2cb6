"""The client factory turns every user-caused failure into one readable ClusterError."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import client as cl
from tests.unit.conftest import closed_port, kubeconfig_text, status_body

VERSION = (200, {"major": "1", "minor": "37", "gitVersion": "v1.37.2"})


@pytest.fixture(autouse=True)
def _no_pool(monkeypatch):
    cl._POOL.clear()
    monkeypatch.setattr(cl, "RETRY_BACKOFF_S", 0.01)  # 500 and connection refused are retried
    yield
    cl._POOL.clear()


def test_missing_kubeconfig(tmp_path):
    with pytest.raises(cl.ClusterError) as e:
        cl.get_client({"kubeconfig": str(tmp_path / "nope")})
    assert e.value.kind == "config"
    assert e.value.message == "kubeconfig %s does not exist (set kubeconfig, K8S_AUTH_KUBECONFIG or KUBECONFIG)" % (tmp_path / "nope")


def test_unknown_context_lists_available(tmp_path):
    kc = tmp_path / "kc"
    kc.write_text(kubeconfig_text("http://127.0.0.1:1", context="prod"))
    with pytest.raises(cl.ClusterError) as e:
        cl.get_client({"kubeconfig": str(kc), "context": "staging"})
    assert e.value.kind == "config"
    assert "context 'staging' not found" in e.value.message and "(available: prod)" in e.value.message


def test_garbage_kubeconfig(tmp_path):
    kc = tmp_path / "kc"
    kc.write_text("this: [is not a kubeconfig")
    with pytest.raises(cl.ClusterError) as e:
        cl.get_client({"kubeconfig": str(kc)})
    assert e.value.kind == "config"
    assert e.value.message == "kubeconfig %s is not valid YAML at line 1, column 27: expected ',' or ']', but got '<stream end>'" % kc


def test_unreachable_server_is_one_line(tmp_path):
    kc = tmp_path / "kc"
    kc.write_text(kubeconfig_text("http://127.0.0.1:%d" % closed_port()))
    c = cl.get_client({"kubeconfig": str(kc)})
    with pytest.raises(cl.ClusterError) as e:
        cl.check_reachable(c)
    assert e.value.kind == "unreachable"
    assert "connection refused" in e.value.message
    assert "\n" not in e.value.message


@pytest.mark.parametrize(
    ("code", "kind", "text"),
    [
        (401, "unauthorized", "rejected the credentials (401 Unauthorized)"),
        (403, "forbidden", 'forbidden (403) to list Node: nodes is forbidden: User "nobody" cannot list resource "nodes"'),
        (500, "api", "API error 500"),
    ],
)
def test_http_failures_are_translated(api_server, code, kind, text):
    msg = 'nodes is forbidden: User "nobody" cannot list resource "nodes"' if code == 403 else "boom"
    kc = api_server(
        {
            "/version": VERSION,
            "/api/v1": (200, {"resources": [{"name": "nodes", "kind": "Node", "namespaced": False}]}),
            "/api/v1/nodes": (code, status_body(code, "x", msg)),
        }
    )
    c = cl.get_client({"kubeconfig": kc})
    with pytest.raises(cl.ClusterError) as e:
        c.list("v1", "Node")
    assert e.value.kind == kind
    assert text in e.value.message


def test_group_not_served(api_server):
    kc = api_server({"/version": VERSION})
    c = cl.get_client({"kubeconfig": kc})
    assert c.served("gateway.networking.k8s.io/v1") is False
    with pytest.raises(cl.ClusterError) as e:
        c.list("gateway.networking.k8s.io/v1", "HTTPRoute")
    assert (e.value.kind, e.value.message) == ("not_served", "API gateway.networking.k8s.io/v1 is not served by this cluster")


def test_get_returns_none_for_missing_object_and_paths_use_discovery(api_server):
    kc = api_server(
        {
            "/version": VERSION,
            "/apis/resource.k8s.io/v1": (
                200,
                {
                    "resources": [
                        {"name": "resourceclaims", "kind": "ResourceClaim", "namespaced": True},
                        {"name": "resourceclaims/status", "kind": "ResourceClaim", "namespaced": True},
                        {"name": "deviceclasses", "kind": "DeviceClass", "namespaced": False},
                    ]
                },
            ),
            "/apis/resource.k8s.io/v1/deviceclasses/gpu.nvidia.com": (200, {"metadata": {"name": "gpu.nvidia.com"}}),
        }
    )
    c = cl.get_client({"kubeconfig": kc})
    assert c.path("resource.k8s.io/v1", "ResourceClaim", "ns1", "c1") == "/apis/resource.k8s.io/v1/namespaces/ns1/resourceclaims/c1"
    assert c.get("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com") == {"metadata": {"name": "gpu.nvidia.com"}}
    assert c.get("resource.k8s.io/v1", "DeviceClass", "missing") is None


def test_clients_are_cached_per_auth_params(tmp_path):
    kc = tmp_path / "kc"
    kc.write_text(kubeconfig_text("http://127.0.0.1:1"))
    a = cl.get_client({"kubeconfig": str(kc)})
    assert cl.get_client({"kubeconfig": str(kc)}) is a
    assert cl.get_client({"kubeconfig": str(kc), "request_timeout": 5}) is not a


def test_host_and_token_without_kubeconfig():
    c = cl.get_client({"host": "https://10.0.0.1:6443", "api_key": "abc", "validate_certs": False})
    assert c.host == "https://10.0.0.1:6443"
    assert c._auth_headers() == {"Authorization": "Bearer abc"}
    assert c.source == "host https://10.0.0.1:6443"
