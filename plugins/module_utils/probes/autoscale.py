# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node autoscaler discovery for autoscaler_probe: Karpenter NodePools or the Cluster Autoscaler."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import math
import re
import time
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import lease
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError, selector
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import isolation as iso
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runmates as rm

KARPENTER_API = "karpenter.sh/v1"
KARPENTER_POOL_LABEL = "karpenter.sh/nodepool"
CA_STATUS = "cluster-autoscaler-status"


def exclusive(client: Any, ctx: Any, result: Any, params: dict[str, Any]) -> bool:
    """Take the cluster's GPU-capacity Lease before the pool's free GPUs are counted: the probe
    fills them and asks for one node more, and watches which nodes join and leave; another run's
    GPU pods (its gang or autoscaler probe) meanwhile would take the room or launch nodes it cannot
    tell apart.  False: another run held it for the whole wait, and the result is decided (skip,
    naming the holder)."""
    wait = params.get("exclusive_wait")
    return lease.hold_for_probe(client, ctx, result, lease.GPU_CAPACITY, lease.WAIT_S if wait is None else wait) is not None


def alongside(client: Any, result: Any, provider: str, sel: dict[str, str], marker: str | None, wait_s: float) -> bool:
    """May the probe go on now, beside the run's accelerator probes (conformance.yml starts it in the
    background lane with ``marker``, a file the play writes once those probes are done)?

    Only a Karpenter pool with no node yet is probed at once: the probe then fills no GPU another
    probe could be using (every node it fills is launched for it), and Karpenter's nominations tell
    a node launched for another probe's pod from one launched for this probe's.  A pool that has
    nodes has free GPUs the others may need, and the Cluster Autoscaler nominates nothing: the probe
    waits for the marker first.  False: it did not come in ``wait_s`` and the result is decided."""
    if not marker:
        return True
    nodes = sorted(n["metadata"]["name"] for n in client.list("v1", "Node", label_selector=selector(sel))["items"])
    obs: dict[str, Any] = {"marker": marker, "pool_nodes_at_start": nodes, "provider": provider}
    result.observations["alongside"] = obs
    waited = 0.0
    if provider != "karpenter" or nodes:
        waited = rm.wait_marker(marker, wait_s)
        if waited is None:
            why = "its pool has nodes (%s)" % ", ".join(nodes) if nodes else "the %s nominates no pod" % provider
            result.decide(Verdict.ERROR, "not probed: %s, so it waits for the run's accelerator probes, which did not finish in %d s" % (why, wait_s))
            return False
    obs["waited_s"] = waited
    return True


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


# ---- the autoscaler's own settings: how long it takes to act ----------------------------------------
KARPENTER_DEFAULTS = {"BATCH_MAX_DURATION": "10s", "BATCH_IDLE_DURATION": "1s"}
CA_DEFAULTS = {"scan-interval": "10s", "new-pod-scale-up-delay": "0s", "scale-down-unneeded-time": "10m", "scale-down-delay-after-add": "10m"}
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: Any) -> float | None:
    """A Go duration ("10s", "500ms", "1m30s") in seconds; None when it is not one ("Never")."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(text or ""))
    if not parts or "".join(n + u for n, u in parts) != str(text).strip():
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _containers(dep: dict[str, Any]) -> list[dict[str, Any]]:
    return (((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []


def _name(obj: dict[str, Any]) -> str:
    return "%s/%s" % (obj["metadata"].get("namespace"), obj["metadata"]["name"])


def karpenter_settings(client: Any) -> tuple[dict[str, str] | None, str]:
    """Karpenter's batching (BATCH_MAX_DURATION, BATCH_IDLE_DURATION) from its Deployment's
    environment, Karpenter's defaults for what it leaves unset; (None, why) when no Karpenter
    Deployment is readable (it may run outside the cluster, as a managed controller)."""
    try:
        deps = client.list("apps/v1", "Deployment")["items"]
    except ClusterError as exc:
        return None, "Deployments unreadable: %s" % exc.message
    for dep in deps:
        for c in _containers(dep):
            env = {e.get("name"): e.get("value") for e in c.get("env") or []}
            named = (dep["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == "karpenter"
            if named or any(k in env for k in KARPENTER_DEFAULTS):
                got = {k: env.get(k) or v for k, v in KARPENTER_DEFAULTS.items()}
                return got, "Deployment %s env %s" % (_name(dep), ", ".join("%s=%s" % kv for kv in sorted(got.items())))
    return None, "no Karpenter Deployment in the cluster"


def cluster_autoscaler_settings(client: Any) -> tuple[dict[str, str] | None, str]:
    """The Cluster Autoscaler's --scan-interval, --new-pod-scale-up-delay, --scale-down-unneeded-time
    and --scale-down-delay-after-add from its Deployment's command line (its defaults for the flags
    it leaves unset); (None, why) when no such Deployment is readable."""
    try:
        deps = client.list("apps/v1", "Deployment")["items"]
    except ClusterError as exc:
        return None, "Deployments unreadable: %s" % exc.message
    for dep in deps:
        for c in _containers(dep):
            argv = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
            if not any("cluster-autoscaler" in a for a in argv[:2] + [c.get("image") or ""]):
                continue
            got = dict(CA_DEFAULTS)
            for i, a in enumerate(argv):
                key, sep, value = a.lstrip("-").partition("=")
                if a.startswith("--") and key in got:
                    got[key] = value if sep else (argv[i + 1] if i + 1 < len(argv) else got[key])
            return got, "Deployment %s flags %s" % (_name(dep), " ".join("--%s=%s" % kv for kv in sorted(got.items())))
    return None, "no Cluster Autoscaler Deployment in the cluster"


def negative_window(provider: str, settings: dict[str, str] | None, source: str, option: int | None) -> tuple[int, str]:
    """How long a pod no node can hold is watched alone, and where that came from: twice the time
    the autoscaler takes to act on a pending pod (Karpenter: its batch window; the Cluster
    Autoscaler: a scan interval plus its new-pod delay), never shorter than 15 s nor than the
    option.  Where the settings cannot be read the option decides, else the autoscaler's own
    defaults."""
    if settings is None and option:
        return option, "option observe_seconds (%s)" % source
    if settings is None:
        settings = KARPENTER_DEFAULTS if provider == "karpenter" else CA_DEFAULTS
        source = "%s's defaults %s (%s)" % (provider, ", ".join("%s=%s" % kv for kv in sorted(settings.items()) if "scale-down" not in kv[0]), source)
    if provider == "karpenter":
        react = (parse_duration(settings["BATCH_MAX_DURATION"]) or 10) + (parse_duration(settings["BATCH_IDLE_DURATION"]) or 1)
    else:
        react = (parse_duration(settings["scan-interval"]) or 10) + (parse_duration(settings["new-pod-scale-up-delay"]) or 0)
    derived = max(15, math.ceil(2 * react))
    if option and option > derived:
        return option, "option observe_seconds, longer than the %d s derived from %s" % (derived, source)
    return derived, "2 x the autoscaler's reaction time from %s" % source


def scale_down_window(provider: str, pool: dict[str, Any] | None, settings: dict[str, str] | None) -> tuple[float | None, str]:
    """How long after the workload leaves the autoscaler itself waits before removing a node
    (None: never), and from what: the NodePool's disruption.consolidateAfter, or the Cluster
    Autoscaler's scale-down-unneeded-time and scale-down-delay-after-add."""
    if provider == "karpenter":
        after = ((pool or {}).get("spec") or {}).get("disruption", {}).get("consolidateAfter")
        if after is None:
            return 0.0, "NodePool %s sets no consolidateAfter (0s)" % (pool or {}).get("metadata", {}).get("name")
        return parse_duration(after), "NodePool %s disruption.consolidateAfter=%s" % (pool["metadata"]["name"], after)
    s = settings or CA_DEFAULTS
    wait = max(parse_duration(s["scale-down-unneeded-time"]) or 0, parse_duration(s["scale-down-delay-after-add"]) or 0)
    return wait + (parse_duration(s["scan-interval"]) or 10), "scale-down-unneeded-time=%s, scale-down-delay-after-add=%s, scan-interval=%s%s" % (
        s["scale-down-unneeded-time"],
        s["scale-down-delay-after-add"],
        s["scan-interval"],
        "" if settings else " (the Cluster Autoscaler's defaults)",
    )


# ---- what the autoscaler launched, and for whom -------------------------------------------------------
NOMINATED = re.compile(r"nodeclaim/([A-Za-z0-9.-]+)")


def launched(client: Any, api: str, kind: str, label_selector: str, baseline: set[str], resource_version: str) -> dict[str, dict[str, Any]]:
    """Objects (Nodes, NodeClaims) created since the baseline, also those already gone again: the
    watch from the baseline's resourceVersion replays what happened meanwhile (a node launched and
    consolidated within the window included); the current list covers a watch the server can no
    longer replay.  name -> the last state seen, with ``deleted`` set for those gone."""
    out: dict[str, dict[str, Any]] = {}
    try:
        for ev in client.watch(api, kind, None, resource_version, label_selector=label_selector, timeout_s=1):
            obj = ev.get("object") or {}
            name = (obj.get("metadata") or {}).get("name")
            if ev.get("type") in ("ADDED", "MODIFIED", "DELETED") and name and name not in baseline:
                out[name] = dict(obj, deleted=ev["type"] == "DELETED")
    except ClusterError:
        pass
    for obj in client.list(api, kind, label_selector=label_selector)["items"]:
        if obj["metadata"]["name"] not in baseline:
            out[obj["metadata"]["name"]] = dict(obj, deleted=False)
    return out


def nominations(client: Any, namespace: str | None) -> dict[str, list[str]]:
    """Karpenter's Nominated events: pod (namespace/name) -> the NodeClaims it was nominated to."""
    out: dict[str, list[str]] = {}
    for e in client.list("v1", "Event", namespace, field_selector="reason=Nominated")["items"]:
        inv = e.get("involvedObject") or {}
        for claim in NOMINATED.findall(e.get("message") or ""):
            out.setdefault("%s/%s" % (inv.get("namespace"), inv.get("name")), []).append(claim)
    return out


def created(obj: dict[str, Any] | None) -> str:
    return ((obj or {}).get("metadata") or {}).get("creationTimestamp") or ""


def claim_of(node: dict[str, Any], claims: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The NodeClaim that launched a node: the one naming it in status.nodeName, or its owner."""
    owners = {r.get("name") for r in node["metadata"].get("ownerReferences") or [] if r.get("kind") == "NodeClaim"}
    name = node["metadata"]["name"]
    return next((c for n, c in claims.items() if n in owners or (c.get("status") or {}).get("nodeName") == name), None)


def whose(name: str, when: str, t_imp: str, t_load: str, noms: dict[str, list[str]], imp: str, load: set[str]) -> str:
    """For whom a NodeClaim (or, without NodeClaims, a Node) was launched: ``impossible`` (nominated
    for the pod no node can hold, or launched while it was the probe's only pending pod),
    ``workload`` (nominated for a workload pod, or launched after the workload was created),
    ``other`` (nominated for another tenant's pod) or ``before`` (launched before the probe's pods)."""
    nominated_for = {pod for pod, claims in noms.items() if name in claims}
    if imp in nominated_for:
        return "impossible"
    if nominated_for & load:
        return "workload"
    if nominated_for:
        return "other"
    if when < t_imp:
        return "before"
    return "impossible" if when < t_load else "workload"


def scale_down(client: Any, result: Any, joined: list[str], timeout: int, down: float | None, dsource: str) -> None:
    """The scale-down check: every node that joined for the workload is removed within ``timeout``;
    when some stay, the detail names the autoscaler's own wait where it explains them."""
    if not joined:
        result.check("joined nodes are removed after the workload leaves", None, "no node joined, nothing to scale down")
        return
    t1 = time.monotonic()
    gone = []
    for node in joined:
        try:
            client.wait_gone("v1", "Node", node, None, max(1.0, t1 + timeout - time.monotonic()))
            gone.append(node)
        except ClusterError as exc:
            if exc.kind != "timeout":
                raise
    down_s = round(time.monotonic() - t1, 1)
    result.observations["scale_down_s"] = down_s if len(gone) == len(joined) else None
    left = sorted(set(joined) - set(gone))
    events = [e for node in left for e in events_for(client, None, "Node", node)[-2:]]
    why = ""
    if left and down is None:
        why = "; the autoscaler never removes them (%s)" % dsource
    elif left and down > timeout:
        why = "; the autoscaler waits %d s (%s), longer than scale_down_timeout %d s" % (down, dsource, timeout)
    result.check(
        "joined nodes are removed after the workload leaves",
        not left,
        "%d/%d removed in %.1f s%s%s"
        % (len(gone), len(joined), down_s, "; still there: %s (%s)" % (left, "; ".join(events) or "no events") if left else "", why),
    )
    result.step("delete the workload", "%d/%d joined nodes removed in %.1f s" % (len(gone), len(joined), down_s), not left)
