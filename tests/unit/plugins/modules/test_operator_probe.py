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


def cluster(broken="", install="in-cluster"):
    c = fc.reference_cluster(dra=False)
    fc.KubeRay(c, broken=broken, install=install)
    return c


def unique_worker_groups(obj):
    """A policy that refuses what KubeRay's own webhook refuses (a platform team's Kyverno rule)."""
    if obj["kind"] != "RayCluster":
        return None
    names = [g.get("groupName") for g in obj["spec"].get("workerGroupSpecs") or []]
    return "worker group names must be unique" if len(names) != len(set(names)) else None


def test_kuberay_reconciles_refuses_and_collects(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster())
    assert r.verdict == "pass" and r.failed() == []
    assert r.ok("CRD rayclusters.ray.io is Established and serves v1 as its storage version")
    assert r["observations"]["children"]["Pod"] == ["aic-raycluster-t1-head", "aic-raycluster-t1-workers-worker-0"]
    assert r.negative(CASE)["refused"] is True and r.negative(CASE)["outcome"] == "refused with HTTP 403 by webhook vraycluster.kb.io"
    assert r.check(WEBHOOK)["detail"] == (
        "webhook vraycluster.kb.io: its Service ray-system/kuberay-webhook-service selects the pods of the operator's Deployment ray-system/kuberay-operator"
    )
    assert r["observations"]["operator_deployments"] == ["ray-system/kuberay-operator"]
    assert r["observations"]["invalid_refusal"]["webhook"] == "vraycluster.kb.io" and r["observations"]["invalid_refusal"]["operator_webhook"] is True


def test_operator_outside_the_cluster_is_tied_to_its_webhook_by_the_rules_naming_its_group(run_module, monkeypatch):
    # The reference cluster's shape: KubeRay runs as a process, its webhook is reached by URL.
    r = probe(run_module, monkeypatch, cluster(install="url"))
    assert r.verdict == "pass" and r.ok(WEBHOOK)
    assert r.check(WEBHOOK)["detail"] == (
        "webhook vraycluster.kb.io: served from a URL (operator Deployment: none found); its rules name the operator's group ray.io"
    )


def test_catch_all_policy_refusing_for_an_absent_operator_webhook_fails_and_names_it(run_module, monkeypatch):
    # Issue 22: a Kyverno catch-all policy refuses the invalid RayCluster while KubeRay's webhook is
    # not registered; the refusal used to be counted as the operator's.
    c = cluster("no-webhook")
    fc.PolicyEngine(c, {"unique-worker-groups": unique_worker_groups})
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [WEBHOOK]
    assert r.reason == (
        WEBHOOK + ": refused with HTTP 400 by webhook validate.kyverno.svc-fail, which is not the operator's: its Service kyverno/kyverno-svc "
        "selects no pod of the operator's Deployment (ray-system/kuberay-operator); the operator's own webhooks for rayclusters: none"
    )
    assert r.negative(CASE)["refused"] is False and r["observations"]["invalid_refusal"]["operator_webhook"] is False
    # With the operator outside the cluster, the catch-all rule is what tells it apart.
    c = cluster("no-webhook", install="url")
    fc.PolicyEngine(c, {"unique-worker-groups": unique_worker_groups})
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.endswith(
        "which is not the operator's: served from Service kyverno/kyverno-svc (operator Deployment: none found); its rules cover every API group, "
        "not the operator's in particular; the operator's own webhooks for rayclusters: none"
    )


def test_policy_engine_registered_for_the_operators_group_is_still_not_the_operator(run_module, monkeypatch):
    # Kyverno registers the kinds its policies name: rules naming ray.io, served by Kyverno's pods.
    c = cluster("no-webhook")
    rules = [{"apiGroups": ["ray.io"], "apiVersions": ["v1"], "resources": ["rayclusters"], "operations": ["CREATE", "UPDATE"]}]
    fc.PolicyEngine(c, {"unique-worker-groups": unique_worker_groups}, rules=rules)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and "by webhook validate.kyverno.svc-fail, which is not the operator's" in r.reason


def test_operator_webhook_refusing_beside_a_policy_engine_passes(run_module, monkeypatch):
    c = cluster()
    fc.PolicyEngine(c, {"no-privileged": lambda obj: None})
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and r.negative(CASE)["outcome"] == "refused with HTTP 403 by webhook vraycluster.kb.io"
    assert r["observations"]["validating_webhooks"] == ["validate.kyverno.svc-fail", "vraycluster.kb.io"]
    assert {w["name"]: w["operator"] for w in r["observations"]["webhook_ties"]} == {"validate.kyverno.svc-fail": False, "vraycluster.kb.io": True}


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
    assert r.verdict == "fail" and r.reason == "no AI operator API is served (looked for ray.io/v1 RayCluster, trainer.kubeflow.org/v1alpha1 TrainJob)"
