"""inference_pool_probe finds pool, gateway, listener_port and model in the cluster when they are
left empty, on a fake cluster shaped like the reference cluster (tests/refcluster/manifests/
inference-pool.yaml and inference-gateway.yaml); what cannot be found without doubt is an error
verdict that names the option to set."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.modules import inference_pool_probe as mod
from tests.unit import fakecluster as fc

GATEWAY_API = "gateway.networking.k8s.io/v1"
POOL_API = "inference.networking.k8s.io/v1"
# The reference cluster's settings (inventories/local), which discovery must find on its own.
POOL, GATEWAY, PORT, MODEL = "inference/vllm-tiny", "inference/inference-gateway", 18400, "refcluster/tiny-llm"
GIVEN = {"pool": POOL, "gateway": GATEWAY, "listener_port": PORT, "model": MODEL}


def gateway(ns, name, listeners, cls="aic-fake-inference"):
    listeners = [{"name": n, "port": port, "protocol": proto} for n, port, proto in listeners]
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"gatewayClassName": cls, "listeners": listeners},
    }


def pool(ns="inference", name="vllm-tiny", ports=(8000, 8001)):
    return {
        "apiVersion": POOL_API,
        "kind": "InferencePool",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "targetPorts": [{"number": p} for p in ports],
            "endpointPickerRef": {"kind": "Service", "name": name + "-epp", "port": {"number": 9002}},
        },
    }


def ref_cluster(listeners=(("http", PORT, "HTTP"),), args=("--served-model-name=" + MODEL,), pools=True, replicas=1):
    """The reference cluster's inference pool and gateway: one model-server pod with two target
    ports, the pool, and Gateway inference/inference-gateway (one HTTP listener on 18400) of a
    class the Gateway controller programs."""
    c = fc.reference_cluster(dra=False)
    fc.GatewayController(c, class_name="aic-fake-inference", pools=pools)
    fc.ModelServers(c)
    fc.serving_stack(c, "inference", "vllm-tiny", {"app": "vllm-tiny"}, list(args), replicas=replicas)
    c.apply(gateway("inference", "inference-gateway", listeners))
    if pools:
        c.apply(pool())
    return c


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def error_reason(run_module, monkeypatch, cluster, **args):
    r = probe(run_module, monkeypatch, cluster, **args)
    assert r.verdict == "error", (r.verdict, r.reason)
    return r


def test_the_default_listener_port_is_0_which_discovers():
    assert mod.EXTRA["listener_port"]["default"] == 0


def test_the_reference_cluster_is_discovered_whole_and_gives_the_verdict_of_the_options_given(run_module, monkeypatch):
    given = probe(run_module, monkeypatch, ref_cluster(), **GIVEN)
    found = probe(run_module, monkeypatch, ref_cluster())
    assert given.verdict not in ("error", "skip"), given.reason
    assert (found.verdict, found.reason) == (given.verdict, given.reason)
    assert [(c["name"], c["ok"]) for c in found["checks"]] == [(c["name"], c["ok"]) for c in given["checks"]]
    assert found.ok("requests reached only the pool's endpoints") and found.ok("the Gateway accepted the InferencePool")
    assert "discovered" not in given["observations"]
    values = {k: v["value"] for k, v in found["observations"]["discovered"].items()}
    assert values == GIVEN
    assert found["observations"]["discovered"]["pool"]["from"] == "the only InferencePool in the cluster"
    assert found["observations"]["discovered"]["gateway"]["from"] == "the status.parents of InferencePool inference/vllm-tiny"
    assert found["observations"]["discovered"]["listener_port"]["from"] == "the only HTTP listener (http) of Gateway inference/inference-gateway"
    assert found["observations"]["gateway_url"] == given["observations"]["gateway_url"] == "http://%s:%d" % (fc.GatewayController.ADDRESS, PORT)


@pytest.mark.parametrize("option", sorted(GIVEN))
def test_each_option_left_out_alone_is_discovered_with_the_same_verdict(run_module, monkeypatch, option):
    given = probe(run_module, monkeypatch, ref_cluster(), **GIVEN)
    args = {k: v for k, v in GIVEN.items() if k != option}
    found = probe(run_module, monkeypatch, ref_cluster(), **args)
    assert (found.verdict, found.reason) == (given.verdict, given.reason)
    assert [(c["name"], c["ok"]) for c in found["checks"]] == [(c["name"], c["ok"]) for c in given["checks"]]
    assert list(found["observations"]["discovered"]) == [option]
    assert found["observations"]["discovered"][option]["value"] == GIVEN[option]


# ---- pool ------------------------------------------------------------------------------------------
def test_no_pool_api_or_no_pool_is_an_error_that_says_to_set_pool(run_module, monkeypatch):
    r = error_reason(run_module, monkeypatch, ref_cluster(pools=False))
    assert r.reason == "pool is not set and the InferencePool API (inference.networking.k8s.io/v1) is not served: set pool (or declare none)"
    c = ref_cluster()
    c.delete(POOL_API, "InferencePool", "vllm-tiny", "inference")
    r = error_reason(run_module, monkeypatch, c)
    assert r.reason == "pool is not set and no InferencePool (inference.networking.k8s.io/v1) exists in the cluster: set pool (or declare none)"


def test_several_pools_are_an_error_that_lists_them(run_module, monkeypatch):
    c = ref_cluster()
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}, pool("other", "big"))
    r = error_reason(run_module, monkeypatch, c)
    assert r.reason == "pool is not set and the cluster has 2 InferencePools (inference/vllm-tiny, other/big): set pool"
    assert "discovered" not in r["observations"]


def test_a_given_pool_that_does_not_exist_fails_as_before_when_the_gateway_is_to_be_discovered(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, ref_cluster(), pool="inference/other", model=MODEL)
    assert (r.verdict, r.reason) == ("fail", "InferencePool inference/other does not exist")


# ---- gateway ---------------------------------------------------------------------------------------
def test_the_gateway_the_pool_status_names_wins_over_other_gateways_in_its_namespace(run_module, monkeypatch):
    c = ref_cluster()
    c.apply(gateway("inference", "another", [("web", 80, "HTTP")], cls="not-programmed-here"))
    r = probe(run_module, monkeypatch, c)
    assert r["observations"]["discovered"]["gateway"] == {"value": GATEWAY, "from": "the status.parents of InferencePool inference/vllm-tiny"}
    assert r.ok("requests reached only the pool's endpoints")


def test_without_a_status_the_only_gateway_in_the_pool_s_namespace_is_used(run_module, monkeypatch):
    c = ref_cluster()
    c.delete(GATEWAY_API, "Gateway", "inference-gateway", "inference")
    c.apply(gateway("inference", "inference-gateway", [("http", PORT, "HTTP")], cls="not-programmed-here"))
    assert not (c.obj(POOL_API, "InferencePool", "vllm-tiny", "inference").get("status") or {}).get("parents")
    r = probe(run_module, monkeypatch, c)
    assert r["observations"]["discovered"]["gateway"] == {"value": GATEWAY, "from": "the only Gateway in namespace inference"}
    # No controller programs it: the probe goes on and fails on the pool's status, not on discovery.
    assert r.verdict == "fail" and r.failed()[0] == "the Gateway accepted the InferencePool"


def test_no_gateway_is_an_error_that_says_to_set_gateway(run_module, monkeypatch):
    c = ref_cluster()
    c.delete(GATEWAY_API, "Gateway", "inference-gateway", "inference")
    r = error_reason(run_module, monkeypatch, c)
    assert (
        r.reason == "gateway is not set, the status of InferencePool inference/vllm-tiny names no Gateway and namespace inference has no Gateway: set gateway"
    )
    assert r["observations"]["discovered"] == {"pool": {"value": POOL, "from": "the only InferencePool in the cluster"}}


def test_two_gateways_named_and_in_the_namespace_are_an_error_that_lists_them(run_module, monkeypatch):
    c = ref_cluster()
    c.apply(gateway("inference", "second", [("http", 80, "HTTP")]))
    assert len(c.obj(POOL_API, "InferencePool", "vllm-tiny", "inference")["status"]["parents"]) == 2
    r = error_reason(run_module, monkeypatch, c)
    both = "2 Gateways (inference/inference-gateway, inference/second)"
    assert r.reason == "gateway is not set, the status of InferencePool inference/vllm-tiny names %s and namespace inference has %s: set gateway" % (both, both)


# ---- listener_port ---------------------------------------------------------------------------------
def test_with_several_http_listeners_the_one_on_port_80_is_used(run_module, monkeypatch):
    c = ref_cluster(listeners=(("alt", PORT, "HTTP"), ("web", 80, "HTTP"), ("tls", 443, "HTTPS")))
    r = probe(run_module, monkeypatch, c)
    assert r["observations"]["discovered"]["listener_port"] == {
        "value": 80,
        "from": "the HTTP listener on port 80 of Gateway inference/inference-gateway, one of 2 HTTP listeners",
    }
    assert r["observations"]["gateway_url"] == "http://%s:80" % fc.GatewayController.ADDRESS


def test_several_http_listeners_none_on_80_are_an_error_that_lists_them(run_module, monkeypatch):
    c = ref_cluster(listeners=(("alt", PORT, "HTTP"), ("other", 8080, "HTTP")))
    r = error_reason(run_module, monkeypatch, c)
    assert r.reason == (
        "listener_port is 0 and Gateway inference/inference-gateway has 2 HTTP listeners and none on port 80 (alt:18400, other:8080): set listener_port"
    )
    r = probe(run_module, monkeypatch, ref_cluster(listeners=(("alt", PORT, "HTTP"), ("other", 8080, "HTTP"))), listener_port=PORT)
    assert r.verdict not in ("error", "skip") and "listener_port" not in r["observations"]["discovered"]


def test_no_http_listener_is_an_error(run_module, monkeypatch):
    r = error_reason(run_module, monkeypatch, ref_cluster(listeners=(("tls", 443, "HTTPS"),)))
    assert r.reason == "listener_port is 0 and Gateway inference/inference-gateway has no HTTP listener (listeners: tls:443 HTTPS): set listener_port"


def test_a_given_port_is_used_as_given(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, ref_cluster(), listener_port=9999)
    assert "listener_port" not in r["observations"]["discovered"]
    assert r["observations"]["gateway_url"] == "http://%s:9999" % fc.GatewayController.ADDRESS


# ---- model -----------------------------------------------------------------------------------------
def pods_of(c):
    return sorted(p["metadata"]["name"] for p in c.all("v1", "Pod", "inference") if (p["metadata"].get("labels") or {}).get("app") == "vllm-tiny")


def test_pods_that_disagree_are_an_error_naming_what_each_serves(run_module, monkeypatch):
    c = ref_cluster()
    fc.serving_stack(c, "inference", "vllm-other", {"app": "vllm-tiny"}, ["--model", "other/llm"])
    seen = {n: "other/llm" if n.startswith("vllm-other") else MODEL for n in pods_of(c)}
    assert len(seen) == 2
    r = error_reason(run_module, monkeypatch, c)
    listed = ", ".join("%s: %s" % kv for kv in sorted(seen.items()))
    assert r.reason == "model is not set and the ready pods of InferencePool inference/vllm-tiny do not name one model (%s): set model" % listed
    r = probe(run_module, monkeypatch, c, model=MODEL)
    assert r.verdict != "error" and "model" not in r["observations"]["discovered"]


def test_a_pod_that_names_no_model_is_an_error(run_module, monkeypatch):
    c = ref_cluster(args=("--port=8000",))
    (name,) = pods_of(c)
    r = error_reason(run_module, monkeypatch, c)
    assert (
        r.reason == "model is not set and the ready pods of InferencePool inference/vllm-tiny do not name one model (%s: no model argument): set model" % name
    )


def test_no_ready_pod_fails_as_with_the_model_given(run_module, monkeypatch):
    # An empty pool is the platform's fault, whether or not the model was given.
    c = ref_cluster(replicas=0)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("InferencePool inference/vllm-tiny selects no ready endpoint (selector app=vllm-tiny, target ports [")
    given = probe(run_module, monkeypatch, ref_cluster(replicas=0), model="refcluster/tiny-llm")
    assert (given.verdict, given.reason) == (r.verdict, r.reason)


def test_declared_none_discovers_nothing(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, ref_cluster(), declared="none", justification="plain Services only")
    assert (r.verdict, r.reason) == ("not_applicable", "plain Services only")
    assert "discovered" not in r["observations"]
