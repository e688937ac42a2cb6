# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The requirement registry: what this collection knows about each checklist requirement, once.

One ``Record`` per requirement id of every checklist (catalog.py holds the checklists themselves,
verbatim): the collection domain (the role that probes it), the probe module, the lane it runs in,
the owning layer, and the options its domain role passes the module.  The checklist facts (the
checklist's own category, the first and last checklist version that lists the id, the level per
version) are derived from catalog.py, never copied here.

``plan()`` is the run's plan as conformance.yml has always computed it ("Plan the run"): which probes
a run of a version, domains, requirements and concurrency runs, in which order and lane.
The module ai_conformance.kubernetes.conformance_plan returns it.

Adding a requirement: one record here, one probe module, its tests (and its checklist in catalog.py).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog, result

# The collection's domain roles, in the order conformance.yml lists them (_conformance_all_domains).
DOMAINS = ("accelerators", "scheduling", "observability", "networking", "operators", "security")
# background: shares nothing with other probes, starts first as an async job; serial: one at a
# time beside the background jobs; last: after the background jobs are collected (gang scheduling
# fills every free GPU).  Cluster autoscaling is a background job that waits for the serial lane
# when its pool has nodes (probes/autoscale.alongside); pod autoscaling is one whose GPU pods are
# pinned to a node that the serial lane's fills leave out (probes/runmates).
LANES = ("background", "serial", "last")
CONCURRENCIES = ("lanes", "serial")
PHASES = ("deploy", "probe", "upstream", "cleanup", "evidence")
# The layers that may own a requirement in a layered product (the result's and the bundle's
# ``owner``, result.OWNERS); conformance_owners overrides a record's per run.
OWNERS = result.OWNERS
# Options every probe of a domain role gets from the role's <domain>_<option> variable
# (kubeconfig, context and run_id are left out when empty).
COMMON_OPTIONS = ("kubeconfig?", "context?", "run_id?", "owner")


@dataclass(frozen=True)
class Option:
    """A module option a domain role passes: ``name: "{{ var }}"``, left out when empty if
    ``omit_empty`` (``| default(omit, true)``); ``none_or_auto``: the value is ``none`` when the
    variable is ``none`` and ``auto`` otherwise.  Its default is the variable's, in
    roles/<domain>/defaults/main.yml (the one place defaults live)."""

    name: str
    var: str
    omit_empty: bool = False
    none_or_auto: bool = False


def _options(domain: str, spec: str) -> tuple[Option, ...]:
    """'option=variable' words; a variable of the role's own prefix may drop it (``gateway`` is
    ``networking_gateway``), ``?`` after it means ``| default(omit, true)``, ``!`` means none_or_auto."""
    out = []
    for word in (*COMMON_OPTIONS, *spec.split()):
        name, _sep, var = word.partition("=")
        var = var or name
        flags = var[len(var.rstrip("?!")) :]
        var = var.rstrip("?!")
        name = name.rstrip("?!")
        out.append(Option(name, var if var.startswith(domain + "_") else "%s_%s" % (domain, var), "?" in flags, "!" in flags))
    return tuple(out)


@dataclass(frozen=True)
class Record:
    id: str
    domain: str  # the collection's domain role that probes it
    module: str  # the probe module, ai_conformance.kubernetes.<module>
    lane: str
    spec: str = ""  # the role's options for the module (see _options)
    # The first checklist version a run probes it for, where that is earlier than the first checklist
    # that lists it (the accelerators role probes these for every version; the bundle leaves a result
    # the checklist does not list out).  Otherwise the first version that lists it.
    probed_since: str | None = None
    owner: str = "platform"
    # A MUST that applies only if the platform has the feature ("If the platform provides ...").
    conditional: bool = False

    @property
    def category(self) -> str:
        """The checklist's own domain (schedulingOrchestration, operator, ...)."""
        return catalog.category_of(self.id)

    @property
    def versions(self) -> list[str]:
        """The checklist versions that list it, oldest first."""
        return [v for v in catalog.versions() if self.id in catalog.ids(v)]

    @property
    def first(self) -> str:
        return self.versions[0]

    @property
    def last(self) -> str:
        return self.versions[-1]

    @property
    def since(self) -> str:
        """The first checklist version it is probed for, as conformance.yml's plan writes it (1.33)."""
        return (self.probed_since or self.first).lstrip("v")

    @property
    def options(self) -> tuple[Option, ...]:
        return _options(self.domain, self.spec)

    def level(self, version: str | None = None) -> str | None:
        """MUST or SHOULD where the version's checklist lists it, ``extra`` where the version dropped
        it and it is still probed (reported apart), otherwise None (not part of that checklist)."""
        v = catalog.normalize_version(version)
        if self.id in catalog.ids(v):
            return catalog.requirement(v, self.id).level
        return "extra" if self.id in extras(v) else None

    def probed_for(self, version: str | None = None) -> bool:
        return _key(self.since) <= _key(catalog.normalize_version(version))


# In run order: by lane, then by the domain roles' order within the lane, then by each role's tasks.
RECORDS = (
    # The slowest probe (a node launched, joined, emptied and removed): a background job started
    # first, beside the accelerator probes, waiting for them only when its pool has nodes to fill
    # (probes/autoscale.alongside).
    Record(
        "cluster_autoscaling",
        "scheduling",
        "autoscaler_probe",
        "background",
        "provider=autoscaler node_pool=autoscaler_node_pool? node_selector=autoscaler_node_selector? tolerations=autoscaler_tolerations? "
        "resource_name scale_up_timeout=autoscaler_scale_up_timeout scale_down_timeout=autoscaler_scale_down_timeout "
        "observe_seconds=autoscaler_observe_seconds? timeout=cluster_autoscaling_timeout alongside_marker?",
        conditional=True,
    ),
    Record(
        "ai_inference",
        "networking",
        "gateway_check",
        "background",
        "gateway_class gateway listener_port gateway_url image=backend_image backend_ports host_network=backend_host_network "
        "node_selector=backend_node_selector? tolerations=backend_tolerations? weights tolerance requests traffic_seconds header_name "
        "timeout=ai_inference_timeout",
    ),
    Record(
        "disaggregated_inference",
        "networking",
        "disaggregated_inference_probe",
        "background",
        "declared=disagg! justification=disagg_justification serving_namespace=disagg_namespace? model=disagg_model? "
        "prefill_selector=disagg_prefill_selector decode_selector=disagg_decode_selector gateway=disagg_gateway "
        "gateway_url=disagg_gateway_url listener_port=disagg_listener_port hostname=disagg_hostname path=disagg_path "
        "requests=disagg_requests prompt_words=disagg_prompt_words success_metric=disagg_success_metric "
        "prefill_metrics_port=disagg_prefill_metrics_port decode_metrics_port=disagg_decode_metrics_port timeout=disaggregated_inference_timeout",
    ),
    Record(
        "advanced_inference_ingress",
        "networking",
        "inference_pool_probe",
        "background",
        "declared=pool justification=pool_justification pool=pool_name? gateway=pool_gateway? gateway_url=pool_gateway_url "
        "listener_port=pool_listener_port hostname=pool_hostname model=pool_model? path=pool_path requests=pool_requests "
        "choice_requests=pool_choice_requests min_idle_share=pool_min_idle_share load_requests=pool_load_requests "
        "load_max_tokens=pool_load_max_tokens success_metric=pool_success_metric queue_metric=pool_queue_metric "
        "kv_cache_metric=pool_kv_cache_metric timeout=advanced_inference_ingress_timeout",
    ),
    Record(
        "ai_service_metrics",
        "observability",
        "service_metrics_probe",
        "background",
        "prometheus_url? prometheus_service? prometheus_token? discovery=workload_discovery monitor_labels=workload_monitor_labels "
        "image=workload_image port=workload_port metric=workload_metric host_network=workload_host_network "
        "node_selector=workload_node_selector? tolerations=workload_tolerations? observe_seconds timeout=ai_service_metrics_timeout",
    ),
    # A background job whose GPU pods are pinned to one node that the accelerator probes leave out
    # (probes/runmates); it starts first of the slow control-loop probes.
    Record(
        "pod_autoscaling",
        "observability",
        "hpa_probe",
        "background",
        "metric=hpa_metric target_value=hpa_target_value max_replicas=hpa_max_replicas resource_name load_image=hpa_load_image? "
        "node_selector=gpu_node_selector? tolerations=gpu_tolerations? scale_timeout=hpa_scale_timeout timeout=pod_autoscaling_timeout alongside_marker?",
        conditional=True,
    ),
    Record(
        "robust_controller",
        "operators",
        "operator_probe",
        "background",
        "operator image=ray_image ray_version node_selector? tolerations? timeout=robust_controller_timeout",
    ),
    Record(
        "workload_sandboxing",
        "security",
        "sandbox_probe",
        "background",
        "declared=sandbox justification=sandbox_justification runtime_class? extra_handlers runtime_checks probe_image observe_seconds "
        "timeout=workload_sandboxing_timeout",
    ),
    Record(
        "dra_support",
        "accelerators",
        "dra_probe",
        "serial",
        "device_class=dra_device_class driver=dra_driver observe_seconds timeout=dra_support_timeout runtime_checks gpu_image=probe_image "
        "tolerations=gpu_tolerations?",
    ),
    Record(
        "secure_accelerator_access",
        "accelerators",
        "accelerator_isolation_probe",
        "serial",
        "resource_name device_class=dra_device_class driver=dra_driver max_pods=isolation_max_pods observe_seconds "
        "timeout=secure_accelerator_access_timeout runtime_checks probe_image tolerations=gpu_tolerations?",
    ),
    Record(
        "driver_runtime_management",
        "accelerators",
        "driver_runtime_probe",
        "serial",
        "resource_name device_class=dra_device_class driver=dra_driver min_driver_version observe_seconds "
        "timeout=driver_runtime_management_timeout runtime_checks probe_image tolerations=gpu_tolerations?",
        probed_since="v1.33",
    ),
    Record(
        "gpu_sharing",
        "accelerators",
        "gpu_sharing_probe",
        "serial",
        "strategy=sharing_strategy resource_name device_class=dra_device_class driver=dra_driver observe_seconds "
        "timeout=gpu_sharing_timeout runtime_checks probe_image tolerations=gpu_tolerations?",
        probed_since="v1.33",
    ),
    Record(
        "virtualized_accelerator",
        "accelerators",
        "virtualization_probe",
        "serial",
        "declared=virtualization justification=virtualization_justification resource_name observe_seconds timeout=virtualized_accelerator_timeout "
        "tolerations=gpu_tolerations?",
        probed_since="v1.33",
    ),
    Record(
        "accelerator_metrics",
        "observability",
        "dcgm_query",
        "serial",
        "source=dcgm_source prometheus_url? prometheus_service? prometheus_token? fields=dcgm_fields "
        "scrape_interval_seconds=dcgm_scrape_interval_seconds resource_name gpu_image? node_selector=gpu_node_selector? "
        "tolerations=gpu_tolerations? timeout=accelerator_metrics_timeout",
    ),
    Record(
        "high_performance_networking",
        "networking",
        "network_dra_probe",
        "serial",
        "declared=hpn justification=hpn_justification driver=nic_driver nic_class rdma_attribute=nic_rdma_attribute gpu_class gpu_driver "
        "align_attribute observe_seconds timeout=high_performance_networking_timeout",
    ),
    Record(
        "gang_scheduling",
        "scheduling",
        "gang_probe",
        "last",
        "scheduler=gang_scheduler group_size=gang_group_size queue=gang_queue? resource_name observe_seconds timeout=gang_scheduling_timeout",
    ),
)
BY_ID = {r.id: r for r in RECORDS}
BY_MODULE = {r.module: r for r in RECORDS}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.lstrip("vV").split("."))


def record(rid: str) -> Record:
    if rid not in BY_ID:
        raise catalog.UnknownRequirement("unknown requirement %r" % rid)
    return BY_ID[rid]


def requirement_of(module: str) -> str:
    """The requirement a probe module proves: gateway_check -> ai_inference."""
    return BY_MODULE[module].id


def modules() -> dict[str, str]:
    """Probe module -> requirement, for every record."""
    return {r.module: r.id for r in RECORDS}


def owner(rid: str, owners: dict[str, str] | None = None) -> str:
    """The owning layer of a requirement: the run's conformance_owners first, else the record's."""
    if owners and rid in owners:
        return owners[rid]
    return BY_ID[rid].owner if rid in BY_ID else "platform"


def extras(version: str | None = None) -> list[str]:
    """Requirements a run still probes for a version whose checklist dropped them (dra_support from
    v1.36 on: the other accelerator probes depend on it).  Reported as extras, never as checklist rows."""
    v = catalog.normalize_version(version)
    listed = catalog.ids(v)
    return [r.id for r in RECORDS if r.id not in listed and r.probed_for(v) and any(_key(x) < _key(v) for x in r.versions)]


def conditional_musts() -> tuple[str, ...]:
    return tuple(r.id for r in RECORDS if r.conditional)


def plan(
    version: str | None = None,
    domains: list[str] | None = None,
    requirements: list[str] | None = None,
    concurrency: str = "lanes",
    phases: list[str] | None = None,
    owners: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's plan, as conformance.yml's "Plan the run" computed it, and the input errors about the
    selection (the playbook's own messages).  ``requirements`` None: every requirement; a list limits
    the run to the domain-role lanes that probe them (and their lane-mates: a domain role runs every
    probe of the lane it is included for).  Unknown domains and ids are left out of the plan.
    ``owners`` (conformance_owners) is only checked."""
    v = catalog.normalize_version(version)
    doms = list(DOMAINS) if domains is None else list(domains)
    phases = list(PHASES) if phases is None else list(phases)
    errors = []
    if [d for d in doms if d not in DOMAINS]:
        errors.append("conformance_domains must be a list of %s (got %s)" % (", ".join(DOMAINS), doms))
    for key, value in (owners or {}).items():
        if not re.match(r"^[a-z_]+$", str(key)) or value not in OWNERS:
            errors.append("conformance_owners.%s must be platform, product or base (got %s)" % (key, value))
    errors += ["conformance_owners names %s, which is not a requirement of any checklist" % k for k in owners or {} if k not in BY_ID]
    asked = list(RECORDS) if requirements is None else [r for r in RECORDS if r.id in requirements]
    if requirements is not None:
        if not requirements:
            errors.append("conformance_requirements is empty: no requirement would be probed (leave it out to probe every one)")
        errors += ["conformance_requirements names %s, which is not a requirement of any checklist" % x for x in requirements if x not in BY_ID]
        errors += ["conformance_requirements names %s, which checklist %s does not have" % (r.id, v) for r in asked if not r.probed_for(v)]
        errors += ["conformance_requirements names %s, whose domain conformance_domains leaves out" % r.id for r in asked if r.domain not in doms]
    if not doms:
        errors.append("conformance_domains is empty: no requirement would be probed (leave it out to probe every domain)")
    lane_domains = {lane: _unique(r.domain for r in asked if r.lane == lane) for lane in LANES}
    if concurrency == "lanes":
        chosen = [r for lane in LANES for r in RECORDS if r.lane == lane and r.domain in lane_domains[lane]]
    else:
        asked_domains = {r.domain for r in asked}
        chosen = [r for r in RECORDS if r.domain in asked_domains]
    chosen = [r for r in chosen if r.domain in doms and r.probed_for(v)] if "probe" in phases else []
    rows = [
        {
            "requirement": r.id,
            "domain": r.domain,
            "module": r.module,
            "lane": r.lane if concurrency == "lanes" else "serial",
            "since": r.since,
            "level": r.level(v),
        }
        for r in chosen
    ]
    return {"version": v, "concurrency": concurrency, "plan": rows, "lane_domains": lane_domains, "errors": errors}


def _unique(values: Any) -> list[str]:
    out: list[str] = []
    for x in values:
        if x not in out:
            out.append(x)
    return out
