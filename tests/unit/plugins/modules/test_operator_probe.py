"""operator_probe's verdicts against the fake cluster's KubeRay (controller, webhook, CRD)."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import operator_probe as mod
from tests.unit import fakecluster as fc

RECONCILED = "the operator reconciles a valid RayCluster"
OWNED = "the operator created the children with owner references to the RayCluster"
WEBHOOK = "the operator's admission webhook refuses an invalid RayCluster"
GC = "deleting the RayCluster removes its children"
CASE = "RayCluster with two worker groups with the same groupName"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def cluster(broken=""):
    c = fc.reference_cluster(dra=False)
    fc.KubeRay(c, broken=broken)
    return c


def test_kuberay_reconciles_refuses_and_collects(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster())
    assert r.verdict == "pass" and r.failed() == []
    assert r.ok("CRD rayclusters.ray.io is Established and serves v1 as its storage version")
    assert r["observations"]["children"]["Pod"] == ["aic-raycluster-t1-head", "aic-raycluster-t1-workers-worker-0"]
    assert r.negative(CASE)["refused"] is True and r.negative(CASE)["outcome"] == "refused with HTTP 403 by webhook vraycluster.kb.io"


def test_no_webhook_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("no-webhook"))
    assert r.verdict == "fail" and r.failed() == [WEBHOOK] and r.negative(CASE)["refused"] is False
    assert r.reason == WEBHOOK + ": the API server accepted it (validating webhooks registered for rayclusters: none)"


def test_operator_not_running_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("no-controller"))
    assert r.verdict == "fail" and r.failed() == [RECONCILED, OWNED, GC]


def test_children_without_owner_references_fail_and_are_left_behind(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("no-owner-refs"))
    assert r.verdict == "fail" and r.failed() == [OWNED, GC] and "without owner reference" in r.check(OWNED)["detail"]


def test_refusal_not_by_a_webhook_fails(run_module, monkeypatch):
    c = cluster("no-webhook")

    def quota(op, obj, old):  # something else (a quota, a policy engine) refuses it
        if obj["kind"] == "RayCluster" and len(obj["spec"]["workerGroupSpecs"]) > 1:
            raise fc.Deny(403, "Forbidden", 'rayclusters.ray.io "x" is forbidden: exceeded quota')

    c.admission.append(quota)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.negative(CASE)["outcome"].startswith("refused with HTTP 403, but not by a webhook")


def test_no_operator_api_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(dra=False))
    assert r.verdict == "fail" and r.reason == "no AI operator API is served (looked for ray.io/v1 RayCluster)"
