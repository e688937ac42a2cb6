# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry point for Kubernetes API access.

``get_client(params)`` builds a client from a kubeconfig path and context, from explicit host and
token (AWX credential style), or from the in-cluster service account (``kube_auth.py``).  Every
failure that a user can cause (missing or broken kubeconfig, unknown context, credential plugin
not installed, unreachable server, bad credentials, missing permission, API group not served)
becomes a ``ClusterError`` (``api_errors.py``) with one readable line; callers never see a
traceback.

The client speaks plain REST with JSON dicts, so CRDs need no generated classes.  Resource paths
come from per group-version discovery, cached for the life of the client.  Idempotent requests
(GET, including list and the start of a watch, HEAD and DELETE) are retried by urllib3's ``Retry``
on connection errors and on 429/500/502/503/504, with exponential backoff and the server's
Retry-After honoured; POST and PATCH are retried only when the connection could not be opened
(nothing was sent), never after a response or a broken connection.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

# ClusterError, _HTTPFailure, translate_api_exception, HAS_K8S and K8S_IMP_ERR are imported from
# here by the modules, the other module_utils and the tests.
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.api_errors import (
    ClusterError,
    _HTTPFailure,
    _root_cause,
    translate_api_exception,
    unreachable_fix,
)
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.kube_auth import (  # noqa: F401  # pylint: disable=unused-import
    AUTH_PARAMS,
    HAS_K8S,
    K8S_IMP_ERR,
    load_configuration,
)
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.transport import (
    HAS_URLLIB3,
    RETRIES,
    RETRY_BACKOFF_S,
    connection_errors,
    make_pool,
    retry_policy,
)
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.waits import Waits, _qual

try:
    import urllib3
except ImportError:
    pass  # HAS_URLLIB3 is False: get_client refuses before any use


class Client(Waits):
    """A small REST client returning JSON dicts.

    Authentication and TLS settings come from a kubernetes.client.Configuration (so kubeconfig
    exec plugins, token refresh and in-cluster config behave as everywhere else); the HTTP itself
    goes through urllib3, which keeps this independent of the generated client's internals."""

    def __init__(
        self,
        configuration: Any,
        source: str,
        request_timeout: int = 30,
        impersonate_user: str | None = None,
        impersonate_groups: list[str] | None = None,
        unauthorized_fix: str = "",
    ) -> None:
        self.configuration = configuration
        self.host = configuration.host.rstrip("/")
        self.source = source
        self.request_timeout = request_timeout
        self.impersonate_user = impersonate_user
        self.impersonate_groups = list(impersonate_groups or [])
        self.unauthorized_fix = unauthorized_fix  # appended to a 401: what to do about these credentials
        self.retries = RETRIES
        self.retry_backoff = RETRY_BACKOFF_S
        self._discovery: dict[str, dict[str, dict[str, Any]]] = {}
        self.pool, self.proxy = make_pool(configuration, self.host)

    def _auth_headers(self) -> dict[str, str]:
        auth = self.configuration.auth_settings().get("BearerToken") or {}
        value = auth.get("value")
        return {"Authorization": value} if value else {}

    def _headers(self, content_type: str) -> Any:
        headers = urllib3.HTTPHeaderDict({"Accept": "application/json", "Content-Type": content_type})
        headers.update(self._auth_headers())
        if self.impersonate_user:
            headers["Impersonate-User"] = self.impersonate_user
        for group in self.impersonate_groups:
            headers.add("Impersonate-Group", group)  # one header per group, as kubectl --as-group sends them
        return headers

    # -- raw requests ------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        what: str = "",
        content_type: str = "application/json",
        stream: bool = False,
        timeout: Any = None,
    ) -> Any:
        what = what or "%s %s" % (method, path)
        q = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.host + path + ("?" + urlencode(q) if q else "")
        t = timeout if timeout is not None else self.request_timeout
        if isinstance(t, tuple):
            t = urllib3.Timeout(connect=t[0], read=t[1])
        try:
            resp = self.pool.request(
                method,
                url,
                body=json.dumps(body) if body is not None else None,
                headers=self._headers(content_type),
                timeout=t,
                preload_content=not stream,
                redirect=False,
                retries=retry_policy(self.retries, self.retry_backoff),
            )
        except connection_errors() as exc:
            raise ClusterError(
                "cannot reach the Kubernetes API at %s%s to %s: %s (%s)"
                % (self.host, " through proxy %s" % self.proxy if self.proxy else "", what, _root_cause(exc), unreachable_fix(exc)),
                "unreachable",
            )
        if resp.status >= 400:
            data = resp.data if not stream else resp.read()
            err = translate_api_exception(_HTTPFailure(resp.status, resp.reason, data), what)
            anonymous = err.kind == "forbidden" and "system:anonymous" in err.message
            if (err.kind == "unauthorized" or anonymous) and self.unauthorized_fix:
                err.args = ("%s: %s" % (err.message, self.unauthorized_fix),)
            raise err
        if stream:
            return resp
        if not resp.data:
            return {}
        try:
            return json.loads(resp.data)
        except ValueError:
            return {"raw": resp.data.decode("utf-8", "replace")}

    def get_path(self, path: str, what: str = "") -> Any:
        return self.request("GET", path, what=what or "read %s" % path)

    # -- discovery ---------------------------------------------------------------------------
    @staticmethod
    def gv_path(api_version: str) -> str:
        return "/api/v1" if api_version == "v1" else "/apis/%s" % api_version

    def resources(self, api_version: str) -> dict[str, dict[str, Any]]:
        """kind -> {name (plural), namespaced, verbs} for a served group-version.

        Raises ClusterError(kind="not_served") when the group-version is not served."""
        if api_version not in self._discovery:
            try:
                doc = self.get_path(self.gv_path(api_version), what="discover %s" % api_version)
            except ClusterError as exc:
                if exc.kind == "not_found":
                    raise ClusterError("API %s is not served by this cluster" % api_version, "not_served", 404)
                raise
            table = {}
            for r in doc.get("resources", []):
                if "/" in r.get("name", ""):
                    continue  # subresource
                table[r["kind"]] = {"name": r["name"], "namespaced": r.get("namespaced", False), "verbs": r.get("verbs", [])}
            self._discovery[api_version] = table
        return self._discovery[api_version]

    def served(self, api_version: str, kind: str | None = None) -> bool:
        try:
            table = self.resources(api_version)
        except ClusterError as exc:
            if exc.kind == "not_served":
                return False
            raise
        return kind is None or kind in table

    def path(self, api_version: str, kind: str, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        table = self.resources(api_version)
        if kind not in table:
            raise ClusterError("kind %s is not served in API %s" % (kind, api_version), "not_served", 404)
        info = table[kind]
        parts = [self.gv_path(api_version)]
        if info["namespaced"]:
            if namespace:
                parts.append("namespaces/%s" % quote(namespace, safe=""))
        parts.append(info["name"])
        if name:
            parts.append(quote(name, safe=""))
        if subresource:
            parts.append(subresource)
        return "/".join(parts)

    # -- verbs -------------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", self.path(api_version, kind, namespace, name), what="get %s %s" % (kind, _qual(namespace, name)))
        except ClusterError as exc:
            if exc.kind == "not_found":
                return None
            raise

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None, field_selector: str | None = None
    ) -> dict[str, Any]:
        query = {"labelSelector": label_selector, "fieldSelector": field_selector}
        items: list[dict[str, Any]] = []
        cont = None
        rv = ""
        while True:
            q = dict(query, limit=500, **({"continue": cont} if cont else {}))
            doc = self.request(
                "GET", self.path(api_version, kind, namespace), query=q, what="list %s%s" % (kind, " in namespace %s" % namespace if namespace else "")
            )
            items.extend(doc.get("items", []))
            rv = doc.get("metadata", {}).get("resourceVersion", rv)
            cont = doc.get("metadata", {}).get("continue")
            if not cont:
                return {"items": items, "resourceVersion": rv}

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj.get("metadata", {})
        return self.request(
            "POST",
            self.path(obj["apiVersion"], obj["kind"], md.get("namespace")),
            body=obj,
            what="create %s %s" % (obj["kind"], _qual(md.get("namespace"), md.get("name") or md.get("generateName"))),
        )

    def patch(
        self, api_version: str, kind: str, name: str, patch: Any, namespace: str | None = None, patch_type: str = "merge", subresource: str | None = None
    ) -> dict[str, Any]:
        ctype = {"merge": "application/merge-patch+json", "json": "application/json-patch+json", "strategic": "application/strategic-merge-patch+json"}[
            patch_type
        ]
        return self.request(
            "PATCH",
            self.path(api_version, kind, namespace, name, subresource),
            body=patch,
            content_type=ctype,
            what="patch %s %s" % (kind, _qual(namespace, name)),
        )

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, propagation: str = "Background") -> bool:
        """Delete; False when it was already gone."""
        try:
            self.request(
                "DELETE",
                self.path(api_version, kind, namespace, name),
                body={"propagationPolicy": propagation},
                what="delete %s %s" % (kind, _qual(namespace, name)),
            )
            return True
        except ClusterError as exc:
            if exc.kind == "not_found":
                return False
            raise

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        resource_version: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_s: float = 30,
    ) -> Iterator[dict[str, Any]]:
        """Yield watch events ({type, object}) until the server closes the watch or timeout_s."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version or None,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "timeoutSeconds": max(1, int(timeout_s)),
            "allowWatchBookmarks": "true",
        }
        resp = self.request(
            "GET", self.path(api_version, kind, namespace), query=query, stream=True, what="watch %s" % kind, timeout=(self.request_timeout, timeout_s + 5)
        )
        buf = b""
        try:
            for chunk in resp.stream(4096, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        except connection_errors():
            return  # the watch ended (read timeout): the caller re-checks its deadline
        finally:
            resp.release_conn()


_POOL: dict[str, Client] = {}


def get_client(params: dict[str, Any]) -> Client:
    """The only way modules obtain a client.  Cached per auth parameters within one process."""
    if not HAS_K8S or not HAS_URLLIB3:
        raise ClusterError("the Python library 'kubernetes' is required (pip install kubernetes)", "config")
    kc = params.get("kubeconfig")
    stamp = os.stat(kc).st_mtime_ns if kc and os.path.isfile(kc) else None  # a rewritten kubeconfig is a new client
    key = json.dumps(dict({k: params.get(k) for k in AUTH_PARAMS}, _stamp=stamp), sort_keys=True, default=str)
    if key in _POOL:
        return _POOL[key]
    cfg, source, fix = load_configuration(params)
    c = Client(
        cfg,
        source,
        int(params.get("request_timeout") or 30),
        impersonate_user=params.get("impersonate_user"),
        impersonate_groups=params.get("impersonate_groups"),
        unauthorized_fix=fix,
    )
    _POOL[key] = c
    return c


def check_reachable(c: Client) -> dict[str, Any]:
    """GET /version: the first call of every probe, so that an unreachable server or bad
    credentials fail fast with one line.  An answer without a version (a web page, a proxy's
    landing page) is not a Kubernetes API server: said here, not later as "kind Node is not served"."""
    doc = c.get_path("/version", what="read the server version")
    if not isinstance(doc, dict) or not doc.get("gitVersion"):
        raise ClusterError("%s does not answer as a Kubernetes API server: GET /version gave no version" % c.host, "unreachable")
    return doc


def selector(labels: dict[str, str]) -> str:
    return ",".join("%s=%s" % (k, v) for k, v in sorted(labels.items()))
