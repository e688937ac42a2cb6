#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: driver_runtime_probe
short_description: Verify accelerator drivers are reported, consistent and enforceable (requirement driver_runtime_management)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Reads the driver version of every accelerator node from the DRA C(driverVersion) device
    attribute (the mechanism the checklist asks for) and from the node label
    C(nvidia.com/cuda.driver-version.full) set by GPU feature discovery.
  - Fails when an accelerator node reports no version, when label and DRA disagree, when a node
    pool runs several driver versions, when a version is below O(min_driver_version), or when the
    GPU operator's ClusterPolicy exists and is not ready.
  - Where containers run, C(nvidia-smi) inside a pod must report the version the node advertises.
  - "Negative cases: a workload demanding a driver just above the real one is refused, while one
    requiring the real one is admitted. The floor is the version C(nvidia-smi) reported in a container
    (and the workloads go to that node), else the highest advertised version. DRA: a claim with
    C(!driverVersion.isLessThan(semver(floor + 1))) stays unallocated. Labels: a pod whose required
    node affinity demands a driver above the floor on the GFD C(nvidia.com/cuda.driver-version.major),
    C(.minor) and C(.revision) labels stays Unschedulable. A platform advertising a driver above
    the one it runs admits them."
  - "A claim demanding a driver newer than 9999.0.0 and a pod selecting driver major 9999 are still
    tried, recorded as steps: every cluster refuses them, so they prove only that selectors are read."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
  - ai_conformance.kubernetes.gpu_pods
options:
  resource_name:
    description: Extended resource name of the device plugin path.
    type: str
    default: nvidia.com/gpu
  device_class:
    description: DeviceClass of the DRA path.
    type: str
    default: gpu.nvidia.com
  driver:
    description: DRA driver publishing the devices.
    type: str
    default: gpu.nvidia.com
  min_driver_version:
    description: Lowest driver version the platform supports; empty skips this check.
    type: str
    default: ""
  observe_seconds:
    description: How long each refused case is watched.
    type: int
    default: 8
  runtime_checks:
    description: Container-level check; V(auto) runs it where the node's runtime is not kwok's.
    type: str
    choices: [auto, always, never]
    default: auto
  probe_image:
    description: Image with C(nvidia-smi) for the container-level check.
    type: str
    default: nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Verify drivers, requiring at least the 570 branch
  ai_conformance.kubernetes.driver_runtime_probe:
    min_driver_version: "570.0.0"
  register: drivers
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
  sample: driver versions consistent on refcluster-gpu-1; unmatched and contended claims stayed unallocated; device released and handed over
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: driver_runtime_management
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: driver versions consistent
    observations:
      description: Structured facts the verdict was computed from (allocation, device attributes, scheduler messages, timings, cleanup).
      type: dict
      returned: always
      sample: {versions: {gpu-1: {label: 580.159.4, dra: [580.159.4], pool: NVIDIA-H100-80GB-HBM3}}}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: one driver version per node pool, ok: true, detail: 1 version in 1 pool, kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: kubectl get resourceslices, result: driverVersion 580.159.4 on 16 devices, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: "DRA claim demanding a driver above 580.159.4 (the highest driverVersion advertised)", refused: true, outcome: "Unschedulable"}]
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
      sample: 21.4
"""

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import drivers as drv
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import isolation as iso
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt

EXTRA = {
    **wl.GPU_POD_ARGSPEC,
    "resource_name": {"type": "str", "default": "nvidia.com/gpu"},
    "device_class": {"type": "str", "default": "gpu.nvidia.com"},
    "driver": {"type": "str", "default": "gpu.nvidia.com"},
    "min_driver_version": {"type": "str", "default": ""},
    "observe_seconds": {"type": "int", "default": 8},
    "runtime_checks": {"type": "str", "default": "auto", "choices": ["auto", "always", "never"]},
    "probe_image": {"type": "str", "default": "nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04"},
}
NAMES = ("every accelerator node reports its driver version", "node label and DRA attributes agree", "one driver version per node pool")
EVERY_CLUSTER = "extra (every cluster refuses it, so it proves only that the selector is read): "


class DriverProbe(Probe):
    requirement = "driver_runtime_management"
    param_error = staticmethod(wl.gpu_pod_param_error)

    def run(self, client, ctx, result):
        p = self.params
        nodes = client.list("v1", "Node")["items"]
        dra_on = client.served(dra.API, "ResourceSlice")
        slices = client.list(dra.API, "ResourceSlice")["items"] if dra_on else []
        by_node = drv.versions_by_node(nodes, slices, p["driver"], p["resource_name"])
        result.observations["versions"] = {n: {"label": e["label"], "dra": sorted(e["dra"]), "pool": e["pool"]} for n, e in sorted(by_node.items())}
        if not by_node:
            result.decide(Verdict.NOT_APPLICABLE, "the cluster has no accelerator nodes (no %s allocatable, no %s devices)" % (p["resource_name"], p["driver"]))
            return
        found = drv.problems(by_node)
        for name in NAMES:
            bad = [d for n, d in found if n == name]
            result.check(name, not bad, "; ".join(bad) if bad else "%d accelerator node(s)" % len(by_node))
        all_versions = sorted({v for e in by_node.values() for v in (set(e["dra"]) | ({e["label"]} if e["label"] else set()))})
        result.step("kubectl get resourceslices,nodes (driverVersion, %s)" % drv.DRIVER_LABEL, "versions %s" % all_versions)
        if p["min_driver_version"]:
            low = [v for v in all_versions if drv.vtuple(v) < drv.vtuple(drv.normalize(p["min_driver_version"]))]
            result.check(
                "drivers at or above the supported minimum",
                not low,
                "below %s: %s" % (p["min_driver_version"], low) if low else "all >= %s" % p["min_driver_version"],
            )
        self.managed(client, result)
        ns = ctx.ensure_namespace(p["namespace"])
        # What the driver really is, where a container can look: the floor the workloads that demand
        # a newer driver are set just above (a platform advertising more than it runs admits them).
        looked, real = self.runtime(client, ctx, result, ns, by_node, nodes)
        dra_nodes = [n for n, e in sorted(by_node.items()) if e["dra"]]
        # The refused cases' observation windows overlap: each part returns what is left to decide
        # (workloads.watch_refusal), decided below in the order the cases were made.
        pending = []
        if dra_nodes and client.get(dra.API, "DeviceClass", p["device_class"]) is not None:
            if real and looked in dra_nodes:
                pending += self.dra_enforced(client, ctx, result, ns, real, looked, "what nvidia-smi reported in a container on %s" % looked)
            else:
                top = max((v for n in dra_nodes for v in by_node[n]["dra"]), key=drv.vtuple)
                pending += self.dra_enforced(client, ctx, result, ns, top, None, "the highest driverVersion advertised; no container could look")
        by_name = {n["metadata"]["name"]: n for n in nodes}
        label_nodes = [n for n, e in sorted(by_node.items()) if e["label"]]
        if label_nodes:
            parts = {n: drv.label_parts(by_name[n]) for n in label_nodes}
            if real and looked in label_nodes and parts[looked]:
                floor, pin, basis = drv.vtuple(real)[:3], looked, "what nvidia-smi reported in a container on %s" % looked
            else:
                floor, pin, basis = max([v for v in parts.values() if v] or [None], key=lambda v: v or ()), None, "the highest version the labels advertise"
            on = pin or label_nodes[0]
            pending += self.label_enforced(client, ctx, result, ns, by_name[on]["metadata"]["labels"][drv.DRIVER_LABEL], pin, floor, basis)
        for decide in pending:
            decide()
        result.decide_from_checks(
            "driver %s on %d accelerator node(s), reported consistently%s; a workload demanding a driver just above %s was refused"
            % (", ".join(all_versions), len(by_node), " through DRA" if dra_nodes else "", "the one a container saw" if real else "the advertised one")
        )

    def managed(self, client, result):
        toolkit = "container toolkit configured by the GPU operator"
        if not client.served("nvidia.com/v1", "ClusterPolicy"):
            result.check("driver lifecycle managed by the GPU operator", None, "no ClusterPolicy API: drivers are managed outside the cluster")
            result.check(toolkit, None, "no ClusterPolicy API: the container runtime is configured outside the cluster")
            return
        pols = client.list("nvidia.com/v1", "ClusterPolicy")["items"]
        states = {x["metadata"]["name"]: x.get("status", {}).get("state") for x in pols}
        result.observations["cluster_policies"] = states
        if not states:
            result.check(
                "driver lifecycle managed by the GPU operator", None, "the ClusterPolicy API exists but no ClusterPolicy: the operator manages nothing"
            )
            return
        result.check(
            "driver lifecycle managed by the GPU operator", bool(states) and all(s == "ready" for s in states.values()), "ClusterPolicy state %s" % states
        )
        kits = {x["metadata"]["name"]: (x.get("spec", {}).get("toolkit") or {}) for x in pols}
        result.observations["container_toolkit"] = {n: {"enabled": k.get("enabled"), "version": k.get("version")} for n, k in kits.items()}
        off = [n for n, k in kits.items() if k.get("enabled") is False]
        if off:  # preinstalled on the host image (common on managed clouds): not the operator's to manage
            result.check(toolkit, None, "toolkit disabled in ClusterPolicy %s: the runtime configuration is managed outside the operator" % off)
        else:
            result.check(toolkit, True, "toolkit %s" % result.observations["container_toolkit"])

    def dra_enforced(self, client, ctx, result, ns, version, pin, basis):
        """A claim requiring ``version`` is allocated; one requiring just above it is refused (on
        ``pin``, the node a container looked at, when set).  Returns the refused cases' deciders."""
        p = self.params
        attr = "device.attributes['%s'].driverVersion" % p["driver"]
        where = ({wl.HOSTNAME: pin} if pin else None, p["tolerations"])
        ok_cel = "!%s.isLessThan(semver('%s'))" % (attr, version)
        dra.claim_and_pod(ctx, dra.claim("drv-ok", ns, p["device_class"], ok_cel), *where)
        first = wl.wait_placed(client, "drv-ok", ns, p["timeout"])
        result.check(
            "claim requiring the installed driver is allocated",
            wl.is_bound(first),
            "%s%s: %s" % (ok_cel, " on %s" % pin if pin else "", "bound" if wl.is_bound(first) else wl.unschedulable_message(first)),
        )
        above = "!%s.isLessThan(semver('%s'))" % (attr, drv.just_above(version))
        watch_above = dra.claim_obj_pod_watch(client, ctx, dra.claim("drv-above", ns, p["device_class"], above), p["timeout"], p["observe_seconds"], *where)
        newer = "%s.isGreaterThan(semver('9999.0.0'))" % attr
        watch_newer = dra.claim_obj_pod_watch(
            client, ctx, dra.claim("drv-newer", ns, p["device_class"], newer), p["timeout"], p["observe_seconds"], tolerations=p["tolerations"]
        )

        def decide_above():
            refused, outcome = dra.claim_pod_verdict(client, watch_above)
            result.negative_case("DRA claim demanding a driver above %s%s (%s): %s" % (version, " on %s" % pin if pin else "", basis, above), refused, outcome)

        def decide_newer():
            refused, outcome = dra.claim_pod_verdict(client, watch_newer)
            result.step(EVERY_CLUSTER + "DRA claim demanding a driver newer than 9999.0.0", outcome, refused)

        return [decide_above, decide_newer]

    def label_enforced(self, client, ctx, result, ns, raw, pin, floor, basis):
        """A pod selecting the node's driver label is scheduled; one whose node affinity demands a
        driver just above ``floor`` (by the GFD major/minor/revision labels) is refused.  Returns
        the refused cases' deciders."""
        p = self.params
        sel = dict({drv.DRIVER_LABEL: raw}, **({wl.HOSTNAME: pin} if pin else {}))
        tol = wl.gpu_tolerations(p["tolerations"])
        ctx.create(wl.pod("lbl-ok", ns, limits={p["resource_name"]: "1"}, node_selector=sel, tolerations=tol))
        first = wl.wait_placed(client, "lbl-ok", ns, p["timeout"])
        result.check(
            "pod selecting the installed driver label is scheduled",
            wl.is_bound(first),
            "nodeSelector %s: %s" % (sel, "bound" if wl.is_bound(first) else wl.unschedulable_message(first)),
        )
        out = []
        if floor is None:
            result.step(
                "pod demanding a driver above the advertised one by node labels", "not attempted: no node carries %s" % ", ".join(drv.DRIVER_LABEL_PARTS)
            )
        else:
            above = wl.pod("lbl-above", ns, limits={p["resource_name"]: "1"}, tolerations=tol)
            above["spec"]["affinity"] = drv.affinity_above(floor, pin)
            ctx.create(above)
            watch_above = wl.watch_refusal(client, "lbl-above", ns, p["timeout"], p["observe_seconds"])
            version = ".".join(str(x) for x in floor)

            def decide_above():
                refused, msg = wl.refusal_verdict(client, watch_above, cause=wl.SELECTOR_REFUSAL)
                where = " on %s" % pin if pin else ""
                result.negative_case("pod demanding a driver above %s%s by its node labels (%s)" % (version, where, basis), refused, msg)

            out.append(decide_above)
        ctx.create(wl.pod("lbl-newer", ns, limits={p["resource_name"]: "1"}, node_selector={drv.DRIVER_LABEL_MAJOR: "9999"}, tolerations=tol))
        watch_newer = wl.watch_refusal(client, "lbl-newer", ns, p["timeout"], p["observe_seconds"])

        def decide_newer():
            refused, msg = wl.refusal_verdict(client, watch_newer, cause=wl.SELECTOR_REFUSAL)
            result.step(EVERY_CLUSTER + "pod selecting driver major version 9999", msg, refused)

        return out + [decide_newer]

    def runtime(self, client, ctx, result, ns, by_node, nodes):
        """nvidia-smi in a container on a node that runs containers reports the driver version
        the node advertises (its DRA attribute and its label).  Returns (that node, the one
        version nvidia-smi reported), or (None, None)."""
        p = self.params
        check = "container runtime exposes the advertised driver"
        node = rt.pick_node(nodes, sorted(by_node)) if p["runtime_checks"] != "never" else None
        if node is None:
            result.check(
                check, None, rt.no_node_reason(p["runtime_checks"], [n for n in nodes if n["metadata"]["name"] in by_node], "accelerators"), kind="runtime"
            )
            return None, None
        name = node["metadata"]["name"]
        has_dp = iso.qty(((node.get("status") or {}).get("allocatable") or {}).get(p["resource_name"], 0)) > 0
        if has_dp:
            ctx.create(rt.observer_pod("smi", ns, p["probe_image"], name, p["tolerations"], limits={p["resource_name"]: "1"}))
        else:
            ctx.create(dra.claim("smi", ns, p["device_class"]))
            ctx.create(rt.observer_pod("smi", ns, p["probe_image"], name, p["tolerations"], claims=[{"name": "accel", "resourceClaimName": "smi"}]))
        phase, seen = rt.observe(client, "smi", ns, p["timeout"])
        rt.release(ctx, ns, ["smi"], [] if has_dp else ["smi"])  # the node may have one GPU: the next steps need it
        got = {drv.normalize(g["driver_version"]) for g in seen["gpus"]}
        want = set(by_node[name]["dra"]) | ({by_node[name]["label"]} if by_node[name]["label"] else set())
        result.observations["runtime"] = {"node": name, "phase": phase, "seen": seen, "advertised": sorted(want)}
        result.step("kubectl -n %s logs smi (nvidia-smi on %s)" % (ns, name), "%s, phase %s" % (rt.summary(seen), phase))
        result.check(check, bool(got) and got == want, "nvidia-smi in a pod on %s: %s, advertised: %s" % (name, sorted(got), sorted(want)), kind="runtime")
        return name, (sorted(got)[0] if len(got) == 1 else None)


def main():
    DriverProbe(EXTRA).main()


if __name__ == "__main__":
    main()
