# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""operator_probe's exercise of one operator backend (module_utils/operators.py): the CRD, the
webhooks and whose they are, a valid object reconciled into owned children, an invalid one refused
by the operator's own webhook for the rule the backend names, and clean-up through owner references."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import operators as ops


def owned_children(children: list[tuple[str, str, list[dict[str, Any]]]], uid: str) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """Walk the ownership chain from the object with ``uid``: a child counts when its controlling
    owner is the object or a child already counted (a JobSet's Jobs, their Pods).  Returns the
    owned names and the strays per kind, and each kind's apiVersion."""
    chain, owned, strays, apis = {uid}, {}, {}, {}
    for kind, api, objs in children:
        apis[kind] = api
        mine = [o for o in objs if any(r.get("uid") in chain and r.get("controller") for r in (o.get("metadata") or {}).get("ownerReferences") or [])]
        chain |= {o["metadata"]["uid"] for o in mine if o["metadata"].get("uid")}
        owned[kind] = [o["metadata"]["name"] for o in mine]
        strays[kind] = sorted({o["metadata"]["name"] for o in objs} - set(owned[kind]))
    return owned, strays, apis


def exercise(client: Any, ctx: Any, result: Any, be: Any, namespace: str, timeout: float, operator_deployment: str | None, obs: dict[str, Any]) -> str:
    """Run every check for one backend; ``obs`` receives its observations.  Returns the summary."""
    obs["operator"] = be.name
    try:
        crd = client.get(ops.CRD_API, "CustomResourceDefinition", be.crd)
    except ClusterError as exc:
        crd, why = None, exc.message
    else:
        why = "CustomResourceDefinition %s does not exist" % be.crd
    versions = ops.crd_versions(crd)
    obs["crd_versions"] = versions
    mine = versions.get(be.version) or {}
    result.check(
        "CRD %s is Established and serves %s as its storage version" % (be.crd, be.version),
        (ops.established(crd) and mine.get("served") and mine.get("storage")) if crd else None,
        "versions %s, Established=%s" % (versions, ops.established(crd)) if crd else why,
    )
    try:
        deployments = ops.operator_deployments(client, be, operator_deployment)
        configs = client.list(ops.WEBHOOK_API, "ValidatingWebhookConfiguration")["items"]
        ties = ops.webhook_ties(client, configs, be, deployments)
    except ClusterError as exc:
        deployments, ties = [], None
        obs["webhooks_unreadable"] = exc.message
    obs["operator_deployments"] = ["%s/%s" % (d["metadata"]["namespace"], d["metadata"]["name"]) for d in deployments]
    obs["validating_webhooks"] = sorted({t["name"] for t in ties}) if ties is not None else None
    obs["webhook_ties"] = ties

    ns = ctx.ensure_namespace(namespace)
    name = ctx.name(be.kind.lower())
    reconciled_name = "the operator reconciles a valid %s" % be.kind
    t0 = time.monotonic()
    try:
        live = ctx.create(be.valid(name, ns))
    except ClusterError as exc:
        # A valid object refused (an operator webhook that cannot be reached with failurePolicy
        # Fail, a policy): nothing to reconcile, nothing to clean up.
        said = str(exc.status_obj.get("message") or exc.message)
        obs["valid_refusal"] = {"code": exc.status_obj.get("code", exc.status), "message": said[:300]}
        result.check(reconciled_name, False, "the API server refused the valid %s: %s" % (be.kind, said[:300]))
        result.step("create %s %s/%s" % (be.kind, ns, name), "refused: %s" % said[:200], ok=False)
        negative(ctx, result, be, ns, ties, obs)
        return "%s refused a valid %s" % (be.name, be.kind)
    uid = live["metadata"]["uid"]
    transitions: list[dict[str, Any]] = []

    def watch(o):
        summary = be.status_summary(o)
        if not transitions or transitions[-1]["status"] != summary:
            transitions.append({"at_s": round(time.monotonic() - t0, 2), "status": summary})
        return be.reconciled(o)

    done, last = client.wait_until(be.api_version, be.kind, name, watch, ns, timeout)
    ok = done and be.succeeded(last)
    reconcile_s = round(time.monotonic() - t0, 2)
    obs["status_transitions"] = transitions
    obs["reconcile_s"] = reconcile_s if ok else None
    owned, strays, apis = owned_children(be.children(client, name, ns), uid)
    counts = {k: len(v) for k, v in owned.items()}
    result.check(
        reconciled_name,
        ok,
        "%s after %.1f s" % (be.status_summary(last), reconcile_s)
        if ok
        else ("not reconciled in %d s" % timeout if not done else "finished unsuccessfully after %.1f s" % reconcile_s)
        + ": %s; owned children %s" % (be.status_summary(last), counts),
    )
    result.step("create %s %s/%s" % (be.kind, ns, name), "%s after %.1f s" % (be.status_summary(last), reconcile_s), ok=ok)
    obs["children"] = owned
    enough = all(len(owned.get(k) or []) >= n for k, n in be.expected_children().items())
    result.check(
        "the operator created the children with owner references to the %s" % be.kind,
        enough and not any(strays.values()),
        "owned %s (expected at least %s)%s" % (owned, be.expected_children(), "; without owner reference: %s" % strays if any(strays.values()) else ""),
    )
    negative(ctx, result, be, ns, ties, obs)

    # Clean-up through owner references.
    t1 = time.monotonic()
    client.delete(be.api_version, be.kind, name, ns, propagation="Background")
    left: dict[str, list[str]] = {}
    for kind, names in owned.items():
        for child in names:
            gone, _last = client.wait_until(apis[kind], kind, child, lambda o: o is None, ns, max(1.0, timeout - (time.monotonic() - t1)))
            if not gone:
                left.setdefault(kind, []).append(child)
    gc_s = round(time.monotonic() - t1, 2)
    total = sum(len(v) for v in owned.values())
    obs["gc_s"] = gc_s if not left else None
    result.check(
        "deleting the %s removes its children" % be.kind,
        total > 0 and not left,
        "%d children gone %.1f s after the delete" % (total, gc_s)
        if total and not left
        else ("still present after %d s: %s" % (timeout, left) if left else "there were no children to remove"),
    )
    result.step(
        "delete %s %s (propagation Background)" % (be.kind, name),
        "children %s" % ("gone after %.1f s" % gc_s if not left else "left: %s" % left),
        ok=not left,
    )
    return "%s reconciled %s %s in %.1f s, its webhook refused an invalid one, and deleting it removed %d children in %.1f s" % (
        be.name,
        be.kind,
        name,
        reconcile_s,
        total,
        gc_s,
    )


def negative(ctx: Any, result: Any, be: Any, ns: str, ties: list[dict[str, Any]] | None, obs: dict[str, Any]) -> None:
    """Create an object the schema allows and the operator forbids; it must be refused."""
    bad = ctx.name("invalid")
    try:
        ctx.create(be.invalid(bad, ns))
    except ClusterError as exc:
        refused(result, be, exc, ops.denying_webhook(exc.status_obj), ties, obs)
    else:
        result.negative_case("%s with %s" % (be.kind, be.invalid_case), False, "accepted: no admission webhook validated it")
        result.check(
            "the operator's admission webhook refuses an invalid %s" % be.kind,
            False,
            "the API server accepted it (validating webhooks registered for %s: %s)" % (be.resource, [t["name"] for t in ties or []] or "none"),
        )


def refused(result: Any, be: Any, exc: ClusterError, hook: str | None, ties: list[dict[str, Any]] | None, obs: dict[str, Any]) -> None:
    """The invalid object was refused: by the operator's own webhook (tied to the operator by its
    Service or, where that cannot be told, by rules naming the operator's group) for the backend's
    rule, by another webhook (a policy engine's catch-all), or not by a webhook at all."""
    case = "%s with %s" % (be.kind, be.invalid_case)
    name = "the operator's admission webhook refuses an invalid %s" % be.kind
    tie = next((t for t in ties or [] if t["name"] == hook), None)
    mine = sorted(t["name"] for t in ties or [] if t["operator"])
    rule = getattr(be, "invalid_rule", None)
    rule_ok = rule.search(exc.message) is not None if rule is not None else None
    obs["invalid_refusal"] = {
        "code": exc.status_obj.get("code", exc.status),
        "reason": exc.status_obj.get("reason"),
        "webhook": hook,
        "operator_webhook": tie["operator"] if tie else None,
        "tie": tie["tie"] if tie else None,
        "rule_matched": rule_ok,
        "causes": ((exc.status_obj.get("details") or {}).get("causes") or [])[:5],
    }
    if hook is None:
        result.negative_case(case, False, "refused with HTTP %s, but not by a webhook: %s" % (exc.status, exc.message[:200]))
        result.check(name, False, "refused, but not by an admission webhook: %s" % exc.message[:200])
    elif ties is None:
        result.negative_case(case, True, "refused with HTTP %s by webhook %s" % (exc.status, hook))
        result.check(name, None, "refused by webhook %s; whose it is cannot be told: the webhook configurations are unreadable" % hook)
    elif tie is None or not tie["operator"]:
        why = tie["tie"] if tie else "no validating webhook configuration registers it for %s" % be.resource
        outcome = "refused with HTTP %s by webhook %s, which is not the operator's: %s; the operator's own webhooks for %s: %s" % (
            exc.status,
            hook,
            why,
            be.resource,
            ", ".join(mine) or "none",
        )
        result.negative_case(case, False, outcome)
        result.check(name, False, outcome)
    elif rule_ok is False:
        outcome = "refused with HTTP %s by webhook %s, but not for the rule under test (%s, expected /%s/): %s" % (
            exc.status,
            hook,
            be.invalid_case,
            rule.pattern,
            exc.message[:200],
        )
        result.negative_case(case, False, outcome)
        result.check(name, False, outcome)
    else:
        result.negative_case(case, True, "refused with HTTP %s by webhook %s" % (exc.status, hook))
        result.check(name, True, "webhook %s: %s" % (hook, tie["tie"]))
