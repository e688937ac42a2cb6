#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: operator_probe
short_description: Prove an AI operator validates, reconciles and cleans up its custom resources (requirement robust_controller)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Exercises a complex AI operator through its own API, the way a user would. Today's backend is
    KubeRay (C(ray.io/v1) RayCluster)."
  - "CRDs: the operator's CRD is Established and served at the expected version, which is also
    the storage version."
  - "Reconcile: a valid RayCluster (head and one worker) reaches C(state=ready) (or HeadPodReady
    and RayClusterProvisioned True); every status transition is recorded with its time. The
    operator's children (head and worker pods, head Service) exist and name the RayCluster as
    their controlling owner."
  - "Negative case: a RayCluster that the CRD schema allows but the operator's rules forbid (two
    worker groups with one name) must be refused at admission by the operator's own validating
    webhook; the refusing webhook's name is read from the API server's Status. The webhook is the
    operator's when its clientConfig Service selects the pods of the operator's Deployment
    (O(operator_deployment)) or, where that cannot be told (a URL, no operator Deployment in the
    cluster), when its rules name the operator's API group itself. A refusal by another webhook (a
    policy engine's catch-all rule) fails the probe and names that webhook."
  - "Clean-up: deleting the RayCluster must remove every child through owner references."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  operator:
    description: Which operator to exercise. C(auto) picks KubeRay when C(ray.io/v1) RayCluster is served.
    type: str
    choices: [auto, kuberay]
    default: auto
  image:
    description: Ray image of the head and worker pods.
    type: str
    default: rayproject/ray:2.46.0
  ray_version:
    description: C(spec.rayVersion) of the RayCluster; keep it equal to the image's Ray version.
    type: str
    default: 2.46.0
  node_selector:
    description: Node labels for the operator's pods.
    type: dict
  tolerations:
    description: Tolerations for the operator's pods.
    type: list
    elements: dict
  operator_deployment:
    description: >-
      The operator's Deployment as C(namespace/name). Empty finds it by the operator's install labels
      (KubeRay: C(app.kubernetes.io/name=kuberay-operator) or C(app.kubernetes.io/component=kuberay-operator))
      or its image (C(kuberay/operator)). A webhook counts as the operator's when its Service selects this
      Deployment's pods.
    type: str
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Prove KubeRay validates, reconciles and cleans up a RayCluster
  ai_conformance.kubernetes.operator_probe:
    operator: kuberay
    timeout: 600
  register: robust_controller
"""

RETURN = r"""
verdict:
  description: One of pass, fail, skip, not_applicable, error.
  returned: always
  type: str
  sample: pass
reason:
  description: One sentence explaining the verdict.
  returned: always
  type: str
  sample: "kuberay reconciled RayCluster aic-raycluster-r1 in 3.1 s, its webhook refused an invalid one, and deletion removed 3 children in 1.2 s"
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: robust_controller
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: the operator reconciled, validated and cleaned up
    observations:
      description: >-
        Operator, its Deployments, CRD versions, the validating webhooks for the resource (names) and, in webhook_ties,
        whether each is the operator's and why, the refusing webhook, status transitions with times, children with owners, time to
        reconcile and to garbage-collect.
      type: dict
      returned: always
      sample: {operator: kuberay, reconcile_s: 3.1, gc_s: 1.2}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: the operator reconciles a valid RayCluster, ok: true, detail: "state=ready", kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: create RayCluster aic-raycluster-r1, result: ready after 3.1 s, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: RayCluster with two worker groups of one name, refused: true, outcome: denied by webhook vraycluster.kb.io}]
    owner:
      description: Owning layer.
      type: str
      returned: always
      sample: platform
    run_id:
      description: Run id on every created object.
      type: str
      returned: always
      sample: r2611231030-ab12
    started:
      description: UTC start time.
      type: str
      returned: always
      sample: "2026-11-23T10:30:00Z"
    duration_s:
      description: Seconds the probe took.
      type: float
      returned: always
      sample: 20.5
"""

import time

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import operators as ops
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import Verdict

EXTRA = {
    "operator": {"type": "str", "default": "auto", "choices": ["auto", "kuberay"]},
    "image": {"type": "str", "default": "rayproject/ray:2.46.0"},
    "ray_version": {"type": "str", "default": "2.46.0"},
    "node_selector": {"type": "dict"},
    "tolerations": {"type": "list", "elements": "dict"},
    "operator_deployment": {"type": "str"},
}


class OperatorProbe(Probe):
    requirement = "robust_controller"

    def backend(self, client):
        p = self.params
        for name, cls in ops.BACKENDS.items():
            if p["operator"] in ("auto", name) and client.served(cls.api_version, cls.kind):
                return cls(p["image"], p["ray_version"], p["node_selector"], p["tolerations"]), ""
        wanted = [cls for name, cls in ops.BACKENDS.items() if p["operator"] in ("auto", name)]
        return None, "no AI operator API is served (looked for %s)" % ", ".join("%s %s" % (c.api_version, c.kind) for c in wanted)

    def children(self, client, be, name, ns):
        sel = "%s=%s" % (be.child_label, name)
        return {kind: client.list("v1", kind, ns, label_selector=sel)["items"] for kind in be.expected_children()}

    def plan(self, run_id):
        p = self.params
        out = super().plan(run_id)
        out["creates"] = ["a valid RayCluster (KubeRay, image %s, Ray %s), then an invalid one" % (p["image"], p["ray_version"])]
        out["observes"] = [
            "the CRD served and Established",
            "the RayCluster reconciled and its children owned by it",
            "its children removed after it is deleted",
        ]
        out["negative"] = ["a RayCluster the schema allows and the operator forbids is refused by its admission webhook"]
        return out

    def run(self, client, ctx, result):
        be, why = self.backend(client)
        if be is None:
            result.decide(Verdict.FAIL, why)
            return
        timeout = self.params["timeout"]
        result.observations["operator"] = be.name

        # The CRD: established, served and stored at the version the probe speaks.
        try:
            crd = client.get(ops.CRD_API, "CustomResourceDefinition", be.crd)
        except ClusterError as exc:
            crd, why = None, exc.message
        else:
            why = "CustomResourceDefinition %s does not exist" % be.crd
        versions = ops.crd_versions(crd)
        result.observations["crd_versions"] = versions
        mine = versions.get(be.version) or {}
        result.check(
            "CRD %s is Established and serves %s as its storage version" % (be.crd, be.version),
            (ops.established(crd) and mine.get("served") and mine.get("storage")) if crd else None,
            "versions %s, Established=%s" % (versions, ops.established(crd)) if crd else why,
        )
        try:
            deployments = ops.operator_deployments(client, be, self.params["operator_deployment"])
            configs = client.list(ops.WEBHOOK_API, "ValidatingWebhookConfiguration")["items"]
            ties = ops.webhook_ties(client, configs, be, deployments)
        except ClusterError as exc:
            deployments, ties = [], None
            result.observations["webhooks_unreadable"] = exc.message
        result.observations["operator_deployments"] = ["%s/%s" % (d["metadata"]["namespace"], d["metadata"]["name"]) for d in deployments]
        result.observations["validating_webhooks"] = sorted({t["name"] for t in ties}) if ties is not None else None
        result.observations["webhook_ties"] = ties

        ns = ctx.ensure_namespace(self.params["namespace"])
        name = ctx.name(be.kind.lower())
        t0 = time.monotonic()
        live = ctx.create(be.valid(name, ns))
        uid = live["metadata"]["uid"]
        transitions = []

        def watch(o):
            summary = be.status_summary(o)
            if not transitions or transitions[-1]["status"] != summary:
                transitions.append({"at_s": round(time.monotonic() - t0, 2), "status": summary})
            return be.reconciled(o)

        ok, last = client.wait_until(be.api_version, be.kind, name, watch, ns, timeout)
        reconcile_s = round(time.monotonic() - t0, 2)
        result.observations["status_transitions"] = transitions
        result.observations["reconcile_s"] = reconcile_s if ok else None
        kids = self.children(client, be, name, ns)
        counts = {k: len(v) for k, v in kids.items()}
        result.check(
            "the operator reconciles a valid %s" % be.kind,
            ok,
            "%s after %.1f s" % (be.status_summary(last), reconcile_s)
            if ok
            else "not reconciled in %d s: %s; children %s" % (timeout, be.status_summary(last), counts),
        )
        result.step("create %s %s/%s" % (be.kind, ns, name), "%s after %.1f s" % (be.status_summary(last), reconcile_s), ok=ok)
        owned = {k: [o["metadata"]["name"] for o in v if ops.owned_by(o, uid)] for k, v in kids.items()}
        result.observations["children"] = owned
        enough = all(len(owned[k]) >= n for k, n in be.expected_children().items())
        strays = {k: sorted({o["metadata"]["name"] for o in v} - set(owned[k])) for k, v in kids.items()}
        result.check(
            "the operator created the children with owner references to the %s" % be.kind,
            enough and not any(strays.values()),
            "owned %s (expected at least %s)%s" % (owned, be.expected_children(), "; without owner reference: %s" % strays if any(strays.values()) else ""),
        )

        # Negative case: an object the schema allows and the operator forbids.
        bad = ctx.name("invalid")
        try:
            ctx.create(be.invalid(bad, ns))
        except ClusterError as exc:
            hook = ops.denying_webhook(exc.status_obj)
            self.refused(result, be, exc, hook, ties)
        else:
            result.negative_case("%s with %s" % (be.kind, be.invalid_case), False, "accepted: no admission webhook validated it")
            result.check(
                "the operator's admission webhook refuses an invalid %s" % be.kind,
                False,
                "the API server accepted it (validating webhooks registered for %s: %s)" % (be.resource, [t["name"] for t in ties or []] or "none"),
            )

        # Clean-up through owner references.
        t1 = time.monotonic()
        client.delete(be.api_version, be.kind, name, ns, propagation="Background")
        left = {}
        for kind, names in owned.items():
            for child in names:
                gone, _last = client.wait_until("v1", kind, child, lambda o: o is None, ns, max(1.0, timeout - (time.monotonic() - t1)))
                if not gone:
                    left.setdefault(kind, []).append(child)
        gc_s = round(time.monotonic() - t1, 2)
        total = sum(len(v) for v in owned.values())
        result.observations["gc_s"] = gc_s if not left else None
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
        result.decide_from_checks(
            "%s reconciled %s %s in %.1f s, its webhook refused an invalid one, and deleting it removed %d children in %.1f s"
            % (be.name, be.kind, name, reconcile_s, total, gc_s)
        )

    @staticmethod
    def refused(result, be, exc, hook, ties):
        """The invalid object was refused: by the operator's own webhook (tied to the operator by
        its Service or, where that cannot be told, by rules naming the operator's group), by
        another webhook (a policy engine's catch-all), or not by a webhook at all."""
        case = "%s with %s" % (be.kind, be.invalid_case)
        name = "the operator's admission webhook refuses an invalid %s" % be.kind
        tie = next((t for t in ties or [] if t["name"] == hook), None)
        mine = sorted(t["name"] for t in ties or [] if t["operator"])
        result.observations["invalid_refusal"] = {
            "code": exc.status_obj.get("code", exc.status),
            "reason": exc.status_obj.get("reason"),
            "webhook": hook,
            "operator_webhook": tie["operator"] if tie else None,
            "tie": tie["tie"] if tie else None,
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
        else:
            result.negative_case(case, True, "refused with HTTP %s by webhook %s" % (exc.status, hook))
            result.check(name, True, "webhook %s: %s" % (hook, tie["tie"]))


def main():
    OperatorProbe(EXTRA).main()


if __name__ == "__main__":
    main()
