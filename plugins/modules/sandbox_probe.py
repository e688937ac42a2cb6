#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sandbox_probe
short_description: Prove workloads can run in a sandbox isolated from the host kernel (requirement workload_sandboxing)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Discovery: RuntimeClasses whose handler is a sandbox runtime (gVisor C(runsc), Kata C(kata*), or a
    handler listed in O(extra_handlers)); O(runtime_class) picks one. Whether the agent-sandbox API
    (C(agents.x-k8s.io)) is served is recorded."
  - "Admission: a pod naming the sandbox class is admitted with the class's overhead as C(spec.overhead)
    and its scheduling node selector and tolerations merged in (the RuntimeClass admission plugin),
    and it is bound to a node that matches the class's node selector."
  - "Negative cases: a pod naming a RuntimeClass that does not exist is refused by admission; a pod whose
    C(spec.overhead) contradicts the class's is refused; a sandboxed pod pinned to a node outside the
    class's node selector stays Unschedulable for O(observe_seconds). A pod without the class on the same
    node carries no runtimeClassName and no overhead."
  - "Runtime checks, where containers run: the sandboxed pod's kernel release (C(uname -r)) differs from
    the node's C(status.nodeInfo.kernelVersion), and the plain pod's equals it. On kwok nodes they are
    recorded as skipped with their reason, and the verdict says so."
  - "O(declared=none): C(not_applicable) with O(justification) as the reason; sandbox classes found are
    still listed in the observations."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  declared:
    description: V(auto) probes the sandbox runtimes the cluster offers (none offered is a C(fail)); V(none) declares that the platform offers none.
    type: str
    choices: [auto, none]
    default: auto
  justification:
    description: Why the platform offers no sandbox runtime (with O(declared=none)); the CNCF FAQ wants a reason, not "unsupported".
    type: str
    default: >-
      the platform runs only trusted, first-party workloads on dedicated nodes and isolates tenants by
      cluster; it offers no sandboxed container runtime
  runtime_class:
    description: The RuntimeClass to probe; by default the first sandbox class found (gVisor before Kata).
    type: str
  extra_handlers:
    description: Further CRI handler names that are sandbox runtimes on this platform.
    type: list
    elements: str
    default: []
  observe_seconds:
    description: How long the refused placement is watched.
    type: int
    default: 8
  runtime_checks:
    description: Container-level checks; V(auto) runs them where the node's runtime is not kwok's.
    type: str
    choices: [auto, always, never]
    default: auto
  probe_image:
    description: Image with C(uname) for the container-level checks.
    type: str
    default: registry.k8s.io/e2e-test-images/busybox:1.36.1-1
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Probe the sandbox runtime the platform offers (gVisor or Kata)
  ai_conformance.kubernetes.sandbox_probe:
  register: sandbox

- name: Probe a named Kata class
  ai_conformance.kubernetes.sandbox_probe:
    runtime_class: kata-qemu
  register: sandbox

- name: A platform without sandboxes
  ai_conformance.kubernetes.sandbox_probe:
    declared: none
    justification: single-tenant clusters run only the vendor's own inference images
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
  sample: pods under RuntimeClass gvisor (handler runsc) get its overhead and nodes; unknown classes and contradicting overhead are refused
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: workload_sandboxing
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: pods under RuntimeClass gvisor are admitted with its overhead and placed on its nodes
    observations:
      description: Structured facts the verdict was computed from (classes found, the admitted pod's spec, node, kernels, cleanup).
      type: dict
      returned: always
      sample: {sandbox_classes: [{name: gvisor, handler: runsc, sandbox: gvisor}], node: refcluster-sandbox-1}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: RuntimeClass overhead set on the pod by admission, ok: true, detail: "pod overhead {cpu: 250m}", kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: kubectl get runtimeclass, result: "gvisor (runsc)", ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: pod naming a RuntimeClass that does not exist, refused: true, outcome: "403 Forbidden"}]
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
      sample: 12.4
"""

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import sandbox as sb

EXTRA = {
    "declared": {"type": "str", "default": "auto", "choices": ["auto", "none"]},
    "justification": {
        "type": "str",
        "default": "the platform runs only trusted, first-party workloads on dedicated nodes and isolates tenants by cluster; "
        "it offers no sandboxed container runtime",
    },
    "runtime_class": {"type": "str"},
    "extra_handlers": {"type": "list", "elements": "str", "default": []},
    "observe_seconds": {"type": "int", "default": 8},
    "runtime_checks": {"type": "str", "default": "auto", "choices": ["auto", "always", "never"]},
    "probe_image": {"type": "str", "default": "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"},
}
UNAME = ["uname", "-r"]


class SandboxProbe(Probe):
    requirement = "workload_sandboxing"

    def plan(self, run_id):
        p = self.params
        out = super().plan(run_id)
        cls = p["runtime_class"] or "the first RuntimeClass with a sandbox handler (runsc, kata*%s)" % "".join(", " + h for h in p["extra_handlers"])
        out["creates"] = ["Pod sandboxed under %s and Pod plain on the same node (image %s)" % (cls, p["probe_image"])]
        out["observes"] = ["the class's overhead and scheduling applied at admission", "the kernel each Pod runs on (uname -r)"]
        out["negative"] = ["a Pod naming a RuntimeClass that does not exist is refused", "where the class sets an overhead, a Pod contradicting it is refused"]
        return out

    def run(self, client, ctx, result):
        p = self.params
        if not client.served(sb.API, "RuntimeClass"):
            result.decide(Verdict.FAIL, "the RuntimeClass API (%s) is not served, so no pod can ask for a sandbox runtime" % sb.API)
            return
        classes = client.list(sb.API, "RuntimeClass")["items"]
        everything = [sb.describe(rc, p["extra_handlers"]) for rc in classes]
        found = sb.sandbox_classes(classes, p["extra_handlers"])
        result.observations.update(
            {
                "runtime_classes": [{"name": c["name"], "handler": c["handler"], "sandbox": c["sandbox"]} for c in everything],
                "sandbox_classes": [c["name"] for c in found],
                "agent_sandbox_api": client.served(sb.AGENT_SANDBOX_API, "Sandbox"),
            }
        )
        result.step("kubectl get runtimeclass", ", ".join("%s (%s)" % (c["name"], c["handler"]) for c in everything) or "none")
        if p["declared"] == "none":
            result.decide(Verdict.NOT_APPLICABLE, p["justification"])
            return
        if p["runtime_class"]:
            cls = next((c for c in everything if c["name"] == p["runtime_class"]), None)
            if cls is None:
                result.decide(Verdict.FAIL, "RuntimeClass %s does not exist" % p["runtime_class"])
                return
            if not cls["sandbox"]:
                result.decide(
                    Verdict.FAIL,
                    "RuntimeClass %s uses handler %r, which is not a sandbox runtime (runsc, kata*, or extra_handlers)" % (cls["name"], cls["handler"]),
                )
                return
        elif not found:
            result.decide(
                Verdict.FAIL,
                "no RuntimeClass uses a sandbox handler (runsc, kata*, or extra_handlers); classes: %s"
                % (", ".join("%s=%s" % (c["name"], c["handler"]) for c in everything) or "none"),
            )
            return
        else:
            cls = found[0]
        result.observations["runtime_class"] = cls
        ns = ctx.ensure_namespace(p["namespace"])
        nodes = {n["metadata"]["name"]: n for n in client.list("v1", "Node")["items"]}
        boxed = self.admitted_and_placed(client, ctx, result, ns, cls, nodes)
        node = nodes.get((boxed or {}).get("spec", {}).get("nodeName") or "")
        self.plain_pod(client, ctx, result, ns, cls, node)
        self.negatives(client, ctx, result, ns, cls, nodes)
        skipped = self.runtime(client, result, ns, node)
        what = "pods under RuntimeClass %s (handler %s) are admitted with its overhead and scheduling and placed on its nodes; " % (cls["name"], cls["handler"])
        what += "an unknown class%s refused" % (", contradicting overhead and placement off its nodes are" if cls["overhead"] else " is")
        if skipped:
            what += "; kernel isolation not observed (%s)" % skipped
        else:
            what += "; the sandboxed pod runs on its own kernel while a plain pod on the same node sees the host's"
        result.decide_from_checks(what)

    def admitted_and_placed(self, client, ctx, result, ns, cls, nodes):
        p = self.params
        obj = wl.pod("sandboxed", ns, image=p["probe_image"], command=UNAME)
        obj["spec"]["runtimeClassName"] = cls["name"]
        # Where some of the class's nodes run containers, the pod goes to one of them, so that the
        # kernel it runs on can be observed (a node the class does not select stays refused).
        real = [n for n in sorted(nodes) if sb.node_matches(nodes[n], cls["node_selector"]) and rt.runs_containers(nodes[n]) and rt.ready(nodes[n])]
        if real and p["runtime_checks"] != "never":
            obj["spec"]["nodeSelector"] = {wl.HOSTNAME: real[0]}
        try:
            live = ctx.create(obj)
        except ClusterError as exc:
            result.check("pod with runtimeClassName %s admitted" % cls["name"], False, exc.message)
            return None
        for name, ok, detail in sb.admission_applied(live, cls):
            result.check(name, ok, detail)
        placed = wl.wait_placed(client, "sandboxed", ns, p["timeout"])
        node_name = (placed or {}).get("spec", {}).get("nodeName")
        result.observations["admitted_pod"] = {k: live["spec"].get(k) for k in ("runtimeClassName", "overhead", "nodeSelector", "tolerations")}
        result.observations["node"] = node_name
        result.step(
            'kubectl -n %s run sandboxed --overrides=\'{"spec":{"runtimeClassName":"%s"}}\'' % (ns, cls["name"]),
            "bound to %s" % node_name if node_name else wl.unschedulable_message(placed),
        )
        ok = bool(node_name) and sb.node_matches(nodes.get(node_name), cls["node_selector"])
        result.check(
            "sandboxed pod bound to a node of the class",
            ok,
            "bound to %s (selector %s)" % (node_name, cls["node_selector"] or "none") if node_name else "not bound: %s" % wl.unschedulable_message(placed),
        )
        return placed if node_name else None

    def plain_pod(self, client, ctx, result, ns, cls, node):
        p = self.params
        if node is None:
            result.check("a pod without the class is not sandboxed", None, "no node to compare on: the sandboxed pod was not bound")
            return
        name = node["metadata"]["name"]
        live = ctx.create(wl.pod("plain", ns, image=p["probe_image"], command=UNAME, node_selector={wl.HOSTNAME: name}, tolerations=cls["tolerations"]))
        spec = live["spec"]
        result.check(
            "a pod without the class on the same node gets no sandbox",
            not spec.get("runtimeClassName") and not spec.get("overhead"),
            "runtimeClassName=%r overhead=%r" % (spec.get("runtimeClassName"), spec.get("overhead")),
        )

    def negatives(self, client, ctx, result, ns, cls, nodes):
        p = self.params
        missing = ctx.name("no-such-class")
        obj = wl.pod("unknown-class", ns, image=p["probe_image"], command=UNAME)
        obj["spec"]["runtimeClassName"] = missing
        result.negative_case("pod naming RuntimeClass %s, which does not exist" % missing, *self.refused_create(ctx, obj))
        if cls["overhead"]:
            obj = wl.pod("wrong-overhead", ns, image=p["probe_image"], command=UNAME)
            obj["spec"]["runtimeClassName"] = cls["name"]
            obj["spec"]["overhead"] = {k: "1m" if k == "cpu" else "1Ki" for k in cls["overhead"]}
            result.negative_case("pod under %s declaring an overhead that contradicts the class" % cls["name"], *self.refused_create(ctx, obj))
        outside = sorted(n for n, node in nodes.items() if not sb.node_matches(node, cls["node_selector"])) if cls["node_selector"] else []
        if outside:
            obj = wl.pod("off-class-node", ns, image=p["probe_image"], command=UNAME, node_selector={wl.HOSTNAME: outside[0]})
            obj["spec"]["runtimeClassName"] = cls["name"]
            try:
                ctx.create(obj)
            except ClusterError as exc:
                result.negative_case("sandboxed pod pinned to %s, outside the class's nodes" % outside[0], True, "refused at admission: %s" % exc.message)
            else:
                refused, msg = wl.refused_placement(client, "off-class-node", ns, p["timeout"], p["observe_seconds"], cause=wl.SELECTOR_REFUSAL)
                result.negative_case("sandboxed pod pinned to %s, outside the class's nodes" % outside[0], refused, msg)

    @staticmethod
    def refused_create(ctx, obj):
        try:
            ctx.create(obj)
        except ClusterError as exc:
            status = exc.status_obj or {}
            return exc.kind in ("forbidden", "invalid"), "%s %s: %s" % (status.get("code", "?"), status.get("reason", exc.kind), exc.message)
        return False, "admitted"

    def runtime(self, client, result, ns, node):
        p = self.params
        names = ("sandboxed pod runs on a kernel other than the node's", "pod without the class sees the node's kernel")
        skip = wl.runtime_skip_reason(p["runtime_checks"], node) if node else "skipped: the sandboxed pod was not bound"
        if skip:
            for name in names:
                result.check(name, None, skip, kind="runtime")
            return skip
        host = sb.kernel_of(node)
        seen = {}
        for name in ("sandboxed", "plain"):
            phase, log = wl.run_to_completion(client, name, ns, p["timeout"])
            seen[name] = sb.parse_release(log)
            result.step("kubectl -n %s logs %s (uname -r)" % (ns, name), "%s, phase %s" % (seen[name], phase))
        result.observations["kernels"] = {"node": host, "sandboxed": seen["sandboxed"], "plain": seen["plain"]}
        result.check(names[0], bool(seen["sandboxed"]) and seen["sandboxed"] != host, "pod %s, node %s" % (seen["sandboxed"], host), kind="runtime")
        result.check(names[1], seen["plain"] == host, "pod %s, node %s" % (seen["plain"], host), kind="runtime")
        return None


def main():
    SandboxProbe(EXTRA).main()


if __name__ == "__main__":
    main()
