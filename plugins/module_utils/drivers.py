# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Accelerator driver versions per node, from DRA attributes and node labels."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import dra

DRIVER_LABEL = "nvidia.com/cuda.driver-version.full"
DRIVER_LABEL_MAJOR = "nvidia.com/cuda.driver-version.major"
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
