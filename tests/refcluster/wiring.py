"""Wiring the reference cluster's components into its API server: placeholders filled into their
manifests, CRDs installed before a component starts, webhook configurations and APIServices
applied once it is ready and removed before it stops (moved out of cluster.py)."""

from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path
from typing import Any

from tests.refcluster.config import PKI, REPO, STATE, Component, ensure_collection_path, host_ip, kubeconfig_path, load_components, ports
from tests.refcluster.procs import HarnessError, running


def _context() -> dict[str, Any]:
    comps = load_components()
    assets = {n: str(c.bin_dir / "assets") for n, c in comps.items() if c.build}
    ca = PKI / "ca.crt"
    ca_bundle = base64.b64encode(ca.read_bytes()).decode() if ca.is_file() else ""
    return {"state": str(STATE), "pki": str(PKI), "ports": ports(), "assets": assets, "repo": str(REPO), "ca_bundle": ca_bundle, "host_ip": host_ip()}


# Objects that make the apiserver call a component: removed before the component stops, so a dead
# component never blocks creates (failurePolicy: Fail) or discovery (an unavailable APIService).
UNWIRE_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService")


def _fill(text: str, ctx: dict[str, Any]) -> str:
    """Fill {ca_bundle} {pki} {state} {host_ip} {ports[x]} {assets[x]} in a file that is not a format string."""
    for key, value in (("{ca_bundle}", ctx["ca_bundle"]), ("{pki}", ctx["pki"]), ("{state}", ctx["state"]), ("{host_ip}", ctx["host_ip"])):
        text = text.replace(key, value)
    for name, port in ctx["ports"].items():
        text = text.replace("{ports[%s]}" % name, str(port))
    for name, path in ctx["assets"].items():
        text = text.replace("{assets[%s]}" % name, path)
    return text


def _to_url(doc: dict[str, Any], base: str, ca_bundle: str) -> dict[str, Any]:
    """Point an upstream webhook configuration (or CRD conversion) that names an in-cluster Service
    at the local process instead: service{path} -> url base+path, with the harness CA."""
    hooks = doc.get("webhooks") if doc.get("kind") in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration") else None
    for hook in hooks or []:
        svc = (hook.get("clientConfig") or {}).get("service")
        if svc is not None:
            hook["clientConfig"] = {"url": base.rstrip("/") + (svc.get("path") or "/"), "caBundle": ca_bundle}
    return doc


def _own_name(doc: dict[str, Any], comp: Component) -> dict[str, Any]:
    """Prefix an upstream webhook configuration's name with the component's: kubebuilder projects
    all call theirs ``validating-webhook-configuration`` (Kueue and KubeRay both do), and one would
    silently replace the other."""
    md = doc.get("metadata") or {}
    if doc.get("kind") in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration") and not md.get("name", "").startswith(comp.name + "-"):
        md["name"] = "%s-%s" % (comp.name, md.get("name"))
    return doc


def _docs(paths: list[str], comp: Component) -> list[dict[str, Any]]:
    import yaml

    ctx = _context()
    docs: list[dict[str, Any]] = []
    base = _expand(comp.run.get("webhook_url", ""), ctx)
    for rel in paths:
        text = _fill((REPO / _fill(rel, ctx)).read_text(), ctx)
        # libyaml's loader: upstream CRDs run to megabytes (KubeRay's four are 4 MB).
        for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if d:
                docs.append(_own_name(_to_url(d, base, ctx["ca_bundle"]), comp) if base else d)
    return docs


def _manifests(comp: Component) -> list[dict[str, Any]]:
    """The component's declared manifests, with {placeholders} filled in (ca_bundle, ports, pki...)."""
    return _docs(comp.run.get("manifests", []), comp)


def _condition_true(ctype: str) -> Any:
    """Predicate for wait_for: the object's condition ``ctype`` is True."""
    return lambda o: any(x["type"] == ctype and x["status"] == "True" for x in ((o or {}).get("status") or {}).get("conditions") or [])


def install_crds(comp: Component) -> list[str]:
    """Apply the component's CRDs (and other prerequisites) before it starts, wait until Established."""
    c = _client()
    done = []
    for obj in _docs(comp.run.get("crds", []), comp):
        _apply(c, obj)
        if obj["kind"] == "CustomResourceDefinition":
            c.wait_for(
                obj["apiVersion"],
                obj["kind"],
                obj["metadata"]["name"],
                _condition_true("Established"),
                timeout_s=60,
                what="be Established",
            )
        done.append("%s/%s" % (obj["kind"], obj["metadata"]["name"]))
    return done


def render_files(comp: Component) -> None:
    """Write the component's config files (run.render: {dest: template}) with placeholders filled,
    and copy files to the fixed host paths some upstream binaries insist on (run.host_files)."""
    ctx = _context()
    for dest, src in (comp.run.get("render") or {}).items():
        out = Path(_fill(dest, ctx))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_fill((REPO / src).read_text(), ctx))
    for raw_dest, src in (comp.run.get("host_files") or {}).items():
        dest = _fill(raw_dest, ctx)
        try:
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_fill(src, ctx), dest)
        except OSError as exc:
            raise HarnessError("component %s needs %s (a path compiled into the upstream binary) and it cannot be written: %s" % (comp.name, dest, exc))


def _apply(c: Any, obj: dict[str, Any], attempts: int = 5) -> None:
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError

    md = obj["metadata"]
    for attempt in range(attempts):
        live = c.get(obj["apiVersion"], obj["kind"], md["name"], md.get("namespace"))
        if live is None:
            c.create(obj)
            return
        if obj["kind"] == "Pod":
            return  # a pod's spec is immutable; the one standing for a restarted process is still right
        obj["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        try:
            c.request(
                "PUT", c.path(obj["apiVersion"], obj["kind"], md.get("namespace"), md["name"]), body=obj, what="replace %s %s" % (obj["kind"], md["name"])
            )
            return
        except ClusterError as exc:
            # A controller wrote the object between our read and our replace (a just-created CRD
            # gets its status): read it again.
            if exc.kind != "conflict" or attempt == attempts - 1:
                raise
            time.sleep(0.2)


def wire(comp: Component) -> list[str]:
    """Create or replace the component's manifests (webhooks, APIServices, CRDs) after it is ready."""
    c = _client()
    done = []
    for obj in _manifests(comp):
        _apply(c, obj)
        done.append("%s/%s" % (obj["kind"], obj["metadata"]["name"]))
    for obj in _manifests(comp):
        if obj["kind"] == "Pod":
            # The pod that stands for the process: Ready (kwok) before its Service is used.
            c.wait_for(
                "v1",
                "Pod",
                obj["metadata"]["name"],
                _condition_true("Ready"),
                obj["metadata"].get("namespace"),
                timeout_s=60,
                what="become Ready",
            )
        if obj["kind"] == "APIService":
            # The aggregator checks the backend before it routes to it: wait until it does, so a
            # caller never sees the 503 of a just-registered API.
            c.wait_for(
                obj["apiVersion"],
                "APIService",
                obj["metadata"]["name"],
                _condition_true("Available"),
                timeout_s=60,
                what="become Available",
            )
    return done


def unwire(comp: Component) -> list[str]:
    if not comp.run.get("manifests") or running("kube-apiserver") is None:
        return []
    c = _client()
    gone = []
    for obj in _manifests(comp):
        if obj["kind"] in UNWIRE_KINDS and c.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"]):
            gone.append("%s/%s" % (obj["kind"], obj["metadata"]["name"]))
    return gone


def _expand(value: Any, ctx: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**ctx)
    if isinstance(value, dict):
        return {k: _expand(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, ctx) for v in value]
    return value


def _client():
    ensure_collection_path()
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import get_client

    return get_client({"kubeconfig": str(kubeconfig_path())})
