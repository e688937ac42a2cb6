"""autoscaler_probe's verdicts against the fake cluster with the fake Karpenter (kwok provider,
the reference cluster's NodePool and instance type)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.modules import autoscaler_probe as mod
from tests.unit import fakecluster as fc

UP = "a node joined and runs the workload"
DOWN = "joined nodes are removed after the workload leaves"
IMPOSSIBLE = "pod needing 4096 nvidia.com/gpu"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **dict({"scale_up_timeout": 120, "scale_down_timeout": 120}, **args))


def cluster(broken="", **kw):
    c = fc.reference_cluster(dra=False)
    fc.Karpenter(c, broken=broken, **kw)
    return c


def test_karpenter_adds_a_node_and_removes_it(run_module, monkeypatch):
    c = cluster()
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and r.ok(UP) and r.ok(DOWN)
    obs = r["observations"]
    assert obs["joined_nodes"] == ["refcluster-gpu-00001"] and obs["scale_up_s"] == 20.0 and 30 <= obs["scale_down_s"] <= 40
    assert r.reason.startswith("karpenter added a node in 20.0 s")
    assert r.negative(IMPOSSIBLE)["refused"] is True and "no instance type satisfied resources" in r.negative(IMPOSSIBLE)["outcome"]
    assert c.obj("v1", "Node", "refcluster-gpu-00001") is None


def test_no_scale_up_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("off"))
    assert r.verdict == "fail" and r.failed() == [UP] and r.reason.startswith(UP + ": 0/1 pods bound after 120s; new nodes: none")
    assert r.check(DOWN)["ok"] is None


def test_nodes_left_behind_fail_the_scale_down(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("no-consolidation"))
    assert r.verdict == "fail" and r.failed() == [DOWN] and "still there: ['refcluster-gpu-00001']" in r.reason


def test_node_launched_for_a_pod_no_node_can_hold_fails_when_it_joins_within_the_window(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("launch-anyway", launch_s=5))
    assert r.verdict == "fail" and r.reason.startswith("negative case not proven refused: " + IMPOSSIBLE)
    assert r.negative(IMPOSSIBLE)["refused"] is False and "node(s) ['refcluster-gpu-00001'] joined" in r.negative(IMPOSSIBLE)["outcome"]


@pytest.mark.xfail(
    strict=True,
    reason="finding: the impossible pod is watched for observe_seconds (15 s) only, then deleted; a node launched for it that "
    "joins later (20 s here) is not seen, and the scale-up then counts that stray node as the one that joined for the load: "
    "an autoscaler that launches nodes for pods nothing can hold passes",
)
def test_node_launched_for_a_pod_no_node_can_hold_fails_when_it_joins_after_the_window(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("launch-anyway", launch_s=20))
    assert r.verdict == "fail"


def test_no_autoscaler_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(dra=False))
    assert r.verdict == "fail" and r.reason.startswith("no node autoscaler found")
    r = probe(run_module, monkeypatch, fc.reference_cluster(dra=False), provider="karpenter")
    assert r.reason == "the declared autoscaler karpenter is not present in the cluster"


def test_pool_at_its_limit_or_not_ready_fails(run_module, monkeypatch):
    c = cluster()
    c.obj("karpenter.sh/v1", "NodePool", "refcluster-gpu")["status"]["resources"] = {"nvidia.com/gpu": "16"}
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("NodePool refcluster-gpu is at its limit")
    c = cluster()
    c.obj("karpenter.sh/v1", "NodePool", "refcluster-gpu")["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "NodeClassNotReady"}]
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("NodePool refcluster-gpu is not Ready: NodeClassNotReady")


def test_pool_choice_and_cluster_autoscaler_input_errors(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), node_pool="other")
    assert r.verdict == "fail" and r.reason == "NodePool other does not exist (pools: refcluster-gpu)"
    c = fc.reference_cluster(dra=False)
    c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-autoscaler-status", "namespace": "default"}, "data": {"status": "Healthy"}})
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "error" and r.reason.startswith("the Cluster Autoscaler is present: set node_selector")


def test_pool_with_room_for_more_than_max_pods_is_a_skip(run_module, monkeypatch):
    c = cluster()
    c.apply(dict(fc.kwok_nodes()[0], metadata={"name": "warm", "labels": {"karpenter.sh/nodepool": "refcluster-gpu"}}, spec={}))
    r = probe(run_module, monkeypatch, c, max_pods=4)
    assert r.verdict == "skip" and r.reason.startswith("the pool already has room for 8 pods")
