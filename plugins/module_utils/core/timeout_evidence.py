# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a probe that timed out leaves in its result: the events and the pods' state and logs of
what it created, read before its cleanup deletes them (``Probe.execute`` calls ``gather``).

Everything is bounded (events, pods, containers, bytes of log) and read with a handful of
requests; a read that fails is recorded in ``errors`` and the rest goes on.  Gathering never
raises: the timeout is the finding, this is its evidence.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.api_errors import ClusterError

EVENTS_MAX = 50
PODS_MAX = 8
CONTAINERS_MAX = 3
LOG_TAIL_LINES = 50
LOG_BYTES = 4096
LOG_BYTES_TOTAL = 24576
MESSAGE_MAX = 300


def _short(text: Any, width: int = MESSAGE_MAX) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= width else text[: width - 3] + "..."


def namespaces_of(created: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(the namespaces the probe created, the other namespaces it created objects in)."""
    own = sorted({r["name"] for r in created if r.get("kind") == "Namespace"})
    others = sorted({r["namespace"] for r in created if r.get("namespace") and r["namespace"] not in own})
    return own, others


def event_row(ev: dict[str, Any]) -> dict[str, Any]:
    obj = ev.get("involvedObject") or ev.get("regarding") or {}
    return {
        "time": ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp") or (ev.get("metadata") or {}).get("creationTimestamp") or "",
        "type": ev.get("type") or "",
        "reason": ev.get("reason") or "",
        "object": "%s/%s" % (obj.get("kind") or "?", obj.get("name") or "?"),
        "namespace": obj.get("namespace") or (ev.get("metadata") or {}).get("namespace") or "",
        "message": _short(ev.get("message") or ev.get("note")),
        "count": ev.get("count") or 1,
    }


def pod_row(pod: dict[str, Any]) -> dict[str, Any]:
    md, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    states = {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        which = next(iter(state), "unknown")
        detail = state.get(which) or {}
        states[cs.get("name") or "?"] = _short(
            " ".join(
                str(x)
                for x in (which, detail.get("reason") or "", "exit %s" % detail["exitCode"] if "exitCode" in detail else "", detail.get("message") or "")
                if x
            ),
            200,
        )
    return {
        "name": md.get("name"),
        "namespace": md.get("namespace"),
        "node": spec.get("nodeName") or "",
        "phase": status.get("phase") or "",
        "conditions": [
            "%s=%s%s" % (c.get("type"), c.get("status"), " (%s: %s)" % (c.get("reason"), _short(c.get("message"), 160)) if c.get("reason") else "")
            for c in status.get("conditions") or []
        ],
        "containers": states,
    }


def _log_text(doc: Any) -> str:
    if isinstance(doc, dict) and "raw" in doc:
        return str(doc["raw"])
    return doc if isinstance(doc, str) else json.dumps(doc)  # a log that is one JSON document comes back parsed


def _containers_with_logs(pod: dict[str, Any]) -> list[str]:
    """Containers that started (running or terminated): the others have no log to read.  A pod
    that ran but reports no container status (a simulated node's) is asked for each container."""
    status = pod.get("status") or {}
    out = []
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "running" in state or "terminated" in state or cs.get("restartCount"):
            out.append(cs.get("name"))
    if not status.get("containerStatuses") and status.get("phase") in ("Running", "Succeeded", "Failed"):
        out = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    return out[:CONTAINERS_MAX]


def gather(client: Any, created: list[dict[str, Any]], selector: str) -> dict[str, Any]:
    """Events, pods and pod logs of what a probe created (``created``: RunContext.created; the
    probe's own namespaces whole, elsewhere the pods labelled with ``selector`` and the events of
    the objects it created)."""
    own, others = namespaces_of(created)
    names = {r["name"] for r in created}
    out: dict[str, Any] = {"namespaces": own + others, "events": [], "events_left_out": 0, "pods": [], "logs": {}, "errors": []}

    def read(what: str, call: Any) -> Any:
        try:
            return call()
        except ClusterError as exc:
            out["errors"].append("%s: %s" % (what, exc.message))
        except Exception as exc:  # pylint: disable=broad-except
            out["errors"].append("%s: %s: %s" % (what, exc.__class__.__name__, exc))
        return None

    events: list[dict[str, Any]] = []
    pods: list[dict[str, Any]] = []
    for ns in own + others:
        doc = read("list events in %s" % ns, lambda ns=ns: client.list("v1", "Event", ns))
        for ev in (doc or {}).get("items") or []:
            row = event_row(ev)
            if ns in own or row["object"].split("/", 1)[1] in names or any(row["object"].split("/", 1)[1].startswith(n) for n in names):
                events.append(row)
        doc = read("list pods in %s" % ns, lambda ns=ns: client.list("v1", "Pod", ns, label_selector=None if ns in own else selector))
        pods.extend((doc or {}).get("items") or [])
    events.sort(key=lambda e: e["time"])
    out["events_left_out"] = max(0, len(events) - EVENTS_MAX)
    out["events"] = events[-EVENTS_MAX:]
    out["pods_left_out"] = max(0, len(pods) - PODS_MAX)
    budget = LOG_BYTES_TOTAL
    for pod in pods[:PODS_MAX]:
        row = pod_row(pod)
        out["pods"].append(row)
        for container in _containers_with_logs(pod):
            if budget <= 0:
                out["errors"].append("log of %s/%s left out: the %d bytes of log this evidence keeps are used" % (row["name"], container, LOG_BYTES_TOTAL))
                continue
            path = "/api/v1/namespaces/%s/pods/%s/log" % (row["namespace"], row["name"])
            query = {"container": container, "tailLines": LOG_TAIL_LINES, "limitBytes": min(LOG_BYTES, budget)}
            doc = read(
                "read the log of %s/%s" % (row["name"], container),
                lambda path=path, query=query, row=row, container=container: client.request(
                    "GET", path, query=query, what="read the log of pod %s container %s" % (row["name"], container)
                ),
            )
            if doc is None:
                continue
            text = _log_text(doc)[-min(LOG_BYTES, budget) :]
            budget -= len(text.encode("utf-8", "replace"))
            out["logs"]["%s/%s/%s" % (row["namespace"], row["name"], container)] = text
    return out
