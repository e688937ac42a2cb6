# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AI operator backends for operator_probe (robust_controller).

A backend knows its operator's API (group, version, kind, CRD name), how to write a valid and an
admission-invalid custom resource, how to find the children the operator creates for it, and when
its status says the resource is reconciled.  The probe itself (operator_probe) is generic.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import copy
import re
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import workloads as wl

CRD_API = "apiextensions.k8s.io/v1"
WEBHOOK_API = "admissionregistration.k8s.io/v1"
DENIED = re.compile(r'^admission webhook "([^"]+)" denied the request')


def crd_versions(crd: dict[str, Any] | None) -> dict[str, dict[str, bool]]:
    """{version: {served, storage}} of a CustomResourceDefinition."""
    return {v["name"]: {"served": bool(v.get("served")), "storage": bool(v.get("storage"))} for v in ((crd or {}).get("spec") or {}).get("versions") or []}


def established(crd: dict[str, Any] | None) -> bool:
    return (wl.condition(crd, "Established") or {}).get("status") == "True"


def covering_webhooks(configs: list[dict[str, Any]], group: str, version: str, resource: str, operation: str = "CREATE") -> list[str]:
    """Names of the validating webhooks whose rules match ``operation`` on group/version/resource."""

    def hit(values: list[str] | None, value: str) -> bool:
        return bool(values) and ("*" in values or value in values)

    out = []
    for cfg in configs:
        for hook in cfg.get("webhooks") or []:
            for rule in hook.get("rules") or []:
                if (
                    hit(rule.get("apiGroups"), group)
                    and hit(rule.get("apiVersions"), version)
                    and (hit(rule.get("resources"), resource) or hit(rule.get("resources"), resource + "/*"))
                    and hit(rule.get("operations"), operation)
                ):
                    out.append(hook["name"])
                    break
    return sorted(set(out))


def denying_webhook(status_obj: dict[str, Any]) -> str | None:
    """The webhook that refused a request, from the API server's Status.  The API server writes
    the message of every webhook denial in one fixed form (admission webhook "<name>" denied the
    request: ...), so the name is read from that prefix; anything else was not a webhook."""
    match = DENIED.match(str((status_obj or {}).get("message") or ""))
    return match.group(1) if match else None


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

    def __init__(self, image: str, ray_version: str, node_selector: dict[str, str] | None, tolerations: list[dict[str, Any]] | None) -> None:
        self.image = image
        self.ray_version = ray_version
        self.node_selector = node_selector
        self.tolerations = tolerations

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

    @staticmethod
    def status_summary(obj: dict[str, Any] | None) -> str:
        st = (obj or {}).get("status") or {}
        conds = ",".join("%s=%s" % (c.get("type"), c.get("status")) for c in st.get("conditions") or [])
        return "state=%s ready_workers=%s conditions[%s]" % (st.get("state") or "-", st.get("readyWorkerReplicas", "-"), conds or "-")


BACKENDS = {"kuberay": RayBackend}
