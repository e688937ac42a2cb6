"""disaggregated_inference_probe's input handling (the behaviour is tested on the reference cluster)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import validate_result_dict
from ansible_collections.ai_conformance.kubernetes.plugins.modules import disaggregated_inference_probe as mod


def test_declared_none_is_not_applicable_with_the_justification(run_module, offline):
    res = run_module(mod.main, {"declared": "none", "justification": "aggregated serving only, models fit one GPU", "run_id": "u1"})
    r = res.result["result"]
    assert (r["verdict"], r["reason"]) == ("not_applicable", "aggregated serving only, models fit one GPU")
    assert validate_result_dict(r) == []


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        # The model and the gateway are discovered in the namespace (test_disagg_discovery.py).
        ({}, "serving_namespace"),
        ({"gateway": "llm-d/gw", "model": "m"}, "serving_namespace"),
    ],
)
def test_missing_configuration_is_an_error_verdict_that_names_it(run_module, offline, args, missing):
    res = run_module(mod.main, dict(args, run_id="u2"))
    assert not res.failed
    assert res.result["verdict"] == "error"
    assert res.result["reason"] == "disaggregated_inference is not configured: set %s (or declare none)" % missing


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"gateway": "just-a-name"}, "gateway must be namespace/name, got 'just-a-name'"),
        ({"gateway_url": "https://gw:443"}, "gateway_url must be an http:// URL with a host, got 'https://gw:443'"),
        ({"gateway": "a/b", "requests": 0}, "requests, prompt_words, max_tokens and quiet_seconds must be at least 1"),
        ({"gateway": "a/b", "prefill_selector": {}}, "prefill_selector and decode_selector must not be empty"),
    ],
)
def test_malformed_values_fail_in_one_line_before_touching_the_cluster(run_module, offline, args, msg):
    res = run_module(mod.main, dict(args, serving_namespace="llm-d", model="m"))
    assert res.failed and res.result["msg"] == msg


def test_check_mode_skips_because_the_probe_scales_workloads(run_module, offline):
    res = run_module(mod.main, {"serving_namespace": "llm-d", "model": "m", "gateway": "a/b"}, check_mode=True)
    assert res.result["verdict"] == "skip" and res.result["reason"].startswith("check mode")


# ---- verdict logic against the fake cluster (tests/unit/fakecluster.py) ----------------------------
from tests.unit import fakecluster as fc  # noqa: E402

MODEL = "refcluster/tiny-llm"
ARGS = {"serving_namespace": "llm-d", "model": MODEL, "gateway": "llm-d/pd-gateway"}
PREFILL = {"llm-d.ai/role": "prefill", "app.kubernetes.io/name": "pd"}
DECODE = {"llm-d.ai/role": "decode", "app.kubernetes.io/name": "pd"}


def pd_cluster(servers_broken=""):
    """llm-d's shape on the reference cluster (tests/refcluster/manifests/pd-standin.yaml): prefill
    and decode Deployments of stand-in model servers, their Services, a Gateway routing to decode."""
    c = fc.reference_cluster(dra=False)
    fc.GatewayController(c)
    c.model_servers = fc.ModelServers(c, broken=servers_broken)
    args = ["--served-model-name=" + MODEL]
    fc.serving_stack(c, "llm-d", "pd-prefill", PREFILL, args)
    fc.serving_stack(c, "llm-d", "pd-decode", DECODE, args, {"AIC_STANDIN_PREFILL_SERVICE": "pd-prefill"})
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "pd-prefill", "namespace": "llm-d"},
            "spec": {"selector": PREFILL, "ports": [{"name": "http", "port": 8000, "targetPort": 8000}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "pd-decode", "namespace": "llm-d"},
            "spec": {"selector": DECODE, "ports": [{"name": "http", "port": 8000, "targetPort": 8200}]},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "pd-gateway", "namespace": "llm-d"},
            "spec": {"gatewayClassName": "traefik", "listeners": [{"name": "web", "port": 80, "protocol": "HTTP"}]},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "pd", "namespace": "llm-d"},
            "spec": {"parentRefs": [{"name": "pd-gateway"}], "rules": [{"backendRefs": [{"name": "pd-decode", "port": 8000}]}]},
        },
    )
    return c


def fake_probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **dict(ARGS, **args))


def test_requests_traverse_both_phases_and_each_phase_scales_alone(run_module, monkeypatch):
    r = fake_probe(run_module, monkeypatch, pd_cluster())
    assert r.verdict == "pass" and r.failed() == []
    assert r["observations"]["counters"]["prefill"]["delta"] == 10 and r["observations"]["counters"]["decode"]["delta"] == 10
    assert r.ok("prefill scales up by itself") and r.ok("decode unchanged while prefill scales") and r.ok("decode scales up by itself")
    neg = r.negative("requests for model aic-no-such-model-t1")
    assert neg["refused"] is True and neg["outcome"].startswith("HTTP [404, 404, 404]; no counter of either phase moved")
    assert r.ok("requests traversed the prefill phase") and r.check("requests traversed the prefill phase")["detail"] == (
        "vllm:request_success_total +10 on 1 prefill pod(s) for 10 requests, exactly; still in the 5 s quiet windows before and after them"
    )
    assert r["observations"]["responses"]["request_ids_echoed"] == 0  # the stand-ins do not answer with the request id
    assert "counted by both phases' model servers" in r.reason
    # Pods that state no --port are read on the old fixed ports.
    assert {k: v["value"] for k, v in r["observations"]["discovered"].items()} == {"prefill_metrics_port": 8000, "decode_metrics_port": 8200}


def test_decode_answering_without_prefill_fails(run_module, monkeypatch):
    r = fake_probe(run_module, monkeypatch, pd_cluster("skip-prefill"))
    assert r.verdict == "fail" and r.failed() == ["requests traversed the prefill phase"]
    assert "scaling" not in r["observations"]  # a stack that is not split is not scaled


def test_serving_an_unknown_model_fails_the_negative_case(run_module, monkeypatch):
    r = fake_probe(run_module, monkeypatch, pd_cluster("serve-any-model"))
    assert r.verdict == "fail" and r.negative("requests for model")["refused"] is False


def test_no_ready_decode_pod_fails(run_module, monkeypatch):
    c = pd_cluster()
    c.patch("apps/v1", "Deployment", "pd-decode", {"spec": {"replicas": 0}}, "llm-d")
    r = fake_probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("no ready decode pod in namespace llm-d")


def test_gateway_without_address_fails(run_module, monkeypatch):
    c = pd_cluster()
    c.gateway_controller.broken.add("no-address")
    c.obj("gateway.networking.k8s.io/v1", "Gateway", "pd-gateway", "llm-d")["status"]["addresses"] = []
    r = fake_probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == ["requests traversed both phases"]


def test_server_without_the_success_counter_fails(run_module, monkeypatch):
    r = fake_probe(run_module, monkeypatch, pd_cluster(), success_metric="sglang:num_requests_total")
    assert r.verdict == "fail" and r.failed() == ["model servers export sglang:num_requests_total"]


PREFILL_DETAIL = "requests traversed the prefill phase"


def test_decode_skipping_prefill_while_other_traffic_moves_prefill_is_not_counted_as_traversal(run_module, monkeypatch):
    # Issue 22: the counter delta was not tied to the probe's requests. Decode answers alone, and
    # another client keeps the prefill counter growing (one completion a second): the prefill delta
    # reached the 10 requests sent and the probe passed.
    c = pd_cluster("skip-prefill")
    c.model_servers.other_client("llm-d", PREFILL, 8000, every=1.0)
    r = fake_probe(run_module, monkeypatch, c)
    check = r.check(PREFILL_DETAIL)
    assert check["ok"] is None and r.undecided() == [PREFILL_DETAIL] and r.reason.startswith("partial: 1 of ")
    assert "counted by the decode servers; the counters of the other phase could not be tied to them" in r.reason
    assert "both phases" not in r.reason
    # The negative case is decided by the answers alone: the counters move with the other traffic.
    neg = r.negative("requests for model")
    assert neg["refused"] is True and "counters not compared, other traffic moves them" in neg["outcome"]
    assert "not tied to the probe's requests: other traffic moved it by +" in check["detail"]
    assert r["observations"]["counters"]["prefill"]["other_traffic"] >= 10 and r["observations"]["counters"]["decode"]["other_traffic"] == 0
    assert r.ok("requests traversed the decode phase") is True


def test_more_counted_than_sent_is_undecided_and_fewer_fails(run_module, monkeypatch):
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import disagg as dg

    assert dg.traversed("m", "prefill", 12, 10, 1, 0, 5) == (
        None,
        "m +12 on 1 prefill pod(s) for 10 requests; not tied to the probe's requests: 2 more than sent although the quiet windows around them were still",
    )
    assert dg.traversed("m", "prefill", 9, 10, 1, 4, 5) == (False, "m +9 on 1 prefill pod(s) for 10 requests: fewer than the requests sent")
