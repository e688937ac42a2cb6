# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Accelerators that another probe of the same run holds, for the probes that size a workload to
what a node has free.

In conformance.yml's lanes, pod_autoscaling runs in the background beside the accelerator probes.
Its Deployment is pinned to one GPU node (``pin_node``): the smallest that fits its replicas, so
the larger ones stay free.  A probe that fills a node's free accelerators (secure_accelerator_access,
gpu_sharing) or counts them for a runtime check leaves out the nodes where pods of the run's other
requirements hold the same kind of accelerator, bound there or pinned there (``held``); when every
candidate is held it waits for one to be left (``unheld``).  A run-mate's workload is a workload,
not free capacity, and not a platform that refuses a pod it should take.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import os
import time
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import lease
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import REQUIREMENT_LABEL
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import isolation as iso
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt

POLL_S = 1.0
# The accelerators a DRA claim holds (a pod with spec.resourceClaims), as opposed to an extended resource's name.
DRA = ""


def pinned_node(pod: dict[str, Any]) -> str | None:
    """The node a pod is on, or the one it can only go to (a hostname nodeSelector, or a required
    node affinity whose every term names one hostname)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    if (spec.get("nodeSelector") or {}).get(wl.HOSTNAME):
        return spec["nodeSelector"][wl.HOSTNAME]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms") or []
    names = set()
    for term in terms:
        exprs = [e for e in term.get("matchExpressions") or [] if e.get("key") == wl.HOSTNAME and e.get("operator") == "In"]
        if len(exprs) != 1 or len(exprs[0].get("values") or []) != 1:
            return None
        names.add(exprs[0]["values"][0])
    return names.pop() if len(names) == 1 else None


def _holds(pod: dict[str, Any], resources: tuple[str, ...]) -> bool:
    # DRA: the pod's own claims, or the claim the scheduler made for an extended resource it
    # satisfied through DRA (DRAExtendedResource).
    claims = bool((pod.get("spec") or {}).get("resourceClaims") or (pod.get("status") or {}).get("extendedResourceClaimStatus"))
    return any(claims if r == DRA else iso.requested(pod, r) > 0 for r in resources)


def dra_resources(client: Any) -> tuple[str, ...]:
    """What holds DRA devices: claims, and the extended resources a DeviceClass maps to its devices
    (spec.extendedResourceName: a pod that asks for one, pending, will hold a device when bound)."""
    classes = client.list(dra.API, "DeviceClass")["items"]
    return (DRA,) + tuple(sorted({c["spec"]["extendedResourceName"] for c in classes if (c.get("spec") or {}).get("extendedResourceName")}))


def only(by_node: dict[str, int], names: set[str]) -> dict[str, int]:
    return {k: v for k, v in by_node.items() if k in names}


def held(client: Any, ctx: Any, resources: tuple[str, ...], pods: list[dict[str, Any]] | None = None) -> dict[str, list[str]]:
    """node -> the run's other requirements whose pods hold one of ``resources`` there (extended
    resources' names, or DRA for claims): pods of the run's namespaces but the probe's own, not
    finished (a terminating pod still holds what it had)."""
    mine = (ctx.requirement or "").replace("_", "-")
    owners = {}
    for ns in client.list("v1", "Namespace", label_selector=ctx.selector)["items"]:
        req = (ns["metadata"].get("labels") or {}).get(REQUIREMENT_LABEL, "")
        if req != mine:
            owners[ns["metadata"]["name"]] = req or ns["metadata"]["name"]
    if not owners:
        return {}
    out: dict[str, set[str]] = {}
    for pod in client.list("v1", "Pod")["items"] if pods is None else pods:
        owner = owners.get(pod["metadata"].get("namespace", ""))
        node = pinned_node(pod) if owner else None
        if node and (pod.get("status") or {}).get("phase") not in iso.TERMINAL and _holds(pod, resources):
            out.setdefault(node, set()).add(owner)
    return {node: sorted(reqs) for node, reqs in out.items()}


def unheld(
    client: Any,
    ctx: Any,
    result: Any,
    what: str,
    resources: tuple[str, ...],
    candidates: Callable[[list[dict[str, Any]]], dict[str, int]],
    wait_s: float = lease.WAIT_S,
) -> dict[str, int]:
    """``candidates(pods)`` (node -> free count, from the cluster's pods) without the nodes where
    the run's other probes hold one of ``resources``.  When every candidate is held, wait (up to
    ``wait_s``) until one is not.  What was left out, and how long it waited, goes to
    ``observations.beside_run_mates[what]``."""
    t0, slept = time.monotonic(), False
    while True:
        pods = client.list("v1", "Pod")["items"]
        cands = candidates(pods)
        taken = held(client, ctx, resources, pods) if cands else {}
        rest = {n: c for n, c in cands.items() if n not in taken}
        left = {n: taken[n] for n in sorted(cands) if n in taken}
        waited = round(time.monotonic() - t0, 1) if slept else 0.0
        if left or slept:
            result.observations.setdefault("beside_run_mates", {})[what] = {"left_out": left, "waited_s": waited}
        if rest or not left or waited >= wait_s:
            return rest
        time.sleep(POLL_S)
        slept = True


def pin_node(
    nodes: list[dict[str, Any]], pods: list[dict[str, Any]], resource: str, want: int, tolerations: Any, selector: dict[str, str] | None
) -> str | None:
    """The Ready, schedulable node with at least ``want`` free ``resource`` whose taints
    ``tolerations`` tolerate and whose labels match ``selector``: the one with the fewest free
    (the fullest nodes stay for the probes that fill one), the last by name among equals."""
    free = iso.free_by_node(nodes, pods, resource)
    fits = []
    for n in nodes:
        name, labels = n["metadata"]["name"], n["metadata"].get("labels") or {}
        if rt.ready(n) and free.get(name, 0) >= want and wl.tolerates(n, tolerations) and all(labels.get(k) == v for k, v in (selector or {}).items()):
            fits.append((free[name], name))
    if not fits:
        return None
    fewest = min(fits)[0]
    return max(name for f, name in fits if f == fewest)


def wait_marker(marker: str, wait_s: float) -> float | None:
    """Seconds waited for the file ``marker`` (the play writes it once the run's accelerator probes
    are done), or None when it did not come in ``wait_s``."""
    t0 = time.monotonic()
    while not os.path.exists(marker):
        if time.monotonic() - t0 >= wait_s:
            return None
        time.sleep(1.0)
    return round(time.monotonic() - t0, 1)


def placement(client: Any, result: Any, p: dict[str, Any], wait_s: float = lease.WAIT_S) -> dict[str, str] | None:
    """hpa_probe's node selector for its GPU pods (options node_selector, alongside_marker,
    resource_name, max_replicas, tolerations).  Beside the accelerator probes (a marker is given),
    pinned to ``pin_node``'s node, or, where none fits, unpinned once the marker is there.  None:
    the marker did not come in ``wait_s``, and the result is decided."""
    sel = dict(p["node_selector"] or {})
    if not p["alongside_marker"] or wl.HOSTNAME in sel:
        return sel
    node = pin_node(client.list("v1", "Node")["items"], client.list("v1", "Pod")["items"], p["resource_name"], p["max_replicas"], p["tolerations"], sel)
    obs = result.observations["placement"] = {"pinned_node": node, "beside_accelerator_probes": True}
    if node:
        return dict(sel, **{wl.HOSTNAME: node})
    waited = wait_marker(p["alongside_marker"], wait_s)
    if waited is None:
        result.decide(
            Verdict.ERROR,
            "not probed: no node has %d free %s to pin the pods to, and the run's accelerator probes did not finish in %d s"
            % (p["max_replicas"], p["resource_name"], wait_s),
        )
        return None
    obs.update(beside_accelerator_probes=False, waited_s=waited)
    return sel
