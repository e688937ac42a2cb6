# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exclusive probes: a coordination.k8s.io Lease that one run holds at a time.

Two runs against the same cluster (different run ids) share its free accelerator capacity: a probe
that sizes its workload to what is free (gang_probe fills every free GPU but one group's worth,
autoscaler_probe fills the pool and asks for one node more) cannot run beside another such probe.
Such a probe takes the Lease ``aic-exclusive-<resource>`` (holder: its run id) before it looks at
the capacity, renews it while it runs and deletes it when it ends, failed or not (the Lease is
created through the run context, whose cleanup deletes what the run created).  A run that is
killed cannot delete it: its Lease expires ``leaseDurationSeconds`` after its last renewal, counted
on the waiter's own clock (the holder's renewTime is not compared with it: two control nodes'
clocks may disagree), as client-go's leader election does.  A run that finds the Lease held waits
up to a bound, then gives up naming the holder.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError

API = "coordination.k8s.io/v1"
KIND = "Lease"
# A namespace every cluster has: the Lease must be found by every run, whoever created it.
NAMESPACE = "default"
DURATION_S = 60
POLL_S = 2.0
# How long a run waits for another's exclusive probes by default: the other may run both of them
# (gang scheduling, then cluster autoscaling with its scale-up and scale-down timeouts).  A probe
# whose module has the option ``exclusive_wait`` uses that instead.
WAIT_S = 1800
# The one shared resource the exclusive probes size their workloads to.
GPU_CAPACITY = "gpu-capacity"


def lease_name(resource: str) -> str:
    return "aic-exclusive-%s" % resource


def micro_time(epoch: float) -> str:
    """A MicroTime as the API server writes it (RFC 3339, microseconds, UTC)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseBusy(Exception):
    """Another run held the Lease for the whole wait."""

    def __init__(self, name: str, namespace: str, holder: str, waited_s: float) -> None:
        self.name, self.namespace, self.holder, self.waited_s = name, namespace, holder, waited_s
        super().__init__(
            "Lease %s/%s is held by run %s (another run against this cluster is probing the same shared resource); waited %d s for it"
            % (namespace, name, holder or "unknown", int(waited_s))
        )


class ExclusiveLease:
    """One holder's view of one Lease: acquire (waiting), renew, release."""

    def __init__(
        self,
        client: Any,
        name: str,
        holder: str,
        namespace: str = NAMESPACE,
        duration_s: int = DURATION_S,
        labels: dict[str, str] | None = None,
        clock: Callable[[], float] | None = None,
        wall: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.client, self.name, self.holder, self.namespace = client, name, holder, namespace
        self.duration_s = duration_s
        self.labels = dict(labels or {})
        # The module's ``time`` as it is when the holder is made (tests put the fake cluster's clock there).
        self.clock = clock or time.monotonic
        self.wall = wall or time.time
        self.sleep = sleep or time.sleep
        self.live: dict[str, Any] | None = None
        self.previous_holder = ""
        # What this holder last saw of another's Lease: (resourceVersion, when first seen on our clock).
        self._seen: tuple[str, float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.renew_errors: list[str] = []

    # -- the object ---------------------------------------------------------------------------
    def _spec(self, transitions: int) -> dict[str, Any]:
        now = micro_time(self.wall())
        return {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.duration_s,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _body(self, transitions: int = 0) -> dict[str, Any]:
        return {
            "apiVersion": API,
            "kind": KIND,
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(self.labels)},
            "spec": self._spec(transitions),
        }

    def expired(self, live: dict[str, Any]) -> bool:
        """Has ``live`` gone unrenewed for its leaseDurationSeconds, by our own clock?  Its
        resourceVersion changes on every renewal; the first sighting of a version starts the count."""
        spec = live.get("spec") or {}
        if not spec.get("holderIdentity"):
            return True  # released
        rv = live["metadata"].get("resourceVersion", "")
        now = self.clock()
        if self._seen is None or self._seen[0] != rv:
            self._seen = (rv, now)
            return False
        return now - self._seen[1] >= int(spec.get("leaseDurationSeconds") or self.duration_s)

    # -- acquire --------------------------------------------------------------------------------
    def try_acquire(self) -> bool:
        """One attempt: create the Lease, or take it over when it is ours already (a rerun of the
        same run id), released or expired.  A write that loses a race (AlreadyExists, Conflict)
        is a miss, never an error."""
        live = self.client.get(API, KIND, self.name, self.namespace)
        try:
            if live is None:
                self.live = self.client.create(self._body())
                return True
            holder = (live.get("spec") or {}).get("holderIdentity") or ""
            if holder != self.holder and not self.expired(live):
                self.previous_holder = holder
                return False
            self.previous_holder = holder
            transitions = int((live.get("spec") or {}).get("leaseTransitions") or 0) + (1 if holder != self.holder else 0)
            # The labels move to this run too: the run that held it must not delete it in its cleanup.
            patch = {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"], "labels": dict(self.labels)}, "spec": self._spec(transitions)}
            self.live = self.client.patch(API, KIND, self.name, patch, self.namespace)
            return True
        except ClusterError as exc:
            if exc.kind == "conflict":  # AlreadyExists and Conflict are both 409
                return False
            raise

    def acquire(self, wait_s: float, poll_s: float = POLL_S) -> float:
        """Take the Lease, waiting up to ``wait_s`` seconds; returns the seconds waited.  Raises
        LeaseBusy naming the holder when it stayed held."""
        t0 = self.clock()
        while True:
            if self.try_acquire():
                return self.clock() - t0
            waited = self.clock() - t0
            if waited >= wait_s:
                raise LeaseBusy(self.name, self.namespace, self.previous_holder, waited)
            self.sleep(min(poll_s, max(0.1, wait_s - waited)))

    # -- renew and release ------------------------------------------------------------------------
    def renew(self) -> bool:
        """Move renewTime forward; False (and stop renewing) when the Lease is gone or no longer ours."""
        live = self.client.get(API, KIND, self.name, self.namespace)
        if live is None or (live.get("spec") or {}).get("holderIdentity") != self.holder:
            return False
        patch = {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"]}, "spec": {"renewTime": micro_time(self.wall())}}
        self.live = self.client.patch(API, KIND, self.name, patch, self.namespace)
        return True

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.duration_s / 3.0):
            try:
                if not self.renew():
                    return
            except ClusterError as exc:  # a missed renewal is retried; the Lease lasts two more periods
                self.renew_errors.append(exc.message)

    def start_renewing(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._renew_loop, name="lease-%s" % self.name, daemon=True)
            self._thread.start()

    def stop_renewing(self) -> None:
        self._stop.set()

    def release(self) -> bool:
        """Delete the Lease if it is still ours; False when it was not."""
        self.stop_renewing()
        live = self.client.get(API, KIND, self.name, self.namespace)
        if live is None or (live.get("spec") or {}).get("holderIdentity") != self.holder:
            return False
        return bool(self.client.delete(API, KIND, self.name, self.namespace))


def hold_for_probe(client: Any, ctx: Any, result: Any, resource: str, wait_s: float, duration_s: int = DURATION_S, **kw: Any) -> ExclusiveLease | None:
    """Take the exclusive Lease for ``resource`` for a probe: holder = the run id, labelled as the
    run's other objects, recorded in the run context so that its cleanup deletes it (at the end
    and on failure), renewed meanwhile.  When another run holds it for the whole wait the result
    is decided ``skip`` naming the holder, and None is returned: the probe must stop there.
    ``observations["lease"]`` says what happened either way."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict

    lease = ExclusiveLease(client, lease_name(resource), ctx.run_id, duration_s=duration_s, labels=ctx.labels, **kw)
    obs: dict[str, Any] = {"name": lease.name, "namespace": lease.namespace, "holder": ctx.run_id, "wait_limit_s": wait_s}
    result.observations["lease"] = obs
    if not client.served(API, KIND):
        # Every conformant cluster serves Leases (node heartbeats use them); without them there is
        # no coordination to take part in, and the probe runs as if alone, saying so.
        obs.update(acquired=False, skipped="coordination.k8s.io/v1 Lease is not served: ran without the exclusive lease")
        return lease
    try:
        waited = lease.acquire(wait_s)
    except LeaseBusy as exc:
        obs.update(acquired=False, held_by=exc.holder, waited_s=round(exc.waited_s, 1))
        result.decide(Verdict.SKIP, "not probed: %s" % exc)
        return None
    obs.update(acquired=True, waited_s=round(waited, 1), previous_holder=lease.previous_holder or None)
    if lease.live is not None:
        ctx.track(lease.live)
    lease.start_renewing()
    return lease
