# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod manifests and pod-state predicates shared by the probes."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
import time
from typing import Any

# The taint GPU node pools carry on GKE, EKS and AKS (and the reference cluster's real GPU node).
GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]

# The option of the probes whose pods must land on accelerator nodes (doc fragment
# ai_conformance.kubernetes.gpu_pods): more tolerations, for pools tainted otherwise (AKS's
# documented sku=gpu:NoSchedule), added to GPU_TOLERATIONS and never replacing them.
TOLERATION_OPERATORS = ("Exists", "Equal")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
GPU_POD_ARGSPEC: dict[str, dict[str, Any]] = {
    "tolerations": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "key": {"type": "str", "no_log": False},
            "operator": {"type": "str", "choices": list(TOLERATION_OPERATORS)},
            "value": {"type": "str"},
            "effect": {"type": "str", "choices": list(TAINT_EFFECTS)},
            "tolerationSeconds": {"type": "int"},
        },
    },
}
# A label name (a toleration's key) and a label value, as Kubernetes validates them.
_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_NAME = re.compile(r"^(%s/)?%s$" % (_PREFIX, _NAME))
LABEL_VALUE = re.compile(r"^(%s)?$" % _NAME)

# What kube-scheduler reports for a node a pod's node selector or affinity excludes.
SELECTOR_REFUSAL = "didn't match Pod's node affinity/selector"

# A pause-like command: probes never need the container to do work unless a runtime check asks.
DEFAULT_IMAGE = "registry.k8s.io/pause:3.10"


def pod(
    name: str,
    namespace: str,
    image: str = DEFAULT_IMAGE,
    command: list[str] | None = None,
    claims: list[dict[str, str]] | None = None,
    limits: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    scheduler_name: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    restart_policy: str = "Never",
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A minimal, unprivileged pod.  ``claims``: [{name, resourceClaimName|resourceClaimTemplateName}]."""
    container: dict[str, Any] = {
        "name": "main",
        "image": image,
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "resources": {},
    }
    if command:
        container["command"] = command
    if limits:
        container["resources"]["limits"] = dict(limits)
    if claims:
        container["resources"]["claims"] = [{"name": c["name"]} for c in claims]
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    spec: dict[str, Any] = {"containers": [container], "restartPolicy": restart_policy, "terminationGracePeriodSeconds": 0}
    if claims:
        spec["resourceClaims"] = [dict(c) for c in claims]
    if scheduler_name:
        spec["schedulerName"] = scheduler_name
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    # A pod that asks for an accelerator tolerates the taint accelerator node pools carry (GKE, EKS
    # and AKS taint GPU nodes nvidia.com/gpu): the ExtendedResourceToleration admission plugin does
    # this for extended resources, and a DRA claim gets no such help.  Without it a probe's GPU pod
    # is refused by the taint, and a refusal for that reason proves nothing about the accelerators.
    # ``tolerations`` (a probe's option) come first; they never replace that one.
    gpu = claims or any(k.startswith("nvidia.com/") for k in (limits or {}))
    wanted = gpu_tolerations(tolerations) if gpu else _set_fields(tolerations)
    if wanted:
        spec["tolerations"] = wanted
    md: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if annotations:
        md["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}


def _set_fields(tolerations: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The tolerations without their unset fields (an option's sub-options come as None)."""
    return [{k: v for k, v in t.items() if v is not None} for t in tolerations or []]


def gpu_tolerations(extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The tolerations of a pod that must land on an accelerator node: ``extra`` (a probe's
    tolerations option), then each of GPU_TOLERATIONS it does not already hold."""
    wanted = _set_fields(extra)
    return wanted + [dict(t) for t in GPU_TOLERATIONS if t not in wanted]


def tolerates(node: dict[str, Any], tolerations: list[dict[str, Any]] | None) -> bool:
    """Would a pod with ``tolerations`` be let onto ``node`` by its NoSchedule and NoExecute taints
    (Kubernetes' matching: an empty key with Exists tolerates every taint, an empty effect every
    effect, Equal compares the value)?"""
    tols = _set_fields(tolerations)

    def match(t: dict[str, Any], taint: dict[str, Any]) -> bool:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            return False
        if not t.get("key"):
            return (t.get("operator") or "Equal") == "Exists"
        if t["key"] != taint.get("key"):
            return False
        return (t.get("operator") or "Equal") == "Exists" or (t.get("value") or "") == (taint.get("value") or "")

    taints = [x for x in (node.get("spec") or {}).get("taints") or [] if x.get("effect") in ("NoSchedule", "NoExecute")]
    return all(any(match(t, taint) for t in tols) for taint in taints)


def toleration_error(tolerations: list[dict[str, Any]] | None, option: str = "tolerations") -> str | None:
    """One line saying what Kubernetes would reject in ``tolerations`` (its API validation of a
    pod's tolerations), or None.  The argument spec already checked the fields and their types."""
    for i, t in enumerate(_set_fields(tolerations)):
        key, op, value, effect = t.get("key") or "", t.get("operator") or "Equal", t.get("value") or "", t.get("effect") or ""
        where = "%s[%d] (%s)" % (option, i, ", ".join("%s=%s" % kv for kv in sorted(t.items())) or "empty")
        if key and (len(key.rsplit("/", 1)[0]) > 253 or not LABEL_NAME.match(key)):
            why = "key %r is not a valid label name ([prefix/]name, name 63 characters at most of A-Z, a-z, 0-9, -, _, .)" % key
        elif not key and op != "Exists":
            why = "operator must be Exists when key is empty (which tolerates every taint)"
        elif op == "Exists" and value:
            why = "value must be empty when operator is Exists"
        elif op == "Equal" and not LABEL_VALUE.match(value):
            why = "value %r is not a valid label value (63 characters at most of A-Z, a-z, 0-9, -, _, .)" % value
        elif t.get("tolerationSeconds") is not None and effect != "NoExecute":
            why = "effect must be NoExecute when tolerationSeconds is set"
        else:
            continue
        return "%s: %s" % (where, why)
    return None


def gpu_pod_param_error(params: dict[str, Any]) -> str | None:
    """A probe's param_error for GPU_POD_ARGSPEC (Probe.param_error)."""
    return toleration_error(params.get("tolerations"))


NAME_LABEL = "app.kubernetes.io/name"
HOSTNAME = "kubernetes.io/hostname"


def deployment(pod_obj: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    """A Deployment running ``pod_obj`` (from ``pod``), selected by its app.kubernetes.io/name label."""
    md = pod_obj["metadata"]
    selector = {NAME_LABEL: md["labels"][NAME_LABEL]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": md["name"], "namespace": md["namespace"], "labels": dict(md["labels"])},
        "spec": {"replicas": replicas, "selector": {"matchLabels": selector}, "template": {"metadata": md, "spec": pod_obj["spec"]}},
    }


def wait_available(client: Any, name: str, namespace: str, timeout_s: float) -> tuple[bool, dict[str, Any] | None, list[dict[str, Any]]]:
    """Wait (watch) until Deployment ``name`` has an available pod.  Returns (ok, the Deployment
    as last seen, its bound pods)."""
    ok, last = client.wait_until(
        "apps/v1", "Deployment", name, lambda o: ((o or {}).get("status") or {}).get("availableReplicas", 0) >= 1, namespace, timeout_s
    )
    pods = [x for x in client.list("v1", "Pod", namespace, label_selector="%s=%s" % (NAME_LABEL, name))["items"] if is_bound(x)] if ok else []
    return ok, last, pods


def condition(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for c in (obj or {}).get("status", {}).get("conditions", []) or []:
        if c.get("type") == ctype:
            return c
    return None


def is_bound(p: dict[str, Any] | None) -> bool:
    return bool((p or {}).get("spec", {}).get("nodeName"))


def is_unschedulable(p: dict[str, Any] | None) -> bool:
    c = condition(p, "PodScheduled")
    return bool(c) and c.get("status") == "False" and c.get("reason") == "Unschedulable"


def unschedulable_message(p: dict[str, Any] | None) -> str:
    c = condition(p, "PodScheduled") or {}
    return "%s: %s" % (c.get("reason", "no PodScheduled condition"), c.get("message", ""))


def is_decided(p: dict[str, Any] | None) -> bool:
    """The scheduler has either bound the pod or reported it Unschedulable."""
    return is_bound(p) or is_unschedulable(p)


# How long a pod the scheduler first reported Unschedulable still gets to bind before a positive
# case counts it as unplaced.  The scheduler retries with back-off (1 s, doubling to 10 s), and a
# first refusal can be transient: two pods sharing one ResourceClaim race to allocate it, and the
# loser is reported Unschedulable until the claim's allocation is visible to it.
RETRY_GRACE_S = 25.0


def wait_placed(client: Any, name: str, namespace: str, timeout_s: float, grace_s: float = RETRY_GRACE_S) -> dict[str, Any]:
    """Wait for the scheduler's decision on a pod the caller expects to be placed.  A pod reported
    Unschedulable gets ``grace_s`` more to bind through the scheduler's retries; the pod comes
    back as last seen either way (unplaced is a finding for the caller, not an error)."""
    first = client.wait_for("v1", "Pod", name, is_decided, namespace, timeout_s, "be scheduled")
    if is_bound(first):
        return first
    return client.wait_until("v1", "Pod", name, is_bound, namespace, grace_s)[1] or first


# Kueue keeps its finalizer on the pods of a pod group until the group is finished; a pod marked
# non-retriable ends the group when it stops (Kueue's documented way to end one).
KUEUE_POD_FINALIZER = "kueue.x-k8s.io/managed"
KUEUE_NOT_RETRIABLE = {"metadata": {"annotations": {"kueue.x-k8s.io/retriable-in-group": "false"}}}


def end_kueue_group(client: Any, name: str, namespace: str) -> None:
    """Let Kueue release pod ``name`` of a pod group (its finalizer goes once the group ends)."""
    client.patch("v1", "Pod", name, KUEUE_NOT_RETRIABLE, namespace)


def refused_placement(client: Any, name: str, namespace: str, timeout_s: float, window_s: float, cause: str = "") -> tuple[bool | None, str]:
    """The negative case every scheduling probe needs: the pod ``name`` must be reported
    Unschedulable by the scheduler and then stay unbound for the whole observation window.

    ``cause``: the scheduler's reason that makes the refusal evidence (e.g. "Insufficient
    nvidia.com/gpu", "cannot allocate all claims").  A pod refused for another reason only (an
    untolerated taint, say) proves nothing about the mechanism under test: refused is then None,
    not decided.  Returns (refused, the scheduler's message)."""
    return refusal_verdict(client, watch_refusal(client, name, namespace, timeout_s, window_s), cause)


def watch_refusal(client: Any, name: str, namespace: str, timeout_s: float, window_s: float) -> dict[str, Any]:
    """The first half of ``refused_placement``: wait for the scheduler's decision on pod ``name``
    and start its observation window.  Several negative cases of a probe are watched at once by
    starting them all, then asking ``refusal_verdict`` for each: the windows overlap instead of
    following one another.  A binding is never undone, so a pod found unbound at the end of its
    window was unbound for all of it, whenever its watch began."""
    first = client.wait_for("v1", "Pod", name, is_decided, namespace, timeout_s, "be decided by the scheduler")
    return {"name": name, "namespace": namespace, "first": first, "until": time.monotonic() + window_s}


def _uid(obj: dict[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("uid")


def refusal_verdict(client: Any, pending: dict[str, Any], cause: str = "") -> tuple[bool | None, str]:
    """The second half of ``refused_placement``: the rest of the pod's window, then the verdict."""
    name, namespace, first = pending["name"], pending["namespace"], pending["first"]
    held, last = client.holds("v1", "Pod", name, is_bound, namespace, max(0.0, pending["until"] - time.monotonic()))
    if last is not None and first is not None and _uid(last) != _uid(first):
        return None, "pod %s/%s was replaced during its window: not observed throughout" % (namespace, name)
    final = last or first
    if is_bound(final):
        return False, "bound to node %s" % final["spec"]["nodeName"]
    msg = unschedulable_message(final)
    if held and is_unschedulable(first) and cause and cause not in msg:
        return None, "refused, but not for the reason under test (%r): %s" % (cause, msg)
    return held and is_unschedulable(first), msg


def wait_all_bound(client: Any, namespace: str, names: list[str], timeout_s: float) -> list[dict[str, Any]]:
    """Wait until every named pod is bound, all within one deadline.  A pod still unbound at the
    deadline comes back as last seen (an unplaced pod is a finding for the caller, not an error)."""
    out = []
    deadline = time.monotonic() + timeout_s
    for n in names:
        last = client.wait_until("v1", "Pod", n, is_bound, namespace, max(1.0, deadline - time.monotonic()))[1]
        out.append(last or {"metadata": {"name": n, "uid": ""}})
    return out


def delete_together(client: Any, ctx: Any, namespace: str, names: list[str]) -> None:
    """Request deletion of all the run's pods first, then wait for each (a controller may free one
    pod only once its siblings are going too, as Kueue does for a pod group)."""
    for n in names:
        ctx.delete({"apiVersion": "v1", "kind": "Pod", "name": n, "namespace": namespace})
    for n in names:
        client.wait_gone("v1", "Pod", n, namespace, ctx.cleanup_timeout_s)


def runtime_skip_reason(mode: str, node: dict[str, Any] | None) -> str | None:
    """Why container-level checks cannot run on ``node`` (None: run them).

    mode is a probe's runtime_checks option: never, always, or auto (run where the node's
    container runtime is a real one, not kwok's simulation)."""
    runtime = ((node or {}).get("status", {}).get("nodeInfo", {}) or {}).get("containerRuntimeVersion", "")
    name = (node or {}).get("metadata", {}).get("name", "?")
    if mode == "never":
        return "skipped: runtime_checks is never"
    if mode == "auto" and (not runtime or runtime.startswith("kwok")):
        return "skipped: containers do not run on node %s (runtime %r); decided from the API only" % (name, runtime)
    return None


def run_to_completion(client: Any, name: str, namespace: str, timeout_s: float) -> tuple[str, str]:
    """Wait for a run-once pod to finish; return (phase, its log)."""
    done = client.wait_for("v1", "Pod", name, lambda o: (o or {}).get("status", {}).get("phase") in ("Succeeded", "Failed"), namespace, timeout_s, "finish")
    log = client.request("GET", "/api/v1/namespaces/%s/pods/%s/log" % (namespace, name), what="read the log of pod %s" % name)
    return done["status"]["phase"], str(log.get("raw", "")) if isinstance(log, dict) else str(log)


def runs_containers(node: dict[str, Any] | None) -> bool:
    """Whether ``node`` runs real containers: its status.nodeInfo.containerRuntimeVersion is set
    and is not kwok's simulation (the test runtime_skip_reason applies in mode auto)."""
    return runtime_skip_reason("auto", node) is None
