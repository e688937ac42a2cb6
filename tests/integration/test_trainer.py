"""operator_probe on the reference cluster with Kubeflow Trainer v2: the real trainer-controller-
manager (v2.0.0) with its validating webhook served over TLS to the API server, the real JobSet
controller (v0.8.2) and kube-controller-manager's Job controller; kwok plays the training pods
(ClusterTrainingRuntime aic-fake-runtime, tests/refcluster/manifests/trainer/runtime.yaml).

JobSet and the Trainer are OPTIONAL components: `make cluster-build` skips them when the test
deadline leaves no time for their build, and then every test here is skipped with that reason."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure
from tests.refcluster import build as builder
from tests.refcluster import procs
from tests.refcluster.config import load_components

pytestmark = pytest.mark.integration

WEBHOOKS = "admissionregistration.k8s.io/v1"
CONFIG = "validator.trainer.kubeflow.org"
HOOK = "validator.trainjob.trainer.kubeflow.org"
RUNTIME = "aic-fake-runtime"


@pytest.fixture(autouse=True)
def trainer_built():
    comps = load_components()
    for name in ("jobset", "kubeflow-trainer"):
        why = builder.not_built_reason(comps[name])
        if why:
            pytest.skip(why)
    for name in ("jobset", "kubeflow-trainer"):
        # Built but not started: `up` went on without it (procs.started); that is a defect here.
        why = procs.failed_start(name)
        if why:
            pytest.fail("%s is built but failed to start with the cluster: %s" % (name, why))


def trainer_probe(ansible_module, run_id, timeout):
    return ansible_module("operator_probe", run_id=run_id, operator=["kubeflow_trainer"], training_runtime=RUNTIME, timeout=timeout)


def test_trainer_validates_reconciles_and_cleans_up(ansible_module, k8s):
    res = trainer_probe(ansible_module, "it-trainer", 120)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    obs = r["observations"]
    assert obs["crd_versions"]["v1alpha1"] == {"served": True, "storage": True}
    assert HOOK in obs["validating_webhooks"], obs["validating_webhooks"]
    # The refusal came from the Trainer's own webhook, for the rule under test.
    refusal = obs["invalid_refusal"]
    assert refusal["webhook"] == HOOK and refusal["operator_webhook"] is True and refusal["rule_matched"] is True, refusal
    # TrainJob -> JobSet -> Job -> Pod, each owned by the one before; the TrainJob read the end back.
    assert len(obs["children"]["JobSet"]) == 1 and len(obs["children"]["Job"]) >= 1 and len(obs["children"]["Pod"]) >= 1, obs["children"]
    assert "Complete=True" in obs["status_transitions"][-1]["status"], obs["status_transitions"]
    assert obs["reconcile_s"] is not None and obs["gc_s"] is not None
    assert r["negative"][0]["refused"] is True
    sel = "ai-conformance.io/run-id=it-trainer"
    assert k8s.list("trainer.kubeflow.org/v1alpha1", "TrainJob", label_selector=sel)["items"] == []


@pytest.mark.fault
def test_trainer_webhook_down_fails_then_failure_policy_ignore_fails(ansible_module, breaker, k8s):
    with breaker.stopped("kubeflow-trainer"):
        # failurePolicy Fail and nothing listening: the API server refuses even the valid TrainJob.
        res = trainer_probe(ansible_module, "it-trainer-down", 15)
        r = res["result"]
        assert res["verdict"] == "fail", r["reason"]
        assert first_failure(r["reason"]).startswith("the operator reconciles a valid TrainJob: the API server refused the valid TrainJob: "), r["reason"]
        assert "failed calling webhook" in r["reason"], r["reason"]
        # failurePolicy Ignore: the invalid TrainJob is let through (the restart re-applies Fail).
        cfg = k8s.get(WEBHOOKS, "ValidatingWebhookConfiguration", CONFIG)
        for hook in cfg["webhooks"]:
            hook["failurePolicy"] = "Ignore"
        k8s.request("PUT", k8s.path(WEBHOOKS, "ValidatingWebhookConfiguration", None, CONFIG), body=cfg, what="set failurePolicy Ignore")
        res = trainer_probe(ansible_module, "it-trainer-ignore", 15)
    r = res["result"]
    assert res["verdict"] == "fail", r["reason"]
    assert "the operator's admission webhook refuses an invalid TrainJob: the API server accepted it" in r["reason"], r["reason"]
    assert r["negative"][0]["refused"] is False
