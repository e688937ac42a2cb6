from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import operators as ops


def hook(name, groups, versions, resources, operations):
    return {"name": name, "rules": [{"apiGroups": groups, "apiVersions": versions, "resources": resources, "operations": operations}]}


def test_covering_webhooks_match_group_version_resource_and_operation():
    configs = [
        {"webhooks": [hook("vraycluster.kb.io", ["ray.io"], ["v1"], ["rayclusters"], ["CREATE", "UPDATE"])]},
        {"webhooks": [hook("vrayjob.kb.io", ["ray.io"], ["v1"], ["rayjobs"], ["CREATE"])]},
        {"webhooks": [hook("policy.example", ["*"], ["*"], ["*"], ["*"])]},
        {"webhooks": [hook("delete-only", ["ray.io"], ["v1"], ["rayclusters"], ["DELETE"])]},
        {"webhooks": None},
    ]
    assert ops.covering_webhooks(configs, "ray.io", "v1", "rayclusters") == ["policy.example", "vraycluster.kb.io"]
    assert ops.covering_webhooks(configs, "ray.io", "v1", "rayservices") == ["policy.example"]


def test_denying_webhook_read_from_the_api_server_status():
    st = {
        "kind": "Status",
        "code": 422,
        "reason": "Invalid",
        "message": 'admission webhook "vraycluster.kb.io" denied the request: RayCluster.ray.io "x" is invalid',
    }
    assert ops.denying_webhook(st) == "vraycluster.kb.io"
    # Schema validation by the API server itself is not a webhook.
    assert ops.denying_webhook({"code": 422, "message": 'RayCluster.ray.io "x" is invalid: spec.rayVersion: Invalid value'}) is None
    assert ops.denying_webhook({}) is None


def test_owned_by_needs_the_controlling_reference():
    obj = {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}, {"uid": "u2"}]}}
    assert ops.owned_by(obj, "u1") and not ops.owned_by(obj, "u2") and not ops.owned_by({"metadata": {}}, "u1")


def test_crd_versions_and_established():
    crd = {
        "spec": {"versions": [{"name": "v1", "served": True, "storage": True}, {"name": "v1alpha1", "served": False, "storage": False}]},
        "status": {"conditions": [{"type": "Established", "status": "True"}]},
    }
    assert ops.crd_versions(crd) == {"v1": {"served": True, "storage": True}, "v1alpha1": {"served": False, "storage": False}}
    assert ops.established(crd) and not ops.established({}) and ops.crd_versions(None) == {}


def test_ray_invalid_differs_from_valid_only_by_the_duplicate_group():
    be = ops.RayBackend("rayproject/ray:2.46.0", "2.46.0", {"pool": "cpu"}, None)
    valid, invalid = be.valid("c", "ns"), be.invalid("c", "ns")
    groups = [g["groupName"] for g in invalid["spec"]["workerGroupSpecs"]]
    assert groups == ["workers", "workers"] and len(valid["spec"]["workerGroupSpecs"]) == 1
    assert valid["spec"]["headGroupSpec"]["template"]["spec"]["nodeSelector"] == {"pool": "cpu"}


def test_ray_reconciled_by_state_or_conditions():
    be = ops.RayBackend("i", "v", None, None)
    assert be.reconciled({"status": {"state": "ready"}})
    assert be.reconciled({"status": {"conditions": [{"type": "HeadPodReady", "status": "True"}, {"type": "RayClusterProvisioned", "status": "True"}]}})
    assert not be.reconciled({"status": {"conditions": [{"type": "HeadPodReady", "status": "True"}]}})
    assert not be.reconciled(None)
    assert be.status_summary({"status": {"state": "ready", "readyWorkerReplicas": 1}}) == "state=ready ready_workers=1 conditions[-]"
