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

Every request is counted (``RequestCounter``): by the pool (the client's lifetime) and by the
counter a probe made current with ``counting`` (its result's ``observations.timing.api_requests``).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


class RequestCounter:
    """HTTP requests sent to the API server, by verb: the HTTP method, with WATCH for a GET that
    opens a watch (one request however long it streams).  ``retries`` counts the attempts that
    failed and were retried or given up (urllib3's Retry.increment), so the requests the server
    saw are at most ``total`` + ``retries``."""

    def __init__(self) -> None:
        self.by_verb: dict[str, int] = {}
        self.retries = 0
        self._lock = threading.Lock()

    def add(self, method: str, url: str) -> None:
        verb = "WATCH" if method.upper() == "GET" and "watch=true" in url else method.upper()
        with self._lock:
            self.by_verb[verb] = self.by_verb.get(verb, 0) + 1

    def add_retry(self) -> None:
        with self._lock:
            self.retries += 1

    @property
    def total(self) -> int:
        return sum(self.by_verb.values())

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_verb": dict(sorted(self.by_verb.items())), "retries": self.retries}


# The counter of the probe running in this context.  A thread a probe starts has a context of its
# own, so while exactly one counter is active in the process its requests count there too.
_CURRENT: ContextVar[RequestCounter | None] = ContextVar("aic_request_counter", default=None)
_ACTIVE: list[RequestCounter] = []


@contextmanager
def counting(counter: RequestCounter) -> Iterator[RequestCounter]:
    """Count every request sent in this context (and, while it is the only one, in the process)
    in ``counter``."""
    token = _CURRENT.set(counter)
    _ACTIVE.append(counter)
    try:
        yield counter
    finally:
        _CURRENT.reset(token)
        _ACTIVE.remove(counter)


def current_counter() -> RequestCounter | None:
    found = _CURRENT.get()
    if found is None and len(_ACTIVE) == 1:
        found = _ACTIVE[0]
    return found


def _count(pool_counter: RequestCounter | None, method: str, url: str) -> None:
    for counter in (pool_counter, current_counter()):
        if counter is not None:
            counter.add(method, url)


class _Retry(Retry):  # type: ignore[misc,valid-type]
    """urllib3's Retry, with the server's Retry-After capped at RETRY_AFTER_MAX_S; every failed
    attempt is counted (``RequestCounter.retries``)."""

    def increment(self, *args: Any, **kwargs: Any) -> Any:
        counter = current_counter()
        if counter is not None:
            counter.add_retry()
        return super().increment(*args, **kwargs)

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


if HAS_URLLIB3:

    class CountingPoolManager(urllib3.PoolManager):  # type: ignore[misc]
        """A PoolManager that counts each request it sends (``requests``: the client's lifetime)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.requests = RequestCounter()

        def request(self, method: str, url: str, *args: Any, **kw: Any) -> Any:
            _count(self.requests, method, url)
            return super().request(method, url, *args, **kw)

    class CountingProxyManager(urllib3.ProxyManager):  # type: ignore[misc]
        """The ProxyManager counterpart of CountingPoolManager."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.requests = RequestCounter()

        def request(self, method: str, url: str, *args: Any, **kw: Any) -> Any:
            _count(self.requests, method, url)
            return super().request(method, url, *args, **kw)


def make_pool(configuration: Any, host: str) -> tuple[Any, str | None]:
    """(urllib3 pool, the proxy it goes through or None) for this Configuration; the pool counts
    its requests (``pool.requests``)."""
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
        return CountingProxyManager(proxy, proxy_headers=getattr(configuration, "proxy_headers", None), **kw), proxy
    return CountingPoolManager(**kw), None
