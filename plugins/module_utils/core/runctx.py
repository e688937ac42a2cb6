# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run context: the run id, the two labels every created object carries, and cleanup.

A probe creates objects only through ``RunContext.create`` (which labels and records them) and
deletes only what the registry holds, after checking that the live object still carries this
run's label.  ``with RunContext(...) as ctx:`` cleans up in ``finally``, so a failed or crashed
probe leaves nothing behind.  ``sweep`` is the interrupted-run cleanup used by playbooks/cleanup.yml.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
import secrets
import time
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import lease as exclusive
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import Client, ClusterError, selector
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.timing import span

RUN_ID_LABEL = "ai-conformance.io/run-id"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "ai-conformance"
REQUIREMENT_LABEL = "ai-conformance.io/requirement"
_RUN_ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


def new_run_id() -> str:
    """Short, DNS-label-safe and sortable by time: r<yymmddhhmm>-<4 hex>."""
    return "r%s-%s" % (time.strftime("%y%m%d%H%M", time.gmtime()), secrets.token_hex(2))


def validate_run_id(run_id: str) -> str:
    if not _RUN_ID_RE.match(run_id or ""):
        raise ValueError("run_id %r must be 1-32 lowercase letters, digits or '-', starting and ending with a letter or digit" % run_id)
    return run_id


class RunContext:
    def __init__(self, client: Client, run_id: str, requirement: str = "", keep: bool = False, cleanup_timeout_s: float = 60) -> None:
        self.client = client
        self.run_id = validate_run_id(run_id)
        self.requirement = requirement
        self.keep = keep
        self.cleanup_timeout_s = cleanup_timeout_s
        self.created: list[dict[str, Any]] = []

    # -- labels ------------------------------------------------------------------------------
    @property
    def labels(self) -> dict[str, str]:
        out = {RUN_ID_LABEL: self.run_id, MANAGED_BY_LABEL: MANAGED_BY}
        if self.requirement:
            out[REQUIREMENT_LABEL] = self.requirement.replace("_", "-")
        return out

    @property
    def selector(self) -> str:
        return selector({RUN_ID_LABEL: self.run_id, MANAGED_BY_LABEL: MANAGED_BY})

    def name(self, stem: str) -> str:
        """A DNS-safe object name unique to this run."""
        base = re.sub(r"[^a-z0-9-]", "-", ("aic-%s-%s" % (stem, self.run_id)).lower())
        return base[:63].strip("-")

    def labelled(self, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj.setdefault("metadata", {})
        md.setdefault("labels", {}).update(self.labels)
        return obj

    # -- objects -----------------------------------------------------------------------------
    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        live = self.client.create(self.labelled(obj))
        self.track(live)
        return live

    def track(self, live: dict[str, Any]) -> None:
        md = live.get("metadata", {})
        self.created.append(
            {"apiVersion": live["apiVersion"], "kind": live["kind"], "name": md["name"], "namespace": md.get("namespace"), "uid": md.get("uid")}
        )

    def ensure_namespace(self, name: str | None = None) -> str:
        """Create the probe's own namespace for this run, ``aic-<requirement>-<run id>`` (or use
        an existing one the caller named, which is never deleted).  Returns its name.  One per
        probe, not one per run: probes of a run that run at the same time (the play's background
        lane) must not delete each other's namespace when they clean up."""
        ns = name or self.name(self.requirement.replace("_", "-") if self.requirement else "ns")
        with span("setup", "namespace %s and its default ServiceAccount" % ns):
            existing = self.client.get("v1", "Namespace", ns)
            if existing is None:
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                # Pods are refused until the service-account controller has made "default".
                self.client.wait_for("v1", "ServiceAccount", "default", lambda o: o is not None, ns, timeout_s=60, what="be created")
        return ns

    def owns(self, live: dict[str, Any] | None) -> bool:
        labels = (live or {}).get("metadata", {}).get("labels", {}) or {}
        return labels.get(RUN_ID_LABEL) == self.run_id and labels.get(MANAGED_BY_LABEL) == MANAGED_BY

    def delete(self, ref: dict[str, Any], wait: bool = False) -> str:
        """Delete one recorded object if it is still ours.  Returns what happened."""
        live = self.client.get(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace"))
        if live is None:
            return "already gone"
        if not self.owns(live) or (ref.get("uid") and live["metadata"].get("uid") != ref["uid"]):
            return "left alone: not created by run %s" % self.run_id
        propagation = "Background" if ref["kind"] == "Namespace" else "Foreground"
        self.client.delete(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace"), propagation=propagation)
        if wait:
            self.client.wait_gone(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace"), self.cleanup_timeout_s)
            return "deleted"
        return "delete requested"

    def cleanup(self, wait: bool = True) -> list[dict[str, Any]]:
        """Delete everything this run created, newest first, namespaces then Leases last.  Errors are
        recorded, never raised: cleanup must not hide the probe's own verdict.  The time it takes
        is the ``cleanup`` phase of the probe's timing."""
        if self.keep:
            return [dict(r, outcome="kept (keep_objects)") for r in self.created]
        with span("cleanup", "delete %d object(s) of run %s" % (len(self.created), self.run_id)):
            return self._delete_all(wait)

    def _delete_all(self, wait: bool) -> list[dict[str, Any]]:
        # Newest first; then the namespaces, and the exclusive Leases last: the capacity a Lease
        # guards is free only once the probe's pods and claims are gone, so another run must not get
        # it while they still terminate.
        def rank(ref: dict[str, Any]) -> int:
            return 2 if ref["kind"] == exclusive.KIND and ref.get("apiVersion") == exclusive.API else 1 if ref["kind"] == "Namespace" else 0

        ordered = sorted(reversed(self.created), key=rank)
        report: list[dict[str, Any]] = []
        inside: list[int] = []  # rows of objects deleted inside our namespaces, awaited together
        for ref in ordered:
            if rank(ref) and inside:
                self._await_gone(report, inside)
                inside = []
            try:
                in_ours = any(n["kind"] == "Namespace" and n["name"] == ref.get("namespace") for n in self.created)
                # A namespace is not waited for: the namespace controller starts on it only after its
                # deletion grace period (5 s), and every object the probe made in it was deleted and
                # waited for just before (a workload with foreground propagation: its pods too).  It
                # terminates in the background; cleanup_run awaits the run's namespaces at its end.
                outcome = self.delete(ref, wait=wait and not in_ours and ref["kind"] != "Namespace")
                if wait and in_ours and outcome == "delete requested":
                    inside.append(len(report))
            except ClusterError as exc:
                outcome = "error: %s" % exc
            report.append(dict(ref, outcome=outcome))
        self._await_gone(report, inside)
        self.created = []
        return report

    def _await_gone(self, report: list[dict[str, Any]], rows: list[int]) -> None:
        for i in rows:
            ref = report[i]
            try:
                self.client.wait_gone(ref["apiVersion"], ref["kind"], ref["name"], ref.get("namespace"), self.cleanup_timeout_s)
                ref["outcome"] = "deleted"
            except ClusterError as exc:
                ref["outcome"] = "error: %s" % exc

    def __enter__(self) -> RunContext:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


SWEEP_KINDS = (
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "Job"),
    ("resource.k8s.io/v1", "ResourceClaim"),
    ("resource.k8s.io/v1", "ResourceClaimTemplate"),
    ("resource.k8s.io/v1", "DeviceClass"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("scheduling.volcano.sh/v1beta1", "PodGroup"),
    ("scheduling.run.ai/v2alpha2", "PodGroup"),
    ("kueue.x-k8s.io/v1beta2", "LocalQueue"),
    ("kueue.x-k8s.io/v1beta2", "ClusterQueue"),
    # After the ClusterQueue: Kueue keeps a flavor a queue uses (finalizer resource-in-use).
    ("kueue.x-k8s.io/v1beta2", "ResourceFlavor"),
    ("ray.io/v1", "RayCluster"),
    ("v1", "Namespace"),
)


def await_namespaces(client: Client, run_id: str, timeout_s: float = 120) -> list[str]:
    """Wait until the run's namespaces are gone: probe cleanup deletes each probe's namespace and
    leaves it terminating in the background (RunContext._delete_all).  Returns those still there
    when ``timeout_s`` has passed (0: look once)."""
    labels = {RUN_ID_LABEL: validate_run_id(run_id), MANAGED_BY_LABEL: MANAGED_BY}
    names = [i["metadata"]["name"] for i in client.list("v1", "Namespace", label_selector=selector(labels))["items"]]
    deadline = time.monotonic() + timeout_s
    with span("cleanup", "the %d namespace(s) of run %s to be deleted" % (len(names), run_id)):
        return [n for n in names if not client.wait_until("v1", "Namespace", n, lambda o: o is None, None, max(0.0, deadline - time.monotonic()))[0]]


def sweep(client: Client, run_id: str | None = None, kinds: tuple = SWEEP_KINDS, dry_run: bool = False) -> list[dict[str, Any]]:
    """Delete objects left by interrupted runs: every object labelled managed-by=ai-conformance
    (and run-id, when given) of the listed kinds.  Kinds the cluster does not serve are skipped.
    With dry_run, only list them."""
    labels = {MANAGED_BY_LABEL: MANAGED_BY}
    if run_id:
        labels[RUN_ID_LABEL] = validate_run_id(run_id)
    out = []
    for api_version, kind in kinds:
        if not client.served(api_version, kind):
            continue
        try:
            items = client.list(api_version, kind, label_selector=selector(labels))["items"]
        except ClusterError as exc:
            if exc.status != 404:
                raise
            continue  # its CRD went away after discovery: nothing of that kind is left
        for item in items:
            md = item["metadata"]
            if kind == "Pod" and wl.KUEUE_POD_FINALIZER in (md.get("finalizers") or []) and not dry_run:
                # A killed gang probe's pods: Kueue holds them until their group ends, which the
                # probe itself would have done before deleting them (probes/gang.py).
                try:
                    wl.end_kueue_group(client, md["name"], md.get("namespace"))
                except ClusterError as exc:
                    if exc.status != 404:
                        raise
                    continue  # gone since the list
            if md.get("deletionTimestamp"):
                continue
            if dry_run or client.delete(api_version, kind, md["name"], md.get("namespace")):
                out.append(
                    {
                        "apiVersion": api_version,
                        "kind": kind,
                        "name": md["name"],
                        "namespace": md.get("namespace"),
                        "run_id": md.get("labels", {}).get(RUN_ID_LABEL),
                    }
                )
    # The exclusive probes' Leases (module_utils/lease.py) have fixed names in one namespace: read by
    # name, as the prober's RBAC allows (it may not list Leases cluster-wide), never listed.
    for name in (exclusive.lease_name(exclusive.GPU_CAPACITY),):
        item = client.get("coordination.k8s.io/v1", "Lease", name, exclusive.NAMESPACE)
        got = (item or {}).get("metadata", {}).get("labels", {})
        if not item or got.get(MANAGED_BY_LABEL) != MANAGED_BY or (run_id and got.get(RUN_ID_LABEL) != run_id):
            continue
        if dry_run or client.delete("coordination.k8s.io/v1", "Lease", name, exclusive.NAMESPACE):
            row = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "name": name, "namespace": exclusive.NAMESPACE}
            out.append(dict(row, run_id=got.get(RUN_ID_LABEL)))
    return out
