# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DRA facts and checks: pure functions over ResourceSlice, ResourceClaim and Pod objects.

They decide from API objects only, so the probes that use them (dra_probe, the accelerator
isolation and sharing probes) can be unit-tested with recorded objects."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl

API = "resource.k8s.io/v1"


def attr_value(attr: dict[str, Any]) -> Any:
    for k in ("string", "int", "bool", "version"):
        if k in attr:
            return attr[k]
    return None


def published_devices(slices: list[dict[str, Any]], driver: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(pool, device) -> {node, attributes, capacity, slice} for every device the driver publishes."""
    out = {}
    for s in slices:
        spec = s.get("spec", {})
        if spec.get("driver") != driver:
            continue
        pool = spec.get("pool", {}).get("name")
        for d in spec.get("devices", []) or []:
            out[(pool, d["name"])] = {
                "node": spec.get("nodeName"),
                "all_nodes": bool(spec.get("allNodes")),
                "attributes": {k: attr_value(v) for k, v in (d.get("attributes") or {}).items()},
                "kinds": {k: next((t for t in ("string", "int", "bool", "version") if t in v), None) for k, v in (d.get("attributes") or {}).items()},
                "capacity": {k: v.get("value") for k, v in (d.get("capacity") or {}).items()},
                "slice": s["metadata"]["name"],
            }
    return out


def allocation_results(claim: dict[str, Any] | None) -> list[dict[str, Any]]:
    return ((claim or {}).get("status", {}).get("allocation") or {}).get("devices", {}).get("results", []) or []


def allocated_uuids(results: list[dict[str, Any]], devices: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """The UUIDs that ``devices`` (published_devices) give the devices of allocation ``results``,
    sorted ("None" for a device no slice publishes)."""
    return sorted(str(devices.get((r.get("pool"), r.get("device")), {}).get("attributes", {}).get("uuid")) for r in results)


def is_allocated(claim: dict[str, Any] | None) -> bool:
    return bool(allocation_results(claim))


def reserved_uids(claim: dict[str, Any] | None) -> list[str]:
    return [r.get("uid") for r in (claim or {}).get("status", {}).get("reservedFor", []) or []]


def unique_selector(device: dict[str, Any], devices: dict[tuple[str, str], dict[str, Any]], driver: str) -> str | None:
    """A CEL expression that matches exactly this one device among all published ones, built from
    the first attribute whose value no other device shares (uuid for NVIDIA GPUs)."""
    for key in ("uuid", "resource.kubernetes.io/pciBusID"):
        val = device["attributes"].get(key)
        if val is None or not isinstance(val, str):
            continue
        if sum(1 for d in devices.values() if d["attributes"].get(key) == val) == 1:
            qualified = key if "/" in key else "%s/%s" % (driver, key)
            domain, name = qualified.rsplit("/", 1)
            return "device.attributes['%s'].%s == '%s'" % (domain, name, val.replace("'", ""))
    return None


def check_allocation(claim: dict[str, Any], pod: dict[str, Any], devices: dict[tuple[str, str], dict[str, Any]], driver: str) -> list[tuple[str, bool, str]]:
    """The positive case of dra_support, as (check name, ok, detail) tuples."""
    checks: list[tuple[str, bool, str]] = []
    results = allocation_results(claim)
    if not results:
        return [("claim allocated", False, "ResourceClaim %s has no allocation" % claim["metadata"]["name"])]
    checks.append(("claim allocated", True, ", ".join("%s/%s/%s" % (r.get("driver"), r.get("pool"), r.get("device")) for r in results)))
    node = pod.get("spec", {}).get("nodeName")
    for r in results:
        key = (r.get("pool"), r.get("device"))
        if r.get("driver") != driver:
            checks.append(("allocated by the expected driver", False, "device %s/%s came from driver %s, expected %s" % (key + (r.get("driver"), driver))))
            continue
        dev = devices.get(key)
        if dev is None:
            checks.append(("device published in a ResourceSlice", False, "no ResourceSlice of %s publishes device %s in pool %s" % (driver, key[1], key[0])))
            continue
        checks.append(("device published in a ResourceSlice", True, "%s in slice %s" % (key[1], dev["slice"])))
        if dev["all_nodes"]:
            checks.append(("pod on the device's node", True, "device is reachable from all nodes; pod on %s" % node))
        elif dev["node"] != node:
            checks.append(("pod on the device's node", False, "device %s is on node %s but the pod was bound to %s" % (key[1], dev["node"], node)))
        else:
            checks.append(("pod on the device's node", True, "pod and device %s on %s" % (key[1], node)))
    uid = pod["metadata"].get("uid")
    reserved = reserved_uids(claim)
    checks.append(("claim reserved for the pod", uid in reserved, "reservedFor uids %s, pod uid %s" % (reserved, uid)))
    return checks


def stale_allocations(claim: dict[str, Any], devices_now: dict[tuple[str, str], dict[str, Any]], driver: str) -> list[str]:
    """The devices of ``claim``'s allocation (of ``driver``) that no ResourceSlice publishes now."""
    name = claim["metadata"]["name"]
    return [
        "claim %s holds device %s of pool %s" % (name, r.get("device"), r.get("pool"))
        for r in allocation_results(claim)
        if r.get("driver") == driver and (r.get("pool"), r.get("device")) not in devices_now
    ]


# The DeviceClass selector forms evaluated here: conjunctions (&&) of ``device.driver == '...'``
# and ``device.attributes['<domain>'].<name> == <literal>`` (or !=), literal a quoted string, an
# integer, true or false.  Anything else (||, functions, capacity, versions) is not evaluated.
_DRIVER_CLAUSE = re.compile(r"""^device\.driver\s*(==|!=)\s*(?:'([^']*)'|"([^"]*)")$""")
_ATTR_CLAUSE = re.compile(r"""^device\.attributes\[\s*(?:'([^']+)'|"([^"]+)")\s*\]\.([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=)\s*(.+)$""")


def _conjuncts(expr: str) -> list[str] | None:
    """Top-level && operands of a CEL expression (outer parentheses dropped); None when it has a
    top-level || or unbalanced parentheses."""
    e = expr.strip()
    while e.startswith("(") and e.endswith(")") and _conjuncts_depth_ok(e[1:-1]):
        e = e[1:-1].strip()
    out, depth, quote, cur, i = [], 0, "", "", 0
    while i < len(e):
        ch = e[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and e.startswith("&&", i):
            out.append(cur.strip())
            cur, i = "", i + 2
            continue
        elif depth == 0 and e.startswith("||", i):
            return None
        cur += ch
        i += 1
    return None if depth or quote else out + [cur.strip()]


def _conjuncts_depth_ok(inner: str) -> bool:
    depth = 0
    for ch in inner:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _literal(text: str) -> tuple[str, Any] | None:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"" and t[0] not in t[1:-1]:
        return "string", t[1:-1]
    if t in ("true", "false"):
        return "bool", t == "true"
    if re.match(r"^-?\d+$", t):
        return "int", int(t)
    return None


def eval_clause(clause: str, driver: str, device: dict[str, Any]) -> tuple[bool | None, str]:
    """One conjunct against a published device: (True/False, why) or (None, why not evaluated)."""
    m = _DRIVER_CLAUSE.match(clause)
    if m:
        want = m.group(2) if m.group(2) is not None else m.group(3)
        return (driver == want) == (m.group(1) == "=="), "the device's driver is %s" % driver
    m = _ATTR_CLAUSE.match(clause)
    lit = _literal(m.group(5)) if m else None
    if not m or lit is None:
        return None, "not a form evaluated here"
    domain, name = m.group(1) or m.group(2), m.group(3)
    keys = ([name] if domain == driver else []) + ["%s/%s" % (domain, name)]
    key = next((k for k in keys if k in device["attributes"]), None)
    if key is None:
        return False, "the device has no attribute %s/%s (a CEL error: the class does not select it)" % (domain, name)
    kind, value = device.get("kinds", {}).get(key), device["attributes"][key]
    if kind != lit[0]:
        return None, "attribute %s is a %s, compared with a %s literal" % (key, kind, lit[0])
    return (value == lit[1]) == (m.group(4) == "=="), "the device's %s is %r" % (key, value)


def class_selector_check(device_class: dict[str, Any], claim: dict[str, Any], devices: dict[tuple[str, str], dict[str, Any]]) -> tuple[bool | None, str]:
    """Whether every device allocated to ``claim`` is one the DeviceClass's CEL selectors select,
    for the forms evaluated here: False names the device, the claim and the clause it fails; None
    when a clause could not be evaluated and none failed."""
    cls = device_class["metadata"]["name"]
    exprs = [((sel.get("cel") or {}).get("expression") or "") for sel in (device_class.get("spec") or {}).get("selectors") or []]
    undecided = []
    for r in allocation_results(claim):
        dev = devices.get((r.get("pool"), r.get("device")))
        if dev is None:
            undecided.append("device %s is not published, so its attributes are unknown" % r.get("device"))
            continue
        for expr in exprs:
            parts = _conjuncts(expr)
            if parts is None:
                undecided.append("selector %s is not a conjunction evaluated here" % expr)
                continue
            for part in parts:
                ok, why = eval_clause(part, str(r.get("driver")), dev)
                if ok is False:
                    return False, "claim %s got device %s of pool %s, which DeviceClass %s does not select: %s fails (%s)" % (
                        claim["metadata"]["name"],
                        r.get("device"),
                        r.get("pool"),
                        cls,
                        part,
                        why,
                    )
                if ok is None:
                    undecided.append("%s: %s" % (part, why))
    if undecided:
        return None, "DeviceClass %s: not evaluated: %s; every evaluated clause holds" % (cls, "; ".join(sorted(set(undecided))))
    if not exprs:
        return True, "DeviceClass %s has no selectors: it selects every device" % cls
    return True, "%s matches DeviceClass %s: %s" % (", ".join(r.get("device", "?") for r in allocation_results(claim)), cls, " && ".join(exprs))


# What kube-scheduler's DynamicResources plugin reports for a node where a pod's claims cannot be allocated.
ALLOCATOR_REFUSAL = "cannot allocate all claims"


def claim(name: str, namespace: str, device_class: str, cel: str | None = None, all_devices: bool = False) -> dict[str, Any]:
    """A ResourceClaim with one request ("accel") against ``device_class``."""
    exactly: dict[str, Any] = {"deviceClassName": device_class}
    if cel:
        exactly["selectors"] = [{"cel": {"expression": cel}}]
    if all_devices:
        exactly["allocationMode"] = "All"
    return {
        "apiVersion": API,
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"devices": {"requests": [{"name": "accel", "exactly": exactly}]}},
    }


def claim_pod_refused(
    client: Any,
    ctx: Any,
    name: str,
    namespace: str,
    device_class: str,
    cel: str | None,
    timeout_s: float,
    window_s: float,
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
) -> tuple[bool | None, str]:
    """Create a one-request claim and a pod using it; the claim must stay unallocated and the pod unbound.

    Returns (refused, outcome) for ProbeResult.negative_case."""
    return claim_obj_pod_refused(client, ctx, claim(name, namespace, device_class, cel), timeout_s, window_s, node_selector, tolerations)


def claim_obj_pod_refused(
    client: Any,
    ctx: Any,
    claim_obj: dict[str, Any],
    timeout_s: float,
    window_s: float,
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
) -> tuple[bool | None, str]:
    """Create ``claim_obj`` (any requests and constraints) and a pod of the same name using it; the
    claim must stay unallocated and the pod unbound for ``window_s``."""
    return claim_pod_verdict(client, claim_obj_pod_watch(client, ctx, claim_obj, timeout_s, window_s, node_selector, tolerations))


def claim_obj_pod_watch(
    client: Any,
    ctx: Any,
    claim_obj: dict[str, Any],
    timeout_s: float,
    window_s: float,
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The first half of ``claim_obj_pod_refused`` (workloads.watch_refusal): create the claim and
    its pod, wait for the scheduler's decision, start the window."""
    name, namespace = claim_and_pod(ctx, claim_obj, node_selector, tolerations)
    return dict(wl.watch_refusal(client, name, namespace, timeout_s, window_s), window_s=window_s)


def claim_pod_verdict(client: Any, pending: dict[str, Any]) -> tuple[bool | None, str]:
    """The second half: the rest of the window, then (refused, outcome)."""
    # Evidence only when the DRA allocator is what refused (the scheduler's DynamicResources
    # reason), not a taint or a selector on the way.
    refused, msg = wl.refusal_verdict(client, pending, cause=ALLOCATOR_REFUSAL)
    unallocated = not is_allocated(client.get(API, "ResourceClaim", pending["name"], pending["namespace"]))
    outcome = "claim unallocated=%s, pod unbound for %ss; scheduler: %s" % (unallocated, pending["window_s"], msg)
    return (None if refused is None else refused and unallocated), outcome


def claim_and_pod(
    ctx: Any, claim_obj: dict[str, Any], node_selector: dict[str, str] | None = None, tolerations: list[dict[str, Any]] | None = None
) -> tuple[str, str]:
    """Create ``claim_obj`` and a pod of the same name whose container uses it.  Returns (name, namespace)."""
    name, namespace = claim_obj["metadata"]["name"], claim_obj["metadata"]["namespace"]
    ctx.create(claim_obj)
    claims = [{"name": "accel", "resourceClaimName": name}]
    ctx.create(wl.pod(name, namespace, claims=claims, node_selector=node_selector, tolerations=tolerations))
    return name, namespace


def release_claim_and_pod(client: Any, ctx: Any, namespace: str, name: str) -> None:
    """Delete the pod, then its claim, and wait for both: the devices are free for the next case."""
    wl.delete_together(client, ctx, namespace, [name])
    ctx.delete({"apiVersion": API, "kind": "ResourceClaim", "name": name, "namespace": namespace})
    client.wait_gone(API, "ResourceClaim", name, namespace, ctx.cleanup_timeout_s)
