"""operator_probe's verdicts for Kubeflow Trainer v2 against the fake Trainer, JobSet and Job
controllers (tests/unit/fake_k8s/trainer.py), alone and beside KubeRay."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import operator_probe as mod
from tests.unit import fakecluster as fc
from tests.unit.fake_k8s.trainer import KubeflowTrainer

CRD = "CRD trainjobs.trainer.kubeflow.org is Established and serves v1alpha1 as its storage version"
RECONCILED = "the operator reconciles a valid TrainJob"
OWNED = "the operator created the children with owner references to the TrainJob"
WEBHOOK = "the operator's admission webhook refuses an invalid TrainJob"
GC = "deleting the TrainJob removes its children"
CASE = "TrainJob with a runtimeRef naming a ClusterTrainingRuntime that does not exist"
ARGS = {"operator": ["kubeflow_trainer"], "training_runtime": "aic-fake-runtime"}


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **dict(ARGS, **args))


def cluster(broken="", install="in-cluster"):
    c = fc.reference_cluster(dra=False)
    KubeflowTrainer(c, broken=broken, install=install)
    return c


def test_trainer_reconciles_into_jobset_jobs_and_pods_refuses_and_collects(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster())
    assert r.verdict == "pass" and r.failed() == []
    assert r.ok(CRD) and r.ok(RECONCILED) and r.ok(OWNED) and r.ok(GC) and r.ok(WEBHOOK)
    obs = r["observations"]
    assert obs["operator"] == "kubeflow_trainer"
    # The ownership chain: TrainJob -> JobSet of its name -> Job -> Pod.
    assert obs["children"] == {"JobSet": ["aic-trainjob-t1"], "Job": ["aic-trainjob-t1-node-0"], "Pod": ["aic-trainjob-t1-node-0-0"]}
    # The Trainer read the JobSet's end back into the TrainJob.
    assert "Complete=True(JobSetCompleted)" in obs["status_transitions"][-1]["status"]
    assert r.negative(CASE)["refused"] is True and r.negative(CASE)["outcome"] == "refused with HTTP 403 by webhook validator.trainjob.trainer.kubeflow.org"
    assert obs["invalid_refusal"]["rule_matched"] is True and obs["invalid_refusal"]["operator_webhook"] is True
    assert r.check(WEBHOOK)["detail"] == (
        "webhook validator.trainjob.trainer.kubeflow.org: its Service kubeflow-system/kubeflow-trainer-controller-manager selects the pods of "
        "the operator's Deployment kubeflow-system/kubeflow-trainer-controller-manager"
    )


def test_reference_cluster_shape_ties_the_webhook_by_its_group(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(install="url"))
    assert r.verdict == "pass"
    assert r.check(WEBHOOK)["detail"].endswith("its rules name the operator's group trainer.kubeflow.org")


def test_webhook_that_accepts_everything_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("accept-all"))
    assert r.verdict == "fail" and r.failed() == [WEBHOOK]
    assert r.reason == WEBHOOK + ": the API server accepted it (validating webhooks registered for trainjobs: ['validator.trainjob.trainer.kubeflow.org'])"
    assert r.negative(CASE)["refused"] is False


def test_no_webhook_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("no-webhook"))
    assert r.verdict == "fail" and r.failed() == [WEBHOOK]
    assert r.reason == WEBHOOK + ": the API server accepted it (validating webhooks registered for trainjobs: none)"


def test_unreachable_webhook_refusing_the_valid_trainjob_fails_with_the_api_servers_words(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("unreachable"))
    assert r.verdict == "fail" and r.failed() == [RECONCILED, WEBHOOK]
    assert r.check(RECONCILED)["detail"].startswith(
        'the API server refused the valid TrainJob: Internal error occurred: failed calling webhook "validator.trainjob'
    )
    assert r.check(WEBHOOK)["detail"].startswith("refused, but not by an admission webhook")


def test_trainjob_never_reconciled_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("no-controller"), timeout=60)
    assert r.verdict == "fail" and r.failed() == [RECONCILED, OWNED, GC]
    assert r.check(RECONCILED)["detail"] == "not reconciled in 60 s: conditions[-]; owned children {'JobSet': 0, 'Job': 0, 'Pod': 0}"


def test_jobset_controller_missing_leaves_the_trainjob_unfinished(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("no-jobset"), timeout=60)
    assert r.verdict == "fail" and RECONCILED in r.failed() and OWNED in r.failed()
    assert "owned children {'JobSet': 1, 'Job': 0, 'Pod': 0}" in r.check(RECONCILED)["detail"]


def test_children_without_owner_references_fail(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster("no-owner-refs"))
    assert r.verdict == "fail" and r.failed() == [OWNED, GC] and "without owner reference" in r.check(OWNED)["detail"]


def test_refusal_by_the_operators_webhook_for_another_rule_fails(run_module, monkeypatch):
    c = cluster("accept-all")

    def other_rule(op, obj, old):  # the operator's webhook name, another reason (e.g. a name rule)
        if obj["kind"] == "TrainJob" and obj["spec"]["runtimeRef"]["name"] != "aic-fake-runtime":
            raise fc.Deny(403, "Forbidden", 'admission webhook "validator.trainjob.trainer.kubeflow.org" denied the request: metadata.name: Invalid value')

    c.admission.append(other_rule)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [WEBHOOK]
    assert "but not for the rule under test" in r.check(WEBHOOK)["detail"] and r["observations"]["invalid_refusal"]["rule_matched"] is False


def test_both_operators_are_exercised_and_reported_per_operator(run_module, monkeypatch):
    c = cluster()
    fc.KubeRay(c)
    r = probe(run_module, monkeypatch, c, operator=["kuberay", "kubeflow_trainer"])
    assert r.verdict == "pass" and r.failed() == []
    assert r["observations"]["operator"] == ["kuberay", "kubeflow_trainer"]
    assert set(r["observations"]["operators"]) == {"kuberay", "kubeflow_trainer"}
    assert r.ok("the operator reconciles a valid RayCluster") and r.ok(RECONCILED)
    # One broken operator fails the probe while the other passes.
    c = cluster("accept-all")
    fc.KubeRay(c)
    r = probe(run_module, monkeypatch, c, operator=["kuberay", "kubeflow_trainer"])
    assert r.verdict == "fail" and r.failed() == [WEBHOOK]


def test_named_operator_not_served_fails(run_module, monkeypatch):
    c = fc.reference_cluster(dra=False)
    fc.KubeRay(c)
    r = probe(run_module, monkeypatch, c, operator=["kuberay", "kubeflow_trainer"])
    assert r.verdict == "fail" and "kubeflow_trainer: its API trainer.kubeflow.org/v1alpha1 TrainJob is not served" in r.reason
    r = probe(run_module, monkeypatch, fc.reference_cluster(dra=False))
    assert r.verdict == "fail" and r.reason == "kubeflow_trainer: its API trainer.kubeflow.org/v1alpha1 TrainJob is not served"


def test_auto_picks_the_trainer_when_only_it_is_served(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), operator=["auto"])
    assert r.verdict == "pass" and r["observations"]["operator"] == "kubeflow_trainer"
