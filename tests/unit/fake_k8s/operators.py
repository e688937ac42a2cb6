"""Operators and policy webhooks installed into a fake cluster: a mutating admission webhook, a
Kyverno-like policy engine, and the KubeRay operator with its validating webhook."""

from __future__ import annotations

import copy
from typing import Any, Callable

from .base import Deny, cond, phase_of
from .cluster import FakeCluster
from .install import in_cluster_component, webhook_configuration


class MutatingWebhook:
    """A mutating admission webhook (a MutatingWebhookConfiguration with one webhook) that changes
    what is created before it is stored, as the API server applies the webhook's patch: ``mutate``
    edits every object whose group and resource its ``rules`` match, in place."""

    def __init__(self, c: FakeCluster, name: str, rules: list[dict[str, Any]], mutate: Callable[[dict[str, Any]], None]) -> None:
        self.c, self.rules, self.mutate = c, rules, mutate
        c.serve("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", namespaced=False)
        c.apply(webhook_configuration("MutatingWebhookConfiguration", name + "-cfg", name, {"service": {"namespace": "policy", "name": name}}, rules))
        c.admission.insert(0, self.admit)  # mutating admission runs before validation

    def admit(self, op: str, obj: dict[str, Any], _old: Any) -> None:
        group = obj["apiVersion"].rpartition("/")[0]
        plural = self.c.kinds.get(obj["apiVersion"], {}).get(obj["kind"], ("",))[0]
        for r in self.rules:
            if op in r.get("operations", []) and group in r.get("apiGroups", []) and plural in r.get("resources", []):
                self.mutate(obj)
                return


class PolicyEngine:
    """A Kyverno-like policy engine: one validating webhook (validate.kyverno.svc-fail) served by
    its own admission controller (Deployment kyverno/kyverno-admission-controller behind Service
    kyverno/kyverno-svc), registered by default for every resource (Kyverno's catch-all
    registration), that denies what a policy refuses with Kyverno's message.  ``policies``:
    {policy name: fn(obj) -> message or None}."""

    HOOK = "validate.kyverno.svc-fail"

    def __init__(self, c: FakeCluster, policies: dict[str, Callable[[dict[str, Any]], str | None]], rules: list[dict[str, Any]] | None = None) -> None:
        self.c, self.policies = c, policies
        labels = {"app.kubernetes.io/component": "admission-controller", "app.kubernetes.io/instance": "kyverno"}
        in_cluster_component(c, "kyverno", "kyverno-admission-controller", "kyverno-svc", labels, "reg.kyverno.io/kyverno/kyverno:v1.15.0")
        every = [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"], "operations": ["CREATE", "UPDATE"]}]
        client_config = {"service": {"namespace": "kyverno", "name": "kyverno-svc", "path": "/validate/fail"}}
        c.apply(webhook_configuration("ValidatingWebhookConfiguration", "kyverno-resource-validating-webhook-cfg", self.HOOK, client_config, rules or every))
        c.admission.append(self.admit)

    def admit(self, op: str, obj: dict[str, Any], _old: Any) -> None:
        if obj["kind"] in ("Event", "Namespace"):
            return
        denied = [(n, m) for n, fn in sorted(self.policies.items()) for m in [fn(obj)] if m]
        if denied:
            md = obj["metadata"]
            lines = "".join("\n\n%s:\n  check: %s" % (n, m) for n, m in denied)
            where = "%s/%s/%s" % (obj["kind"], md.get("namespace", ""), md.get("name", ""))
            msg = 'admission webhook "%s" denied the request: \n\nresource %s was blocked due to the following policies %s' % (self.HOOK, where, lines)
            raise Deny(400, "BadRequest", msg)


class KubeRay:
    """The KubeRay operator (ray.io/v1 RayCluster, CRD rayclusters.ray.io) with its validating
    webhook vraycluster.kb.io, which refuses duplicate worker group names as
    ray-operator/pkg/webhooks/v1/raycluster_webhook.go does.  The controller creates the head pod,
    one pod per worker replica and the head Service, owned by the RayCluster, and reports
    state ready once the pods run.  broken: "no-webhook", "no-controller", "no-owner-refs".
    install: "in-cluster" (the Helm chart with webhooks: Deployment ray-system/kuberay-operator and
    the webhook's Service selecting its pods) or "url" (the reference cluster: the operator runs
    as a process, its webhook is reached by URL, no Deployment)."""

    def __init__(self, c: FakeCluster, broken: str = "", install: str = "in-cluster") -> None:
        self.c, self.broken = c, broken
        c.serve("ray.io/v1", "RayCluster", "rayclusters")
        client_config: dict[str, Any] = {"url": "https://127.0.0.1:19443/validate-ray-io-v1-raycluster"}
        if install == "in-cluster":
            labels = {"app.kubernetes.io/name": "kuberay-operator", "app.kubernetes.io/instance": "kuberay-operator"}
            in_cluster_component(c, "ray-system", "kuberay-operator", "kuberay-webhook-service", labels, "quay.io/kuberay/operator:v1.7.0")
            client_config = {"service": {"namespace": "ray-system", "name": "kuberay-webhook-service", "path": "/validate-ray-io-v1-raycluster"}}
        c.apply(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "rayclusters.ray.io"},
                "spec": {"group": "ray.io", "versions": [{"name": "v1", "served": True, "storage": True}]},
                "status": {"conditions": [{"type": "Established", "status": "True"}]},
            }
        )
        if broken != "no-webhook":
            rules = [{"apiGroups": ["ray.io"], "apiVersions": ["v1"], "resources": ["rayclusters"], "operations": ["CREATE", "UPDATE"]}]
            c.apply(
                webhook_configuration("ValidatingWebhookConfiguration", "kuberay-validating-webhook-configuration", "vraycluster.kb.io", client_config, rules)
            )
            c.admission.append(self.webhook)
        if broken != "no-controller":
            c.controllers.append(self.reconcile)

    def webhook(self, op: str, obj: dict[str, Any], _old: Any) -> None:
        if obj["kind"] != "RayCluster":
            return
        names = [g.get("groupName") for g in obj["spec"].get("workerGroupSpecs") or []]
        if len(names) != len(set(names)):
            raise Deny(403, "Forbidden", 'admission webhook "vraycluster.kb.io" denied the request: worker group names must be unique')

    def reconcile(self) -> bool:
        changed = False
        for rc in self.c.all("ray.io/v1", "RayCluster"):
            ns, name = rc["metadata"]["namespace"], rc["metadata"]["name"]
            owner = (
                []
                if self.broken == "no-owner-refs"
                else [{"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": name, "uid": rc["metadata"]["uid"], "controller": True}]
            )
            want = [("%s-head" % name, rc["spec"]["headGroupSpec"]["template"])]
            for g in rc["spec"].get("workerGroupSpecs") or []:
                want += [("%s-%s-worker-%d" % (name, g["groupName"], i), g["template"]) for i in range(int(g.get("replicas", 1)))]
            for pod_name, tmpl in want:
                if self.c.obj("v1", "Pod", pod_name, ns) is None:
                    md = {"name": pod_name, "namespace": ns, "labels": {"ray.io/cluster": name}, "ownerReferences": owner}
                    self.c.create_obj({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": copy.deepcopy(tmpl["spec"])})
                    changed = True
            if self.c.obj("v1", "Service", "%s-head-svc" % name, ns) is None:
                md = {"name": "%s-head-svc" % name, "namespace": ns, "labels": {"ray.io/cluster": name}, "ownerReferences": owner}
                self.c.create_obj(
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": md,
                        "spec": {"selector": {"ray.io/cluster": name}, "ports": [{"name": "gcs", "port": 6379}]},
                    }
                )
                changed = True
            running = all(phase_of(self.c.obj("v1", "Pod", n, ns)) == "Running" for n, _t in want)
            if running and (rc.get("status") or {}).get("state") != "ready":
                rc["status"] = {"state": "ready", "readyWorkerReplicas": len(want) - 1}
                cond(rc, "HeadPodReady", "True", "HeadPodRunningAndReady", "", self.c.iso())
                cond(rc, "RayClusterProvisioned", "True", "AllPodRunningAndReadyFirstTime", "", self.c.iso())
                self.c.touch(rc)
                changed = True
        return changed
