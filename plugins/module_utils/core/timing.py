# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a probe's time goes: phases, each wait with its condition, and the API requests it sent.

``Probe.execute`` (module_utils/probe.py) starts one ``Timing`` per probe and hands the probe a
``TimedClient``: object creation is *setup*, each ``wait_for``/``wait_until``/``wait_gone`` a
*wait* named by its condition, each ``holds`` window an *observe*; the run context adds the
namespace set-up and the *cleanup*.  A probe names its own fixed windows with ``observe``.  The
result carries ``observations.timing``: the wall time, seconds per phase (the time of a nested span
counts to the outermost one, so the phases and ``other`` add up to the wall time), the spans with
start and end in seconds after the probe started (a timeline), and the requests counted by the
transport.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.api_errors import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.transport import RequestCounter
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.waits import condition_text, predicate_name

# connect: client and reachability; setup: creating objects (and the namespace's readiness);
# wait: a watch on a condition; observe: a fixed window (a negative case held, a settle time);
# cleanup: deleting what the probe created; evidence: what a timed-out probe gathers.
PHASES = ("connect", "setup", "wait", "observe", "cleanup", "evidence")
# Spans kept for the timeline; the phase totals count every span.
MAX_SPANS = 200
_WHAT_MAX = 200

_CURRENT: ContextVar[Timing | None] = ContextVar("aic_timing", default=None)


class Timing:
    """One probe's timeline.  Spans opened by another thread than the one that made it are kept in
    the timeline (``thread``) but not added to the phase totals, which stay within the wall time."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.started_epoch = time.time()
        self.totals = dict.fromkeys(PHASES, 0.0)
        self.spans: list[dict[str, Any]] = []
        self.dropped = 0
        self.requests = RequestCounter()
        self._owner = threading.get_ident()
        self._depth = 0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.t0

    @contextmanager
    def span(self, phase: str, what: str = "", **extra: Any) -> Iterator[dict[str, Any]]:
        """Time the block as ``phase``.  The caller may set ``outcome`` (and other keys) on the
        yielded dict; an exception sets ``error`` (``timeout`` for a ClusterError of that kind)."""
        if phase not in PHASES:
            raise ValueError("unknown phase %r (allowed: %s)" % (phase, ", ".join(PHASES)))
        mine = threading.get_ident() == self._owner
        rec: dict[str, Any] = {"phase": phase, "what": what[:_WHAT_MAX], "start": round(self.now(), 3)}
        rec.update(extra)
        start = time.monotonic()
        outer = mine and self._depth == 0
        if mine:
            self._depth += 1
            if not outer:
                rec["nested"] = True
        else:
            rec["thread"] = threading.current_thread().name
        try:
            yield rec
        except ClusterError as exc:
            rec.setdefault("outcome", "timeout" if exc.kind == "timeout" else "error")
            raise
        except BaseException:
            rec.setdefault("outcome", "error")
            raise
        finally:
            seconds = time.monotonic() - start
            rec["end"] = round(self.now(), 3)
            rec["seconds"] = round(seconds, 3)
            with self._lock:
                if mine:
                    self._depth -= 1
                if outer:
                    self.totals[phase] += seconds
                if len(self.spans) < MAX_SPANS:
                    self.spans.append(rec)
                else:
                    self.dropped += 1

    def timed_out(self) -> list[dict[str, Any]]:
        """The waits that ran out of time, in order."""
        return [s for s in self.spans if s["phase"] == "wait" and s.get("outcome") == "timeout"]

    def to_dict(self) -> dict[str, Any]:
        wall = self.now()
        phases = {k: round(v, 3) for k, v in self.totals.items()}
        # The probe's own reads, actions (patches, traffic), computation and the sleeps and polls
        # it does not name: what no span covers.
        phases["other"] = round(max(0.0, wall - sum(self.totals.values())), 3)
        return {
            "started_epoch": round(self.started_epoch, 3),
            "wall_s": round(wall, 3),
            "phases_s": phases,
            "spans": list(self.spans),
            "spans_dropped": self.dropped,
            "api_requests": self.requests.to_dict(),
        }


def current() -> Timing | None:
    return _CURRENT.get()


@contextmanager
def active(timing: Timing) -> Iterator[Timing]:
    """Make ``timing`` the one ``span`` and ``observe`` record into, in this context."""
    token = _CURRENT.set(timing)
    try:
        yield timing
    finally:
        _CURRENT.reset(token)


@contextmanager
def span(phase: str, what: str = "", **extra: Any) -> Iterator[dict[str, Any]]:
    """``Timing.span`` on the current timing; a plain block (nothing recorded) when there is none."""
    timing = current()
    if timing is None:
        yield dict(extra, phase=phase, what=what)
        return
    with timing.span(phase, what, **extra) as rec:
        yield rec


def observe(seconds: float, what: str) -> None:
    """A fixed window (a settle time, a quiet period): sleep ``seconds`` as an ``observe`` span
    named ``what``.  Probes call this instead of ``time.sleep`` so the bench can name the window."""
    with span("observe", what, window_s=round(float(seconds), 3)):
        time.sleep(max(0.0, float(seconds)))


def _qual(namespace: str | None, name: str | None) -> str:
    return "%s/%s" % (namespace, name) if namespace else str(name)


class TimedClient:
    """The client a probe gets: every attribute is the wrapped client's, and the calls that make a
    phase are timed.  It wraps any client with the verbs of ``client.Client`` (the fake cluster of
    the unit tests too).  ``what`` may be passed to ``wait_until`` and ``holds`` to name the
    condition; the wrapped client does not see it."""

    def __init__(self, client: Any, timing: Timing) -> None:
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_timing", timing)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._client, name, value)

    @property
    def wrapped(self) -> Any:
        return self._client

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj.get("metadata") or {}
        with self._timing.span("setup", "create %s %s" % (obj.get("kind"), _qual(md.get("namespace"), md.get("name") or md.get("generateName")))):
            return self._client.create(obj)

    def wait_until(
        self,
        api_version: str,
        kind: str,
        name: str,
        predicate: Callable[[dict[str, Any] | None], bool],
        namespace: str | None = None,
        timeout_s: float = 60,
        what: str = "",
    ) -> tuple[bool, dict[str, Any] | None]:
        with self._timing.span("wait", condition_text(kind, namespace, name, what, predicate), timeout_s=timeout_s) as rec:
            ok, last = self._client.wait_until(api_version, kind, name, predicate, namespace, timeout_s)
            rec["outcome"] = "met" if ok else "timeout"
            return ok, last

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
        with self._timing.span("wait", condition_text(kind, namespace, name, what, predicate), timeout_s=timeout_s) as rec:
            out = self._client.wait_for(api_version, kind, name, predicate, namespace, timeout_s, what)
            rec["outcome"] = "met"
            return out

    def wait_gone(self, api_version: str, kind: str, name: str, namespace: str | None = None, timeout_s: float = 60) -> None:
        with self._timing.span("wait", condition_text(kind, namespace, name, "be deleted"), timeout_s=timeout_s) as rec:
            self._client.wait_gone(api_version, kind, name, namespace, timeout_s)
            rec["outcome"] = "met"

    def holds(
        self,
        api_version: str,
        kind: str,
        name: str,
        forbidden: Callable[[dict[str, Any] | None], bool],
        namespace: str | None = None,
        seconds: float = 10,
        what: str = "",
    ) -> tuple[bool, dict[str, Any] | None]:
        pname = predicate_name(forbidden)
        text = "%s %s: %s" % (kind, _qual(namespace, name), what or ("%s stays false" % pname if pname else "the forbidden state stays away"))
        with self._timing.span("observe", "%s for %gs" % (text, seconds), window_s=seconds) as rec:
            held, last = self._client.holds(api_version, kind, name, forbidden, namespace, seconds)
            rec["outcome"] = "held" if held else "broken"
            return held, last
