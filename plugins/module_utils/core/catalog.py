# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The requirement catalog of the CNCF Kubernetes AI Conformance checklists, as data.

Generated from the official checklists (cncf/k8s-ai-conformance docs/AIConformance-1.NN.yaml; the
copies and their commits are in tests/fixtures/checklists/SOURCES.md) and checked against them by
tests/unit/plugins/module_utils/test_catalog.py.  ``id``, ``description`` and ``level`` must reach
PRODUCT.yaml unchanged, so descriptions are stored verbatim, typos included.  What the collection
does with each requirement (its probe, domain role, lane, owner) is in registry.py, which reads this.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from dataclasses import dataclass
from typing import Any

DEFAULT_VERSION = "v1.37"
CATEGORIES = ("accelerators", "networking", "schedulingOrchestration", "observability", "security", "operator")
STATUSES = ("Implemented", "Not Implemented", "Partially Implemented", "N/A")


class UnknownVersion(ValueError):
    pass


class UnknownRequirement(KeyError):
    pass


@dataclass(frozen=True)
class Requirement:
    id: str
    category: str
    level: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "level": self.level, "description": self.description}


def versions() -> list[str]:
    return sorted(VERSIONS, key=lambda v: tuple(int(x) for x in v.lstrip("v").split(".")))


def normalize_version(version: str | None) -> str:
    """'1.35', 'v1.35', 'v1.35.2' -> 'v1.35'.  Raises UnknownVersion with the known ones."""
    v = str(version or DEFAULT_VERSION).strip()
    v = "v" + v.lstrip("vV")
    v = ".".join(v.split(".")[:2])
    if v not in VERSIONS:
        raise UnknownVersion("unknown checklist version %r (known: %s)" % (version, ", ".join(versions())))
    return v


def requirements(version: str | None = None) -> list[Requirement]:
    """Every requirement of a checklist version, in checklist order."""
    v = normalize_version(version)
    data = VERSIONS[v]
    out = []
    for rid, category, level in data["requirements"]:
        desc = data["description_overrides"].get(rid, REQUIREMENTS[rid]["description"])
        out.append(Requirement(rid, category, level, desc))
    return out


def requirement(version: str | None, rid: str) -> Requirement:
    for r in requirements(version):
        if r.id == rid:
            return r
    raise UnknownRequirement("requirement %r is not in checklist %s" % (rid, normalize_version(version)))


def ids(version: str | None = None) -> list[str]:
    return [r.id for r in requirements(version)]


def metadata_keys(version: str | None = None) -> list[str]:
    return list(VERSIONS[normalize_version(version)]["metadata_keys"])


def header(version: str | None = None) -> str:
    return VERSIONS[normalize_version(version)]["header"]


def category_of(rid: str) -> str:
    if rid not in REQUIREMENTS:
        raise UnknownRequirement("unknown requirement %r" % rid)
    return REQUIREMENTS[rid]["category"]


# ---- data (generated; do not edit by hand: regenerate from the official checklists) ----------
REQUIREMENTS = {
    "dra_support": {
        "category": "accelerators",
        "description": "Support Dynamic Resource Allocation (DRA) APIs to enable more flexible and fine-grained resource requests beyond simple counts.",
    },
    "ai_inference": {
        "category": "networking",
        "description": "Support the Kubernetes Gateway API with an implementation for advanced traffic management for inference services, "
        "which enables capabilities like weighted traffic splitting, header-based routing (for OpenAI protocol headers), "
        "and optional integration with service meshes.",
    },
    "gang_scheduling": {
        "category": "schedulingOrchestration",
        "description": "The platform must allow for the installation and successful operation of at least one gang scheduling solution "
        "that ensures all-or-nothing scheduling for distributed AI workloads (e.g. Kueue, Volcano, etc.) To be "
        "conformant, the vendor must demonstrate that their platform can successfully run at least one such solution.",
    },
    "cluster_autoscaling": {
        "category": "schedulingOrchestration",
        "description": "If the platform provides a cluster autoscaler or an equivalent mechanism, it must be able to scale up/down "
        "node groups containing specific accelerator types based on pending pods requesting those accelerators.",
    },
    "pod_autoscaling": {
        "category": "schedulingOrchestration",
        "description": "If the platform supports the HorizontalPodAutoscaler, it must function correctly for pods utilizing "
        "accelerators. This includes the ability to scale these Pods based on custom metrics relevant to AI/ML "
        "workloads.",
    },
    "accelerator_metrics": {
        "category": "observability",
        "description": "For supported accelerator types, the platform must allow for the installation and successful operation of "
        "at least one accelerator metrics solution that exposes fine-grained performance metrics via a standardized, "
        "machine-readable metrics endpoint. This must include a core set of metrics for per-accelerator utilization "
        "and memory usage. Additionally, other relevant metrics such as temperature, power draw, and interconnect "
        "bandwidth should be exposed if the underlying hardware or virtualization layer makes them available. The "
        "list of metrics should align with emerging standards, such as OpenTelemetry metrics, to ensure "
        "interoperability. The platform may provide a managed solution, but this is not required for conformance.",
    },
    "ai_service_metrics": {
        "category": "observability",
        "description": "Provide a monitoring system capable of discovering and collecting metrics from workloads that expose them in "
        "a standard format (e.g. Prometheus exposition format). This ensures easy integration for collecting key "
        "metrics from common AI frameworks and servers.",
    },
    "secure_accelerator_access": {
        "category": "security",
        "description": "Ensure that access to accelerators from within containers is properly isolated and mediated by the "
        "Kubernetes resource management framework (device plugin or DRA) and container runtime, preventing "
        "unauthorized access or interference between workloads.",
    },
    "robust_controller": {
        "category": "operator",
        "description": "The platform must prove that at least one complex AI operator with a CRD (e.g., Ray, Kubeflow) can be "
        "installed and functions reliably. This includes verifying that the operator's pods run correctly, its "
        "webhooks are operational, and its custom resources can be reconciled.",
    },
    "driver_runtime_management": {
        "category": "accelerators",
        "description": "Provide a verifiable mechanism for ensuring that compatible accelerator drivers and corresponding "
        "container runtime configurations are correctly installed and maintained on nodes with accelerators. "
        "Once the accelerator supports exposing driver and runtime version information as part of DRA, then "
        "the platform should use the DRA mechanism for verification.",
    },
    "gpu_sharing": {
        "category": "accelerators",
        "description": "For accelerators that support static GPU sharing, provide well-defined mechanisms for at least one GPU sharing "
        "strategy to improve utilization for workloads that do not require a full dedicated GPU. If hardware-level "
        "partitioning is supported, then these fractional GPU resources should be exposed as schedulable resources. If "
        "software-based sharing (e.g. time-slicing) is supported, then oversubscription of GPUs should be allowed. "
        "Forward-looking: Once the accelerator supports static GPU sharing as part of DRA, the platform should expose the "
        "DRA mechanism to allow users to leverage static GPU sharing. Once the accelerator supports dynamic GPU sharing as "
        "part of DRA and the partitionable devices feature is GA, the platform should expose the DRA mechanism to allow "
        "users to leverage dynamic GPU sharing.",
    },
    "virtualized_accelerator": {
        "category": "accelerators",
        "description": "For accelerators that support virtualized accelerator technologies (e.g. vGPU), provide well-defined "
        "mechanisms for these to be exposed and managed, maintaining consistency with physical fractional GPUs. "
        "Forward-looking: Once the accelerator supports virtualized accelerator technologies as part of DRA, "
        "then the platform should use the DRA mechanism.",
    },
    "advanced_inference_ingress": {
        "category": "networking",
        "description": "Support an implementation of the Gateway API Inference Extension (GAIE), which can route requests to "
        "models hosted on Kubernetes. The implementation supports serving LLMs and making advanced routing "
        "decisions (e.g., K/V cache-aware routing) based on metrics and capabilities advertised by the "
        "underlying model serving platform.",
    },
    "high_performance_networking": {
        "category": "networking",
        "description": "If high performance pod-to-pod communication is needed, then provide well-defined mechanisms for "
        "these specialized network resources to be managed and exposed such that their characteristics "
        "should be discoverable to enable informed scheduling or workload configuration and to enable pods "
        "to attach to multiple network interfaces. Platforms should use DRA as the mechanism to manage and "
        "expose these specialized network resources (e.g., DRANET).",
    },
    "disaggregated_inference": {
        "category": "networking",
        "description": "Support the deployment and operation of disaggregated inference architectures. To be conformant, the "
        "platform should demonstrate that it can successfully install and run a disaggregated inference solution "
        "(e.g., vLLM, SGLang, llm-d, or Dynamo, with separate instances for distinct phases like prefill and "
        "decode). Disaggregated serving splits phases such as prefill and decode into separately scalable "
        "components so each phase can match different compute/memory/network needs, improving GPU utilization "
        "and tail latency while enabling higher throughput under mixed and bursty LLM workloads.",
    },
    "workload_sandboxing": {
        "category": "security",
        "description": "Provide a mechanism to run workloads in a sandbox that provides strong isolation from the host node kernel. "
        "This is crucial for AI agent use cases that may execute untrusted code. The sandbox should isolate the "
        "workload's process, memory, filesystem, and network access from the host node and other co-located pods.",
    },
}

VERSIONS = {
    "v1.33": {
        "metadata_keys": [
            "kubernetesVersion",
            "platformName",
            "platformVersion",
            "vendorName",
            "websiteUrl",
            "repoUrl",
            "documentationUrl",
            "productLogoUrl",
            "description",
            "contactEmailAddress",
        ],
        "header": "# Kubernetes AI Conformance Checklist\n"
        "# Notes: This checklist is based on the Kubernetes AI Conformance document.\n"
        "# Participants should fill in the 'status', 'evidence', and 'notes' fields for each requirement.",
        "requirements": [
            ("dra_support", "accelerators", "SHOULD"),
            ("ai_inference", "networking", "MUST"),
            ("gang_scheduling", "schedulingOrchestration", "MUST"),
            ("cluster_autoscaling", "schedulingOrchestration", "MUST"),
            ("pod_autoscaling", "schedulingOrchestration", "MUST"),
            ("accelerator_metrics", "observability", "MUST"),
            ("ai_service_metrics", "observability", "MUST"),
            ("secure_accelerator_access", "security", "MUST"),
            ("robust_controller", "operator", "MUST"),
        ],
        "description_overrides": {},
    },
    "v1.34": {
        "metadata_keys": [
            "kubernetesVersion",
            "platformName",
            "platformVersion",
            "vendorName",
            "websiteUrl",
            "repoUrl",
            "documentationUrl",
            "productLogoUrl",
            "description",
            "contactEmailAddress",
        ],
        "header": "# Kubernetes AI Conformance Checklist\n"
        "# Notes: This checklist is based on the Kubernetes AI Conformance document.\n"
        "# Participants should fill in the 'status', 'evidence', and 'notes' fields for each requirement.",
        "requirements": [
            ("dra_support", "accelerators", "MUST"),
            ("ai_inference", "networking", "MUST"),
            ("gang_scheduling", "schedulingOrchestration", "MUST"),
            ("cluster_autoscaling", "schedulingOrchestration", "MUST"),
            ("pod_autoscaling", "schedulingOrchestration", "MUST"),
            ("accelerator_metrics", "observability", "MUST"),
            ("ai_service_metrics", "observability", "MUST"),
            ("secure_accelerator_access", "security", "MUST"),
            ("robust_controller", "operator", "MUST"),
        ],
        "description_overrides": {},
    },
    "v1.35": {
        "metadata_keys": [
            "kubernetesVersion",
            "platformName",
            "platformVersion",
            "vendorName",
            "websiteUrl",
            "repoUrl",
            "documentationUrl",
            "productLogoUrl",
            "description",
            "contactEmailAddress",
            "k8sConformanceUrl",
        ],
        "header": "# Kubernetes AI Conformance Checklist\n"
        "# Notes: This checklist is based on the Kubernetes AI Conformance document.\n"
        "# Participants should fill in the 'status', 'evidence', and 'notes' fields for each requirement.",
        "requirements": [
            ("dra_support", "accelerators", "MUST"),
            ("driver_runtime_management", "accelerators", "SHOULD"),
            ("gpu_sharing", "accelerators", "SHOULD"),
            ("virtualized_accelerator", "accelerators", "SHOULD"),
            ("ai_inference", "networking", "MUST"),
            ("gang_scheduling", "schedulingOrchestration", "MUST"),
            ("cluster_autoscaling", "schedulingOrchestration", "MUST"),
            ("pod_autoscaling", "schedulingOrchestration", "MUST"),
            ("accelerator_metrics", "observability", "MUST"),
            ("ai_service_metrics", "observability", "MUST"),
            ("secure_accelerator_access", "security", "MUST"),
            ("robust_controller", "operator", "MUST"),
        ],
        "description_overrides": {},
    },
    "v1.36": {
        "metadata_keys": [
            "kubernetesVersion",
            "platformName",
            "platformVersion",
            "vendorName",
            "websiteUrl",
            "repoUrl",
            "documentationUrl",
            "productLogoUrl",
            "description",
            "contactEmailAddress",
        ],
        "header": "# Kubernetes AI Conformance Checklist\n"
        "# Notes: This checklist is based on the Kubernetes AI Conformance document.\n"
        "# Participants should fill in the 'status', 'evidence', and 'notes' fields for each requirement.",
        "requirements": [
            ("driver_runtime_management", "accelerators", "SHOULD"),
            ("gpu_sharing", "accelerators", "SHOULD"),
            ("virtualized_accelerator", "accelerators", "SHOULD"),
            ("ai_inference", "networking", "MUST"),
            ("advanced_inference_ingress", "networking", "SHOULD"),
            ("high_performance_networking", "networking", "SHOULD"),
            ("disaggregated_inference", "networking", "SHOULD"),
            ("gang_scheduling", "schedulingOrchestration", "MUST"),
            ("cluster_autoscaling", "schedulingOrchestration", "MUST"),
            ("pod_autoscaling", "schedulingOrchestration", "MUST"),
            ("accelerator_metrics", "observability", "MUST"),
            ("ai_service_metrics", "observability", "MUST"),
            ("secure_accelerator_access", "security", "MUST"),
            ("robust_controller", "operator", "MUST"),
        ],
        "description_overrides": {},
    },
    "v1.37": {
        "metadata_keys": [
            "kubernetesVersion",
            "platformName",
            "platformVersion",
            "vendorName",
            "websiteUrl",
            "repoUrl",
            "documentationUrl",
            "productLogoUrl",
            "description",
            "contactEmailAddress",
        ],
        "header": "# Kubernetes AI Conformance Checklist - v1.37\n"
        "# Notes: This checklist is based on the Kubernetes AI Conformance document.\n"
        "# Participants should fill in the 'status', 'evidence', and 'notes' fields for each requirement.\n"
        "#\n"
        "# Hybrid Verification Approach for v1.37:\n"
        "# - For requirements with automated tests (e.g., Secure Accelerator Access, Gang Scheduling),\n"
        "#   you can link to the test output files (e.g., e2e.log, junit.xml) in the 'evidence' list.\n"
        "# - For requirements without automated tests, please provide manual evidence (e.g., documentation URLs,\n"
        "#   screenshots, or self-attestation logs).\n"
        "#\n"
        "# Example of evidence for automated test:\n"
        "#   evidence:\n"
        '#     - "file://results/junit.xml#TestSecureAcceleratorAccess"\n'
        '#     - "file://results/e2e.log"\n'
        "#\n"
        "# Example of evidence for manual verification:\n"
        "#   evidence:\n"
        '#     - "https://docs.vendor.com/features/workload-sandboxing"',
        "requirements": [
            ("driver_runtime_management", "accelerators", "SHOULD"),
            ("gpu_sharing", "accelerators", "SHOULD"),
            ("virtualized_accelerator", "accelerators", "SHOULD"),
            ("ai_inference", "networking", "MUST"),
            ("advanced_inference_ingress", "networking", "SHOULD"),
            ("high_performance_networking", "networking", "SHOULD"),
            ("disaggregated_inference", "networking", "SHOULD"),
            ("gang_scheduling", "schedulingOrchestration", "MUST"),
            ("cluster_autoscaling", "schedulingOrchestration", "MUST"),
            ("pod_autoscaling", "schedulingOrchestration", "MUST"),
            ("accelerator_metrics", "observability", "MUST"),
            ("ai_service_metrics", "observability", "MUST"),
            ("secure_accelerator_access", "security", "MUST"),
            ("workload_sandboxing", "security", "SHOULD"),
            ("robust_controller", "operator", "MUST"),
        ],
        "description_overrides": {
            "accelerator_metrics": "For supported accelerator types, the platform must allow for the installation and "
            "successful operation of at least one accelerator metrics solution that exposes "
            "fine-grained performance metrics via a standardized, machine-readable metrics endpoint. "
            "This must include a core set of metrics for per-accelerator utilization and memory "
            "usage. Additionally, other relevant metrics such as temperature, power draw, and "
            "interconnect bandwidth should be exposed if the underlying hardware or virtualization "
            "layer makes they available. The list of metrics should align with emerging standards, "
            "such as OpenTelemetry metrics, to ensure interoperability. The platform may provide a "
            "managed solution, but this is not required for conformance."
        },
    },
}
