#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: network_dra_probe
short_description: Prove specialized NICs are exposed and allocated through DRA (requirement high_performance_networking)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Discovery: the NIC driver (DRANET, C(dra.net), by default) publishes RDMA-capable devices on the GPU nodes, and each
    one says what a scheduler or workload needs: PCI address, NUMA node, C(resource.kubernetes.io/pcieRoot), and an
    interface or RDMA device name."
  - "Multiple interfaces: one claim for two RDMA NICs is allocated two distinct devices on the pod's node."
  - "Alignment: one claim for a GPU and a NIC with a C(matchAttribute) constraint on O(align_attribute) is allocated a GPU
    and a NIC that share that attribute, on the pod's node."
  - "Negative cases: a claim for one RDMA NIC more than the node has stays unallocated and its pod Unschedulable; a GPU+NIC
    claim whose constraint cannot be met (GPU pinned to one PCIe root, NIC to another) stays unallocated."
  - "O(declared=none): C(not_applicable) with O(justification). O(declared=rdma): no RDMA NIC published is a C(fail)
    (the platform says it has them). O(declared=auto): probes the NICs found; none found is a C(fail)."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  declared:
    description: What the platform declares about specialized networking.
    type: str
    choices: [auto, rdma, none]
    default: auto
  justification:
    description: Why specialized networking does not apply (with O(declared=none)); the CNCF FAQ wants a reason, not "unsupported".
    type: str
    default: >-
      the platform serves single-node inference and training only: no workload spans nodes, so there is no
      pod-to-pod traffic that RDMA or multi-NIC attachment would carry
  driver:
    description: DRA driver publishing the NICs.
    type: str
    default: dra.net
  nic_class:
    description: DeviceClass of the RDMA NICs.
    type: str
    default: rdma.dra.net
  rdma_attribute:
    description: Boolean device attribute marking RDMA-capable NICs.
    type: str
    default: dra.net/rdma
  gpu_class:
    description: DeviceClass of the GPUs for the aligned claim.
    type: str
    default: gpu.nvidia.com
  gpu_driver:
    description: DRA driver publishing the GPUs.
    type: str
    default: gpu.nvidia.com
  align_attribute:
    description: Attribute the GPU and the NIC must share.
    type: str
    default: resource.kubernetes.io/pcieRoot
  observe_seconds:
    description: How long each refused case is watched.
    type: int
    default: 8
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Probe DRANET RDMA NICs next to the GPUs
  ai_conformance.kubernetes.network_dra_probe:
    declared: rdma
    nic_class: efa.networking.k8s.aws
  register: hpn

- name: A platform without specialized networking
  ai_conformance.kubernetes.network_dra_probe:
    declared: none
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
  sample: 16 RDMA NICs on 2 GPU nodes through DRA; two NICs in one claim; GPU and NIC aligned on resource.kubernetes.io/pcieRoot
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: high_performance_networking
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: RDMA NICs allocated through DRA, aligned with a GPU
    observations:
      description: Structured facts the verdict was computed from (NICs per node, allocations, scheduler messages, cleanup).
      type: dict
      returned: always
      sample: {rdma_nics: {refcluster-gpu-1: 8}, node: refcluster-gpu-1}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable.
      type: list
      elements: dict
      returned: always
      sample: [{name: GPU and NIC aligned on resource.kubernetes.io/pcieRoot, ok: true, detail: "gpu pci0000:18, nic pci0000:18", kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: kubectl get resourceslices --field-selector spec.driver=dra.net, result: 18 devices, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: 9 RDMA NICs on a node with 8, refused: true, outcome: "claim unallocated=True"}]
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
      sample: 20.4
"""

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import netdra as nd

EXTRA = {
    "declared": {"type": "str", "default": "auto", "choices": ["auto", "rdma", "none"]},
    "justification": {
        "type": "str",
        "default": "the platform serves single-node inference and training only: no workload spans nodes, so there is no "
        "pod-to-pod traffic that RDMA or multi-NIC attachment would carry",
    },
    "driver": {"type": "str", "default": "dra.net"},
    "nic_class": {"type": "str", "default": "rdma.dra.net"},
    "rdma_attribute": {"type": "str", "default": "dra.net/rdma"},
    "gpu_class": {"type": "str", "default": "gpu.nvidia.com"},
    "gpu_driver": {"type": "str", "default": "gpu.nvidia.com"},
    "align_attribute": {"type": "str", "default": "resource.kubernetes.io/pcieRoot"},
    "observe_seconds": {"type": "int", "default": 8},
}


class NetworkDraProbe(Probe):
    requirement = "high_performance_networking"

    def plan(self, run_id):
        p = self.params
        out = super().plan(run_id)
        out["creates"] = [
            "ResourceClaim two-nics (2 x %s) and a Pod on the GPU node with the most RDMA NICs" % p["nic_class"],
            "ResourceClaim gpu-nic (%s + %s, matchAttribute %s) and a Pod" % (p["gpu_class"], p["nic_class"], p["align_attribute"]),
        ]
        out["observes"] = ["the RDMA NICs (%s=true) driver %s publishes on GPU nodes, with their characteristics" % (p["rdma_attribute"], p["driver"])]
        out["negative"] = [
            "a claim for one NIC more than the node has stays unallocated",
            "a GPU and a NIC pinned to different %s values are not allocated together" % p["align_attribute"],
        ]
        return out

    def run(self, client, ctx, result):
        p = self.params
        if p["declared"] == "none":
            result.decide(Verdict.NOT_APPLICABLE, p["justification"])
            return
        if not client.served(dra.API, "ResourceSlice"):
            result.decide(Verdict.FAIL, "the DRA API (%s) is not served, so no NIC can be exposed through DRA" % dra.API)
            return
        slices = client.list(dra.API, "ResourceSlice")["items"]
        nics_all = dra.published_devices(slices, p["driver"])
        nics = nd.rdma_nics(nics_all, p["driver"], p["rdma_attribute"])
        gpus = dra.published_devices(slices, p["gpu_driver"])
        gpu_nodes = nd.by_node(gpus)
        per_node = {n: keys for n, keys in nd.by_node(nics).items() if n in gpu_nodes}
        result.observations.update(
            {
                "nic_devices": len(nics_all),
                "rdma_nics": {n: len(k) for n, k in sorted(per_node.items())},
                "rdma_nics_off_gpu_nodes": sorted(set(nd.by_node(nics)) - set(gpu_nodes)),
            }
        )
        result.step(
            "kubectl get resourceslices -o json (spec.driver=%s, %s=true)" % (p["driver"], p["rdma_attribute"]),
            "%d device(s), %d RDMA NIC(s) on GPU nodes %s" % (len(nics_all), sum(len(k) for k in per_node.values()), sorted(per_node)),
        )
        if not per_node:
            result.decide(
                Verdict.FAIL,
                "%s: driver %s publishes no RDMA NIC (%s=true) on a GPU node (%d %s device(s) in all)"
                % (
                    "specialized networking is declared" if p["declared"] == "rdma" else "no specialized NIC is exposed through DRA",
                    p["driver"],
                    p["rdma_attribute"],
                    len(nics_all),
                    p["driver"],
                ),
            )
            return
        gaps = {"%s/%s" % k: nd.missing_characteristics(nics[k], p["driver"]) for keys in per_node.values() for k in keys}
        gaps = {k: v for k, v in gaps.items() if v}
        result.check(
            "NIC characteristics discoverable", not gaps, "missing: %s" % gaps if gaps else "PCI address, NUMA node, PCIe root and name on every RDMA NIC"
        )
        if client.get(dra.API, "DeviceClass", p["nic_class"]) is None:
            result.check("NIC DeviceClass installed", False, "DeviceClass %s does not exist" % p["nic_class"])
            result.decide_from_checks("")
            return
        # Among the nodes whose taints its pods tolerate (the GPU taint): a node that joins tainted for
        # other pods meanwhile (an autoscaled pool's) would refuse them for the taint, which proves nothing.
        tolerated = [n["metadata"]["name"] for n in client.list("v1", "Node")["items"] if wl.tolerates(n, wl.gpu_tolerations(None))]
        node = max(sorted(set(per_node) & set(tolerated)) or sorted(per_node), key=lambda n: len(per_node[n]))
        result.observations["node"] = node
        ns = ctx.ensure_namespace(p["namespace"])
        self.multi_nic(client, ctx, result, ns, node, nics, len(per_node[node]))
        self.aligned(client, ctx, result, ns, node, nics, gpus)
        result.decide_from_checks(self.proved(result, sum(len(k) for k in per_node.values()), len(per_node)))

    def proved(self, result, nics, nodes):
        """The pass reason: only what a passed check or a refused negative case showed (an
        undecided check is named by the partial prefix, never claimed here)."""
        p = self.params
        done = {c["name"] for c in result.checks if c["ok"] is True}
        parts = ["%d RDMA NIC(s) on %d GPU node(s) exposed through DRA driver %s with their characteristics" % (nics, nodes, p["driver"])]
        if "two RDMA NICs attached to one pod through one claim" in done:
            parts.append("two NICs attached to one pod through one claim")
        if "GPU and NIC aligned on %s" % p["align_attribute"] in done:
            parts.append("GPU and NIC allocated together aligned on %s" % p["align_attribute"])
        else:
            parts.append("GPU-NIC alignment not shown")
        refused = [n.case for n in result.negative if n.refused is True]
        if refused:
            parts.append("refused: %s" % "; ".join(refused))
        return "; ".join(parts)

    def multi_nic(self, client, ctx, result, ns, node, nics, count):
        p = self.params
        if count >= 2:
            dra.claim_and_pod(ctx, nd.claim("two-nics", ns, [nd.request("nic", p["nic_class"], 2)]), {wl.HOSTNAME: node})
            pod = wl.wait_placed(client, "two-nics", ns, p["timeout"])
            got = nd.allocated(client.get(dra.API, "ResourceClaim", "two-nics", ns), {p["driver"]: nics}).get("nic", [])
            devices = sorted({d["device"] for d in got})
            ok = wl.is_bound(pod) and len(devices) == 2 and all(d.get("node") == node and d["known"] for d in got)
            result.check(
                "two RDMA NICs attached to one pod through one claim",
                ok,
                "devices %s on %s, pod %s" % (devices, node, "bound" if wl.is_bound(pod) else wl.unschedulable_message(pod)),
            )
            result.observations["two_nics"] = devices
            result.step("claim 2 x %s, pod on %s" % (p["nic_class"], node), "allocated %s" % devices)
            dra.release_claim_and_pod(client, ctx, ns, "two-nics")
        else:
            result.check("two RDMA NICs attached to one pod through one claim", None, "node %s has one RDMA NIC" % node)
        too_many = nd.claim("too-many-nics", ns, [nd.request("nic", p["nic_class"], count + 1)])
        refused, msg = dra.claim_obj_pod_refused(client, ctx, too_many, p["timeout"], p["observe_seconds"], {wl.HOSTNAME: node})
        result.negative_case("%d RDMA NICs on %s, which has %d" % (count + 1, node, count), refused, msg)
        dra.release_claim_and_pod(client, ctx, ns, "too-many-nics")

    def aligned(self, client, ctx, result, ns, node, nics, gpus):
        p = self.params
        align = p["align_attribute"]
        if client.get(dra.API, "DeviceClass", p["gpu_class"]) is None:
            result.check("GPU and NIC allocated in one claim", None, "GPU DeviceClass %s does not exist" % p["gpu_class"])
            return
        requests = [nd.request("gpu", p["gpu_class"]), nd.request("nic", p["nic_class"])]
        dra.claim_and_pod(ctx, nd.claim("gpu-nic", ns, requests, align), {wl.HOSTNAME: node})
        pod = wl.wait_placed(client, "gpu-nic", ns, p["timeout"])
        got = nd.allocated(client.get(dra.API, "ResourceClaim", "gpu-nic", ns), {p["gpu_driver"]: gpus, p["driver"]: nics})
        for name, ok, detail in nd.check_aligned(got, p["gpu_driver"], p["driver"], align, (pod or {}).get("spec", {}).get("nodeName")):
            result.check(name, ok, detail)
        result.observations["aligned"] = {k: [d.get("device") for d in v] for k, v in got.items()}
        result.step("claim gpu + nic with matchAttribute %s, pod on %s" % (align, node), "allocated %s" % result.observations["aligned"])
        dra.release_claim_and_pod(client, ctx, ns, "gpu-nic")
        # Negative: pin the GPU to one root and the NIC to another; the constraint cannot hold.
        roots_gpu = sorted({nd.attr(gpus[k], p["gpu_driver"], align) for k in gpus if gpus[k].get("node") == node} - {None})
        roots_nic = sorted({nd.attr(nics[k], p["driver"], align) for k in nics if nics[k].get("node") == node} - {None})
        pair = next(((g, n) for g in roots_gpu for n in roots_nic if g != n), None)
        if pair is None:
            result.negative_case("GPU and NIC on different %s under a matchAttribute constraint" % align, None, "node %s has no two distinct roots" % node)
            return
        requests = [
            nd.request("gpu", p["gpu_class"], cel="%s == '%s'" % (nd.cel_attr(p["gpu_driver"], align), pair[0])),
            nd.request("nic", p["nic_class"], cel="%s == '%s'" % (nd.cel_attr(p["driver"], align), pair[1])),
        ]
        misaligned = nd.claim("misaligned", ns, requests, align)
        refused, msg = dra.claim_obj_pod_refused(client, ctx, misaligned, p["timeout"], p["observe_seconds"], {wl.HOSTNAME: node})
        result.negative_case("GPU on %s and NIC on %s under matchAttribute %s" % (pair[0], pair[1], align), refused, msg)


def main():
    NetworkDraProbe(EXTRA).main()


if __name__ == "__main__":
    main()
