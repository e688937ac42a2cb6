"""inference_pool_probe on the reference cluster.

InferencePool inference/vllm-tiny (tests/refcluster/manifests/inference-pool.yaml) is served by the
REAL endpoint picker of the Gateway API Inference Extension v1.1.0 (a local process built from its
Go module, the inferencepool chart's scheduling profile).  Gateway inference/inference-gateway is
served by a FAKE data plane (tests/refcluster/fakes/inference_gateway) that asks the picker over
ext_proc as Envoy does.  The pool's two endpoints are two ranks of one stand-in model-server pod
(tests/refcluster/fakes/openai_pd.py) that queue requests beyond two at a time."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure
from tests.refcluster.config import inference_pool_args

pytestmark = pytest.mark.integration

NS = "inference"
ARGS = inference_pool_args()
POOL_API = "inference.networking.k8s.io/v1"
# The same scheduler with its scorers removed: a picker that chooses at random, blind to the metrics.
BLIND_PICKER = (
    "--config-text=apiVersion: inference.networking.x-k8s.io/v1alpha1\n"
    "kind: EndpointPickerConfig\n"
    "plugins:\n"
    "- type: random-picker\n"
    "schedulingProfiles:\n"
    "- name: default\n"
    "  plugins:\n"
    "  - pluginRef: random-picker"
)


def _checks(res):
    return {c["name"]: c for c in res["result"]["checks"]}


def _routes_left(k8s, run_id):
    items = k8s.list("gateway.networking.k8s.io/v1", "HTTPRoute", NS)["items"]
    return [r["metadata"]["name"] for r in items if run_id in r["metadata"]["name"]]


def test_requests_reach_only_the_pool_and_follow_the_advertised_load(ansible_module, k8s):
    res = ansible_module("inference_pool_probe", run_id="it-pool-pass", **ARGS)
    r = res["result"]
    assert res["verdict"] == "pass", res["reason"]
    obs = r["observations"]
    assert len(obs["endpoints"]) == 2 and all(e.endswith((":18301", ":18302")) for e in obs["endpoints"])
    assert obs["gateway_controller"] == "ai-conformance.io/fake-inference-gateway"
    # Only the pool: every completion is counted on a pool endpoint.
    assert obs["responses"] == {"statuses": {"200": 10}, "completions": 10}
    assert sum(obs["only_pool"]["delta"].values()) == 10
    # The choice: the loaded rank advertised its queue; the idle one got at least 18 of 20.
    choice = obs["choice"]
    hot = choice["loaded"][0]
    assert obs["advertised_load"][hot]["queue"] > 0 and obs["advertised_load"][hot]["kv_cache"] == 1.0
    assert choice["shares"][choice["idle"]] >= 18 and choice["load_finished"][hot] == 8
    neg = {n["case"]: n for n in r["negative"]}
    assert all(n["refused"] is True for n in neg.values()), neg
    assert any("which the pool does not serve" in c and "HTTP [404, 404, 404]" in n["outcome"] for c, n in neg.items())
    assert "stand-ins" in res["reason"]
    assert _routes_left(k8s, "it-pool-pass") == []


def test_fails_when_the_picker_ignores_the_metrics(ansible_module, breaker):
    comps_arg = next(a for a in _epp_args() if a.startswith("--config-text="))
    with breaker.reconfigured("endpoint-picker", [comps_arg], [BLIND_PICKER]):
        res = ansible_module("inference_pool_probe", run_id="it-pool-blind", **ARGS)
    assert res["verdict"] == "fail", res["reason"]
    c = _checks(res)["the endpoint picker's choice follows the load the endpoints advertise"]
    assert c["ok"] is False
    shares = res["result"]["observations"]["choice"]["shares"]
    assert shares[res["result"]["observations"]["choice"]["idle"]] < 18, shares
    # Routing to the pool itself still worked: only the choice failed.
    assert _checks(res)["requests reached only the pool's endpoints"]["ok"] is True


def test_fails_when_the_endpoint_picker_is_down(ansible_module, breaker, k8s):
    with breaker.stopped("endpoint-picker"):
        res = ansible_module("inference_pool_probe", run_id="it-pool-eppdown", **ARGS)
    assert res["verdict"] == "fail", res["reason"]
    assert first_failure(res["reason"]).startswith("requests reach the pool through the gateway: no completion through the new route")
    assert _routes_left(k8s, "it-pool-eppdown") == []


def test_fails_when_the_pool_selects_no_endpoint(ansible_module, breaker):
    with breaker.patched(POOL_API, "InferencePool", "vllm-tiny", {"spec": {"selector": {"matchLabels": {"aic-fault": "no-such-pod"}}}}, NS):
        res = ansible_module("inference_pool_probe", run_id="it-pool-empty", **ARGS)
    assert res["verdict"] == "fail"
    assert (
        res["reason"]
        == "InferencePool inference/vllm-tiny selects no ready endpoint (selector aic-fault=no-such-pod,app=vllm-tiny, target ports [18301, 18302])"
    )


def test_fails_when_no_gateway_accepted_the_pool(ansible_module):
    res = ansible_module("inference_pool_probe", run_id="it-pool-nogw", **dict(ARGS, gateway="llm-d/pd-gateway", listener_port=18000))
    assert res["verdict"] == "fail"
    c = _checks(res)["the Gateway accepted the InferencePool"]
    assert c["ok"] is False and c["detail"].startswith(
        "the pool's status has no entry for Gateway llm-d/pd-gateway (accepted by: ['inference/inference-gateway'])"
    )


def test_a_missing_pool_fails_and_names_it(ansible_module):
    res = ansible_module("inference_pool_probe", run_id="it-pool-missing", **dict(ARGS, pool="inference/no-such-pool"))
    assert (res["verdict"], res["reason"]) == ("fail", "InferencePool inference/no-such-pool does not exist")


def _epp_args():
    from tests.refcluster.config import load_components

    return load_components()["endpoint-picker"].run["args"]
