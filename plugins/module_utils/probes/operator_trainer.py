# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubeflow Trainer v2 backend for operator_probe (robust_controller).

A TrainJob (trainer.kubeflow.org/v1alpha1) names a (Cluster)TrainingRuntime; the Trainer
reconciles it into a JobSet of the same name (jobset.x-k8s.io/v1alpha2, owned by the TrainJob),
the JobSet controller into Jobs (owned by the JobSet, labelled jobset.sigs.k8s.io/jobset-name),
the Job controller into Pods.  The Trainer reads the JobSet's terminal condition back into the
TrainJob (Complete or Failed: pkg/controller/trainjob_controller.go setTerminalCondition).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
from typing import Any

JOBSET_API = "jobset.x-k8s.io/v1alpha2"
JOBSET_LABEL = "jobset.sigs.k8s.io/jobset-name"


class TrainerBackend:
    """Kubeflow Trainer v2: TrainJob (trainer.kubeflow.org/v1alpha1), validating webhook
    validator.trainjob.trainer.kubeflow.org (configuration validator.trainer.kubeflow.org)."""

    name = "kubeflow_trainer"
    api_version = "trainer.kubeflow.org/v1alpha1"
    kind = "TrainJob"
    group, version, resource = "trainer.kubeflow.org", "v1alpha1", "trainjobs"
    crd = "trainjobs.trainer.kubeflow.org"
    # What the webhook refuses and the CRD schema allows: a runtimeRef naming a runtime that does
    # not exist (pkg/webhooks/trainjob_webhook.go -> ClusterTrainingRuntime.ValidateObjects: the
    # runtime "must be created before the TrainJob is created").  The refusal must say so: a
    # webhook that refuses for another reason has not applied this rule.
    invalid_case = "a runtimeRef naming a ClusterTrainingRuntime that does not exist"
    invalid_rule = re.compile(r"must be created before the TrainJob is created")
    # How the operator is installed: the Helm chart's and the kustomize manifests' labels, its image.
    operator_labels = ("app.kubernetes.io/name=kubeflow-trainer", "app.kubernetes.io/name=trainer")
    operator_image = "kubeflow/trainer/trainer-controller-manager"

    def __init__(
        self,
        runtime: str,
        image: str | None = None,
        command: list[str] | None = None,
        node_selector: dict[str, str] | None = None,
        tolerations: list[dict[str, Any]] | None = None,
        target_job: str = "node",
    ) -> None:
        self.runtime = runtime
        self.image = image
        self.command = command
        self.node_selector = node_selector
        self.tolerations = tolerations
        self.target_job = target_job

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> TrainerBackend:
        return cls(
            p.get("training_runtime") or "torch-distributed",
            p.get("trainer_image"),
            p.get("trainer_command"),
            p.get("node_selector"),
            p.get("tolerations"),
            p.get("trainer_target_job") or "node",
        )

    def describe(self) -> str:
        return "a valid TrainJob (Kubeflow Trainer, ClusterTrainingRuntime %s%s), then an invalid one" % (
            self.runtime,
            ", image %s" % self.image if self.image else "",
        )

    def valid(self, name: str, namespace: str) -> dict[str, Any]:
        trainer: dict[str, Any] = {"numNodes": 1}
        if self.image:
            trainer["image"] = self.image
        if self.command:
            trainer["command"] = list(self.command)
        spec: dict[str, Any] = {
            "runtimeRef": {"name": self.runtime, "apiGroup": self.group, "kind": "ClusterTrainingRuntime"},
            "trainer": trainer,
        }
        if self.node_selector or self.tolerations:
            override: dict[str, Any] = {"targetJobs": [{"name": self.target_job}]}
            if self.node_selector:
                override["nodeSelector"] = dict(self.node_selector)
            if self.tolerations:
                override["tolerations"] = [dict(t) for t in self.tolerations]
            spec["podSpecOverrides"] = [override]
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}

    def invalid(self, name: str, namespace: str) -> dict[str, Any]:
        obj = self.valid(name, namespace)
        obj["spec"]["runtimeRef"]["name"] = "%s-absent-runtime" % name
        return obj

    def children(self, client: Any, name: str, namespace: str) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """(kind, apiVersion, objects) in ownership order: the JobSet, its Jobs, their Pods."""
        jobsets = [j for j in client.list(JOBSET_API, "JobSet", namespace)["items"] if j["metadata"]["name"] == name]
        sel = "%s=%s" % (JOBSET_LABEL, name)
        jobs = client.list("batch/v1", "Job", namespace, label_selector=sel)["items"]
        pods = client.list("v1", "Pod", namespace, label_selector=sel)["items"]
        return [("JobSet", JOBSET_API, jobsets), ("Job", "batch/v1", jobs), ("Pod", "v1", pods)]

    def expected_children(self) -> dict[str, int]:
        """Kinds and least counts the operators must create: the JobSet, one Job, its pod."""
        return {"JobSet": 1, "Job": 1, "Pod": 1}

    @staticmethod
    def reconciled(obj: dict[str, Any] | None) -> bool:
        """Finished: the Trainer read the JobSet's terminal condition back (Complete or Failed)."""
        conds = {c.get("type"): c.get("status") for c in ((obj or {}).get("status") or {}).get("conditions") or []}
        return conds.get("Complete") == "True" or conds.get("Failed") == "True"

    @staticmethod
    def succeeded(obj: dict[str, Any] | None) -> bool:
        conds = {c.get("type"): c.get("status") for c in ((obj or {}).get("status") or {}).get("conditions") or []}
        return conds.get("Complete") == "True"

    @staticmethod
    def status_summary(obj: dict[str, Any] | None) -> str:
        st = (obj or {}).get("status") or {}
        conds = ",".join("%s=%s(%s)" % (c.get("type"), c.get("status"), c.get("reason") or "-") for c in st.get("conditions") or [])
        jobs = ",".join("%s:succeeded=%s,failed=%s" % (j.get("name"), j.get("succeeded", 0), j.get("failed", 0)) for j in st.get("jobsStatus") or [])
        return "conditions[%s]%s" % (conds or "-", " jobs[%s]" % jobs if jobs else "")
