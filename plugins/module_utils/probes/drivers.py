# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Accelerator driver versions per node, from DRA attributes and node labels."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra

DRIVER_LABEL = "nvidia.com/cuda.driver-version.full"
DRIVER_LABEL_MAJOR = "nvidia.com/cuda.driver-version.major"
# The version parts GPU feature discovery labels apart (integers, so node affinity can compare them).
DRIVER_LABEL_PARTS = (DRIVER_LABEL_MAJOR, "nvidia.com/cuda.driver-version.minor", "nvidia.com/cuda.driver-version.revision")
POOL_LABELS = ("nvidia.com/gpu.product", "node.kubernetes.io/instance-type")


def normalize(v: str | None) -> str | None:
    """'580.159.04' and '580.159.4' are the same driver."""
    if not v:
        return None
    try:
        return ".".join(str(int(p)) for p in str(v).split("."))
    except ValueError:
        return str(v)


def versions_by_node(nodes: list[dict[str, Any]], slices: list[dict[str, Any]], driver: str, resource: str) -> dict[str, dict[str, Any]]:
    """node -> {label, dra (set of versions), pool} for every node with accelerators by either path."""
    out: dict[str, dict[str, Any]] = {}
    for d in dra.published_devices(slices, driver).values():
        if d["node"]:
            e = out.setdefault(d["node"], {"label": None, "dra": set(), "pool": None})
            if d["attributes"].get("driverVersion") is not None:
                e["dra"].add(normalize(d["attributes"]["driverVersion"]))
    for n in nodes:
        labels = n["metadata"].get("labels", {}) or {}
        name = n["metadata"]["name"]
        has_acc = str((n.get("status", {}).get("allocatable") or {}).get(resource, "0")) not in ("0", "")
        if has_acc or name in out:
            e = out.setdefault(name, {"label": None, "dra": set(), "pool": None})
            e["label"] = normalize(labels.get(DRIVER_LABEL))
            e["pool"] = next((labels[k] for k in POOL_LABELS if labels.get(k)), "default")
    return out


def problems(by_node: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(check name, detail) for every inconsistency: unreported, label vs DRA, several versions in a pool."""
    found = []
    pools: dict[str, dict[str, list[str]]] = {}
    for node, e in sorted(by_node.items()):
        versions = set(e["dra"]) | ({e["label"]} if e["label"] else set())
        if not versions:
            found.append(
                (
                    "every accelerator node reports its driver version",
                    "node %s reports no driver version (no label %s, no DRA driverVersion)" % (node, DRIVER_LABEL),
                )
            )
            continue
        if len(versions) > 1:
            found.append(("node label and DRA attributes agree", "node %s: label %s, DRA %s" % (node, e["label"], sorted(e["dra"]))))
        for v in versions:
            pools.setdefault(e["pool"] or "default", {}).setdefault(v, []).append(node)
    for pool, vs in sorted(pools.items()):
        if len(vs) > 1:
            found.append(
                ("one driver version per node pool", "pool %s runs %s" % (pool, "; ".join("%s on %s" % (v, ",".join(n)) for v, n in sorted(vs.items()))))
            )
    return found


def vtuple(v: str | None) -> tuple[int, ...]:
    return tuple(int(x) for x in str(v or "").split(".") if x.isdigit())


def just_above(version: str) -> str:
    """The smallest version above ``version`` as semver: its last part plus one ('580.159.4' -> '580.159.5')."""
    parts = list(vtuple(version)) + [0, 0, 0]
    a, b, c = parts[:3]
    return "%d.%d.%d" % (a, b, c + 1)


def label_parts(node: dict[str, Any]) -> tuple[int, int, int] | None:
    """(major, minor, revision) from a node's GFD driver labels; None when one is missing."""
    labels = node["metadata"].get("labels") or {}
    try:
        return tuple(int(labels[k]) for k in DRIVER_LABEL_PARTS)  # type: ignore[return-value]
    except (KeyError, ValueError):
        return None


def affinity_above(version: tuple[int, int, int], node: str | None = None) -> dict[str, Any]:
    """Required node affinity for a driver strictly above ``version`` by the GFD labels (Gt/Lt on
    major, minor, revision: three terms ORed), on ``node`` only when given."""
    a, b, c = version
    major, minor, rev = DRIVER_LABEL_PARTS

    def eq(key: str, n: int) -> list[dict[str, Any]]:
        return [{"key": key, "operator": "Gt", "values": [str(n - 1)]}, {"key": key, "operator": "Lt", "values": [str(n + 1)]}]

    terms = [
        [{"key": major, "operator": "Gt", "values": [str(a)]}],
        eq(major, a) + [{"key": minor, "operator": "Gt", "values": [str(b)]}],
        eq(major, a) + eq(minor, b) + [{"key": rev, "operator": "Gt", "values": [str(c)]}],
    ]
    pin = [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}] if node else []
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": pin + t} for t in terms]}}}
