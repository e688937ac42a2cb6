from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError

UNSCHED = {
    "spec": {},
    "status": {
        "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}
        ]
    },
}
BOUND = {"spec": {"nodeName": "n1"}, "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}


class Watcher:
    """Client stand-in: wait_for returns the first state, holds reports the window's outcome."""

    def __init__(self, first, held, last):
        self.first, self.held, self.last = first, held, last
        self.asked = []

    def wait_for(self, api, kind, name, predicate, ns, timeout, what):
        assert predicate(self.first)
        self.asked.append(("wait_for", name, timeout))
        return self.first

    def holds(self, api, kind, name, forbidden, ns, seconds):
        self.asked.append(("holds", name, seconds))
        return self.held, self.last


def test_refused_when_unschedulable_and_never_bound():
    c = Watcher(UNSCHED, True, UNSCHED)
    refused, msg = wl.refused_placement(c, "extra", "ns", 30, 8)
    assert refused and msg == "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    assert c.asked[0] == ("wait_for", "extra", 30) and c.asked[1][:2] == ("holds", "extra") and 7.9 < c.asked[1][2] <= 8


def test_overlapping_windows_each_get_only_what_is_left_of_their_own(monkeypatch):
    # Two negative cases watched at once: the second is decided after the first's window, so
    # only the rest of its own window is still to watch (a binding is never undone).
    clock = [100.0]
    monkeypatch.setattr(wl.time, "monotonic", lambda: clock[0])
    c = Watcher(UNSCHED, True, UNSCHED)
    a = wl.watch_refusal(c, "a", "ns", 30, 8)
    clock[0] += 2  # making and watching the second case took 2 s
    b = wl.watch_refusal(c, "b", "ns", 30, 8)
    real_holds = c.holds

    def holds(api, kind, name, forbidden, ns, seconds):
        clock[0] += seconds
        return real_holds(api, kind, name, forbidden, ns, seconds)

    c.holds = holds
    assert wl.refusal_verdict(c, a)[0] is True and wl.refusal_verdict(c, b)[0] is True
    assert [x for x in c.asked if x[0] == "holds"] == [("holds", "a", 6.0), ("holds", "b", 2.0)]
    assert clock[0] == 110.0  # 10 s for both, not 16


def test_a_pod_replaced_during_its_window_is_not_evidence():
    replaced = {**UNSCHED, "metadata": {"name": "extra", "uid": "new"}}
    first = {**UNSCHED, "metadata": {"name": "extra", "uid": "old"}}
    refused, msg = wl.refused_placement(Watcher(first, True, replaced), "extra", "ns", 30, 8)
    assert refused is None and "replaced during its window" in msg


def test_not_refused_when_bound_later_in_the_window():
    refused, msg = wl.refused_placement(Watcher(UNSCHED, False, BOUND), "extra", "ns", 30, 8)
    assert (refused, msg) == (False, "bound to node n1")


def test_not_refused_when_bound_at_once():
    refused, msg = wl.refused_placement(Watcher(BOUND, True, None), "extra", "ns", 30, 8)
    assert (refused, msg) == (False, "bound to node n1")


def test_pod_manifest_is_unprivileged():
    p = wl.pod("x", "ns", limits={"nvidia.com/gpu": "1"}, claims=[{"name": "a", "resourceClaimName": "c"}])
    c = p["spec"]["containers"][0]
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert c["resources"] == {"limits": {"nvidia.com/gpu": "1"}, "claims": [{"name": "a"}]}
    assert p["spec"]["resourceClaims"] == [{"name": "a", "resourceClaimName": "c"}]


def node(runtime):
    return {"metadata": {"name": "n1"}, "status": {"nodeInfo": {"containerRuntimeVersion": runtime}}}


def test_runtime_checks_run_only_where_containers_run():
    assert wl.runtime_skip_reason("auto", node("containerd://2.1.0")) is None
    assert wl.runtime_skip_reason("always", node("kwok://fake")) is None
    assert wl.runtime_skip_reason("auto", node("kwok://fake")).startswith("skipped: containers do not run on node n1")
    assert wl.runtime_skip_reason("auto", None).startswith("skipped: containers do not run")
    assert wl.runtime_skip_reason("never", node("containerd://2.1.0")) == "skipped: runtime_checks is never"


class Finisher:
    def wait_for(self, api, kind, name, predicate, ns, timeout, what):
        assert not predicate({"status": {"phase": "Running"}}) and predicate({"status": {"phase": "Succeeded"}})
        return {"status": {"phase": "Succeeded"}}

    def request(self, method, path, what=""):
        assert (method, path) == ("GET", "/api/v1/namespaces/ns/pods/smi/log")
        return {"raw": "GPU-a764fc88-d7a8-ffd6-863f-cdb649c54382\n"}


def test_run_to_completion_returns_phase_and_log():
    assert wl.run_to_completion(Finisher(), "smi", "ns", 60) == ("Succeeded", "GPU-a764fc88-d7a8-ffd6-863f-cdb649c54382\n")


class Sequence:
    """Client stand-in that plays a pod's states in order, one per poll, honouring timeouts in polls."""

    def __init__(self, states):
        self.states = list(states)
        self.waits = []

    def wait_until(self, api, kind, name, predicate, ns, timeout):
        while self.states:
            s = self.states.pop(0)
            self.last = s
            if predicate(s):
                return True, s
        return False, self.last

    def wait_for(self, api, kind, name, predicate, ns, timeout, what):
        self.waits.append(what)
        ok, last = self.wait_until(api, kind, name, predicate, ns, timeout)
        if ok:
            return last
        raise ClusterError("%s did not %s" % (name, what), "timeout")


def test_placed_pod_refused_once_then_bound_by_a_retry_counts_as_bound():
    c = Sequence([UNSCHED, UNSCHED, BOUND])
    assert wl.is_bound(wl.wait_placed(c, "user-a", "ns", 30))
    assert c.waits == ["be scheduled"] and not c.states  # the retry was waited for


def test_placed_pod_never_bound_comes_back_unschedulable():
    c = Sequence([{"spec": {}}, UNSCHED, UNSCHED])
    pod = wl.wait_placed(c, "user-a", "ns", 30)
    assert not wl.is_bound(pod) and wl.unschedulable_message(pod).startswith("Unschedulable: 0/3")


def test_placed_pod_bound_at_once_needs_no_grace():
    c = Sequence([BOUND])
    assert wl.is_bound(wl.wait_placed(c, "p", "ns", 30)) and c.waits == ["be scheduled"]


# What kube-scheduler reported on the real GPU machine (docs/samples/real-gpu) for a claim pod that
# did not tolerate the GPU node's taint: the refusal was the taint's, not the allocator's.
TAINTED = {
    "spec": {},
    "status": {
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 node(s) had untolerated taint(s). "
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
            }
        ]
    },
}


def test_a_refusal_for_another_reason_than_the_one_under_test_is_not_evidence():
    refused, msg = wl.refused_placement(Watcher(TAINTED, True, TAINTED), "extra", "ns", 30, 8, cause="cannot allocate all claims")
    assert refused is None and msg.startswith("refused, but not for the reason under test ('cannot allocate all claims'): Unschedulable: 0/1 nodes")
    refused = wl.refused_placement(Watcher(UNSCHED, True, UNSCHED), "extra", "ns", 30, 8, cause="Insufficient nvidia.com/gpu")[0]
    assert refused is True


def test_accelerator_pods_tolerate_the_gpu_taint_and_others_do_not():
    claim_pod = wl.pod("a", "ns", claims=[{"name": "accel", "resourceClaimName": "c"}])
    dp_pod = wl.pod("b", "ns", limits={"nvidia.com/gpu": "1"})
    cpu_pod = wl.pod("c", "ns")
    assert claim_pod["spec"]["tolerations"] == wl.GPU_TOLERATIONS == dp_pod["spec"]["tolerations"]
    assert "tolerations" not in cpu_pod["spec"]
    own = {"key": "sandbox.gke.io/runtime", "operator": "Equal", "value": "gvisor", "effect": "NoSchedule"}
    both = wl.pod("d", "ns", limits={"nvidia.com/gpu": "1"}, tolerations=[own])
    assert both["spec"]["tolerations"] == [own] + wl.GPU_TOLERATIONS


def test_tolerates_matches_taints_as_kubernetes_does():
    node = {"spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}, {"key": "soft", "effect": "PreferNoSchedule"}]}}
    assert wl.tolerates({"spec": {}}, None)
    assert not wl.tolerates(node, None)  # PreferNoSchedule never keeps a pod off; NoSchedule does
    assert wl.tolerates(node, wl.GPU_TOLERATIONS)  # Exists, same effect
    assert wl.tolerates(node, [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present"}])  # any effect
    assert not wl.tolerates(node, [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "absent"}])
    assert not wl.tolerates(node, [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}])
    assert wl.tolerates(node, [{"operator": "Exists"}])  # an empty key with Exists tolerates everything
    assert not wl.tolerates(node, [{"operator": "Equal", "value": "present"}])
    two = {"spec": {"taints": node["spec"]["taints"][:1] + [{"key": "ai-conformance.io/autoscaled", "value": "true", "effect": "NoSchedule"}]}}
    assert not wl.tolerates(two, wl.GPU_TOLERATIONS)  # every hard taint must be tolerated
    assert wl.tolerates(two, wl.gpu_tolerations([{"key": "ai-conformance.io/autoscaled", "operator": "Exists", "effect": None}]))
