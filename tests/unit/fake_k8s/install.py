"""What the optional components install into a fake cluster: namespaces, Deployments, Services,
webhook configurations."""

from __future__ import annotations

from typing import Any, Callable

from .cluster import FakeCluster


def ensure_namespace(c: FakeCluster, ns: str) -> None:
    if c.obj("v1", "Namespace", ns) is None:
        c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})


def deployment(ns: str, name: str, labels: dict[str, str], containers: list[dict[str, Any]], replicas: int = 1, labelled: bool = True) -> dict[str, Any]:
    """A Deployment of pods labelled ``labels`` running ``containers`` (itself labelled so too when ``labelled``)."""
    md: dict[str, Any] = {"name": name, "namespace": ns}
    if labelled:
        md["labels"] = dict(labels)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": md,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": containers}},
        },
    }


def in_cluster_component(c: FakeCluster, ns: str, name: str, service: str, labels: dict[str, str], image: str) -> None:
    """A controller installed in the cluster: its Deployment and the Service in front of its pods."""
    ensure_namespace(c, ns)
    c.apply(
        deployment(ns, name, labels, [{"name": "manager", "image": image}]),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "namespace": ns}, "spec": {"selector": dict(labels), "ports": [{"port": 443}]}},
    )


def http_service(c: FakeCluster, ns: str, name: str, labels: dict[str, str], port: dict[str, Any], handler: Callable[..., Any]) -> None:
    """A component's HTTP API reached through the API server's service proxy: a new namespace
    ``ns`` with Service ``name`` (one port) in it, answered by ``handler``."""
    c.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": {"ports": [port]}},
    )
    c.services[(ns, name)] = handler


def webhook_configuration(kind: str, name: str, hook: str, client_config: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """A (Validating|Mutating)WebhookConfiguration ``name`` registering the one webhook ``hook``."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [{"name": hook, "clientConfig": client_config, "rules": rules}],
    }
