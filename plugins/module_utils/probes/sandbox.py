# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workload sandboxing facts: which RuntimeClasses are sandboxes, and what admission must do.

A sandbox runtime is named by the RuntimeClass ``handler`` the node's CRI knows it by: gVisor's
``runsc`` (GKE Sandbox, containerd's runsc shim) and Kata Containers' ``kata`` family
(``kata``, ``kata-qemu``, ``kata-clh``, ``kata-fc``, ``kata-qemu-snp``...).  The RuntimeClass
admission plugin copies a class's ``overhead.podFixed`` into ``pod.spec.overhead`` and merges its
``scheduling`` node selector and tolerations into the pod, so both are visible on the admitted pod.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
from typing import Any

API = "node.k8s.io/v1"
AGENT_SANDBOX_API = "agents.x-k8s.io/v1alpha1"

_HANDLERS = (
    ("gvisor", re.compile(r"^(runsc|gvisor)([-_].*)?$")),
    ("kata", re.compile(r"^kata([-_].*)?$")),
)
# Tried first when several sandbox classes are offered: gVisor, then Kata, then by name.
_PREFERENCE = {"gvisor": 0, "kata": 1}


def sandbox_kind(handler: str | None) -> str | None:
    """'gvisor' or 'kata' for a sandbox handler, None for runc, crun and anything unknown."""
    for kind, pat in _HANDLERS:
        if pat.match(handler or ""):
            return kind
    return None


def describe(rc: dict[str, Any], extra_handlers: list[str] | None = None) -> dict[str, Any]:
    """The facts of one RuntimeClass the probe decides on."""
    handler = rc.get("handler", "")
    kind = sandbox_kind(handler) or ("declared" if handler in (extra_handlers or []) else None)
    sched = rc.get("scheduling") or {}
    return {
        "name": rc["metadata"]["name"],
        "handler": handler,
        "sandbox": kind,
        "overhead": dict((rc.get("overhead") or {}).get("podFixed") or {}),
        "node_selector": dict(sched.get("nodeSelector") or {}),
        "tolerations": [dict(t) for t in sched.get("tolerations") or []],
    }


def sandbox_classes(runtime_classes: list[dict[str, Any]], extra_handlers: list[str] | None = None) -> list[dict[str, Any]]:
    """The sandbox RuntimeClasses, most preferred first."""
    found = [d for d in (describe(rc, extra_handlers) for rc in runtime_classes) if d["sandbox"]]
    return sorted(found, key=lambda d: (_PREFERENCE.get(d["sandbox"], 2), d["name"]))


def _quantity_equal(a: str, b: str) -> bool:
    return str(a).strip() == str(b).strip()


def admission_applied(pod: dict[str, Any], cls: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """Checks that the admitted pod carries what the RuntimeClass admission plugin must add."""
    spec = pod.get("spec", {})
    got_class = spec.get("runtimeClassName")
    out = [("pod admitted with runtimeClassName %s" % cls["name"], got_class == cls["name"], "runtimeClassName=%r" % got_class)]
    if cls["overhead"]:
        got = spec.get("overhead") or {}
        same = set(got) == set(cls["overhead"]) and all(_quantity_equal(got[k], v) for k, v in cls["overhead"].items())
        out.append(("RuntimeClass overhead set on the pod by admission", same, "pod overhead %s, class overhead %s" % (got, cls["overhead"])))
    if cls["node_selector"]:
        sel = spec.get("nodeSelector") or {}
        merged = all(sel.get(k) == v for k, v in cls["node_selector"].items())
        out.append(("RuntimeClass node selector merged into the pod", merged, "pod nodeSelector %s" % sel))
    if cls["tolerations"]:
        tol = spec.get("tolerations") or []
        missing = [t for t in cls["tolerations"] if not any(all(x.get(k) == v for k, v in t.items()) for x in tol)]
        detail = "missing %s" % missing if missing else "%d toleration(s) merged" % len(cls["tolerations"])
        out.append(("RuntimeClass tolerations merged into the pod", not missing, detail))
    return out


def node_matches(node: dict[str, Any] | None, selector: dict[str, str]) -> bool:
    labels = (node or {}).get("metadata", {}).get("labels", {}) or {}
    return all(labels.get(k) == v for k, v in selector.items())


def kernel_of(node: dict[str, Any] | None) -> str:
    return str(((node or {}).get("status", {}).get("nodeInfo") or {}).get("kernelVersion", ""))


def parse_release(log: str) -> str | None:
    """The kernel release a probe container printed (``uname -r``: one token on one line)."""
    lines = [x.strip() for x in (log or "").splitlines() if x.strip()]
    if len(lines) != 1 or " " in lines[0]:
        return None
    return lines[0]
