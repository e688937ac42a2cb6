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
  - "Exercises a complex AI operator through its own API, the way a user would. Backends: KubeRay
    (C(ray.io/v1) RayCluster) and Kubeflow Trainer v2 (C(trainer.kubeflow.org/v1alpha1) TrainJob,
    reconciled through a JobSet). O(operator) names one or several; each named one is exercised."
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
  - "Kubeflow Trainer: a valid TrainJob naming O(training_runtime) must be reconciled into a JobSet
    of its name (owned by the TrainJob), Jobs (owned by the JobSet) and pods (owned by the Jobs),
    and the Trainer must read the JobSet's end back into the TrainJob (condition C(Complete) True).
    The invalid TrainJob names a ClusterTrainingRuntime that does not exist, which the CRD schema
    allows; the Trainer's webhook must refuse it and say why (the runtime must be created before
    the TrainJob): a refusal for another reason, by another webhook, or no refusal fails. A valid
    TrainJob refused (the Trainer's webhook unreachable) fails. Deleting the TrainJob must remove the
    JobSet, its Jobs and pods."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  operator:
    description: >-
      Which operators to exercise, one or a list. C(auto) picks the first served of KubeRay
      (C(ray.io/v1) RayCluster) and Kubeflow Trainer (C(trainer.kubeflow.org/v1alpha1) TrainJob).
      A named operator whose API is not served fails.
    type: list
    elements: str
    choices: [auto, kuberay, kubeflow_trainer]
    default: [auto]
  image:
    description: Ray image of the head and worker pods.
    type: str
    default: rayproject/ray:2.46.0
  ray_version:
    description: C(spec.rayVersion) of the RayCluster; keep it equal to the image's Ray version.
    type: str
    default: 2.46.0
  training_runtime:
    description: >-
      Kubeflow Trainer: the ClusterTrainingRuntime the valid TrainJob names (the Trainer's Helm chart and manifests install
      C(torch-distributed)).
    type: str
    default: torch-distributed
  trainer_image:
    description: Kubeflow Trainer, C(spec.trainer.image) of the TrainJob. Empty keeps the runtime's image.
    type: str
  trainer_command:
    description: Kubeflow Trainer, C(spec.trainer.command) of the TrainJob (it must end successfully). Empty keeps the runtime's command.
    type: list
    elements: str
  trainer_target_job:
    description: Kubeflow Trainer, the runtime's replicated job that O(node_selector) and O(tolerations) apply to (C(podSpecOverrides)).
    type: str
    default: node
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
      (KubeRay: C(app.kubernetes.io/name=kuberay-operator) or C(app.kubernetes.io/component=kuberay-operator);
      Kubeflow Trainer: C(app.kubernetes.io/name=kubeflow-trainer) or C(app.kubernetes.io/name=trainer)) or its image
      (C(kuberay/operator), C(kubeflow/trainer/trainer-controller-manager)). A webhook counts as the operator's when its
      Service selects this Deployment's pods. With several operators, leave it empty.
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

- name: Prove KubeRay and Kubeflow Trainer both do
  ai_conformance.kubernetes.operator_probe:
    operator: [kuberay, kubeflow_trainer]
    training_runtime: torch-distributed
    trainer_command: [sh, -c, "echo ok"]
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
        whether each is the operator's and why, the refusing webhook (invalid_refusal, with rule_matched), status transitions with
        times, children with owners, time to reconcile and to garbage-collect. With several operators, the same per operator
        under operators.<name>.
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

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import operators as ops
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes.operator_exercise import exercise

EXTRA = {
    "operator": {"type": "list", "elements": "str", "default": ["auto"], "choices": ["auto"] + list(ops.BACKENDS)},
    "image": {"type": "str", "default": "rayproject/ray:2.46.0"},
    "ray_version": {"type": "str", "default": "2.46.0"},
    "training_runtime": {"type": "str", "default": "torch-distributed"},
    "trainer_image": {"type": "str"},
    "trainer_command": {"type": "list", "elements": "str"},
    "trainer_target_job": {"type": "str", "default": "node"},
    "node_selector": {"type": "dict"},
    "tolerations": {"type": "list", "elements": "dict"},
    "operator_deployment": {"type": "str"},
}


class OperatorProbe(Probe):
    requirement = "robust_controller"

    def backends(self, client):
        """The backends to exercise, and why each named one whose API is not served is missing."""
        p = self.params
        wanted = list(dict.fromkeys(p["operator"] or ["auto"]))
        if "auto" in wanted:
            for cls in ops.BACKENDS.values():
                if client.served(cls.api_version, cls.kind):
                    return [cls.from_params(p)], []
            looked = ", ".join("%s %s" % (c.api_version, c.kind) for c in ops.BACKENDS.values())
            return [], ["no AI operator API is served (looked for %s)" % looked]
        found, missing = [], []
        for name in wanted:
            cls = ops.BACKENDS[name]
            if client.served(cls.api_version, cls.kind):
                found.append(cls.from_params(p))
            else:
                missing.append("%s: its API %s %s is not served" % (name, cls.api_version, cls.kind))
        return found, missing

    def plan(self, run_id):
        p = self.params
        out = super().plan(run_id)
        named = [n for n in p["operator"] or [] if n != "auto"]
        if named:
            out["creates"] = [ops.BACKENDS[n].from_params(p).describe() for n in named]
        else:
            out["creates"] = [
                "for the first operator served (%s): %s" % (", ".join(ops.BACKENDS), " or ".join(c.from_params(p).describe() for c in ops.BACKENDS.values()))
            ]
        out["observes"] = [
            "the CRD served and Established",
            "the custom resource reconciled and its children owned by it",
            "its children removed after it is deleted",
        ]
        out["negative"] = ["a custom resource the schema allows and the operator forbids is refused by its admission webhook"]
        return out

    def run(self, client, ctx, result):
        p = self.params
        bes, missing = self.backends(client)
        if not bes:
            result.decide(Verdict.FAIL, "; ".join(missing))
            return
        for why in missing:
            result.check("every named operator's API is served", False, why)
        if len(bes) == 1 and not missing:
            result.decide_from_checks(exercise(client, ctx, result, bes[0], p["namespace"], p["timeout"], p["operator_deployment"], result.observations))
            return
        result.observations["operator"] = [be.name for be in bes]
        per = result.observations.setdefault("operators", {})
        summaries = []
        for be in bes:
            t0 = time.monotonic()
            summaries.append(exercise(client, ctx, result, be, p["namespace"], p["timeout"], p["operator_deployment"], per.setdefault(be.name, {})))
            per[be.name]["exercise_s"] = round(time.monotonic() - t0, 2)
        result.decide_from_checks("; ".join(summaries))


def main():
    OperatorProbe(EXTRA).main()


if __name__ == "__main__":
    main()
