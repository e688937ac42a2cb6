"""autoscaler_probe's verdicts against the fake cluster with the fake Karpenter (kwok provider,
the reference cluster's NodePool and instance type)."""

from __future__ import annotations

import copy

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
    outcome = r.negative(IMPOSSIBLE)["outcome"]
    assert r.negative(IMPOSSIBLE)["refused"] is False
    assert outcome.startswith("NodeClaim refcluster-gpu-00001 (created 2026-09-21T14:30:00Z) launched for a pod no node can hold")
    assert outcome.endswith("Nominated: Pod should schedule on: nodeclaim/refcluster-gpu-00001")


def test_node_launched_for_a_pod_no_node_can_hold_fails_when_it_joins_after_the_window(run_module, monkeypatch):
    # Issue 22 (was a strict xfail): the node launched for the impossible pod joins at 20 s, after
    # the old 15 s window; the workload then filled it and it was counted as the scale-up node.
    r = probe(run_module, monkeypatch, cluster("launch-anyway", launch_s=20))
    assert r.verdict == "fail" and r.reason.startswith("negative case not proven refused: " + IMPOSSIBLE)
    assert r.negative(IMPOSSIBLE)["outcome"].startswith("NodeClaim refcluster-gpu-00001 (created 2026-09-21T14:30:00Z) launched for a pod no node can hold")
    obs = r["observations"]
    assert obs["launched"] == {"refcluster-gpu-00001": "impossible", "refcluster-gpu-00002": "workload"}
    # The stray node had 8 GPUs free when the workload came: 9 pods, one of them on the node launched for them.
    assert obs["launched_before_workload"] == ["refcluster-gpu-00001"] and obs["launched_for_workload"] == ["refcluster-gpu-00002"]
    assert r.ok(UP) and r.ok(DOWN)


def test_workload_landing_only_on_the_node_launched_for_the_impossible_pod_is_no_scale_up(run_module, monkeypatch):
    # Karpenter decides after an 8 s batch, later than a 5 s window: the NodeClaim for the impossible
    # pod is created after the workload, and its node (joining first) takes the workload.  The
    # nominations tie each NodeClaim to its pod.
    r = probe(run_module, monkeypatch, cluster("launch-anyway", batch_s=8), observe_seconds=5)
    assert r["observations"]["negative_window"] == {"seconds": 5, "source": "option observe_seconds (no Karpenter Deployment in the cluster)"}
    assert r.verdict == "fail" and r.failed() == [UP]
    assert r.reason == (
        UP + ": 1 pods bound in 23.0 s, but only on node(s) ['refcluster-gpu-00001'], not launched for the workload (refcluster-gpu-00001: impossible)"
    )
    assert r.negative(IMPOSSIBLE)["refused"] is False and "NodeClaim refcluster-gpu-00001 (created 2026-09-21T14:30:08Z)" in r.negative(IMPOSSIBLE)["outcome"]


def test_node_launched_and_consolidated_within_the_window_is_still_seen(run_module, monkeypatch):
    # The stray node joins at 2 s and, empty, is consolidated at 10 s: gone before the window ends.
    r = probe(run_module, monkeypatch, cluster("launch-anyway", launch_s=2, consolidate_s=5))
    assert r.verdict == "fail" and r.negative(IMPOSSIBLE)["refused"] is False
    assert "NodeClaim refcluster-gpu-00001 (created 2026-09-21T14:30:00Z, gone again) launched for a pod no node can hold" in r.negative(IMPOSSIBLE)["outcome"]


def test_negative_window_comes_from_the_autoscalers_settings(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster())
    assert r["observations"]["negative_window"] == {
        "seconds": 22,
        "source": "2 x the autoscaler's reaction time from karpenter's defaults BATCH_IDLE_DURATION=1s, BATCH_MAX_DURATION=10s "
        "(no Karpenter Deployment in the cluster)",
    }
    assert r["observations"]["scale_down_window"] == {"seconds": 5.0, "source": "NodePool refcluster-gpu disruption.consolidateAfter=5s"}
    c = cluster(settings={"BATCH_MAX_DURATION": "20s", "BATCH_IDLE_DURATION": "2s"})
    r = probe(run_module, monkeypatch, c, observe_seconds=5)
    assert r.verdict == "pass" and r["observations"]["negative_window"] == {
        "seconds": 44,
        "source": "2 x the autoscaler's reaction time from Deployment kube-system/karpenter env BATCH_IDLE_DURATION=2s, BATCH_MAX_DURATION=20s",
    }
    r = probe(run_module, monkeypatch, cluster(settings={}), observe_seconds=60)
    assert r["observations"]["negative_window"]["seconds"] == 60
    source = r["observations"]["negative_window"]["source"]
    assert source.startswith("option observe_seconds, longer than the 22 s derived from Deployment kube-system/karpenter")


def test_pool_that_never_consolidates_fails_the_scale_down_and_says_why(run_module, monkeypatch):
    pool = copy.deepcopy(fc.KARPENTER_POOL)
    pool["spec"]["disruption"]["consolidateAfter"] = "Never"
    r = probe(run_module, monkeypatch, cluster(pool=pool))
    assert r.verdict == "fail" and r.failed() == [DOWN]
    assert r.reason.endswith("the autoscaler never removes them (NodePool refcluster-gpu disruption.consolidateAfter=Never)")


CA_ARGS = {
    "node_selector": {"ai-conformance.io/node-group": "ca-gpu"},
    "tolerations": [{"key": "ai-conformance.io/autoscaled", "operator": "Exists", "effect": "NoSchedule"}],
}
CA_FLAGS = ["--scan-interval=5s", "--scale-down-unneeded-time=30s", "--scale-down-delay-after-add=0s"]


def ca_cluster(broken="", flags=tuple(CA_FLAGS)):
    c = fc.reference_cluster(dra=False)
    fc.ClusterAutoscaler(c, broken=broken, flags=list(flags))
    return c


def test_cluster_autoscaler_adds_a_node_and_removes_it(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, ca_cluster(), **CA_ARGS)
    assert r.verdict == "pass" and r.ok(UP) and r.ok(DOWN), r.reason
    obs = r["observations"]
    assert obs["provider"] == "cluster_autoscaler" and obs["launched_for_workload"] == ["kwok-fake-ca-gpu-00001"]
    assert obs["negative_window"]["seconds"] == 15 and obs["negative_window"]["source"].startswith(
        "2 x the autoscaler's reaction time from Deployment kube-system/cluster-autoscaler flags --new-pod-scale-up-delay=0s "
        "--scale-down-delay-after-add=0s --scale-down-unneeded-time=30s --scan-interval=5s"
    )
    assert obs["scale_down_window"]["seconds"] == 35.0
    assert "NotTriggerScaleUp: pod didn't trigger scale-up" in r.negative(IMPOSSIBLE)["outcome"]


def test_cluster_autoscaler_scaling_up_for_a_pod_no_node_can_hold_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, ca_cluster("launch-anyway"), **CA_ARGS)
    assert r.verdict == "fail" and r.reason.startswith("negative case not proven refused: " + IMPOSSIBLE)
    assert "TriggeredScaleUp: pod triggered scale-up: [{ca-gpu 0->1 (max: 4)}]" in r.negative(IMPOSSIBLE)["outcome"]


def test_cluster_autoscaler_scale_down_slower_than_the_timeout_is_named(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, ca_cluster(flags=["--scan-interval=5s"]), **CA_ARGS)
    assert r.verdict == "fail" and r.failed() == [DOWN]
    assert r.reason.endswith(
        "the autoscaler waits 605 s (scale-down-unneeded-time=10m, scale-down-delay-after-add=10m, scan-interval=5s), longer than scale_down_timeout 120 s"
    )


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


# -- beside the accelerator probes (conformance.yml's background lane, probes/autoscale.alongside) --
def warm_pool():
    c = cluster()
    c.apply(dict(fc.kwok_nodes()[0], metadata={"name": "warm", "labels": {"karpenter.sh/nodepool": "refcluster-gpu"}}, spec={}))
    return c


def test_an_empty_pool_is_probed_at_once_beside_the_accelerator_probes(run_module, monkeypatch, tmp_path):
    marker = tmp_path / "accelerator-probes-done"  # never written: the probe must not need it
    r = probe(run_module, monkeypatch, cluster(), alongside_marker=str(marker))
    assert r.verdict == "pass" and r.ok(UP) and r.ok(DOWN)
    assert r["observations"]["alongside"] == {"marker": str(marker), "pool_nodes_at_start": [], "provider": "karpenter", "waited_s": 0.0}


def test_a_pool_with_nodes_waits_for_the_accelerator_probes_before_it_fills_them(run_module, monkeypatch, tmp_path):
    marker, seen = tmp_path / "accelerator-probes-done", {}
    c = warm_pool()

    def done():  # the play's "Say that the accelerator probes are done", 45 s in
        seen["pods"] = [p["metadata"]["name"] for p in c.list("v1", "Pod")["items"]]
        marker.touch()

    c.after(45.0, done)
    r = probe(run_module, monkeypatch, c, max_pods=4, alongside_marker=str(marker))
    assert r["observations"]["alongside"]["pool_nodes_at_start"] == ["warm"] and 20 < r["observations"]["alongside"]["waited_s"] <= 45
    assert seen["pods"] == []  # nothing created before the marker came
    assert r.verdict == "skip" and r.reason.startswith("the pool already has room for 8 pods")


def test_a_pool_with_nodes_and_no_marker_is_an_error_and_fills_nothing(run_module, monkeypatch, tmp_path):
    c = warm_pool()
    r = probe(run_module, monkeypatch, c, alongside_marker=str(tmp_path / "never"))
    assert r.verdict == "error"
    assert r.reason == ("not probed: its pool has nodes (warm), so it waits for the run's accelerator probes, which did not finish in 1800 s")
    assert [p["metadata"]["name"] for p in c.list("v1", "Pod")["items"]] == []


def test_the_cluster_autoscaler_always_waits_for_the_marker(run_module, monkeypatch, tmp_path):
    marker = tmp_path / "accelerator-probes-done"
    c = ca_cluster()
    c.after(12.0, marker.touch)
    r = probe(run_module, monkeypatch, c, alongside_marker=str(marker), **CA_ARGS)
    assert r["observations"]["alongside"]["waited_s"] == 12.0 and r["observations"]["alongside"]["pool_nodes_at_start"] == []
    assert r.verdict == "pass", r.reason
