# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each probe module waits for, told from its task's arguments (for the progress callback).

A probe module cannot stream output while it runs, so the callback's heartbeat says what the probe
waits for from what it knows before the module returns: the module and its (templated) arguments.
``PROBES`` maps each probe module to its requirement (tests/unit/plugins/plugin_utils checks it
against the modules' own ``requirement``).  ``waits_for`` and ``limits`` accept arguments that could
not be templated: a missing or non-numeric value is shown as the module's default.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.registry import modules

PROBES = modules()  # probe module -> requirement, from the requirement registry
COLLECTION = "ai_conformance.kubernetes."
# The module that collects the background lane's jobs (one loop item per requirement).
COLLECTOR = "probe_job"


def short_name(action: str | None) -> str:
    """``ai_conformance.kubernetes.gang_probe`` -> ``gang_probe``; another collection's -> ''."""
    action = action or ""
    return action[len(COLLECTION) :] if action.startswith(COLLECTION) else ""


def _get(args: dict[str, Any], key: str, default: Any) -> Any:
    value = args.get(key)
    if value is None or value == "" or (isinstance(value, str) and "{{" in value):
        return default
    return value


def _seconds(args: dict[str, Any], key: str, default: int) -> str:
    value = _get(args, key, default)
    try:
        return "%ds" % int(value)
    except (TypeError, ValueError):
        return "%ss" % default


def _what(args: dict[str, Any], key: str, default: str) -> str:
    return str(_get(args, key, default))


_WAITS: dict[str, Callable[[dict[str, Any]], str]] = {
    "dra_probe": lambda a: (
        "a ResourceClaim of DeviceClass %s to be allocated and its pod placed, then the claims that must stay unallocated"
        % _what(a, "device_class", "gpu.nvidia.com")
    ),
    "accelerator_isolation_probe": lambda a: "pods with one %s each to run and report what their container sees" % _what(a, "resource_name", "nvidia.com/gpu"),
    "driver_runtime_probe": lambda a: "a pod with a GPU to run nvidia-smi and report the driver",
    "gpu_sharing_probe": lambda a: "the consumers of one shared GPU (strategy %s) to be placed and report what they see" % _what(a, "strategy", "auto"),
    "virtualization_probe": lambda a: "a passthrough claim of %s to be decided" % _what(a, "passthrough_class", "vfio.gpu.nvidia.com"),
    "gang_probe": lambda a: (
        "%s to place a group of %s pods whole, then to hold one that cannot fit at 0 bound for %s"
        % (_what(a, "scheduler", "auto").replace("auto", "the gang scheduler"), _what(a, "group_size", 2), _seconds(a, "observe_seconds", 10))
    ),
    "autoscaler_probe": lambda a: (
        "%s to add a node for pending %s pods (up to %s), then to remove it (up to %s)"
        % (
            _what(a, "provider", "auto").replace("auto", "the node autoscaler"),
            _what(a, "resource_name", "nvidia.com/gpu"),
            _seconds(a, "scale_up_timeout", 600),
            _seconds(a, "scale_down_timeout", 900),
        )
    ),
    "dcgm_query": lambda a: (
        "Prometheus to scrape the DCGM exporter (samples newer than %s) and a GPU pod's load to be attributed to it" % _seconds(a, "max_age_seconds", 120)
    ),
    "service_metrics_probe": lambda a: "Prometheus to discover the workload and store its metric %s" % _what(a, "metric", "version"),
    "hpa_probe": lambda a: (
        "the HPA on %s to scale %s -> %s -> %s replicas (up to %s each way)"
        % (
            _what(a, "metric", "DCGM_FI_DEV_GPU_UTIL"),
            _what(a, "min_replicas", 1),
            _what(a, "max_replicas", 3),
            _what(a, "min_replicas", 1),
            _seconds(a, "scale_timeout", 300),
        )
    ),
    "gateway_check": lambda a: (
        "the Gateway's routes to be accepted, then %s requests for the %s split (up to %s of traffic)"
        % (_what(a, "requests", 200), "/".join(str(w) for w in _get(a, "weights", [70, 30])), _seconds(a, "traffic_seconds", 60))
    ),
    "network_dra_probe": lambda a: (
        "claims for RDMA NICs of class %s (alone and aligned with a GPU) to be allocated or refused" % _what(a, "nic_class", "rdma.dra.net")
    ),
    "disaggregated_inference_probe": lambda a: (
        "%s requests through the gateway to be served by both the prefill and the decode phase, and each phase to scale" % _what(a, "requests", 10)
    ),
    "inference_pool_probe": lambda a: "%s requests through the InferencePool's endpoint picker, with one endpoint loaded" % _what(a, "choice_requests", 20),
    "operator_probe": lambda a: "the operator to reconcile a RayCluster, its webhook to refuse an invalid one, and its children to be collected",
    "sandbox_probe": lambda a: "sandboxed and plain pods to be admitted and placed, and their kernels to be reported",
}


def waits_for(module: str, args: dict[str, Any] | None) -> str:
    """One phrase: what the probe run by ``module`` waits for, from its arguments."""
    describe = _WAITS.get(module)
    return describe(args or {}) if describe else ""


def limits(module: str, args: dict[str, Any] | None) -> str:
    """The probe's time limits as its arguments set them, e.g. ``timeout 120s per wait``."""
    args = args or {}
    if module == COLLECTOR:
        return "limit %s" % _seconds(args, "timeout", 0)
    return "timeout %s per wait" % _seconds(args, "timeout", 120)
