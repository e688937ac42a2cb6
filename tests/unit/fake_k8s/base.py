"""The fake cluster's constants and the object helpers every part of it uses: quantities, label
and field selectors, merge patch, conditions, admission refusals and API errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import client as cl

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REFCLUSTER = json.loads((FIXTURES / "refcluster.json").read_text())
EPOCH = 1_790_000_000.0
KWOK_RUNTIME = "kwok://fake"
CONTAINERD = "containerd://2.4.2"
# Kernel of the reference cluster's real node, as its container reported it (test_runtime.py LOG_ONE_GPU).
HOST_KERNEL = "6.18.44-fc-v1045"
# What gVisor reports as its kernel (shared/reference/runtime-lane.md: `uname -r` inside was 4.19.0-gvisor).
GVISOR_KERNEL = "4.19.0-gvisor"

# (apiVersion) -> {kind: (plural, namespaced, has_scale)}
BUILTIN = {
    "v1": {
        "Namespace": ("namespaces", False, False),
        "Node": ("nodes", False, False),
        "Pod": ("pods", True, False),
        "Service": ("services", True, False),
        "ConfigMap": ("configmaps", True, False),
        "ServiceAccount": ("serviceaccounts", True, False),
        "Event": ("events", True, False),
    },
    "apps/v1": {"Deployment": ("deployments", True, True), "ReplicaSet": ("replicasets", True, True)},
    "resource.k8s.io/v1": {
        "DeviceClass": ("deviceclasses", False, False),
        "ResourceSlice": ("resourceslices", False, False),
        "ResourceClaim": ("resourceclaims", True, False),
        "ResourceClaimTemplate": ("resourceclaimtemplates", True, False),
    },
    "node.k8s.io/v1": {"RuntimeClass": ("runtimeclasses", False, False)},
    "apiextensions.k8s.io/v1": {"CustomResourceDefinition": ("customresourcedefinitions", False, False)},
    "admissionregistration.k8s.io/v1": {"ValidatingWebhookConfiguration": ("validatingwebhookconfigurations", False, False)},
    "apiregistration.k8s.io/v1": {"APIService": ("apiservices", False, False)},
    "autoscaling/v2": {"HorizontalPodAutoscaler": ("horizontalpodautoscalers", True, False)},
}
DEFAULT_SCHEDULER = "default-scheduler"
RESOURCE_API = "resource.k8s.io/v1"


class Deny(Exception):
    """An admission refusal: HTTP code, Status reason, message."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def api_error(code: int, reason: str, message: str, what: str) -> cl.ClusterError:
    """The ClusterError the real client raises for this HTTP answer (same translation code)."""
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}
    return cl.translate_api_exception(cl._HTTPFailure(code, reason, json.dumps(body).encode()), what)


# ---- quantities, selectors, merge patch ---------------------------------------------------------
_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3}


def qty(v: Any) -> float:
    s = str(v).strip()
    for suf, mul in sorted(_SUFFIX.items(), key=lambda kv: -len(kv[0])):
        if s.endswith(suf) and s[: -len(suf)].replace(".", "", 1).isdigit():
            return float(s[: -len(suf)]) * mul
    try:
        return float(s)
    except ValueError:
        return 0.0


def labels_match(labels: dict[str, str] | None, sel: str | None) -> bool:
    labels = labels or {}
    for term in [t.strip() for t in (sel or "").split(",") if t.strip()]:
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def selector_of(match_labels: dict[str, str]) -> str:
    """A matchLabels map as a label selector string (sorted, comma-separated k=v)."""
    return ",".join("%s=%s" % kv for kv in sorted(match_labels.items()))


def dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def fields_match(obj: dict[str, Any], sel: str | None) -> bool:
    for term in [t for t in (sel or "").split(",") if t]:
        k, v = term.split("=", 1)
        if str(dotted(obj, k) if dotted(obj, k) is not None else "") != v:
            return False
    return True


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---- status ----------------------------------------------------------------------------------------
def cond(obj: dict[str, Any], ctype: str, status: str, reason: str = "", message: str = "", now: str = "") -> bool:
    """Set a condition in obj.status.conditions; True when it changed."""
    conds = obj.setdefault("status", {}).setdefault("conditions", [])
    for c in conds:
        if c.get("type") == ctype:
            if (c.get("status"), c.get("reason", ""), c.get("message", "")) == (status, reason, message):
                return False
            c.update(status=status, reason=reason, message=message, lastTransitionTime=now)
            return True
    conds.append({"type": ctype, "status": status, "reason": reason, "message": message, "lastTransitionTime": now})
    return True


def get_cond(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c.get("type") == ctype), {})


def is_ready(obj: dict[str, Any] | None) -> bool:
    return get_cond(obj, "Ready").get("status") == "True"


def phase_of(pod: dict[str, Any] | None) -> str | None:
    return ((pod or {}).get("status") or {}).get("phase")


def alloc_results(claim: dict[str, Any]) -> list[dict[str, Any]]:
    """The devices allocated to a ResourceClaim (status.allocation.devices.results)."""
    return (((claim.get("status") or {}).get("allocation") or {}).get("devices") or {}).get("results") or []
