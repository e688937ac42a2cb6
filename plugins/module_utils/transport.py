# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP transport of the REST client (``client.py``): a urllib3 pool with the TLS and proxy
settings of a kubernetes.client Configuration, and the retry policy of each request.

Idempotent requests (GET, which includes list and the start of a watch, HEAD and DELETE) are
retried by urllib3's own ``Retry`` on connection errors and on 429/500/502/503/504, with
exponential backoff and the server's Retry-After honoured (capped).  POST and PATCH are retried
only when the connection could not be opened, that is when nothing was sent: never after a
response or a connection that broke while the request was under way.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import socket
from typing import Any
from urllib.parse import urlparse
from urllib.request import proxy_bypass_environment

try:
    import urllib3
    from urllib3.util.retry import Retry

    HAS_URLLIB3 = True
except ImportError:
    HAS_URLLIB3 = False
    Retry = object  # type: ignore[assignment,misc]

try:
    from kubernetes.client.rest import should_bypass_proxies  # kubernetes >= 35: CIDR entries too
except ImportError:
    should_bypass_proxies = None

# Retries of one request: how many, the backoff factor (urllib3 sleeps 0, 2x, 4x... seconds between
# attempts), the statuses worth another try, the methods retried after a response or a broken
# connection, and the longest Retry-After honoured (a longer one is shortened to it).
RETRIES = 3
RETRY_BACKOFF_S = 0.5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_METHODS = frozenset({"GET", "HEAD", "DELETE"})
RETRY_AFTER_MAX_S = 30.0


class _Retry(Retry):  # type: ignore[misc,valid-type]
    """urllib3's Retry, with the server's Retry-After capped at RETRY_AFTER_MAX_S."""

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(float(seconds), RETRY_AFTER_MAX_S)


def retry_policy(retries: int = RETRIES, backoff: float = RETRY_BACKOFF_S) -> Any:
    """The urllib3 Retry of a request.  A connection that could not be opened is retried whatever
    the method (nothing was sent); a status or a connection broken under way only for
    RETRY_METHODS: urllib3 checks ``allowed_methods`` before those, so a POST or PATCH is sent once."""
    return _Retry(
        total=retries,
        connect=retries,
        read=1,  # a read timeout costs request_timeout each time: retried once
        status=retries,
        other=0,  # TLS and protocol errors do not heal by themselves
        redirect=False,
        allowed_methods=RETRY_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def _bypass_proxy(url: str, no_proxy: str) -> bool:
    if not no_proxy:
        return False
    if should_bypass_proxies is not None:
        return bool(should_bypass_proxies(url, no_proxy))
    return bool(proxy_bypass_environment(urlparse(url).hostname or "", {"no": no_proxy}))


def connection_errors() -> tuple:
    errs: list = [socket.error, ConnectionError]
    if HAS_URLLIB3:
        errs.append(urllib3.exceptions.HTTPError)
    return tuple(errs)


def make_pool(configuration: Any, host: str) -> tuple[Any, str | None]:
    """(urllib3 pool, the proxy it goes through or None) for this Configuration."""
    kw: dict[str, Any] = {"maxsize": 8}
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
    proxy = getattr(configuration, "proxy", None)
    if proxy and not _bypass_proxy(host, getattr(configuration, "no_proxy", None) or ""):
        return urllib3.ProxyManager(proxy, proxy_headers=getattr(configuration, "proxy_headers", None), **kw), proxy
    return urllib3.PoolManager(**kw), None
