"""gang_probe and autoscaler_probe on the reference cluster: the real kube-scheduler (native
Workload API), the real Kueue, and the real Karpenter core with its kwok provider."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure

pytestmark = pytest.mark.integration

GATE = "--feature-gates=GenericWorkload=true"


@pytest.mark.parametrize("scheduler", ["kueue", "volcano", "native"])
def test_gang_places_whole_groups_and_holds_back_groups_that_do_not_fit(ansible_module, scheduler):
    res = ansible_module("gang_probe", run_id="it-gang-%s" % scheduler, scheduler=scheduler, observe_seconds=5)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    assert r["observations"]["scheduler"] == scheduler
    # Five behaviour checks and two read-backs (what was stored is what the probe asked).
    assert [c["ok"] for c in r["checks"]] == [True] * 7, r["checks"]
    assert sum(1 for c in r["checks"] if "stored as the probe asked" in c["name"]) == 2
    neg = r["negative"][0]
    assert neg["refused"] is True and neg["outcome"].startswith("0/2 bound for 5s")
    # The group's own reason for holding back is in the evidence, from the group object.
    expected = {"kueue": "QuotaReserved=False", "volcano": "Unschedulable=True", "native": "PodGroupInitiallyScheduled=False Unschedulable"}[scheduler]
    assert expected in r["observations"]["refusal"]
    assert len(r["observations"]["fit_bind_times"]) == 2 and len(r["observations"]["wait_bind_times"]) == 2
    assert all(c["outcome"] in ("deleted", "already gone", "delete requested") for c in r["observations"]["cleanup"])


def test_auto_picks_the_dedicated_gang_scheduler(ansible_module):
    res = ansible_module("gang_probe", check=True)
    assert res["verdict"] == "skip"  # check mode creates nothing
    res = ansible_module("gang_probe", run_id="it-gang-auto", observe_seconds=3)
    assert res["result"]["observations"]["schedulers_served"] == ["kueue", "volcano", "native"]
    assert res["result"]["observations"]["scheduler"] == "kueue"


@pytest.mark.fault
def test_gang_fails_when_the_scheduler_does_not_enforce_min_count(ansible_module, breaker):
    # kube-scheduler without the Workload API gate schedules members one by one.
    with breaker.reconfigured("kube-scheduler", [GATE]):
        res = ansible_module("gang_probe", run_id="it-gang-nogate", scheduler="native", observe_seconds=3, timeout=30)
    r = res["result"]
    assert res["verdict"] == "fail"
    neg = r["negative"][0]
    assert neg["refused"] is False and neg["outcome"].startswith("partial placement: gang-wait-")
    member = next(c for c in r["checks"] if c["name"] == "the group counts every member")
    assert member["ok"] is False and "no PodGroupInitiallyScheduled condition" in member["detail"]


@pytest.mark.fault
def test_gang_fails_when_volcano_does_not_enforce_min_member(ansible_module, breaker):
    # Volcano's scheduler without its gang plugin (and the plugins that gate enqueueing by the
    # group's minResources) places PodGroup members one by one.
    conf = "--scheduler-conf={assets[volcano]}/volcano-scheduler.conf"
    with breaker.reconfigured("volcano", [conf], ["--scheduler-conf=tests/refcluster/manifests/volcano-scheduler-no-gang.conf"]):
        res = ansible_module("gang_probe", run_id="it-gang-vc-nogang", scheduler="volcano", observe_seconds=5, timeout=30)
    r = res["result"]
    assert res["verdict"] == "fail", r["reason"]
    assert r["negative"][0]["refused"] is False and "partial placement" in r["negative"][0]["outcome"], r["negative"]


@pytest.mark.fault
def test_gang_fails_when_kueue_is_not_running(ansible_module, breaker):
    with breaker.stopped("kueue"):
        res = ansible_module("gang_probe", run_id="it-gang-nokueue", scheduler="kueue", timeout=10)
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("ClusterQueue aic-cq-it-gang-nokueue never became Active within 10s")
    assert res["reason"].endswith("Kueue's controller is not reconciling")


@pytest.mark.fault
def test_gang_fails_when_pods_bypass_kueue_to_the_default_scheduler(ansible_module, breaker):
    # Kueue's pod webhook gone: labelled pods are neither gated nor joined to a Workload, so the
    # default scheduler places them one by one.
    with breaker.deleted("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "kueue-mutating-webhook-configuration"):
        res = ansible_module("gang_probe", run_id="it-gang-bypass", scheduler="kueue", observe_seconds=3, timeout=30)
    r = res["result"]
    assert res["verdict"] == "fail"
    member = next(c for c in r["checks"] if c["name"] == "the group counts every member")
    assert member["ok"] is False and "no Kueue Workload owns the 2 pods" in member["detail"]
    assert r["negative"][0]["refused"] is False and "partial placement" in r["negative"][0]["outcome"]


@pytest.mark.fault
def test_gang_fails_when_no_gang_scheduler_is_served(ansible_module):
    res = ansible_module("gang_probe", run_id="it-gang-kai", scheduler="kai")
    assert res["verdict"] == "fail"
    assert res["reason"] == "the declared gang scheduler kai is not served by the cluster (it serves: kueue, volcano, native)"


def test_autoscaler_scales_a_gpu_node_up_and_down(ansible_module):
    res = ansible_module("autoscaler_probe", run_id="it-as", observe_seconds=5, scale_up_timeout=120, scale_down_timeout=180)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    o = r["observations"]
    assert o["provider"] == "karpenter" and o["node_pool"] == "refcluster-gpu"
    assert len(o["joined_nodes"]) == 1 and o["scale_up_s"] > 0 and o["scale_down_s"] > 0
    neg = r["negative"][0]
    assert neg["refused"] is True and "no instance type has enough resources" in neg["outcome"]


@pytest.mark.fault
def test_autoscaler_fails_when_the_node_pool_is_at_its_limit(ansible_module, breaker):
    with breaker.patched("karpenter.sh/v1", "NodePool", "refcluster-gpu", {"spec": {"limits": {"nvidia.com/gpu": "0"}}}):
        res = ansible_module("autoscaler_probe", run_id="it-as-max")
    assert res["verdict"] == "fail"
    assert res["reason"] == "NodePool refcluster-gpu is at its limit: nvidia.com/gpu limit 0 leaves room for 0, a pod needs 1"


@pytest.mark.fault
def test_autoscaler_fails_when_the_autoscaler_is_stopped(ansible_module, breaker):
    with breaker.stopped("karpenter-kwok"):
        res = ansible_module("autoscaler_probe", run_id="it-as-stopped", observe_seconds=2, scale_up_timeout=20)
    r = res["result"]
    assert res["verdict"] == "fail"
    assert first_failure(r["reason"]).startswith("a node joined and runs the workload: 0/1 pods bound after 20s; new nodes: none")


@pytest.mark.fault
def test_autoscaler_fails_when_there_is_none(ansible_module):
    res = ansible_module("autoscaler_probe", run_id="it-as-none", provider="cluster_autoscaler")
    assert res["verdict"] == "fail"
    assert res["reason"] == "the declared autoscaler cluster_autoscaler is not present in the cluster"
