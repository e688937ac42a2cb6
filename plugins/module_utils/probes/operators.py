# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AI operator backends for operator_probe (robust_controller): KubeRay here, Kubeflow Trainer v2
in operator_trainer.py.

A backend knows its operator's API (group, version, kind, CRD name), how to write a valid and an
admission-invalid custom resource, how to find the children the operator creates for it, and when
its status says the resource is reconciled.  The probe itself (operator_probe) is generic.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import copy
import re
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes.operator_trainer import TrainerBackend

CRD_API = "apiextensions.k8s.io/v1"
WEBHOOK_API = "admissionregistration.k8s.io/v1"
DENIED = re.compile(r'^admission webhook "([^"]+)" denied the request')


def crd_versions(crd: dict[str, Any] | None) -> dict[str, dict[str, bool]]:
    """{version: {served, storage}} of a CustomResourceDefinition."""
    return {v["name"]: {"served": bool(v.get("served")), "storage": bool(v.get("storage"))} for v in ((crd or {}).get("spec") or {}).get("versions") or []}


def established(crd: dict[str, Any] | None) -> bool:
    return (wl.condition(crd, "Established") or {}).get("status") == "True"


def _hit(values: list[str] | None, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)


def _matches_resource(rule: dict[str, Any], group: str, version: str, resource: str, operation: str) -> bool:
    return (
        _hit(rule.get("apiGroups"), group)
        and _hit(rule.get("apiVersions"), version)
        and (_hit(rule.get("resources"), resource) or bool({resource + "/*", "*/*"} & set(rule.get("resources") or [])))
        and _hit(rule.get("operations"), operation)
    )


def covering_webhooks(configs: list[dict[str, Any]], group: str, version: str, resource: str, operation: str = "CREATE") -> list[str]:
    """Names of the validating webhooks whose rules match ``operation`` on group/version/resource."""
    out = [
        hook["name"]
        for cfg in configs
        for hook in cfg.get("webhooks") or []
        if any(_matches_resource(rule, group, version, resource, operation) for rule in hook.get("rules") or [])
    ]
    return sorted(set(out))


def denying_webhook(status_obj: dict[str, Any]) -> str | None:
    """The webhook that refused a request, from the API server's Status.  The API server writes
    the message of every webhook denial in one fixed form (admission webhook "<name>" denied the
    request: ...), so the name is read from that prefix; anything else was not a webhook."""
    match = DENIED.match(str((status_obj or {}).get("message") or ""))
    return match.group(1) if match else None


def operator_deployments(client: Any, backend: Any, named: str | None = None) -> list[dict[str, Any]]:
    """The operator's own Deployments: the one named (``namespace/name``), else those carrying one
    of the backend's install labels or running its image."""
    if named:
        ns, _sep, name = named.partition("/")
        dep = client.get("apps/v1", "Deployment", name, ns)
        return [dep] if dep else []
    found = {}
    for sel in backend.operator_labels:
        for d in client.list("apps/v1", "Deployment", label_selector=sel)["items"]:
            found[(d["metadata"]["namespace"], d["metadata"]["name"])] = d
    for d in client.list("apps/v1", "Deployment")["items"]:
        images = [c.get("image") or "" for c in (((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []]
        if any(backend.operator_image in i for i in images):
            found[(d["metadata"]["namespace"], d["metadata"]["name"])] = d
    return [found[k] for k in sorted(found)]


def _selects(service: dict[str, Any], deployment: dict[str, Any]) -> bool:
    sel = (service.get("spec") or {}).get("selector") or {}
    labels = ((((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}
    same_ns = service["metadata"].get("namespace") == deployment["metadata"].get("namespace")
    return bool(sel) and same_ns and all(labels.get(k) == v for k, v in sel.items())


def webhook_ties(client: Any, configs: list[dict[str, Any]], backend: Any, deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every validating webhook whose rules match CREATE of the backend's resource, and whether it
    is the operator's own: its clientConfig Service selects the pods of an operator Deployment, or,
    where that cannot be told (a URL, a Service that does not exist, no operator Deployment in the
    cluster), its rules name the operator's API group itself rather than a wildcard.  A webhook
    whose Service selects other pods is another component's (a policy engine), whatever its rules."""
    deps = ", ".join("%s/%s" % (d["metadata"]["namespace"], d["metadata"]["name"]) for d in deployments) or "none found"
    out = []
    for cfg in configs:
        for hook in cfg.get("webhooks") or []:
            rules = [r for r in hook.get("rules") or [] if _matches_resource(r, backend.group, backend.version, backend.resource, "CREATE")]
            if not rules:
                continue
            cc = hook.get("clientConfig") or {}
            svc_ref = cc.get("service") or {}
            entry = {"name": hook["name"], "configuration": cfg["metadata"]["name"], "operator": False}
            named = any(backend.group in (r.get("apiGroups") or []) for r in rules)
            svc = client.get("v1", "Service", svc_ref["name"], svc_ref.get("namespace")) if svc_ref.get("name") else None
            if svc_ref:
                entry["service"] = "%s/%s" % (svc_ref.get("namespace"), svc_ref.get("name"))
            else:
                entry["url"] = bool(cc.get("url"))
            if svc is not None and deployments:
                mine = [d for d in deployments if _selects(svc, d)]
                entry["operator"] = bool(mine)
                entry["tie"] = (
                    "its Service %s selects the pods of the operator's Deployment %s/%s"
                    % (entry["service"], mine[0]["metadata"]["namespace"], mine[0]["metadata"]["name"])
                    if mine
                    else "its Service %s selects no pod of the operator's Deployment (%s)" % (entry["service"], deps)
                )
            else:
                where = "served from %s" % ("Service %s" % entry["service"] if svc_ref else "a URL")
                entry["operator"] = named
                entry["tie"] = "%s (operator Deployment: %s); its rules %s" % (
                    where,
                    deps,
                    "name the operator's group %s" % backend.group if named else "cover every API group, not the operator's in particular",
                )
            out.append(entry)
    return out


def owned_by(obj: dict[str, Any], uid: str) -> bool:
    """Whether ``obj`` names the object with ``uid`` as its controlling owner."""
    return any(r.get("uid") == uid and r.get("controller") for r in (obj.get("metadata") or {}).get("ownerReferences") or [])


class RayBackend:
    """KubeRay: RayCluster (ray.io/v1), validating webhook vraycluster.kb.io."""

    name = "kuberay"
    api_version = "ray.io/v1"
    kind = "RayCluster"
    group, version, resource = "ray.io", "v1", "rayclusters"
    crd = "rayclusters.ray.io"
    child_label = "ray.io/cluster"
    # What the webhook refuses and the CRD schema allows: worker group names must be unique
    # (ray-operator pkg/webhooks/v1/raycluster_webhook.go, validateWorkerGroups).
    invalid_case = "two worker groups with the same groupName"
    # How the operator is installed: the Helm chart's and the kustomize manifests' labels, its image.
    operator_labels = ("app.kubernetes.io/name=kuberay-operator", "app.kubernetes.io/component=kuberay-operator")
    operator_image = "kuberay/operator"

    invalid_rule = None  # any refusal by the operator's own webhook counts (its message is not pinned)

    def __init__(self, image: str, ray_version: str, node_selector: dict[str, str] | None, tolerations: list[dict[str, Any]] | None) -> None:
        self.image = image
        self.ray_version = ray_version
        self.node_selector = node_selector
        self.tolerations = tolerations

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> RayBackend:
        return cls(p["image"], p["ray_version"], p.get("node_selector"), p.get("tolerations"))

    def describe(self) -> str:
        return "a valid RayCluster (KubeRay, image %s, Ray %s), then an invalid one" % (self.image, self.ray_version)

    def children(self, client: Any, name: str, namespace: str) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """(kind, apiVersion, objects) the operator labels with the RayCluster's name."""
        sel = "%s=%s" % (self.child_label, name)
        return [(kind, "v1", client.list("v1", kind, namespace, label_selector=sel)["items"]) for kind in self.expected_children()]

    def _template(self, container: str, cpu: str, memory: str) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "containers": [
                {
                    "name": container,
                    "image": self.image,
                    "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
                }
            ]
        }
        if self.node_selector:
            spec["nodeSelector"] = dict(self.node_selector)
        if self.tolerations:
            spec["tolerations"] = [dict(t) for t in self.tolerations]
        return {"spec": spec}

    def _worker_group(self, group: str) -> dict[str, Any]:
        return {
            "groupName": group,
            "replicas": 1,
            "minReplicas": 1,
            "maxReplicas": 1,
            "rayStartParams": {},
            "template": self._template("ray-worker", "500m", "1Gi"),
        }

    def valid(self, name: str, namespace: str) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "rayVersion": self.ray_version,
                "headGroupSpec": {"rayStartParams": {}, "template": self._template("ray-head", "500m", "2Gi")},
                "workerGroupSpecs": [self._worker_group("workers")],
            },
        }

    def invalid(self, name: str, namespace: str) -> dict[str, Any]:
        obj = self.valid(name, namespace)
        obj["spec"]["workerGroupSpecs"].append(copy.deepcopy(obj["spec"]["workerGroupSpecs"][0]))
        return obj

    def expected_children(self) -> dict[str, int]:
        """Kinds and least counts the operator must create: the head and one worker pod, the head Service."""
        return {"Pod": 2, "Service": 1}

    def reconciled(self, obj: dict[str, Any] | None) -> bool:
        st = (obj or {}).get("status") or {}
        conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
        return st.get("state") == "ready" or (conds.get("HeadPodReady") == "True" and conds.get("RayClusterProvisioned") == "True")

    succeeded = reconciled

    @staticmethod
    def status_summary(obj: dict[str, Any] | None) -> str:
        st = (obj or {}).get("status") or {}
        conds = ",".join("%s=%s" % (c.get("type"), c.get("status")) for c in st.get("conditions") or [])
        return "state=%s ready_workers=%s conditions[%s]" % (st.get("state") or "-", st.get("readyWorkerReplicas", "-"), conds or "-")


# In the order operator=auto tries them: the first one whose API is served is exercised.
BACKENDS = {"kuberay": RayBackend, "kubeflow_trainer": TrainerBackend}
