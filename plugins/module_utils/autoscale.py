# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node autoscaler discovery for autoscaler_probe: Karpenter NodePools or the Cluster Autoscaler."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import isolation as iso

KARPENTER_API = "karpenter.sh/v1"
KARPENTER_POOL_LABEL = "karpenter.sh/nodepool"
CA_STATUS = "cluster-autoscaler-status"


def karpenter_pools(client: Any) -> list[dict[str, Any]]:
    if not client.served(KARPENTER_API, "NodePool"):
        return []
    return client.list(KARPENTER_API, "NodePool")["items"]


def pick_pool(pools: list[dict[str, Any]], name: str | None, resource: str) -> tuple[dict[str, Any] | None, str]:
    """The NodePool to probe: the named one, the only one, or the only one limiting ``resource``."""
    if name:
        for p in pools:
            if p["metadata"]["name"] == name:
                return p, ""
        return None, "NodePool %s does not exist (pools: %s)" % (name, ", ".join(p["metadata"]["name"] for p in pools) or "none")
    if len(pools) == 1:
        return pools[0], ""
    gpu = [p for p in pools if resource in ((p.get("spec") or {}).get("limits") or {})]
    if len(gpu) == 1:
        return gpu[0], ""
    return None, "%d NodePools and none singled out for %s: set node_pool" % (len(pools), resource)


def pool_headroom(pool: dict[str, Any], resource: str) -> int | None:
    """How much more of ``resource`` the pool may launch (None: no limit)."""
    limits = (pool.get("spec") or {}).get("limits") or {}
    if resource not in limits:
        return None
    used = iso.qty(((pool.get("status") or {}).get("resources") or {}).get(resource, 0))
    return iso.qty(limits[resource]) - used


def tolerations_for(pool: dict[str, Any]) -> list[dict[str, Any]]:
    """Tolerations for every taint the pool puts on its nodes (startup taints are removed by then)."""
    taints = (((pool.get("spec") or {}).get("template") or {}).get("spec") or {}).get("taints") or []
    return [{"key": t["key"], "operator": "Exists", "effect": t["effect"]} for t in taints if t.get("key")]


def cluster_autoscaler_status(client: Any) -> dict[str, Any] | None:
    """The Cluster Autoscaler's status ConfigMap, in whatever namespace it runs."""
    items = client.list("v1", "ConfigMap", None, field_selector="metadata.name=%s" % CA_STATUS)["items"]
    return items[0] if items else None


def events_for(client: Any, namespace: str | None, kind: str, name: str) -> list[str]:
    """Events on one object, oldest first, as "reason: message" (namespace None: any namespace,
    for cluster-scoped objects such as Nodes)."""
    items = client.list("v1", "Event", namespace, field_selector="involvedObject.kind=%s,involvedObject.name=%s" % (kind, name))["items"]
    items.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return ["%s: %s" % (e.get("reason", ""), (e.get("message") or "").strip()) for e in items]
