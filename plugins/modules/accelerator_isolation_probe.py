#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: accelerator_isolation_probe
short_description: Prove accelerator access is isolated and mediated (requirement secure_accelerator_access)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Device-plugin path (nodes with allocatable O(resource_name)): on the GPU node with the most free
    accelerators, one pod per free accelerator is bound, and one pod more must stay Unschedulable for
    the observation window with the scheduler's C(Insufficient) reason: no accelerator is handed to two pods."
  - "DRA path (O(device_class) installed and a driver publishing devices): on a node none of whose
    devices is allocated, a claim for all its devices is allocated, and a second claim for one device
    on that node must stay unallocated with its pod Unschedulable for the observation window."
  - "Mediation: in a namespace enforcing the C(baseline) Pod Security level, a pod that reaches host
    devices without the resource framework (privileged, hostPath C(/dev)) is refused by admission,
    and none of the probe's own accelerator pods uses host device access."
  - "Runtime checks, where containers run: a pod without request or claim sees no C(/dev/nvidia<N>);
    a pod setting C(NVIDIA_VISIBLE_DEVICES=all) without a request sees none; a pod with one
    accelerator sees exactly one. On kwok nodes these are recorded as skipped with their reason."
  - Every check says whether it was decided from the API or needs a runtime.
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
  max_pods:
    description: Largest number of pods the device-plugin check may create to fill a node; a node with more free accelerators skips that check.
    type: int
    default: 16
  observe_seconds:
    description: How long each refused case is watched.
    type: int
    default: 8
  runtime_checks:
    description: Container-level checks; V(auto) runs them where the node's runtime is not kwok's.
    type: str
    choices: [auto, always, never]
    default: auto
  probe_image:
    description: Image with a POSIX shell for the container-level checks.
    type: str
    default: nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04
notes:
  - Needs create/delete on namespaces (including the pod-security label), pods and resourceclaims; list on nodes, pods, resourceslices.
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Probe accelerator isolation
  ai_conformance.kubernetes.accelerator_isolation_probe:
    kubeconfig: .build/refcluster/kubeconfig
  register: isolation

- name: Only the device plugin path, with a larger window
  ai_conformance.kubernetes.accelerator_isolation_probe:
    device_class: none.invalid
    observe_seconds: 20
  register: isolation
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
  sample: accelerators exclusive on refcluster-gpu-1; unmatched and contended claims stayed unallocated; device released and handed over
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: secure_accelerator_access
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: accelerators exclusive
    observations:
      description: Structured facts the verdict was computed from (allocation, device attributes, scheduler messages, timings, cleanup).
      type: dict
      returned: always
      sample: {device_plugin: {node: gpu-1, free_before: 8}}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: device plugin GPUs are exclusive, ok: true, detail: 8 pods bound, 9th Unschedulable, kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: create 9 pods with nvidia.com/gpu 1 on gpu-1, result: 8 bound, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: one GPU more than the node has, refused: true, outcome: "Insufficient nvidia.com/gpu"}]
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
    "resource_name": {"type": "str", "default": "nvidia.com/gpu"},
    "device_class": {"type": "str", "default": "gpu.nvidia.com"},
    "driver": {"type": "str", "default": "gpu.nvidia.com"},
    "max_pods": {"type": "int", "default": 16},
    "observe_seconds": {"type": "int", "default": 8},
    "runtime_checks": {"type": "str", "default": "auto", "choices": ["auto", "always", "never"]},
    "probe_image": {"type": "str", "default": "nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04"},
}
RUNTIME_CHECKS = ("pod without request sees no accelerator", "NVIDIA_VISIBLE_DEVICES=all without request sees no accelerator")
PAIR_CHECK = "pods with one accelerator each see exactly their own"
ENV_CASE = "pod without a request setting NVIDIA_VISIBLE_DEVICES=all sees an accelerator"


class IsolationProbe(Probe):
    requirement = "secure_accelerator_access"
    param_error = staticmethod(wl.gpu_pod_param_error)
    dra_held = ()  # set per run: what holds a DRA device (runmates.dra_resources)

    def run(self, client, ctx, result):
        p = self.params
        nodes = client.list("v1", "Node")["items"]
        free = iso.free_by_node(nodes, client.list("v1", "Pod")["items"], p["resource_name"])
        dra_ready = client.served(dra.API, "ResourceClaim") and client.get(dra.API, "DeviceClass", p["device_class"]) is not None
        result.observations["paths"] = {"device_plugin_nodes": free, "dra_class_installed": dra_ready}
        if not free and not dra_ready:
            result.decide(
                Verdict.FAIL,
                "no accelerator is exposed through a device plugin (%s) or DRA (DeviceClass %s): access cannot be mediated"
                % (p["resource_name"], p["device_class"]),
            )
            return
        ns = ctx.ensure_namespace(p["namespace"])
        client.patch("v1", "Namespace", ns, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}})
        # What containers see first, while every accelerator is free (a node may have one), then
        # the exclusivity fills.
        # What holds a DRA device here (claims, and the extended resources a DeviceClass maps), read once.
        self.dra_held = rm.dra_resources(client) if dra_ready else ()
        self.runtime(client, ctx, result, ns, nodes, free, dra_ready)
        # The run's other probes' accelerators are theirs, not free ones (runmates: conformance.yml's
        # lanes run pod_autoscaling beside this probe); every fill is sized to what is free now.
        # The fills go to a node whose taints the probe's GPU pods tolerate: a node that joins tainted
        # for others meanwhile (an autoscaled pool's) would refuse them for the taint.
        allowed = {n["metadata"]["name"] for n in nodes if wl.tolerates(n, wl.gpu_tolerations(p["tolerations"]))}
        # The device-plugin case's window runs on while the DRA case fills another node: it is
        # decided after the DRA case, or before it where both must use the same node.
        dp = None
        if free:
            now = rm.unheld(
                client,
                ctx,
                result,
                "device_plugin_fill",
                (p["resource_name"],),
                lambda pods: rm.only(iso.free_by_node(nodes, pods, p["resource_name"]), allowed),
            )
            dp = self.device_plugin_exclusive(client, ctx, result, ns, now)
        if dra_ready:
            self.dra_exclusive(client, ctx, result, ns, allowed, dp)
        if dp:
            dp[1]()
        iso.host_devices_refused(client, ctx, result, ns)
        paths = [x for x, on in (("device plugin", bool(free)), ("DRA", dra_ready)) if on]
        seen = " containers saw only what was allocated to them," if all(c["ok"] for c in result.checks if c["kind"] == "runtime") else ""
        result.decide_from_checks(
            "no accelerator was handed to two pods through %s,%s and host device access outside the resource framework was refused" % (" or ".join(paths), seen)
        )

    def device_plugin_exclusive(self, client, ctx, result, ns, free):
        p = self.params
        node, n = max(sorted(free.items()) or [("", 0)], key=lambda kv: kv[1])
        if n <= 0:
            result.check("device plugin accelerators are exclusive", None, "no free %s on any node its pods tolerate" % p["resource_name"])
            return
        if n > p["max_pods"]:
            result.check("device plugin accelerators are exclusive", None, "node %s has %d free, more than max_pods %d" % (node, n, p["max_pods"]))
            return
        sel = {wl.HOSTNAME: node}
        for i in range(n):
            ctx.create(wl.pod("dp-%d" % i, ns, limits={p["resource_name"]: "1"}, node_selector=sel, tolerations=p["tolerations"]))
        bound = [wl.wait_placed(client, "dp-%d" % i, ns, p["timeout"]) for i in range(n)]
        ok = all(wl.is_bound(b) for b in bound)
        result.check(
            "every free accelerator can be requested",
            ok,
            "%d/%d pods with %s=1 bound to %s" % (sum(wl.is_bound(b) for b in bound), n, p["resource_name"], node),
        )
        ctx.create(wl.pod("dp-extra", ns, limits={p["resource_name"]: "1"}, node_selector=sel, tolerations=p["tolerations"]))
        pending = wl.watch_refusal(client, "dp-extra", ns, p["timeout"], p["observe_seconds"])
        done = []

        def finish():
            """The rest of dp-extra's window, then the case's verdict (once)."""
            if done:
                return
            done.append(True)
            refused, msg = wl.refusal_verdict(client, pending, cause="Insufficient %s" % p["resource_name"])
            result.negative_case("one %s more than node %s has free, while %d pods hold them" % (p["resource_name"], node, n), refused, msg)
            result.check("device plugin accelerators are exclusive", refused, msg)
            result.observations["device_plugin"] = {"node": node, "free_before": n, "extra_pod": msg}
            result.step("create %d pods with %s: 1 on %s, then one more" % (n, p["resource_name"], node), "%d bound; extra: %s" % (n, msg))

        return node, finish

    def dra_exclusive(self, client, ctx, result, ns, allowed, dp=None):
        p = self.params
        slices = client.list(dra.API, "ResourceSlice")["items"]
        if not dra.published_devices(slices, p["driver"]):
            result.check("DRA devices are exclusive", False, "DeviceClass %s is installed but driver %s publishes no device" % (p["device_class"], p["driver"]))
            return
        idle = rm.unheld(
            client,
            ctx,
            result,
            "dra_fill",
            self.dra_held,
            lambda _: rm.only(iso.idle_dra_nodes(slices, client.list(dra.API, "ResourceClaim")["items"], p["driver"]), allowed),
        )
        if not idle:
            result.check("DRA devices are exclusive", None, "every node its pods tolerate has some device of %s allocated: no idle node to fill" % p["driver"])
            return
        # Another node than the device-plugin fill's where there is one, so that both windows overlap.
        node, count = sorted(idle.items(), key=lambda kv: (dp is not None and kv[0] == dp[0], kv[0]))[0]
        if dp and node == dp[0]:
            dp[1]()
        sel = {wl.HOSTNAME: node}
        ctx.create(dra.claim("all", ns, p["device_class"], all_devices=True))
        ctx.create(wl.pod("dra-all", ns, claims=[{"name": "accel", "resourceClaimName": "all"}], node_selector=sel, tolerations=p["tolerations"]))
        pod = wl.wait_placed(client, "dra-all", ns, p["timeout"])
        claim = client.get(dra.API, "ResourceClaim", "all", ns)
        got = dra.allocation_results(claim)
        result.check(
            "a claim can take all devices of a node",
            wl.is_bound(pod) and len(got) == count,
            "%d of %d devices on %s allocated; pod %s" % (len(got), count, node, "bound" if wl.is_bound(pod) else wl.unschedulable_message(pod)),
        )
        refused, msg = dra.claim_pod_refused(client, ctx, "one-more", ns, p["device_class"], None, p["timeout"], p["observe_seconds"], sel, p["tolerations"])
        result.negative_case("a second claim for a device on %s while all %d are held" % (node, count), refused, msg)
        result.check("DRA devices are exclusive", refused, msg)
        result.observations["dra"] = {"node": node, "devices": count, "allocated": got, "extra_pod": msg}

    def runtime(self, client, ctx, result, ns, nodes, free, dra_ready):
        """What containers see, on one node that runs containers: a pod without a request and one
        that sets NVIDIA_VISIBLE_DEVICES=all see no accelerator (a runtime that honours the variable,
        such as the legacy nvidia-container-runtime, fails here); on each path (device plugin, DRA)
        with two free accelerators, two pods with one each see one each, different ones, matching
        what was allocated to them (a plugin that hands every container all devices fails here)."""
        p = self.params
        slices = client.list(dra.API, "ResourceSlice")["items"] if dra_ready else []
        now = {"dp": free, "dra": {}}

        def candidates(pods):  # what is free now, on the nodes the run's other probes hold none of
            now["dp"] = iso.free_by_node(nodes, pods, p["resource_name"])
            now["dra"] = iso.free_dra_devices(slices, client.list(dra.API, "ResourceClaim")["items"], p["driver"]) if dra_ready else {}
            return rt.runtime_nodes(nodes, set(now["dp"]) | set(now["dra"]))

        left = rm.unheld(client, ctx, result, "runtime_check", (p["resource_name"],) + self.dra_held, candidates) if p["runtime_checks"] != "never" else {}
        node = rt.pick_node(nodes, sorted(left)) if left else None
        dra_nodes = now["dra"]
        # One check per path the cluster exposes (a DRA-only cluster has no device-plugin check).
        exposed = [x for x, on in (("device plugin", bool(free)), ("DRA", dra_ready)) if on]
        pair_checks = {x: "%s (%s)" % (PAIR_CHECK, x) for x in exposed}
        if node is None:
            # Not decided, so not attempted: the NVIDIA_VISIBLE_DEVICES=all negative case is only
            # recorded where a container could look (an undecided runtime check, never a failure).
            why = rt.no_node_reason(p["runtime_checks"], nodes, "accelerators")
            for check in RUNTIME_CHECKS + tuple(pair_checks.values()):
                result.check(check, None, why, kind="runtime")
            return
        name = node["metadata"]["name"]
        counts = {x: n for x, n in (("device plugin", now["dp"].get(name, 0)), ("DRA", dra_nodes.get(name, 0))) if x in exposed}
        img = p["probe_image"]
        pods: dict[str, dict] = {"rt-none": {}, "rt-env": {"env": {"NVIDIA_VISIBLE_DEVICES": "all"}}}
        # Two pods per path where two accelerators are free (they must see different ones), one
        # where only one is (it must see exactly its own), none where none is (not decided).
        pairs = {path: ["rt-%s-%s" % ("dp" if path == "device plugin" else "dra", x) for x in ("a", "b")[: min(n, 2)]] for path, n in counts.items() if n}
        for path, pair in pairs.items():
            for pod in pair:
                if path == "DRA":
                    ctx.create(dra.claim(pod, ns, p["device_class"]))
                    pods[pod] = {"claims": [{"name": "accel", "resourceClaimName": pod}]}
                else:
                    pods[pod] = {"limits": {p["resource_name"]: "1"}}
        for pod, extra in pods.items():
            ctx.create(rt.observer_pod(pod, ns, img, name, p["tolerations"], **extra))
        # A claim's allocation is read while its pod holds it: the controller releases it once the
        # pod has finished.
        allocations = {pod: self.allocated_uuids(client, ns, pod) for pod, extra in pods.items() if extra.get("claims")}
        seen = {}
        for pod in pods:
            phase, seen[pod] = rt.observe(client, pod, ns, p["timeout"])
            seen[pod]["phase"] = phase
            result.step("kubectl -n %s logs %s (what the container sees)" % (ns, pod), "%s, phase %s" % (rt.summary(seen[pod]), phase))
        rt.release(ctx, ns, list(pods), pairs.get("DRA", []))
        result.observations["runtime"] = {"node": name, "paths": list(pairs), "free": counts, "seen": seen}
        ok, what = rt.sees_nothing(seen["rt-none"])
        result.check(RUNTIME_CHECKS[0], ok, what, kind="runtime")
        ok, what = rt.sees_nothing(seen["rt-env"])
        result.negative_case("%s, on accelerator node %s" % (ENV_CASE, name), ok, what)
        result.check(RUNTIME_CHECKS[1], ok, what, kind="runtime")
        for path, check in pair_checks.items():
            pair = pairs.get(path)
            if not pair:
                why = "node %s has no free accelerator through the %s: no pod could be given one" % (name, path)
                result.check(check, None, why, kind="runtime")
                continue
            want = {x: allocations[x] if path == "DRA" else sorted(v for v in (seen[x].get("visible_env") or "").split(",") if v) for x in pair}
            got = {x: rt.uuids(seen[x]) for x in pair}
            ok = all(len(got[x]) == 1 and len(seen[x]["devices"]) == 1 and got[x] == want[x] for x in pair) and len({tuple(got[x]) for x in pair}) == len(pair)
            detail = "; ".join("%s sees %s (device nodes %s), allocated %s" % (x, got[x], seen[x]["devices"] or "none", want[x]) for x in pair)
            result.check(check, ok, detail, kind="runtime")

    def allocated_uuids(self, client, ns, claim):
        """The UUIDs of the devices allocated to ``claim``, read from the ResourceSlices.  (On the
        device-plugin path the API does not show which device the plugin chose: the kubelet hands
        its answer to the container as NVIDIA_VISIBLE_DEVICES, which is what is compared there.)"""
        held = client.wait_for(dra.API, "ResourceClaim", claim, dra.is_allocated, ns, self.params["timeout"], "be allocated")
        return dra.allocated_uuids(dra.allocation_results(held), dra.published_devices(client.list(dra.API, "ResourceSlice")["items"], self.params["driver"]))


def main():
    IsolationProbe(EXTRA).main()


if __name__ == "__main__":
    main()
