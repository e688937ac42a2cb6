#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gpu_sharing_probe
short_description: Prove a GPU sharing strategy works (requirement gpu_sharing)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "V(dra_shared_claim): one ResourceClaim used by two pods. Both must be bound to the node of the
    one allocated device and listed in the claim's C(reservedFor). Negative: a separate claim
    selecting that same device stays unallocated, so sharing happens only through the shared claim."
  - "V(time_slicing): on a node whose GPU feature discovery labels advertise C(nvidia.com/gpu.replicas)
    above 1, more pods than physical GPUs each get one C(nvidia.com/gpu) (oversubscription), and one
    pod beyond what the node advertises is refused. Where the node runs containers, every one of
    those pods must run and see exactly one GPU, of at most the node's physical ones, each seen by
    at most C(nvidia.com/gpu.replicas) pods (the pods report it and keep running); elsewhere that
    check is an undecided runtime check: labels and allocatable prove no sharing."
  - "V(mig): a pod requesting one MIG slice resource (C(nvidia.com/mig-*)) is bound, and a pod
    requesting more slices than any node has is refused."
  - V(auto) picks what the cluster shows, in that order, and fails when it shows no sharing strategy.
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
  - ai_conformance.kubernetes.gpu_pods
options:
  strategy:
    description: Sharing strategy the platform declares.
    type: str
    choices: [auto, dra_shared_claim, time_slicing, mig]
    default: auto
  device_class:
    description: DeviceClass for the DRA shared claim.
    type: str
    default: gpu.nvidia.com
  driver:
    description: DRA driver publishing the devices.
    type: str
    default: gpu.nvidia.com
  resource_name:
    description: Extended resource name of time-sliced GPUs.
    type: str
    default: nvidia.com/gpu
  max_pods:
    description: Most pods the time-slicing check creates.
    type: int
    default: 32
  observe_seconds:
    description: How long each refused case is watched.
    type: int
    default: 8
  runtime_checks:
    description:
      - "Container-level check of the DRA shared claim: on a Ready node whose kubelet runs containers, two pods
        sharing one claim each see exactly the shared GPU (device node and nvidia-smi UUID)."
      - V(auto) and V(always) run it where such a node has DRA devices; V(never) records it as not decided.
    type: str
    choices: [auto, always, never]
    default: auto
  probe_image:
    description: Image with a POSIX shell for the container-level check (nvidia-smi is injected by the platform).
    type: str
    default: nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Probe GPU sharing with whatever the cluster offers
  ai_conformance.kubernetes.gpu_sharing_probe:
  register: sharing

- name: Probe time-slicing explicitly
  ai_conformance.kubernetes.gpu_sharing_probe:
    strategy: time_slicing
  register: sharing
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
  sample: shared claim on refcluster-gpu-1; unmatched and contended claims stayed unallocated; device released and handed over
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: gpu_sharing
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: shared claim
    observations:
      description: Structured facts the verdict was computed from (allocation, device attributes, scheduler messages, timings, cleanup).
      type: dict
      returned: always
      sample: {strategy: dra_shared_claim, device: [gpu-1, gpu-0]}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: both pods reserved on one claim, ok: true, detail: 2 uids, kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: create claim shared + pods a and b, result: both bound to gpu-1, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: separate claim for the shared device, refused: true, outcome: "Unschedulable: cannot allocate all claims"}]
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
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import isolation as iso
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runmates as rm
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt

EXTRA = {
    **wl.GPU_POD_ARGSPEC,
    "strategy": {"type": "str", "default": "auto", "choices": ["auto", "dra_shared_claim", "time_slicing", "mig"]},
    "device_class": {"type": "str", "default": "gpu.nvidia.com"},
    "driver": {"type": "str", "default": "gpu.nvidia.com"},
    "resource_name": {"type": "str", "default": "nvidia.com/gpu"},
    "max_pods": {"type": "int", "default": 32},
    "observe_seconds": {"type": "int", "default": 8},
    "runtime_checks": {"type": "str", "default": "auto", "choices": ["auto", "always", "never"]},
    "probe_image": {"type": "str", "default": "nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04"},
}


def time_sliced_nodes(nodes):
    out = {}
    for n in nodes:
        labels = n["metadata"].get("labels", {}) or {}
        try:
            replicas, count = int(labels.get("nvidia.com/gpu.replicas", "1")), int(labels.get("nvidia.com/gpu.count", "0"))
        except ValueError:
            continue
        if replicas > 1 and count > 0 and labels.get("nvidia.com/gpu.sharing-strategy", "time-slicing") in ("time-slicing", "mps"):
            out[n["metadata"]["name"]] = (count, replicas)
    return out


def mig_resources(nodes):
    out = {}
    for n in nodes:
        for k, v in (n.get("status", {}).get("allocatable") or {}).items():
            if k.startswith("nvidia.com/mig-") and str(v) not in ("0", ""):
                out.setdefault(k, {})[n["metadata"]["name"]] = int(v)
    return out


class SharingProbe(Probe):
    requirement = "gpu_sharing"
    param_error = staticmethod(wl.gpu_pod_param_error)

    def run(self, client, ctx, result):
        p = self.params
        nodes = client.list("v1", "Node")["items"]
        dra_ok = (
            client.served(dra.API, "ResourceClaim")
            and client.get(dra.API, "DeviceClass", p["device_class"]) is not None
            and bool(dra.published_devices(client.list(dra.API, "ResourceSlice")["items"], p["driver"]))
        )
        ts, mig = time_sliced_nodes(nodes), mig_resources(nodes)
        available = [s for s, on in (("dra_shared_claim", dra_ok), ("time_slicing", bool(ts)), ("mig", bool(mig))) if on]
        result.observations["strategies_seen"] = available
        strategy = p["strategy"] if p["strategy"] != "auto" else (available[0] if available else None)
        if strategy is None:
            result.decide(
                Verdict.FAIL,
                "no GPU sharing strategy is exposed: no DRA device class with devices, no time-sliced nodes (nvidia.com/gpu.replicas > 1), no MIG resources",
            )
            return
        if strategy not in available:
            result.decide(
                Verdict.FAIL, "the declared sharing strategy %s is not exposed by the cluster (it shows: %s)" % (strategy, ", ".join(available) or "none")
            )
            return
        result.observations["strategy"] = strategy
        ns = ctx.ensure_namespace(p["namespace"])
        getattr(self, strategy)(client, ctx, result, ns, ts, mig)

    def dra_shared_claim(self, client, ctx, result, ns, _ts, _mig):
        p = self.params
        # What the consumers see, first, while every device is free (a node may have one GPU).
        self.runtime_shared(client, ctx, result, ns, dra.published_devices(client.list(dra.API, "ResourceSlice")["items"], p["driver"]))
        ctx.create(dra.claim("shared", ns, p["device_class"]))
        for name in ("user-a", "user-b"):
            ctx.create(wl.pod(name, ns, claims=[{"name": "accel", "resourceClaimName": "shared"}], tolerations=p["tolerations"]))
        pods = [wl.wait_placed(client, n, ns, p["timeout"]) for n in ("user-a", "user-b")]
        claim = client.get(dra.API, "ResourceClaim", "shared", ns)
        if all(wl.is_bound(x) for x in pods):
            claim = client.wait_for(dra.API, "ResourceClaim", "shared", lambda o: len(dra.reserved_uids(o)) == 2, ns, p["timeout"], "be reserved by both pods")
        results = dra.allocation_results(claim)
        nodes = {x["spec"].get("nodeName") for x in pods}
        result.check("both pods bound through one claim", all(wl.is_bound(x) for x in pods) and len(nodes) == 1, "pods on %s" % sorted(n or "-" for n in nodes))
        result.check("one device shared", len(results) == 1, "allocation %s" % [(r.get("pool"), r.get("device")) for r in results])
        uids = sorted(x["metadata"]["uid"] for x in pods)
        result.check("claim reserved for both pods", sorted(dra.reserved_uids(claim)) == uids, "reservedFor %s" % dra.reserved_uids(claim))
        devices = dra.published_devices(client.list(dra.API, "ResourceSlice")["items"], p["driver"])
        dev = devices.get((results[0].get("pool"), results[0].get("device"))) if results else None
        sel = dra.unique_selector(dev, devices, p["driver"]) if dev else None
        result.observations["device"] = [results[0].get("pool"), results[0].get("device")] if results else None
        result.step("kubectl -n %s create resourceclaim shared; pods user-a, user-b use it" % ns, "both bound to %s" % sorted(n or "-" for n in nodes))
        if sel is None:
            result.negative_case("separate claim for the shared device", None, "the shared device has no unique attribute")
        else:
            refused, outcome = dra.claim_pod_refused(
                client, ctx, "intruder", ns, p["device_class"], sel, p["timeout"], p["observe_seconds"], tolerations=p["tolerations"]
            )
            result.negative_case("separate claim for the shared device (%s)" % sel, refused, outcome)
        result.decide_from_checks("one DRA device shared by two pods through one claim; a separate claim for that device was refused")

    def runtime_shared(self, client, ctx, result, ns, devices):
        """On a node that runs containers, both consumers of one shared claim see exactly the shared
        GPU, no other one (a driver that hands a sharer every device, or a different one, fails)."""
        p = self.params
        check = "each consumer of a shared claim sees exactly the shared GPU"
        nodes = client.list("v1", "Node")["items"]
        with_devices = sorted({d["node"] for d in devices.values() if d["node"]})
        node = rt.pick_node(nodes, with_devices) if p["runtime_checks"] != "never" else None
        if node is None:
            looked = [n for n in nodes if n["metadata"]["name"] in with_devices]
            result.check(check, None, rt.no_node_reason(p["runtime_checks"], looked, "DRA devices"), kind="runtime")
            return
        name = node["metadata"]["name"]
        ctx.create(dra.claim("rt-shared", ns, p["device_class"]))
        users = ("rt-user-a", "rt-user-b")
        for user in users:
            ctx.create(rt.observer_pod(user, ns, p["probe_image"], name, p["tolerations"], claims=[{"name": "accel", "resourceClaimName": "rt-shared"}]))
        # Read while the pods hold the claim: it is released once both have finished.
        held = client.wait_for(dra.API, "ResourceClaim", "rt-shared", dra.is_allocated, ns, p["timeout"], "be allocated")
        want = dra.allocated_uuids(dra.allocation_results(held), devices)
        seen = {}
        for user in users:
            phase, seen[user] = rt.observe(client, user, ns, p["timeout"])
            result.step("kubectl -n %s logs %s (shared claim rt-shared on %s)" % (ns, user, name), "%s, phase %s" % (rt.summary(seen[user]), phase))
        rt.release(ctx, ns, list(users), ["rt-shared"])
        result.observations["runtime_shared"] = {"node": name, "allocated_uuids": want, "seen": seen}
        ok = len(want) == 1 and all(rt.uuids(seen[u]) == want and len(seen[u]["devices"]) == 1 for u in users)
        detail = "; ".join("%s sees %s (device nodes %s)" % (u, rt.uuids(seen[u]), seen[u]["devices"] or "none") for u in users)
        result.check(check, ok, "%s; allocated %s" % (detail, want), kind="runtime")

    def time_slicing(self, client, ctx, result, ns, ts, _mig):
        p = self.params
        # Sized to what is free: not on a node where the run's other probes hold some (runmates).
        nodes = client.list("v1", "Node")["items"]
        free = rm.unheld(
            client, ctx, result, "time_slicing_fill", (p["resource_name"],), lambda pods: rm.only(iso.free_by_node(nodes, pods, p["resource_name"]), set(ts))
        )
        node = max(sorted(ts), key=lambda n: free.get(n, 0))
        count, replicas = ts[node]
        n = free.get(node, 0)
        if n <= count or n > p["max_pods"]:
            result.decide(
                Verdict.SKIP,
                "node %s has %d free %s (physical %d x %d replicas): cannot show oversubscription within max_pods %d"
                % (node, n, p["resource_name"], count, replicas, p["max_pods"]),
            )
            return
        # The pods report what their container was given and keep running (holding it): where the
        # node runs containers, the sharing is seen, not only what the node's labels say.
        names = ["ts-%d" % i for i in range(n)]
        tol = wl.gpu_tolerations(p["tolerations"])
        for name in names:
            ctx.create(
                wl.pod(
                    name,
                    ns,
                    image=p["probe_image"],
                    command=rt.HOLD_COMMAND,
                    limits={p["resource_name"]: "1"},
                    node_selector={wl.HOSTNAME: node},
                    tolerations=tol,
                )
            )
        bound = sum(wl.is_bound(wl.wait_placed(client, name, ns, p["timeout"])) for name in names)
        result.check(
            "more pods than physical GPUs each get a GPU", bound == n and bound > count, "%d pods bound on %s with %d physical GPUs" % (bound, node, count)
        )
        self.runtime_time_sliced(client, result, ns, node, names, count, replicas)
        ctx.create(wl.pod("ts-extra", ns, limits={p["resource_name"]: "1"}, node_selector={wl.HOSTNAME: node}, tolerations=tol))
        refused, msg = wl.refused_placement(client, "ts-extra", ns, p["timeout"], p["observe_seconds"], cause="Insufficient %s" % p["resource_name"])
        result.negative_case("one pod beyond the %d advertised replicas" % (count * replicas), refused, msg)
        result.decide_from_checks("%d pods shared %d physical GPUs on %s by time-slicing; one more was refused" % (bound, count, node))

    def runtime_time_sliced(self, client, result, ns, node, names, count, replicas):
        """On a node that runs containers, every time-sliced pod runs (the kubelet admitted it: the
        device plugin had a replica for it) and sees exactly one GPU, of at most ``count`` physical
        ones, each shared by at most ``replicas`` pods.  Labels and allocatable alone prove none of it."""
        p = self.params
        check = "time-sliced pods run and share the physical GPUs"
        live = client.get("v1", "Node", node)
        if p["runtime_checks"] == "never" or not rt.runs_containers(live):
            result.check(check, None, rt.no_node_reason(p["runtime_checks"], [live] if live else [], "the time-sliced GPUs"), kind="runtime")
            return
        seen, failed = {}, []
        for name in names:
            phase, obs = rt.observe_running(client, name, ns, p["timeout"])
            pod = client.get("v1", "Pod", name, ns) or {}
            if phase != "Running" or len(rt.uuids(obs)) != 1:
                st = pod.get("status") or {}
                failed.append("%s %s%s (%s)" % (name, phase, " %s: %s" % (st["reason"], st.get("message", "")) if st.get("reason") else "", rt.summary(obs)))
            else:
                seen[name] = rt.uuids(obs)[0]
        per_gpu = {u: sorted(x for x, v in seen.items() if v == u) for u in sorted(set(seen.values()))}
        result.observations["time_slicing_seen"] = {"node": node, "pods_per_gpu": per_gpu, "not_running": failed}
        ok = not failed and len(per_gpu) <= count and all(len(v) <= replicas for v in per_gpu.values()) and len(seen) > count
        shares = ", ".join("%s: %d pods" % (u, len(v)) for u, v in per_gpu.items())
        detail = "%d pods ran on %s and saw %d physical GPUs (%s)" % (len(seen), node, len(per_gpu), shares)
        result.check(check, ok, ("%s; %d did not: %s" % (detail, len(failed), "; ".join(failed[:3]))) if failed else detail, kind="runtime")

    def mig(self, client, ctx, result, ns, _ts, mig):
        p = self.params
        res = sorted(mig)[0]
        most = max(mig[res].values())
        ctx.create(wl.pod("mig-one", ns, limits={res: "1"}, tolerations=p["tolerations"]))
        pod = wl.wait_placed(client, "mig-one", ns, p["timeout"])
        result.check("a MIG slice is schedulable", wl.is_bound(pod), "%s=1: %s" % (res, "bound" if wl.is_bound(pod) else wl.unschedulable_message(pod)))
        ctx.create(wl.pod("mig-too-many", ns, limits={res: str(most + 1)}, tolerations=p["tolerations"]))
        refused, msg = wl.refused_placement(client, "mig-too-many", ns, p["timeout"], p["observe_seconds"], cause="Insufficient %s" % res)
        result.negative_case("%s=%d, more slices than any node has" % (res, most + 1), refused, msg)
        result.decide_from_checks("MIG slices %s are schedulable resources and over-requests are refused" % res)


def main():
    SharingProbe(EXTRA).main()


if __name__ == "__main__":
    main()
