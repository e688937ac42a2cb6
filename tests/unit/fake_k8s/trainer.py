"""FAKE Kubeflow Trainer v2 and JobSet for the fake cluster: the Trainer's validating webhook and
TrainJob controller, the JobSet controller, and the Job controller with kwok's pod-complete stage.

The webhook refuses a TrainJob whose runtimeRef names a ClusterTrainingRuntime that does not exist,
with upstream's message (pkg/runtime/core/clustertrainingruntime.go ValidateObjects).  The Trainer
turns a TrainJob into a JobSet of its name (owned by it) from the runtime's template; JobSet makes
one Job per replicated job replica (owned by the JobSet, labelled jobset.sigs.k8s.io/jobset-name);
the Job makes its pod; a pod that runs on a kwok node completes (kwok's pod-complete stage); the
Job, then the JobSet, then the TrainJob (Complete) finish.  broken: "no-webhook", "accept-all"
(the webhook is registered and allows everything), "unreachable" (registered, failurePolicy Fail,
nothing listening: every create is refused by the API server), "no-controller" (the Trainer does
not reconcile), "no-jobset" (the JobSet controller does not run), "no-owner-refs".
install: "in-cluster" (the Helm chart: Deployment kubeflow-system/kubeflow-trainer-controller-manager
behind Service kubeflow-trainer-controller-manager) or "url" (the reference cluster's webhook
reference to an ExternalName Service, no Deployment)."""

from __future__ import annotations

import copy
from typing import Any

from .base import Deny, cond, phase_of
from .cluster import FakeCluster
from .install import ensure_namespace, in_cluster_component

API = "trainer.kubeflow.org/v1alpha1"
JOBSET_API = "jobset.x-k8s.io/v1alpha2"
LABEL = "jobset.sigs.k8s.io/jobset-name"
HOOK = "validator.trainjob.trainer.kubeflow.org"


def fake_runtime(name: str = "aic-fake-runtime", image: str = "localhost/ai-conformance/probe:v1") -> dict[str, Any]:
    """A ClusterTrainingRuntime shaped like tests/refcluster/manifests/trainer/runtime.yaml."""
    pod = {"containers": [{"name": "node", "image": image, "command": ["sh", "-c", "echo aic fake training step"]}]}
    job = {"metadata": {"labels": {"trainer.kubeflow.org/trainjob-ancestor-step": "trainer"}}, "spec": {"template": {"spec": pod}}}
    return {
        "apiVersion": API,
        "kind": "ClusterTrainingRuntime",
        "metadata": {"name": name},
        "spec": {"mlPolicy": {"numNodes": 1}, "template": {"spec": {"replicatedJobs": [{"name": "node", "template": job}]}}},
    }


class KubeflowTrainer:
    def __init__(self, c: FakeCluster, broken: str = "", install: str = "in-cluster", runtimes: list[dict[str, Any]] | None = None) -> None:
        self.c, self.broken = c, broken
        c.serve(API, "TrainJob", "trainjobs")
        c.serve(API, "ClusterTrainingRuntime", "clustertrainingruntimes", namespaced=False)
        c.serve(API, "TrainingRuntime", "trainingruntimes")
        c.serve(JOBSET_API, "JobSet", "jobsets")
        c.serve("batch/v1", "Job", "jobs")
        for plural, group in (("trainjobs", "trainer.kubeflow.org"), ("clustertrainingruntimes", "trainer.kubeflow.org"), ("jobsets", "jobset.x-k8s.io")):
            version = "v1alpha2" if group == "jobset.x-k8s.io" else "v1alpha1"
            c.apply(
                {
                    "apiVersion": "apiextensions.k8s.io/v1",
                    "kind": "CustomResourceDefinition",
                    "metadata": {"name": "%s.%s" % (plural, group)},
                    "spec": {"group": group, "versions": [{"name": version, "served": True, "storage": True}]},
                    "status": {"conditions": [{"type": "Established", "status": "True"}]},
                }
            )
        svc = {"namespace": "kubeflow-system", "name": "kubeflow-trainer-controller-manager", "path": "/validate-trainer-kubeflow-org-v1alpha1-trainjob"}
        if install == "in-cluster":
            labels = {"app.kubernetes.io/name": "kubeflow-trainer", "app.kubernetes.io/component": "manager"}
            in_cluster_component(
                c, "kubeflow-system", "kubeflow-trainer-controller-manager", svc["name"], labels, "ghcr.io/kubeflow/trainer/trainer-controller-manager:v2.0.0"
            )
        else:
            ensure_namespace(c, "kubeflow-system")
            c.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": svc["name"], "namespace": svc["namespace"]},
                    "spec": {"type": "ExternalName", "externalName": "localhost"},
                }
            )
        if broken != "no-webhook":
            rules = [{"apiGroups": ["trainer.kubeflow.org"], "apiVersions": ["v1alpha1"], "resources": ["trainjobs"], "operations": ["CREATE", "UPDATE"]}]
            c.apply(
                {
                    "apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "ValidatingWebhookConfiguration",
                    "metadata": {"name": "validator.trainer.kubeflow.org"},
                    "webhooks": [{"name": HOOK, "clientConfig": {"service": svc}, "rules": rules, "failurePolicy": "Fail"}],
                }
            )
            c.admission.append(self.webhook)
        for rt in runtimes if runtimes is not None else [fake_runtime()]:
            c.apply(copy.deepcopy(rt))
        if broken != "no-controller":
            c.controllers.append(self.reconcile_trainjobs)
        if broken != "no-jobset":
            c.controllers.append(self.reconcile_jobsets)
        c.controllers.append(self.reconcile_jobs)

    def webhook(self, op: str, obj: dict[str, Any], _old: Any) -> None:
        if obj["kind"] != "TrainJob" or self.broken == "accept-all":
            return
        if self.broken == "unreachable":
            raise Deny(
                500,
                "InternalError",
                'Internal error occurred: failed calling webhook "%s": failed to call webhook: Post "https://kubeflow-trainer-controller-manager.'
                'kubeflow-system.svc:443/validate-trainer-kubeflow-org-v1alpha1-trainjob?timeout=10s": dial tcp 10.96.0.20:443: connect: connection refused'
                % HOOK,
            )
        ref = obj["spec"].get("runtimeRef") or {}
        if self.c.obj(API, "ClusterTrainingRuntime", ref.get("name", "")) is None:
            raise Deny(
                403,
                "Forbidden",
                'admission webhook "%s" denied the request: spec.RuntimeRef: Invalid value: {"name":"%s"}: clustertrainingruntimes.trainer.kubeflow.org '
                '"%s" not found: specified clusterTrainingRuntime must be created before the TrainJob is created' % (HOOK, ref.get("name"), ref.get("name")),
            )

    def _owner(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        if self.broken == "no-owner-refs":
            return []
        return [{"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"], "controller": True}]

    def reconcile_trainjobs(self) -> bool:
        changed = False
        for tj in self.c.all(API, "TrainJob"):
            ns, name = tj["metadata"]["namespace"], tj["metadata"]["name"]
            rt = self.c.obj(API, "ClusterTrainingRuntime", (tj["spec"].get("runtimeRef") or {}).get("name", ""))
            js = self.c.obj(JOBSET_API, "JobSet", name, ns)
            if rt is None:
                continue
            if js is None:
                spec = copy.deepcopy(rt["spec"]["template"]["spec"])
                trainer = tj["spec"].get("trainer") or {}
                for rj in spec["replicatedJobs"]:
                    for ctr in rj["template"]["spec"]["template"]["spec"]["containers"]:
                        ctr.update({k: trainer[k] for k in ("image", "command") if trainer.get(k)})
                md = {"name": name, "namespace": ns, "labels": {"trainer.kubeflow.org/trainjob-name": name}, "ownerReferences": self._owner(tj)}
                self.c.create_obj({"apiVersion": JOBSET_API, "kind": "JobSet", "metadata": md, "spec": spec})
                changed = True
                continue
            done = next((c for c in (js.get("status") or {}).get("conditions") or [] if c["type"] in ("Completed", "Failed") and c["status"] == "True"), None)
            if done is not None:
                ctype = "Complete" if done["type"] == "Completed" else "Failed"
                if cond(tj, ctype, "True", "JobSet" + done["type"], "jobset %s" % done["type"].lower(), self.c.iso()):
                    self.c.touch(tj)
                    changed = True
        return changed

    def reconcile_jobsets(self) -> bool:
        changed = False
        for js in self.c.all(JOBSET_API, "JobSet"):
            ns, name = js["metadata"]["namespace"], js["metadata"]["name"]
            jobs = []
            for rj in js["spec"]["replicatedJobs"]:
                for i in range(int(rj.get("replicas", 1))):
                    jname = "%s-%s-%d" % (name, rj["name"], i)
                    job = self.c.obj("batch/v1", "Job", jname, ns)
                    if job is None:
                        md = {"name": jname, "namespace": ns, "labels": {LABEL: name}, "ownerReferences": self._owner(js)}
                        job = self.c.create_obj({"apiVersion": "batch/v1", "kind": "Job", "metadata": md, "spec": copy.deepcopy(rj["template"]["spec"])})
                        changed = True
                    jobs.append(job)
            if jobs and all(((j.get("status") or {}).get("succeeded") or 0) >= 1 for j in jobs):
                if cond(js, "Completed", "True", "AllJobsCompleted", "jobset completed successfully", self.c.iso()):
                    self.c.touch(js)
                    changed = True
        return changed

    def reconcile_jobs(self) -> bool:
        changed = False
        for job in self.c.all("batch/v1", "Job"):
            ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
            pname = "%s-0" % name
            pod = self.c.obj("v1", "Pod", pname, ns)
            if pod is None:
                labels = dict(job["metadata"].get("labels") or {}, **{"batch.kubernetes.io/job-name": name})
                md = {"name": pname, "namespace": ns, "labels": labels, "ownerReferences": self._owner(job)}
                spec = dict(copy.deepcopy(job["spec"]["template"]["spec"]), restartPolicy="Never")
                self.c.create_obj({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec})
                changed = True
            elif phase_of(pod) == "Running":
                pod["status"]["phase"] = "Succeeded"  # kwok's pod-complete stage for pods owned by a Job
                self.c.touch(pod)
                changed = True
            elif phase_of(pod) == "Succeeded" and not (job.get("status") or {}).get("succeeded"):
                job.setdefault("status", {})["succeeded"] = 1
                cond(job, "Complete", "True", "", "", self.c.iso())
                self.c.touch(job)
                changed = True
        return changed
