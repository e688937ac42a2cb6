# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Accounting facts for secure_accelerator_access: free accelerators per node, host-device access in pod specs and its admission check."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra

TERMINAL = ("Succeeded", "Failed")


def qty(v: Any) -> int:
    try:
        return int(str(v))
    except ValueError:
        return 0


def requested(p: dict[str, Any], resource: str) -> int:
    """Extended resources are requested through limits (requests default to them)."""
    total = 0
    for c in p.get("spec", {}).get("containers", []) or []:
        res = c.get("resources", {}) or {}
        total += qty((res.get("limits") or {}).get(resource, (res.get("requests") or {}).get(resource, 0)))
    return total


def free_by_node(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], resource: str) -> dict[str, int]:
    """node -> allocatable minus what non-terminated pods bound there request."""
    used: dict[str, int] = {}
    for p in pods:
        node = p.get("spec", {}).get("nodeName")
        if node and p.get("status", {}).get("phase") not in TERMINAL:
            used[node] = used.get(node, 0) + requested(p, resource)
    out = {}
    for n in nodes:
        alloc = qty((n.get("status", {}).get("allocatable") or {}).get(resource, 0))
        if alloc > 0 and not n.get("spec", {}).get("unschedulable"):
            out[n["metadata"]["name"]] = alloc - used.get(n["metadata"]["name"], 0)
    return out


def idle_dra_nodes(slices: list[dict[str, Any]], claims: list[dict[str, Any]], driver: str) -> dict[str, int]:
    """node -> device count, for nodes none of whose devices of ``driver`` is allocated to any claim."""
    devices = dra.published_devices(slices, driver)
    busy_pools = {(r.get("pool")) for c in claims for r in dra.allocation_results(c) if r.get("driver") == driver}
    count: dict[str, int] = {}
    pools: dict[str, str] = {}
    for (pool, _name), d in devices.items():
        if d["node"]:
            count[d["node"]] = count.get(d["node"], 0) + 1
            pools[d["node"]] = pool
    return {node: n for node, n in count.items() if pools[node] not in busy_pools}


def free_dra_devices(slices: list[dict[str, Any]], claims: list[dict[str, Any]], driver: str) -> dict[str, int]:
    """node -> how many devices of ``driver`` on it no claim has allocated."""
    taken = {(r.get("pool"), r.get("device")) for c in claims for r in dra.allocation_results(c) if r.get("driver") == driver}
    out: dict[str, int] = {}
    for key, d in dra.published_devices(slices, driver).items():
        if d["node"]:
            out[d["node"]] = out.get(d["node"], 0) + (key not in taken)
    return out


def host_device_access(p: dict[str, Any]) -> list[str]:
    """Ways a pod spec reaches host devices without the resource framework."""
    found = []
    spec = p.get("spec", {})
    for v in spec.get("volumes", []) or []:
        path = (v.get("hostPath") or {}).get("path", "")
        if path == "/dev" or path.startswith("/dev/nvidia") or path.startswith("/dev/dri"):
            found.append("hostPath volume %s" % path)
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if (c.get("securityContext") or {}).get("privileged"):
            found.append("privileged container %s" % c.get("name"))
    return found


def host_devices_refused(client: Any, ctx: Any, result: Any, ns: str) -> None:
    """secure_accelerator_access's admission check: a privileged pod mounting host /dev (with
    NVIDIA_VISIBLE_DEVICES=all) is refused, and none of the probe's accelerator pods uses host
    device access."""
    bad = wl.pod("hostdev", ns, env={"NVIDIA_VISIBLE_DEVICES": "all"})
    bad["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    bad["spec"]["containers"][0]["volumeMounts"] = [{"name": "dev", "mountPath": "/dev"}]
    bad["spec"]["volumes"] = [{"name": "dev", "hostPath": {"path": "/dev"}}]
    try:
        ctx.create(bad)
        refused, outcome = False, "a privileged pod mounting host /dev was admitted"
    except ClusterError as exc:
        refused, outcome = exc.kind in ("forbidden", "invalid"), exc.message
    # A check, not the requirement's negative case: the probe itself labels its namespace to
    # enforce Pod Security baseline, so the refusal shows the admission plugin works, not that
    # the platform applies it to workloads (issue 22).  The negative cases that a broken
    # platform would accept are the exclusivity ones and NVIDIA_VISIBLE_DEVICES=all (runtime).
    detail = "%s (Pod Security baseline set by the probe on its namespace)" % outcome
    result.check("host device access outside the resource framework is refused", refused, detail)
    ours = [x for x in client.list("v1", "Pod", ns)["items"] if host_device_access(x)]
    result.check("probe accelerator pods use no host device access", not ours, "pods with host device access: %s" % [x["metadata"]["name"] for x in ours])
