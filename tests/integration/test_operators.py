"""operator_probe on the reference cluster: the real KubeRay operator (ray-operator) with its
validating webhook served over TLS to the API server; kwok plays the Ray pods' containers."""

from __future__ import annotations

import contextlib

import pytest

from tests.integration.reasons import first_failure

pytestmark = pytest.mark.integration

WEBHOOKS = "admissionregistration.k8s.io/v1"


def test_kuberay_validates_reconciles_and_cleans_up(ansible_module, k8s):
    res = ansible_module("operator_probe", run_id="it-operator", operator="kuberay", timeout=60)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    obs = r["observations"]
    assert obs["crd_versions"]["v1"] == {"served": True, "storage": True}
    assert obs["validating_webhooks"] == ["vraycluster.kb.io"]
    # The refusal came from KubeRay's webhook, with its field-level cause.
    refusal = obs["invalid_refusal"]
    assert refusal["webhook"] == "vraycluster.kb.io" and refusal["code"] == 422, refusal
    assert any(c.get("field", "").startswith("spec.workerGroupSpecs") for c in refusal["causes"]), refusal
    # Status progressed to ready, children were owned, and garbage collection removed them.
    assert obs["status_transitions"][-1]["status"].startswith("state=ready"), obs["status_transitions"]
    assert len(obs["children"]["Pod"]) == 2 and len(obs["children"]["Service"]) >= 1, obs["children"]
    assert obs["reconcile_s"] is not None and obs["gc_s"] is not None
    assert r["negative"][0]["refused"] is True
    left = k8s.list("ray.io/v1", "RayCluster", label_selector="ai-conformance.io/run-id=it-operator")["items"]
    assert left == []


def test_webhook_unregistered_fails(ansible_module, breaker):
    with breaker.deleted(WEBHOOKS, "ValidatingWebhookConfiguration", "kuberay-validating-webhook-configuration"):
        res = ansible_module("operator_probe", run_id="it-op-nowebhook", operator="kuberay", timeout=60)
    r = res["result"]
    assert res["verdict"] == "fail", r["reason"]
    assert first_failure(r["reason"]).startswith("the operator's admission webhook refuses an invalid RayCluster: the API server accepted it"), r["reason"]
    assert r["negative"][0]["refused"] is False


def test_operator_stopped_fails(ansible_module, breaker):
    with breaker.stopped("kuberay"):
        res = ansible_module("operator_probe", run_id="it-op-stopped", operator="kuberay", timeout=15)
    r = res["result"]
    assert res["verdict"] == "fail", r["reason"]
    assert first_failure(r["reason"]).startswith("the operator reconciles a valid RayCluster: not reconciled in 15 s"), r["reason"]


def test_no_operator_api_fails(ansible_module, breaker, k8s):
    """Without the CRD the probe says which API it looked for."""
    crd = "apiextensions.k8s.io/v1"
    with contextlib.ExitStack() as stack:
        stack.enter_context(breaker.stopped("kuberay"))
        stack.enter_context(breaker.deleted(crd, "CustomResourceDefinition", "rayclusters.ray.io"))
        # The Kubeflow Trainer is an optional component: where it runs, its API goes too.
        if k8s.get(crd, "CustomResourceDefinition", "trainjobs.trainer.kubeflow.org") is not None:
            stack.enter_context(breaker.stopped("kubeflow-trainer"))
            stack.enter_context(breaker.deleted(crd, "CustomResourceDefinition", "trainjobs.trainer.kubeflow.org"))
        for name in ("rayclusters.ray.io", "trainjobs.trainer.kubeflow.org"):
            k8s.wait_for(crd, "CustomResourceDefinition", name, lambda o: o is None, timeout_s=30)
        res = ansible_module("operator_probe", run_id="it-op-nocrd", timeout=15)
    assert res["verdict"] == "fail"
    assert res["reason"] == "no AI operator API is served (looked for ray.io/v1 RayCluster, trainer.kubeflow.org/v1alpha1 TrainJob)"
