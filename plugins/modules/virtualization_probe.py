#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: virtualization_probe
short_description: Probe virtualized accelerators (requirement virtualized_accelerator)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "O(declared=none): the verdict is C(not_applicable) with O(justification) as its reason, unless
    the cluster contradicts the declaration (nodes labelled C(nvidia.com/vgpu.present=true) or a
    C(vfio.gpu.nvidia.com) DeviceClass), which is a C(fail): the platform exposes what it says it does not."
  - "O(declared=vgpu): vGPU nodes must be labelled C(nvidia.com/vgpu.present=true) and expose
    O(resource_name) like physical GPUs; a pod requesting one vGPU is bound to a vGPU node, and a pod
    requesting more than any vGPU node advertises is refused."
  - "O(declared=passthrough): the DeviceClass O(passthrough_class) exists and a driver publishes
    C(vfio) devices; a claim is allocated one, and a second claim for that device is refused while held."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
  - ai_conformance.kubernetes.gpu_pods
options:
  declared:
    description: What the platform offers, from the inventory.
    type: str
    choices: [none, vgpu, passthrough]
    default: none
  justification:
    description: Why the platform offers no virtualized accelerators (the CNCF FAQ wants a reason, not "unsupported").
    type: str
    default: >-
      the platform exposes physical GPUs to pods whole or partitioned (MIG, time-slicing, DRA);
      it runs no hypervisor layer that would provide vGPU or passthrough devices
  resource_name:
    description: Extended resource name of vGPUs.
    type: str
    default: nvidia.com/gpu
  passthrough_class:
    description: DeviceClass of passthrough (VFIO) devices.
    type: str
    default: vfio.gpu.nvidia.com
  passthrough_driver:
    description: DRA driver publishing passthrough devices.
    type: str
    default: gpu.nvidia.com
  observe_seconds:
    description: How long each refused case is watched.
    type: int
    default: 8
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: A bare-metal platform without vGPU
  ai_conformance.kubernetes.virtualization_probe:
    declared: none
  register: virt

- name: A platform offering NVIDIA vGPU
  ai_conformance.kubernetes.virtualization_probe:
    declared: vgpu
  register: virt
"""

RETURN = r"""
verdict:
  description: One of pass, fail, skip, not_applicable, error.
  returned: always
  type: str
  sample: not_applicable
reason:
  description: One sentence explaining the verdict.
  returned: always
  type: str
  sample: no vGPU declared on refcluster-gpu-1; unmatched and contended claims stayed unallocated; device released and handed over
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: virtualized_accelerator
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: no vGPU declared
    observations:
      description: Structured facts the verdict was computed from (allocation, device attributes, scheduler messages, timings, cleanup).
      type: dict
      returned: always
      sample: {declared: none, vgpu_nodes: [], vfio_class: false}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: vGPU nodes advertised, ok: true, detail: 2 nodes, kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: kubectl get nodes -l nvidia.com/vgpu.present=true, result: none, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: more vGPUs than a node advertises, refused: true, outcome: "Insufficient nvidia.com/gpu"}]
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

EXTRA = {
    **wl.GPU_POD_ARGSPEC,
    "declared": {"type": "str", "default": "none", "choices": ["none", "vgpu", "passthrough"]},
    "justification": {
        "type": "str",
        "default": "the platform exposes physical GPUs to pods whole or partitioned (MIG, time-slicing, DRA); "
        "it runs no hypervisor layer that would provide vGPU or passthrough devices",
    },
    "resource_name": {"type": "str", "default": "nvidia.com/gpu"},
    "passthrough_class": {"type": "str", "default": "vfio.gpu.nvidia.com", "no_log": False},
    "passthrough_driver": {"type": "str", "default": "gpu.nvidia.com", "no_log": False},
    "observe_seconds": {"type": "int", "default": 8},
}
VGPU_LABEL = "nvidia.com/vgpu.present"


class VirtualizationProbe(Probe):
    requirement = "virtualized_accelerator"
    param_error = staticmethod(wl.gpu_pod_param_error)

    def run(self, client, ctx, result):
        p = self.params
        nodes = client.list("v1", "Node")["items"]
        vgpu = {
            n["metadata"]["name"]: int(str((n.get("status", {}).get("allocatable") or {}).get(p["resource_name"], "0")) or 0)
            for n in nodes
            if (n["metadata"].get("labels") or {}).get(VGPU_LABEL) == "true"
        }
        vfio = client.served(dra.API, "DeviceClass") and client.get(dra.API, "DeviceClass", p["passthrough_class"]) is not None
        result.observations.update({"declared": p["declared"], "vgpu_nodes": sorted(vgpu), "vfio_class": vfio})
        result.step(
            "kubectl get nodes -l %s=true; kubectl get deviceclass %s" % (VGPU_LABEL, p["passthrough_class"]),
            "%d vGPU node(s); passthrough class %s" % (len(vgpu), "present" if vfio else "absent"),
        )
        if p["declared"] == "none":
            if vgpu or vfio:
                result.decide(
                    Verdict.FAIL,
                    "the platform declares no virtualized accelerators but the cluster exposes them (%s)"
                    % ", ".join(x for x, on in (("vGPU nodes %s" % sorted(vgpu), bool(vgpu)), ("DeviceClass %s" % p["passthrough_class"], vfio)) if on),
                )
                return
            result.decide(Verdict.NOT_APPLICABLE, p["justification"])
            return
        ns = ctx.ensure_namespace(p["namespace"])
        if p["declared"] == "vgpu":
            if not vgpu or not any(vgpu.values()):
                result.decide(Verdict.FAIL, "vGPU is declared but no node is labelled %s=true with allocatable %s" % (VGPU_LABEL, p["resource_name"]))
                return
            ctx.create(wl.pod("vgpu-one", ns, limits={p["resource_name"]: "1"}, node_selector={VGPU_LABEL: "true"}, tolerations=p["tolerations"]))
            pod = wl.wait_placed(client, "vgpu-one", ns, p["timeout"])
            result.check(
                "a vGPU is schedulable like a physical GPU",
                wl.is_bound(pod),
                "bound to %s" % pod["spec"].get("nodeName") if wl.is_bound(pod) else wl.unschedulable_message(pod),
            )
            too_many = max(vgpu.values()) + 1
            ctx.create(
                wl.pod("vgpu-too-many", ns, limits={p["resource_name"]: str(too_many)}, node_selector={VGPU_LABEL: "true"}, tolerations=p["tolerations"])
            )
            refused, msg = wl.refused_placement(client, "vgpu-too-many", ns, p["timeout"], p["observe_seconds"], cause="Insufficient %s" % p["resource_name"])
            result.negative_case("%s=%d, more vGPUs than any node advertises" % (p["resource_name"], too_many), refused, msg)
            result.decide_from_checks("vGPUs are exposed as %s on %d node(s), schedulable and accounted like physical GPUs" % (p["resource_name"], len(vgpu)))
            return
        devices = dra.published_devices(client.list(dra.API, "ResourceSlice")["items"], p["passthrough_driver"]) if vfio else {}
        vfio_devices = {k: d for k, d in devices.items() if d["attributes"].get("type") == "vfio"}
        if not vfio or not vfio_devices:
            result.decide(
                Verdict.FAIL,
                "passthrough is declared but DeviceClass %s %s"
                % (p["passthrough_class"], "is missing" if not vfio else "has no vfio device published by %s" % p["passthrough_driver"]),
            )
            return
        ctx.create(dra.claim("vfio", ns, p["passthrough_class"]))
        ctx.create(wl.pod("vfio", ns, claims=[{"name": "accel", "resourceClaimName": "vfio"}], tolerations=p["tolerations"]))
        pod = wl.wait_placed(client, "vfio", ns, p["timeout"])
        claim = client.get(dra.API, "ResourceClaim", "vfio", ns)
        for name, ok, detail in (
            dra.check_allocation(claim, pod, devices, p["passthrough_driver"])
            if wl.is_bound(pod)
            else [("passthrough claim scheduled", False, wl.unschedulable_message(pod))]
        ):
            result.check(name, ok, detail)
        got = dra.allocation_results(claim)
        dev = devices.get((got[0].get("pool"), got[0].get("device"))) if got else None
        sel = dra.unique_selector(dev, devices, p["passthrough_driver"]) if dev else None
        if sel is None:
            result.negative_case("second claim for the passthrough device", None, "the allocated device has no unique attribute")
        else:
            refused, outcome = dra.claim_pod_refused(
                client, ctx, "vfio-2", ns, p["passthrough_class"], sel, p["timeout"], p["observe_seconds"], tolerations=p["tolerations"]
            )
            result.negative_case("second claim for the passthrough device (%s)" % sel, refused, outcome)
        result.decide_from_checks("passthrough devices are exposed through DRA class %s and allocated exclusively" % p["passthrough_class"])


def main():
    VirtualizationProbe(EXTRA).main()


if __name__ == "__main__":
    main()
