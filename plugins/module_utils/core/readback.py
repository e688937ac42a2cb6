# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Objects are not trusted as written: mutating admission webhooks may change what a probe creates
(lower a gang's minimum member count, move a pod to another scheduler).  ``Recorder`` remembers
what the probe asked for each object it creates; ``differences`` reads every object back from the
API and lists each field the probe set whose stored value differs; ``mutating_webhooks`` names the
mutating webhooks registered for those kinds, the only components that can have changed them at
admission (the API server does not say which one did)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import copy
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import operators as ops

# What a probe sets on its objects and a webhook may change behind its back (runtime-filled
# fields such as status, uid or defaults the probe did not set are never compared).
# A pod is compared on what decides where and how it is scheduled (an image a registry mirror
# rewrites is not the probe's business); "*" is every item of a list.
COMPARED = {
    "Pod": (
        ("metadata", "labels"),
        ("metadata", "annotations"),
        ("spec", "schedulerName"),
        ("spec", "schedulingGroup"),
        ("spec", "containers", "*", "resources"),
    ),
}
DEFAULT_COMPARED = (("metadata", "labels"), ("metadata", "annotations"), ("spec",))


class Recorder:
    """The run context, remembering every object created through it as the probe wrote it."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.asked: list[dict[str, Any]] = []

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        live = self.ctx.create(obj)
        self.asked.append(copy.deepcopy(obj))
        return live

    def take(self) -> list[dict[str, Any]]:
        """The objects recorded since the last take."""
        out, self.asked = self.asked, []
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ctx, name)


def _leaves(value: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in sorted(value.items()) for leaf in _leaves(v, path + (k,))]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, path + (i,))]
    return [(path, value)]


def _at(obj: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and isinstance(part, int) and part < len(obj):
            obj = obj[part]
        else:
            return None
    return obj


def _expand(obj: dict[str, Any], roots: tuple[tuple[Any, ...], ...]) -> list[tuple[Any, ...]]:
    out = []
    for root in roots:
        if "*" not in root:
            out.append(root)
            continue
        i = root.index("*")
        out += [root[:i] + (n,) + root[i + 1 :] for n in range(len(_at(obj, root[:i]) or []))]
    return out


def _text(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += "[%d]" % part if isinstance(part, int) else ("." if out else "") + (part if "/" not in part and "." not in part else "'%s'" % part)
    return out


def differences(client: Any, asked: list[dict[str, Any]]) -> list[str]:
    """``Kind name field: asked X, stored Y`` for every field the probe set that was stored otherwise
    (an object that is gone counts too)."""
    out = []
    for obj in asked:
        md = obj["metadata"]
        stored = client.get(obj["apiVersion"], obj["kind"], md["name"], md.get("namespace"))
        if stored is None:
            out.append("%s %s: not stored (gone)" % (obj["kind"], md["name"]))
            continue
        for root in _expand(obj, COMPARED.get(obj["kind"], DEFAULT_COMPARED)):
            for path, want in _leaves(_at(obj, root), root) if _at(obj, root) is not None else []:
                got = _at(stored, path)
                if got != want and str(got) != str(want):
                    out.append("%s %s %s: asked %s, stored %s" % (obj["kind"], md["name"], _text(path), want, got))
    return out


def mutating_webhooks(client: Any, asked: list[dict[str, Any]]) -> list[str] | None:
    """Names of the mutating webhooks registered for CREATE of the kinds in ``asked``; None when
    the configurations cannot be read."""
    try:
        configs = client.list("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")["items"]
    except ClusterError:
        return None
    names = set()
    for av, kind in sorted({(o["apiVersion"], o["kind"]) for o in asked}):
        group, _sep, version = av.rpartition("/")
        try:
            plural = client.resources(av)[kind]["name"]
        except (ClusterError, KeyError):
            continue
        names.update(ops.covering_webhooks(configs, group, version, plural))
    return sorted(names)


def stored_as_asked(client: Any, asked: list[dict[str, Any]]) -> tuple[bool, str]:
    """(ok, detail) of the check that the API stored what the probe asked for."""
    diffs = differences(client, asked)
    kinds = ", ".join(sorted({"%s %s" % (o["kind"], o["metadata"]["name"]) for o in asked}))
    if not diffs:
        return True, "read back as asked: %s" % kinds
    hooks = mutating_webhooks(client, asked)
    by = "mutating webhooks registered for them: %s" % (", ".join(hooks) or "none") if hooks is not None else "mutating webhooks unreadable"
    return False, "%s (%s)" % ("; ".join(diffs), by)
