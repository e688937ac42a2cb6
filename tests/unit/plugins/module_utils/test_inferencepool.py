"""The arithmetic and object shapes of inference_pool_probe."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gateway as gw
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import inferencepool as ip


def pool(parents=None, labels=None, ports=(8000,)):
    return {
        "metadata": {"name": "p", "namespace": "inference"},
        "spec": {"selector": {"matchLabels": labels if labels is not None else {"app": "vllm"}}, "targetPorts": [{"number": n} for n in ports]},
        "status": {"parents": parents or []},
    }


def parent(name, ns=None, accepted="True", resolved="True"):
    ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name}
    if ns:
        ref["namespace"] = ns
    return {"parentRef": ref, "conditions": [{"type": "Accepted", "status": accepted}, {"type": "ResolvedRefs", "status": resolved}]}


def pod(name, ip_addr="10.0.0.1"):
    return {"metadata": {"name": name, "namespace": "inference"}, "status": {"podIP": ip_addr}}


def test_endpoints_are_pods_times_target_ports_as_the_picker_counts_them():
    eps = ip.endpoints([pod("b"), pod("a")], ip.pool_ports(pool(ports=(8000, 8001))))
    assert [e["name"] for e in eps] == ["a:8000", "a:8001", "b:8000", "b:8001"]
    assert ip.endpoints([], [8000]) == []


def test_selector_of_a_pool_without_labels_is_empty():
    assert ip.pool_selector(pool(labels={"app": "vllm", "tier": "gpu"})) == "app=vllm,tier=gpu"
    assert ip.pool_selector(pool(labels={})) == ""


def test_a_pool_s_parent_entry_defaults_the_namespace_to_the_pool_s():
    p = pool([parent("other", "x"), parent("gw", resolved="False")])
    assert gw.parent_status(p, "inference", "gw")["parentRef"]["name"] == "gw"
    assert gw.parent_status(p, "x", "gw") is None
    assert gw.parent_status(None, "inference", "gw") is None
    assert gw.route_condition(p, "inference", "gw", "ResolvedRefs")["status"] == "False"


def test_accepted_parents_need_both_conditions_true():
    p = pool([parent("a"), parent("b", accepted="False"), parent("c", resolved="False"), parent("d", "edge")])
    assert ip.accepted_parents(p) == ["edge/d", "inference/a"]


def test_pool_route_takes_precedence_by_exact_path_and_run_header():
    r = ip.pool_route("aic-pool-r1", "inference", "gwns", "gw", ["h.test"], "/v1/completions", "r1", "p")
    rule = r["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "Exact", "value": "/v1/completions"}, "headers": [{"type": "Exact", "name": "x-aic-run-id", "value": "r1"}]}]
    assert rule["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "p"}]
    assert r["spec"]["parentRefs"] == [{"name": "gw", "namespace": "gwns"}]
    assert "hostnames" not in ip.pool_route("n", "inference", "inference", "gw", [], "/v1/completions", "r1", "p")["spec"]


def test_listener_hostname_by_port():
    g = {"spec": {"listeners": [{"port": 80, "hostname": "ai.example.com"}, {"port": 8080}]}}
    assert ip.listener_hostname(g, 80) == "ai.example.com"
    assert ip.listener_hostname(g, 8080) == ""
    assert ip.listener_hostname(None, 80) == ""


def test_gateway_shares_subtract_the_load_each_endpoint_finished():
    delta = ip.deltas({"a": 10.0, "b": 3.0}, {"a": 18.0, "b": 23.0})
    assert delta == {"a": 8.0, "b": 20.0}
    assert ip.gateway_shares(delta, {"a": 8}) == {"a": 0.0, "b": 20.0}


@pytest.mark.parametrize(
    ("shares", "ok"),
    [
        ({"hot": 0, "idle": 20}, True),
        ({"hot": 2, "idle": 18}, True),
        ({"hot": 3, "idle": 17}, False),  # below 90 %
        ({"hot": 10, "idle": 10}, False),  # a blind picker
        ({"hot": 0, "idle": 0}, False),
    ],
)
def test_choice_follows_load_needs_the_idle_share(shares, ok):
    got, detail = ip.choice_follows_load(shares, "idle", 20, 0.9)
    assert got is ok
    assert detail.startswith("%g of 20 on the idle endpoint idle (needed 18)" % shares["idle"])


def test_choice_with_nothing_sent_is_not_a_pass():
    assert ip.choice_follows_load({"idle": 0}, "idle", 0, 0.9)[0] is False
