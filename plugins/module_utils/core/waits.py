# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting on an object through a watch, never a sleep loop: the part of ``client.Client`` that
builds on its ``list`` and ``watch`` verbs (``Client`` inherits it)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from collections.abc import Iterator
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.api_errors import ClusterError


def _qual(namespace: str | None, name: str | None) -> str:
    return "%s/%s" % (namespace, name) if namespace else str(name)


def predicate_name(predicate: Callable[..., Any] | None) -> str:
    """The name of a named predicate function (``is_bound``); '' for a lambda or a callable
    without one."""
    name = getattr(predicate, "__name__", "") or ""
    return "" if name.startswith("<") else name


def condition_text(kind: str, namespace: str | None, name: str | None, what: str = "", predicate: Callable[[dict[str, Any] | None], bool] | None = None) -> str:
    """What a wait waits for, in words: ``Pod ns/p to be scheduled`` when the caller said
    (``what``), else ``Pod ns/p until is_bound`` from the predicate's name, else ``Pod ns/p until
    the probe's condition holds``.  The timeline, a timeout's evidence and the bench name waits by it."""
    target = "%s %s" % (kind, _qual(namespace, name))
    if what:
        return "%s to %s" % (target, what)
    pname = predicate_name(predicate)
    if pname:
        return "%s until %s" % (target, pname)
    if predicate is None:
        return target
    return "%s until the probe's condition holds" % target


class Waits:
    """Waits built on ``list`` and ``watch``, which the class that inherits this provides."""

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None, field_selector: str | None = None
    ) -> dict[str, Any]:
        raise NotImplementedError

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
        raise NotImplementedError

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
