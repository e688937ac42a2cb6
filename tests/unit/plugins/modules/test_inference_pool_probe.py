"""inference_pool_probe's input handling (the behaviour is tested on the reference cluster)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import validate_result_dict
from ansible_collections.ai_conformance.kubernetes.plugins.modules import inference_pool_probe as mod


def test_declared_none_is_not_applicable_with_the_justification(run_module, offline):
    res = run_module(mod.main, {"declared": "none", "justification": "no endpoint picker; plain Services only", "run_id": "u1"})
    r = res.result["result"]
    assert (r["verdict"], r["reason"]) == ("not_applicable", "no endpoint picker; plain Services only")
    assert validate_result_dict(r) == []


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"pool": "just-a-name"}, "pool must be namespace/name, got 'just-a-name'"),
        ({"gateway": "a/b/c"}, "gateway must be namespace/name, got 'a/b/c'"),
        ({"gateway_url": "https://gw:443"}, "gateway_url must be an http:// URL with a host, got 'https://gw:443'"),
        ({"choice_requests": 0}, "requests, choice_requests, load_requests, load_max_tokens, max_tokens and prompt_words must be at least 1"),
        ({"min_idle_share": 0.5}, "min_idle_share must be above 0.5 and at most 1, got 0.5"),
        ({"path": "v1/completions"}, "path must start with /, got 'v1/completions'"),
    ],
)
def test_malformed_values_fail_in_one_line_before_touching_the_cluster(run_module, offline, args, msg):
    res = run_module(mod.main, dict({"pool": "inference/p", "gateway": "inference/gw", "model": "m"}, **args))
    assert res.failed and res.result["msg"] == msg


def test_check_mode_skips_because_the_probe_creates_a_route_and_sends_load(run_module, offline):
    res = run_module(mod.main, {"pool": "inference/p", "gateway": "inference/gw", "model": "m"}, check_mode=True)
    assert res.result["verdict"] == "skip" and res.result["reason"].startswith("check mode")


# ---- verdict logic against the fake cluster (tests/unit/fakecluster.py), up to the load step ------
from tests.unit import fakecluster as fc  # noqa: E402

MODEL = "refcluster/tiny-llm"
ARGS = {"pool": "inference/vllm-tiny", "gateway": "inference/inference-gw", "model": MODEL}


def pool_cluster(replicas=1, ports=(8000, 8001), pool=True):
    """The reference cluster's inference pool (tests/refcluster/manifests/inference-pool.yaml): one
    model-server pod with one target port per rank, an InferencePool, a Gateway that supports it."""
    c = fc.reference_cluster(dra=False)
    fc.GatewayController(c, pools=pool)
    fc.ModelServers(c)
    fc.serving_stack(c, "inference", "vllm-tiny", {"app": "vllm-tiny"}, ["--served-model-name=" + MODEL], replicas=replicas)
    c.apply(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "inference-gw", "namespace": "inference"},
            "spec": {"gatewayClassName": "traefik", "listeners": [{"name": "web", "port": 80, "protocol": "HTTP"}]},
        }
    )
    if pool:
        c.apply(
            {
                "apiVersion": "inference.networking.k8s.io/v1",
                "kind": "InferencePool",
                "metadata": {"name": "vllm-tiny", "namespace": "inference"},
                "spec": {
                    "selector": {"matchLabels": {"app": "vllm-tiny"}},
                    "targetPorts": [{"number": p} for p in ports],
                    "endpointPickerRef": {"kind": "Service", "name": "vllm-tiny-epp", "port": {"number": 9002}},
                },
            }
        )
    return c


def fake_probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **dict(ARGS, **args))


def test_pool_api_not_served_or_pool_missing_fails(run_module, monkeypatch):
    r = fake_probe(run_module, monkeypatch, pool_cluster(pool=False))
    assert r.verdict == "fail" and r.reason.startswith("the InferencePool API (inference.networking.k8s.io/v1) is not served")
    r = fake_probe(run_module, monkeypatch, pool_cluster(), pool="inference/other")
    assert r.verdict == "fail" and r.reason == "InferencePool inference/other does not exist"


def test_pool_with_one_or_no_ready_endpoint_fails(run_module, monkeypatch):
    r = fake_probe(run_module, monkeypatch, pool_cluster(ports=(8000,)))
    assert r.verdict == "fail" and "has one ready endpoint" in r.reason
    r = fake_probe(run_module, monkeypatch, pool_cluster(replicas=0))
    assert r.verdict == "fail" and r.reason.startswith("InferencePool inference/vllm-tiny selects no ready endpoint")


def test_gateway_missing_or_without_address_fails(run_module, monkeypatch):
    r = fake_probe(run_module, monkeypatch, pool_cluster(), gateway="inference/nope")
    assert r.verdict == "fail" and r.reason == "Gateway inference/nope does not exist"
    c = pool_cluster()
    c.gateway_controller.broken.add("no-address")
    c.obj("gateway.networking.k8s.io/v1", "Gateway", "inference-gw", "inference")["status"]["addresses"] = []
    r = fake_probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason == "Gateway inference/inference-gw has no address in its status"


def test_requests_that_never_complete_through_the_route_fail(run_module, monkeypatch):
    r = fake_probe(run_module, monkeypatch, pool_cluster(), model="other/model")
    assert r.verdict == "fail" and r.failed() == ["requests reach the pool through the gateway"]
    assert r.ok("the Gateway accepted the InferencePool") and r.ok("the Gateway accepted an HTTPRoute to the InferencePool")
