# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry point for Kubernetes API access.

``get_client(params)`` builds a client from a kubeconfig path and context, from explicit host and
token (AWX credential style), or from the in-cluster service account.  Every failure that a user
can cause (missing kubeconfig, unknown context, unreachable server, bad credentials, missing
permission, API group not served) becomes a ``ClusterError`` with one readable line; callers never
see a traceback.

The client speaks plain REST with JSON dicts, so CRDs need no generated classes.  Resource paths
come from per group-version discovery, cached for the life of the client.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
import socket
import time
import traceback
from collections.abc import Iterator
from typing import Any, Callable
from urllib.parse import quote, urlencode

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    HAS_K8S = True
    K8S_IMP_ERR = None
except ImportError:
    HAS_K8S = False
    K8S_IMP_ERR = traceback.format_exc()

    class ConfigException(Exception):  # type: ignore[no-redef]
        pass


try:
    import urllib3

    HAS_URLLIB3 = True
except ImportError:
    HAS_URLLIB3 = False


class ClusterError(Exception):
    """A failure a user can act on.  ``kind`` is machine-readable: config, unreachable,
    unauthorized, forbidden, not_found, not_served, invalid, conflict, timeout, api."""

    def __init__(self, message: str, kind: str = "api", status: int = 0, status_obj: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        # The Kubernetes Status object of the response, when the server sent one: callers that
        # must tell who refused a request read its reason, details and message from here.
        self.status_obj: dict[str, Any] = status_obj or {}

    @property
    def message(self) -> str:
        return str(self.args[0])


AUTH_PARAMS = ("kubeconfig", "context", "host", "api_key", "ca_cert", "validate_certs", "request_timeout")


def _status_message(exc: Any) -> str:
    """The human message of a Kubernetes Status body, or the HTTP reason."""
    body = getattr(exc, "body", None)
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, dict) and data.get("message"):
                return str(data["message"])
        except (ValueError, TypeError):
            pass
    return str(getattr(exc, "reason", "") or "no message")


class _HTTPFailure:
    """The parts of an HTTP error response that translate_api_exception reads."""

    def __init__(self, status: int, reason: str, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.body = body.decode("utf-8", "replace") if isinstance(body, bytes) else body


def _status_obj(exc: Any) -> dict[str, Any]:
    try:
        data = json.loads(getattr(exc, "body", None) or "")
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) and data.get("kind") == "Status" else {}


def translate_api_exception(exc: Any, what: str) -> ClusterError:
    """Map an HTTP failure (anything with status, reason, body) met while doing ``what``."""
    err = _translate(exc, what)
    err.status_obj = _status_obj(exc)
    return err


def _translate(exc: Any, what: str) -> ClusterError:
    status = int(getattr(exc, "status", 0) or 0)
    msg = _status_message(exc)
    if status == 401:
        return ClusterError("the API server rejected the credentials (401 Unauthorized) while trying to %s" % what, "unauthorized", status)
    if status == 403:
        return ClusterError("forbidden (403) to %s: %s" % (what, msg), "forbidden", status)
    if status == 404:
        return ClusterError("not found (404) while trying to %s: %s" % (what, msg), "not_found", status)
    if status == 409:
        return ClusterError("conflict (409) while trying to %s: %s" % (what, msg), "conflict", status)
    if status == 422:
        return ClusterError("invalid (422) while trying to %s: %s" % (what, msg), "invalid", status)
    if status == 0:
        return ClusterError("cannot reach the Kubernetes API to %s: %s" % (what, _root_cause(exc)), "unreachable", status)
    return ClusterError("API error %s while trying to %s: %s" % (status, what, msg), "api", status)


def _root_cause(exc: BaseException) -> str:
    """The readable reason of a connection failure (connection refused, DNS, TLS, timeout)."""
    text = str(exc)
    for marker, said in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not known"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate verification failed"),
        ("timed out", "timed out"),
        ("No route to host", "no route to host"),
    ):
        if marker in text:
            return said
    return text.splitlines()[0][:300] if text else exc.__class__.__name__


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n")[:1]).strip()
    return text or exc.__class__.__name__


def _connection_errors() -> tuple:
    errs: list = [socket.error, ConnectionError]
    if HAS_URLLIB3:
        errs.append(urllib3.exceptions.HTTPError)
    return tuple(errs)


def _load_configuration(params: dict[str, Any]) -> tuple[Any, str]:
    """Build a kubernetes.client.Configuration and describe where it came from."""
    kubeconfig = params.get("kubeconfig")
    context = params.get("context")
    host = params.get("host")
    cfg = k8s_client.Configuration()
    if host:
        cfg.host = host
        if params.get("api_key"):
            cfg.api_key = {"authorization": "Bearer %s" % params["api_key"]}
        if params.get("ca_cert"):
            cfg.ssl_ca_cert = params["ca_cert"]
        if params.get("validate_certs") is False:
            cfg.verify_ssl = False
        return cfg, "host %s" % host
    if not kubeconfig and not os.environ.get("KUBECONFIG") and os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise ClusterError("in-cluster configuration failed: %s" % exc, "config")
        return cfg, "in-cluster service account"
    path = os.path.expanduser(kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config")
    if not os.path.isfile(path):
        raise ClusterError("kubeconfig %s does not exist (set kubeconfig, K8S_AUTH_KUBECONFIG or KUBECONFIG)" % path, "config")
    try:
        contexts, _active = k8s_config.list_kube_config_contexts(config_file=path)
    except Exception as exc:  # pylint: disable=broad-except  # YAML, schema and I/O errors all mean "unreadable"
        raise ClusterError("kubeconfig %s cannot be read: %s" % (path, _first_line(exc)), "config")
    names = [c.get("name") for c in contexts or []]
    if context and context not in names:
        raise ClusterError("context %r not found in kubeconfig %s (available: %s)" % (context, path, ", ".join(names) or "none"), "config")
    try:
        k8s_config.load_kube_config(config_file=path, context=context, client_configuration=cfg, persist_config=False)
    except Exception as exc:  # pylint: disable=broad-except  # missing certs, exec plugin failures, bad fields
        raise ClusterError("kubeconfig %s (context %s) is unusable: %s" % (path, context or "current", _first_line(exc)), "config")
    if params.get("validate_certs") is False:
        cfg.verify_ssl = False
    return cfg, "kubeconfig %s context %s" % (path, context or "(current)")


class Client:
    """A small REST client returning JSON dicts.

    Authentication and TLS settings come from a kubernetes.client.Configuration (so kubeconfig
    exec plugins, token refresh and in-cluster config behave as everywhere else); the HTTP itself
    goes through urllib3, which keeps this independent of the generated client's internals."""

    def __init__(self, configuration: Any, source: str, request_timeout: int = 30) -> None:
        self.configuration = configuration
        self.host = configuration.host.rstrip("/")
        self.source = source
        self.request_timeout = request_timeout
        self._discovery: dict[str, dict[str, dict[str, Any]]] = {}
        kw: dict[str, Any] = {"maxsize": 8, "retries": False}
        if configuration.verify_ssl:
            kw["cert_reqs"] = "CERT_REQUIRED"
            kw["ca_certs"] = configuration.ssl_ca_cert
        else:
            kw["cert_reqs"] = "CERT_NONE"
        if configuration.cert_file:
            kw["cert_file"] = configuration.cert_file
            kw["key_file"] = configuration.key_file
        if getattr(configuration, "tls_server_name", None):
            kw["server_hostname"] = configuration.tls_server_name
        if getattr(configuration, "proxy", None):
            self.pool = urllib3.ProxyManager(configuration.proxy, **kw)
        else:
            self.pool = urllib3.PoolManager(**kw)

    def _auth_headers(self) -> dict[str, str]:
        auth = self.configuration.auth_settings().get("BearerToken") or {}
        value = auth.get("value")
        return {"Authorization": value} if value else {}

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
        headers = {"Accept": "application/json", "Content-Type": content_type}
        headers.update(self._auth_headers())
        q = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.host + path + ("?" + urlencode(q) if q else "")
        t = timeout if timeout is not None else self.request_timeout
        if isinstance(t, tuple):
            t = urllib3.Timeout(connect=t[0], read=t[1])
        try:
            resp = self.pool.request(
                method, url, body=json.dumps(body) if body is not None else None, headers=headers, timeout=t, preload_content=not stream, redirect=False
            )
        except _connection_errors() as exc:
            raise ClusterError("cannot reach the Kubernetes API at %s to %s: %s" % (self.host, what, _root_cause(exc)), "unreachable")
        if resp.status >= 400:
            data = resp.data if not stream else resp.read()
            raise translate_api_exception(_HTTPFailure(resp.status, resp.reason, data), what)
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
        except _connection_errors():
            return  # the watch ended (read timeout): the caller re-checks its deadline
        finally:
            resp.release_conn()

    def wait_for(
        self,
        api_version: str,
        kind: str,
        name: str,
        predicate: Callable[[dict[str, Any] | None], bool],
        namespace: str | None = None,
        timeout_s: float = 60,
        what: str = "",
    ) -> dict[str, Any] | None:
        """Wait, through a watch, until predicate(obj) is true; obj is None once deleted.

        Returns the object (or None) that satisfied the predicate.  Raises ClusterError(kind="timeout")
        when the deadline passes (``wait_until`` returns the last seen state instead)."""
        ok, last = self.wait_until(api_version, kind, name, predicate, namespace, timeout_s)
        if ok:
            return last
        raise ClusterError(
            "timed out after %ss waiting for %s %s%s" % (int(timeout_s), kind, _qual(namespace, name), " to %s" % what if what else ""), "timeout"
        )

    def wait_until(
        self,
        api_version: str,
        kind: str,
        name: str,
        predicate: Callable[[dict[str, Any] | None], bool],
        namespace: str | None = None,
        timeout_s: float = 60,
    ) -> tuple[bool, dict[str, Any] | None]:
        """Like ``wait_for``, for callers to whom a timeout is a finding, not an error:
        (True, the object) once predicate(obj) holds, else (False, the last state seen).

        No sleep loop: it lists once to get a resourceVersion, then watches from it, re-listing
        only when the server ends the watch."""
        deadline = time.monotonic() + timeout_s
        field_selector = "metadata.name=%s" % name
        last: dict[str, Any] | None = None
        while True:
            doc = self.list(api_version, kind, namespace, field_selector=field_selector)
            last = doc["items"][0] if doc["items"] else None
            if predicate(last):
                return True, last
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for ev in self.watch(api_version, kind, namespace, doc["resourceVersion"], field_selector=field_selector, timeout_s=remaining):
                etype = ev.get("type")
                if etype == "ERROR":
                    break  # e.g. 410 Gone: re-list
                if etype == "BOOKMARK":
                    continue
                obj = ev.get("object")
                last = None if etype == "DELETED" else obj
                if predicate(last):
                    return True, last
                if time.monotonic() >= deadline:
                    break
            if time.monotonic() >= deadline:
                break
        return False, last

    def holds(
        self,
        api_version: str,
        kind: str,
        name: str,
        forbidden: Callable[[dict[str, Any] | None], bool],
        namespace: str | None = None,
        seconds: float = 10,
    ) -> tuple[bool, dict[str, Any] | None]:
        """Watch an object for ``seconds`` and report whether ``forbidden(obj)`` stayed false.

        Returns (held, last_seen).  held is False as soon as the forbidden state is observed (for
        example: a gang member got bound, a claim that must stay unallocated got a device).  This
        is how negative cases are proven: by observation over a window, not by one snapshot."""
        seen, last = self.wait_until(api_version, kind, name, forbidden, namespace, seconds)
        return not seen, last

    def wait_gone(self, api_version: str, kind: str, name: str, namespace: str | None = None, timeout_s: float = 60) -> None:
        self.wait_for(api_version, kind, name, lambda o: o is None, namespace, timeout_s, what="be deleted")


def _qual(namespace: str | None, name: str | None) -> str:
    return "%s/%s" % (namespace, name) if namespace else str(name)


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
    cfg, source = _load_configuration(params)
    c = Client(cfg, source, int(params.get("request_timeout") or 30))
    _POOL[key] = c
    return c


def check_reachable(c: Client) -> dict[str, Any]:
    """GET /version: the first call of every probe, so that an unreachable server or bad
    credentials fail fast with one line."""
    return c.get_path("/version", what="read the server version")


def selector(labels: dict[str, str]) -> str:
    return ",".join("%s=%s" % (k, v) for k, v in sorted(labels.items()))
