"""The calls the probes make on ``module_utils.client.Client``, answered from the fake's store:
served, get, list, create, patch, delete, request (discovery, service and pod proxy, logs, scale),
watch, wait_for, wait_until, holds, wait_gone."""

from __future__ import annotations

import copy
import re
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import client as cl

from .base import api_error, fields_match, labels_match, merge_patch, phase_of, selector_of


class ApiMixin:
    """The client API of FakeCluster."""

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self.path(api_version, kind, namespace, name)
        o = self.obj(api_version, kind, name, namespace)
        return copy.deepcopy(o) if o is not None else None

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None, field_selector: str | None = None
    ) -> dict[str, Any]:
        self.path(api_version, kind, namespace)
        self.calls.append("list %s %s" % (api_version, kind))
        items = [
            copy.deepcopy(o)
            for o in self.all(api_version, kind, namespace)
            if labels_match(o["metadata"].get("labels"), label_selector) and fields_match(o, field_selector)
        ]
        return {"items": items, "resourceVersion": str(self.rv)}

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        stored = self.create_obj(obj, admit=True)
        out = copy.deepcopy(stored)
        self.settle()
        return out

    def patch(
        self, api_version: str, kind: str, name: str, patch: Any, namespace: str | None = None, patch_type: str = "merge", subresource: str | None = None
    ) -> dict[str, Any]:
        self.path(api_version, kind, namespace, name, subresource)
        o = self.obj(api_version, kind, name, namespace)
        if o is None:
            raise api_error(404, "NotFound", '%s "%s" not found' % (self.kinds[api_version][kind][0], name), "patch %s %s" % (kind, name))
        if subresource == "scale":
            patch = {"spec": {"replicas": patch["spec"]["replicas"]}}
        new = merge_patch(o, patch)
        if new.get("spec") != o.get("spec"):
            new["metadata"]["generation"] = o["metadata"].get("generation", 1) + 1
        o.clear()
        o.update(new)
        self._bump(o, "MODIFIED")
        self.settle()
        return copy.deepcopy(o) if subresource != "scale" else self.scale_of(o)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, propagation: str = "Background") -> bool:
        self.path(api_version, kind, namespace, name)
        gone = self.remove(api_version, kind, name, namespace)
        self.settle()
        return gone

    def watch(
        self, api_version: str, kind: str, namespace: str | None = None, resource_version: str = "", label_selector=None, field_selector=None, timeout_s=30
    ):
        """Replay the recorded events after resource_version (what a watch from it would send)."""
        for ev in list(self.history):
            o = ev["object"]
            if ev["rv"] <= int(resource_version or 0) or o["apiVersion"] != api_version or o["kind"] != kind:
                continue
            if namespace and o["metadata"].get("namespace") != namespace:
                continue
            if labels_match(o["metadata"].get("labels"), label_selector) and fields_match(o, field_selector):
                yield {"type": ev["type"], "object": copy.deepcopy(o)}

    def wait_until(self, api_version, kind, name, predicate, namespace=None, timeout_s=60):
        deadline = self.now + timeout_s
        last = self.get(api_version, kind, name, namespace)
        while not predicate(last):
            if not self.step(deadline):
                return False, last
            last = self.get(api_version, kind, name, namespace)
        return True, last

    def wait_for(self, api_version, kind, name, predicate, namespace=None, timeout_s=60, what=""):
        ok, last = self.wait_until(api_version, kind, name, predicate, namespace, timeout_s)
        if ok:
            return last
        qual = "%s/%s" % (namespace, name) if namespace else name
        raise cl.ClusterError("timed out after %ss waiting for %s %s%s" % (int(timeout_s), kind, qual, " to %s" % what if what else ""), "timeout")

    def holds(self, api_version, kind, name, forbidden, namespace=None, seconds=10):
        seen, last = self.wait_until(api_version, kind, name, forbidden, namespace, seconds)
        return not seen, last

    def wait_gone(self, api_version, kind, name, namespace=None, timeout_s=60):
        self.wait_for(api_version, kind, name, lambda o: o is None, namespace, timeout_s, "be deleted")

    def get_path(self, path: str, what: str = "") -> Any:
        return self.request("GET", path, what=what)

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None, what: str = "", **_kw: Any) -> Any:
        self.calls.append("%s %s" % (method, path))
        what = what or "%s %s" % (method, path)
        if path == "/version":
            return {"major": "1", "minor": "37", "gitVersion": "v1.37.2"}
        for av in self.kinds:
            if path == self.gv_path(av):
                res = []
                for kind, (plural, namespaced, scale) in self.kinds[av].items():
                    res.append({"name": plural, "kind": kind, "namespaced": namespaced, "verbs": ["get", "list", "create", "delete"]})
                    if scale:
                        res.append({"name": plural + "/scale", "kind": "Scale", "namespaced": namespaced})
                return {"kind": "APIResourceList", "groupVersion": av, "resources": res}
        m = re.match(r"^/api/v1/namespaces/([^/]+)/(services|pods)/([^/:]+)(?::([^/]+))?/proxy(/.*)?$", path)
        if m:
            return self._proxy(m.group(2), m.group(1), m.group(3), m.group(4), method, m.group(5) or "/", query or {}, body, what)
        m = re.match(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$", path)
        if m:
            pod = self.obj("v1", "Pod", m.group(2), m.group(1))
            if pod is None:
                raise api_error(404, "NotFound", 'pods "%s" not found' % m.group(2), what)
            return {"raw": self.logs.get(pod["metadata"]["uid"], "")}
        av, kind, ns, name, sub = self._parse_path(path)
        if sub == "scale" and name:
            o = self.obj(av, kind, name, ns)
            if o is None:
                raise api_error(404, "NotFound", '%s "%s" not found' % (self.kinds[av][kind][0], name), what)
            if method == "PATCH":
                return self.patch(av, kind, name, body, ns, subresource="scale")
            return self.scale_of(o)
        raise api_error(405, "MethodNotAllowed", "the fake does not serve %s %s" % (method, path), what)

    def scale_of(self, o: dict[str, Any]) -> dict[str, Any]:
        sel = selector_of(((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"].get("namespace")},
            "spec": {"replicas": (o.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (o.get("status") or {}).get("replicas", 0), "selector": sel},
        }

    def _proxy(self, what_kind: str, ns: str, name: str, port: str | None, method: str, rest: str, query: dict[str, Any], body: Any, what: str) -> Any:
        if what_kind == "services":
            handler = self.services.get((ns, name))
            if handler is None or self.obj("v1", "Service", name, ns) is None:
                raise api_error(503, "ServiceUnavailable", 'no endpoints available for service "%s"' % name, what)
            return handler(method, rest, query, body)
        pod = self.obj("v1", "Pod", name, ns)
        if pod is None or phase_of(pod) != "Running":
            raise api_error(503, "ServiceUnavailable", "pod %s/%s is not running" % (ns, name), what)
        for app in self.apps:
            handler = app(pod)
            if handler is not None:
                status, out, _h = handler(int(port or 0), method, rest, query, body)
                if status >= 400:
                    raise api_error(status, "InternalError", str(out)[:200], what)
                return out if isinstance(out, dict) else {"raw": out}
        raise api_error(503, "ServiceUnavailable", "error trying to reach pod %s: connection refused" % name, what)
