# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ClusterError`` and the translation of HTTP and connection failures into one readable line.

Kept apart from the REST client (``client.py``) and the credential loading (``kube_auth.py``),
which both raise it; ``client.py`` re-exports every name here, so
``from ...module_utils.client import ClusterError`` keeps working.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
from typing import Any


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


class _HTTPFailure:
    """The parts of an HTTP error response that translate_api_exception reads."""

    def __init__(self, status: int, reason: str, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.body = body.decode("utf-8", "replace") if isinstance(body, bytes) else body


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


# A connection failure's marker in the exception text, what to call it, and what to check.
_CAUSES = (
    ("Connection refused", "connection refused", "nothing listens there: check the server URL"),
    ("Name or service not known", "host name not known", "check the server URL and DNS (a private endpoint resolves only inside its network)"),
    ("nodename nor servname", "host name not known", "check the server URL and DNS (a private endpoint resolves only inside its network)"),
    ("Temporary failure in name resolution", "host name not known", "check the server URL and DNS"),
    (
        "CERTIFICATE_VERIFY_FAILED",
        "TLS certificate verification failed",
        "set ca_cert (K8S_AUTH_SSL_CA_CERT) to the cluster's CA or fix certificate-authority-data in the kubeconfig",
    ),
    ("timed out", "timed out", "check the network path (VPN, firewall, private endpoint, proxy and no_proxy)"),
    ("No route to host", "no route to host", "check the network path (VPN, firewall, private endpoint, proxy and no_proxy)"),
)


def _cause_text(exc: BaseException) -> str:
    """The text of a connection failure, through urllib3's MaxRetryError to its reason."""
    reason = getattr(exc, "reason", None)
    return "%s %s" % (exc, reason) if isinstance(reason, BaseException) else str(exc)


def _root_cause(exc: BaseException) -> str:
    """The readable reason of a connection failure (connection refused, DNS, TLS, timeout)."""
    text = _cause_text(exc)
    for marker, said, _fix in _CAUSES:
        if marker in text:
            return said
    return text.splitlines()[0][:300] if text else exc.__class__.__name__


def unreachable_fix(exc: BaseException) -> str:
    """What to check for this connection failure (one clause, no newline)."""
    text = _cause_text(exc)
    for marker, _said, fix in _CAUSES:
        if marker in text:
            return fix
    return "check the server URL and that this machine can reach it"


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n")[:1]).strip()
    return text or exc.__class__.__name__
