#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dra_probe
short_description: Prove Dynamic Resource Allocation works for accelerators (requirement dra_support)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Checks that C(resource.k8s.io/v1) is served, the accelerator DeviceClass exists and a driver
    publishes devices in ResourceSlices.
  - "Positive case: a ResourceClaim against the DeviceClass and a pod using it. Passes only when the
    claim is allocated a device that a ResourceSlice publishes, the pod is bound to that device's
    node, and the claim is reserved for the pod."
  - "After the allocation the ResourceSlices are read again: an allocated device no slice publishes
    any more is a stale allocation and fails (naming the claim, device and pool). The allocated
    device must be one the DeviceClass's CEL selectors select, evaluated for conjunctions of
    C(device.driver == '...') and C(device.attributes['<domain>'].<name> == <literal>); a clause of
    another form leaves that check undecided, never passed."
  - "Negative cases: a claim whose CEL selector matches no device stays unallocated and its pod
    Unschedulable for the whole observation window (the scheduler's reason is recorded); a second
    claim selecting the exact device already held stays unallocated while the holder runs."
  - "Release: after the holder pod is deleted the claim is no longer reserved, and the waiting
    claim gets the freed device."
  - On nodes whose container runtime runs containers, a pod with a claim runs
    C(nvidia-smi --query-gpu=uuid) and must see exactly the allocated device. On kwok nodes (the
    reference cluster) this check is recorded as skipped with its reason, never as passed.
  - Every object carries the run labels and is deleted afterwards, on failure too.
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
  - ai_conformance.kubernetes.gpu_pods
options:
  device_class:
    description: DeviceClass to request devices from.
    type: str
    default: gpu.nvidia.com
  driver:
    description: DRA driver name that must publish and allocate the devices.
    type: str
    default: gpu.nvidia.com
  observe_seconds:
    description: How long each negative case is watched to prove nothing is allocated or bound.
    type: int
    default: 8
  runtime_checks:
    description:
      - Whether to run the container-level check. V(auto) runs it when the node's container
        runtime is not kwok's.
    type: str
    choices: [auto, always, never]
    default: auto
  gpu_image:
    description: Image with C(nvidia-smi) for the container-level check.
    type: str
    default: nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04
notes:
  - Needs create/delete on namespaces, pods and resourceclaims, and list on resourceslices and deviceclasses.
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Probe DRA on the reference cluster
  ai_conformance.kubernetes.dra_probe:
    kubeconfig: .build/refcluster/kubeconfig
    run_id: nightly-0001
  register: dra

- name: Probe an AMD or example driver instead
  ai_conformance.kubernetes.dra_probe:
    device_class: gpu.example.com
    driver: gpu.example.com
    observe_seconds: 15
  register: dra

- name: Fail the play when DRA does not pass
  ansible.builtin.assert:
    that: dra.verdict == 'pass'
    fail_msg: "{{ dra.reason }}"
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
  sample: claim allocated gpu-0 on refcluster-gpu-1; unmatched and contended claims stayed unallocated; device released and handed over
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: dra_support
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: claim allocated gpu-0
    observations:
      description: Structured facts the verdict was computed from (allocation, device attributes, scheduler messages, timings, cleanup).
      type: dict
      returned: always
      sample: {published: {devices: 16, nodes: [refcluster-gpu-1, refcluster-gpu-2]}}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: claim allocated, ok: true, detail: gpu.nvidia.com/refcluster-gpu-1/gpu-0, kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: kubectl create resourceclaim, result: allocated gpu-0, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: claim whose selector matches no device, refused: true, outcome: "Unschedulable: 0/3 nodes are available"}]
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
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt

EXTRA = {
    **wl.GPU_POD_ARGSPEC,
    "device_class": {"type": "str", "default": "gpu.nvidia.com"},
    "driver": {"type": "str", "default": "gpu.nvidia.com"},
    "observe_seconds": {"type": "int", "default": 8},
    "runtime_checks": {"type": "str", "default": "auto", "choices": ["auto", "always", "never"]},
    "gpu_image": {"type": "str", "default": "nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04"},
}


class DraProbe(Probe):
    requirement = "dra_support"
    param_error = staticmethod(wl.gpu_pod_param_error)

    def plan(self, run_id):
        p = self.params
        out = super().plan(run_id)
        out["creates"] = [
            "ResourceClaim holder (DeviceClass %s) and Pod holder" % p["device_class"],
            "ResourceClaims nomatch and contender, each with a Pod",
        ]
        if p["runtime_checks"] != "never":
            out["creates"].append("a Pod running %s on a node that runs containers, to see what the container sees" % p["gpu_image"])
        out["observes"] = ["the ResourceSlices of driver %s" % p["driver"], "holder allocated a published device and its Pod on that device's node"]
        out["negative"] = [
            "a claim whose CEL selector matches no device stays unallocated for %ds" % p["observe_seconds"],
            "a second claim for the device holder holds is not allocated it while holder runs, then gets it once holder is gone",
        ]
        return out

    def run(self, client, ctx, result):
        p = self.params
        driver, dclass, timeout, window = p["driver"], p["device_class"], p["timeout"], p["observe_seconds"]

        # Preconditions: API served, class installed, devices published.  Missing ones FAIL.
        if not client.served(dra.API, "ResourceClaim"):
            result.decide(Verdict.FAIL, "the DRA API %s is not served by this cluster" % dra.API)
            return
        class_obj = client.get(dra.API, "DeviceClass", dclass)
        if class_obj is None:
            result.decide(Verdict.FAIL, "DeviceClass %s does not exist: the DRA driver's device classes are not installed" % dclass)
            return
        devices = dra.published_devices(client.list(dra.API, "ResourceSlice")["items"], driver)
        result.observations["published"] = {"devices": len(devices), "nodes": sorted({d["node"] for d in devices.values() if d["node"]})}
        if not devices:
            result.decide(Verdict.FAIL, "no ResourceSlice publishes a device of driver %s" % driver)
            return
        result.step(
            "kubectl get resourceslices --field-selector spec.driver=%s" % driver,
            "%d devices on %d nodes" % (len(devices), len(result.observations["published"]["nodes"])),
        )

        ns = ctx.ensure_namespace(p["namespace"])

        # 0. What a container sees, first, while every device is free (a node may have one GPU).
        self.runtime_check(client, ctx, result, ns, devices)

        # 1. Positive: a claim is allocated a published device and its pod lands on that device's node.
        ctx.create(dra.claim("holder", ns, dclass))
        ctx.create(wl.pod("holder", ns, claims=[{"name": "accel", "resourceClaimName": "holder"}], tolerations=p["tolerations"]))
        pod = wl.wait_placed(client, "holder", ns, timeout)
        if not wl.is_bound(pod):
            result.check("pod with a claim scheduled", False, wl.unschedulable_message(pod))
            result.decide_from_checks("")
            return
        held = client.wait_for(
            dra.API, "ResourceClaim", "holder", lambda o: dra.is_allocated(o) and bool(dra.reserved_uids(o)), ns, timeout, "be allocated and reserved"
        )
        # The slices again, now that the device is allocated: a device published before (or after)
        # the first listing and gone now is a stale allocation, not an invented one.
        now = dra.published_devices(client.list(dra.API, "ResourceSlice")["items"], driver)
        for name, ok, detail in dra.check_allocation(held, pod, {**devices, **now}, driver):
            result.check(name, ok, detail)
        stale = dra.stale_allocations(held, now, driver)
        result.check(
            "allocated device still published after allocation",
            not stale,
            "%s, which no ResourceSlice of %s publishes any more: a stale allocation" % ("; ".join(stale), driver)
            if stale
            else "re-read: %d devices published" % len(now),
        )
        if stale:
            result.decide_from_checks("")
            return
        devices = now
        ok, detail = dra.class_selector_check(class_obj, held, devices)
        result.check("allocated device matches the DeviceClass selectors", ok, detail)
        first = dra.allocation_results(held)[0]
        device = devices.get((first.get("pool"), first.get("device")))
        result.observations["allocation"] = {
            "claim": "holder",
            "results": dra.allocation_results(held),
            "pod_node": pod["spec"]["nodeName"],
            "device_attributes": (device or {}).get("attributes", {}),
        }
        result.step(
            "kubectl -n %s create resourceclaim holder + pod holder" % ns,
            "allocated %s/%s, pod bound to %s" % (first.get("pool"), first.get("device"), pod["spec"]["nodeName"]),
        )

        # 2. Negative: a selector that matches no device is never satisfied.  3. Negative: the exact
        # device held by "holder" is not handed to a second claim.  Both are made, then watched at
        # once (their windows overlap: workloads.watch_refusal).
        cel = "device.attributes['%s'].productName == 'aic-no-such-device-%s'" % (driver, ctx.run_id)
        nomatch = dra.claim_obj_pod_watch(client, ctx, dra.claim("nomatch", ns, dclass, cel), timeout, window, tolerations=p["tolerations"])
        unique = dra.unique_selector(device, devices, driver) if device else None
        contender = None
        if unique is not None:
            contender = dra.claim_obj_pod_watch(client, ctx, dra.claim("contender", ns, dclass, unique), timeout, window, tolerations=p["tolerations"])
        refused, outcome = dra.claim_pod_verdict(client, nomatch)
        result.negative_case("claim whose CEL selector matches no device (%s)" % cel, refused, outcome)
        result.step("kubectl -n %s create resourceclaim nomatch (selector matches nothing) + pod" % ns, outcome)
        if contender is None:
            result.negative_case("second claim for the held device", None, "no attribute identifies the allocated device uniquely")
        else:
            refused, outcome = dra.claim_pod_verdict(client, contender)
            result.negative_case("second claim selecting the held device (%s), while holder runs" % unique, refused, outcome)

            # 4. Release: the holder goes, its claim is released, the contender gets the device.
            client.delete("v1", "Pod", "holder", ns)
            client.wait_gone("v1", "Pod", "holder", ns, timeout)
            # A claim that is never released is a finding (False), not an error: wait_until, not wait_for.
            released = client.wait_until(dra.API, "ResourceClaim", "holder", lambda o: not dra.reserved_uids(o), ns, timeout)[1]
            result.check("claim released after its pod is gone", not dra.reserved_uids(released), "reservedFor=%s" % dra.reserved_uids(released))
            got = client.wait_until("v1", "Pod", "contender", wl.is_bound, ns, timeout)[1] or {}
            cont = client.get(dra.API, "ResourceClaim", "contender", ns)
            handed = [(r.get("pool"), r.get("device")) for r in dra.allocation_results(cont)]
            result.check(
                "freed device handed to the waiting claim",
                handed == [(first.get("pool"), first.get("device"))],
                "contender allocated %s, bound to %s" % (handed, (got.get("spec") or {}).get("nodeName") or "no node"),
            )
            result.step("kubectl -n %s delete pod holder" % ns, "holder claim released; contender allocated %s" % handed)

        result.decide_from_checks(
            "claim allocated %s/%s on %s; a claim matching no device and a claim for the held device stayed unallocated; "
            "the device was released and handed over" % (first.get("pool"), first.get("device"), pod["spec"]["nodeName"])
        )

    def runtime_check(self, client, ctx, result, ns, devices):
        """A pod with a claim, on a node that runs containers, sees exactly the allocated GPU: its
        device node and, in nvidia-smi, the UUID the ResourceSlice publishes for that device."""
        check = "container sees exactly the allocated GPU"
        nodes = client.list("v1", "Node")["items"]
        with_devices = sorted({d["node"] for d in devices.values() if d["node"]})
        node = rt.pick_node(nodes, with_devices) if self.params["runtime_checks"] != "never" else None
        if node is None:
            result.check(
                check,
                None,
                rt.no_node_reason(self.params["runtime_checks"], [n for n in nodes if n["metadata"]["name"] in with_devices], "DRA devices"),
                kind="runtime",
            )
            return
        name = node["metadata"]["name"]
        ctx.create(dra.claim("smi", ns, self.params["device_class"]))
        ctx.create(
            rt.observer_pod("smi", ns, self.params["gpu_image"], name, self.params["tolerations"], claims=[{"name": "accel", "resourceClaimName": "smi"}])
        )
        # Read while the pod holds the claim: it is released once the pod has finished.
        results = dra.allocation_results(client.wait_for(dra.API, "ResourceClaim", "smi", dra.is_allocated, ns, self.params["timeout"], "be allocated"))
        phase, seen = rt.observe(client, "smi", ns, self.params["timeout"])
        rt.release(ctx, ns, ["smi"], ["smi"])  # the node may have one GPU: the holder needs it next
        want = dra.allocated_uuids(results, devices)
        got = rt.uuids(seen)
        result.observations["runtime_check"] = {"node": name, "phase": phase, "seen": seen, "allocated_uuids": want}
        result.step("kubectl -n %s logs smi (claim smi on %s)" % (ns, name), "%s, phase %s" % (rt.summary(seen), phase))
        ok = bool(got) and got == want and len(seen["devices"]) == len(want)
        result.check(check, ok, "visible %s (device nodes %s), allocated %s" % (got, seen["devices"] or "none", want), kind="runtime")


def main():
    DraProbe(EXTRA).main()


if __name__ == "__main__":
    main()
