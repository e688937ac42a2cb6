"""probes/runmates: which nodes the run's other probes hold accelerators on, the wait for one to be
left, and where pod_autoscaling pins its pods beside the accelerator probes."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import ProbeResult
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import MANAGED_BY, MANAGED_BY_LABEL, REQUIREMENT_LABEL, RUN_ID_LABEL
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runmates as rm

GPU = "nvidia.com/gpu"
RUN = "r2612061500-ab12"


def namespace(name, requirement, run=RUN):
    labels = {RUN_ID_LABEL: run, MANAGED_BY_LABEL: MANAGED_BY, REQUIREMENT_LABEL: requirement}
    return {"metadata": {"name": name, "labels": labels}}


def pod(name, ns, node=None, gpus=0, claims=False, phase="Running", pinned=None, status=None):
    spec = {"containers": [{"name": "c", "resources": {"limits": {GPU: str(gpus)}} if gpus else {}}]}
    if node:
        spec["nodeName"] = node
    if pinned:
        spec["nodeSelector"] = {"kubernetes.io/hostname": pinned}
    if claims:
        spec["resourceClaims"] = [{"name": "gpu", "resourceClaimName": name}]
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec, "status": dict(status or {}, phase=phase)}


def node(name, gpus=8, ready=True, taints=None, labels=None):
    return {
        "metadata": {"name": name, "labels": dict(labels or {}, **{"kubernetes.io/hostname": name})},
        "spec": {"taints": taints} if taints else {},
        "status": {"allocatable": {GPU: str(gpus)}, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


class Ctx:
    def __init__(self, requirement="secure_accelerator_access", run=RUN):
        self.requirement, self.run_id = requirement, run
        self.selector = "%s=%s,%s=%s" % (RUN_ID_LABEL, run, MANAGED_BY_LABEL, MANAGED_BY)


class Client:
    """Lists what it holds; label selectors only as the run's namespace listing uses them."""

    def __init__(self, namespaces, pods, classes=()):
        self.namespaces, self.pods, self.classes, self.calls = namespaces, pods, list(classes), []

    def list(self, api_version, kind, namespace=None, label_selector=None):
        self.calls.append((kind, label_selector))
        if kind == "Namespace":
            want = dict(kv.split("=") for kv in (label_selector or "").split(",") if kv)
            return {"items": [n for n in self.namespaces if all(n["metadata"]["labels"].get(k) == v for k, v in want.items())]}
        if kind == "DeviceClass":
            return {"items": self.classes}
        return {"items": list(self.pods)}


def test_pinned_node_reads_the_binding_a_hostname_selector_or_a_one_host_affinity():
    assert rm.pinned_node(pod("a", "x", node="n1")) == "n1"
    assert rm.pinned_node(pod("a", "x", pinned="n2")) == "n2"
    one = {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n3"]}]}]}
    assert rm.pinned_node({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": one}}}}) == "n3"
    two = {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n3", "n4"]}]}]}
    assert rm.pinned_node({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": two}}}}) is None
    assert rm.pinned_node(pod("a", "x")) is None  # pending, may go anywhere


def test_held_names_the_other_requirements_of_the_run_per_node_and_kind_of_accelerator():
    spaces = [
        namespace("aic-pod-autoscaling", "pod-autoscaling"),
        namespace("aic-secure", "secure-accelerator-access"),  # the probe's own
        namespace("aic-other-run", "pod-autoscaling", run="r2612061500-ffff"),  # another run: capacity like any
        namespace("aic-dra", "dra-support"),
    ]
    pods = [
        pod("hpa-0", "aic-pod-autoscaling", node="gpu-2", gpus=1),
        pod("hpa-1", "aic-pod-autoscaling", pinned="gpu-2", gpus=1, phase="Pending"),
        pod("hpa-blind", "aic-pod-autoscaling", node="gpu-1"),  # no accelerator: holds nothing
        pod("done", "aic-pod-autoscaling", node="gpu-3", gpus=1, phase="Succeeded"),
        pod("mine", "aic-secure", node="gpu-1", gpus=1),
        pod("theirs", "aic-other-run", node="gpu-1", gpus=1),
        pod("holder", "aic-dra", node="gpu-4", claims=True),
        pod("mapped", "aic-dra", node="gpu-5", status={"extendedResourceClaimStatus": {"resourceClaimName": "x"}}),
    ]
    c = Client(spaces, pods)
    assert rm.held(c, Ctx(), (GPU,)) == {"gpu-2": ["pod-autoscaling"]}
    assert rm.held(c, Ctx(), (rm.DRA,)) == {"gpu-4": ["dra-support"], "gpu-5": ["dra-support"]}
    assert rm.held(c, Ctx(), (GPU, rm.DRA)) == {"gpu-2": ["pod-autoscaling"], "gpu-4": ["dra-support"], "gpu-5": ["dra-support"]}
    # Seen from pod_autoscaling, its own pods are not held; the secure probe's are.
    assert rm.held(c, Ctx("pod_autoscaling"), (GPU,)) == {"gpu-1": ["secure-accelerator-access"]}


def test_dra_resources_adds_the_extended_resources_a_device_class_maps():
    classes = [{"metadata": {"name": "gpu.nvidia.com"}, "spec": {"extendedResourceName": GPU}}, {"metadata": {"name": "x"}, "spec": {}}]
    assert rm.dra_resources(Client([], [], classes)) == (rm.DRA, GPU)
    assert rm.dra_resources(Client([], [], [])) == (rm.DRA,)


class Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, s):
        self.now += s


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(rm, "time", c)
    return c


def free_of(pods, nodes=("gpu-1", "gpu-2")):
    return {n: 8 - sum(1 for p in pods if p["spec"].get("nodeName") == n) for n in nodes}


def test_unheld_leaves_out_held_nodes_without_waiting_when_one_is_left(clock):
    c = Client([namespace("aic-hpa", "pod-autoscaling")], [pod("hpa-0", "aic-hpa", node="gpu-2", gpus=1)])
    r = ProbeResult("secure_accelerator_access")
    assert rm.unheld(c, Ctx(), r, "device_plugin_fill", (GPU,), free_of) == {"gpu-1": 8}
    assert r.observations["beside_run_mates"] == {"device_plugin_fill": {"left_out": {"gpu-2": ["pod-autoscaling"]}, "waited_s": 0.0}}
    assert clock.now == 0.0


def test_unheld_waits_until_the_run_mate_has_left_then_sizes_to_what_is_free_then(clock):
    pods = [pod("hpa-0", "aic-hpa", node="gpu-1", gpus=1), pod("hpa-1", "aic-hpa", node="gpu-1", gpus=1)]
    c = Client([namespace("aic-hpa", "pod-autoscaling")], pods)
    r = ProbeResult("secure_accelerator_access")

    def candidates(now):
        if clock.now >= 30:  # the HPA probe ended: its pods are gone from the next listing on
            c.pods[:] = []
        return free_of(now, ("gpu-1",))

    assert rm.unheld(c, Ctx(), r, "device_plugin_fill", (GPU,), candidates) == {"gpu-1": 8}
    assert r.observations["beside_run_mates"]["device_plugin_fill"] == {"left_out": {}, "waited_s": 31.0}


def test_unheld_gives_up_after_its_wait_with_nothing_left(clock):
    c = Client([namespace("aic-hpa", "pod-autoscaling")], [pod("hpa-0", "aic-hpa", node="gpu-1", gpus=1)])
    r = ProbeResult("secure_accelerator_access")
    assert rm.unheld(c, Ctx(), r, "device_plugin_fill", (GPU,), lambda p: free_of(p, ("gpu-1",)), wait_s=10) == {}
    assert r.observations["beside_run_mates"]["device_plugin_fill"] == {"left_out": {"gpu-1": ["pod-autoscaling"]}, "waited_s": 10.0}


def test_unheld_with_no_candidate_neither_waits_nor_lists_the_run():
    c = Client([namespace("aic-hpa", "pod-autoscaling")], [])
    r = ProbeResult("secure_accelerator_access")
    assert rm.unheld(c, Ctx(), r, "device_plugin_fill", (GPU,), lambda p: {}) == {}
    assert ("Namespace", Ctx().selector) not in c.calls and "beside_run_mates" not in r.observations


TAINT = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]


def test_pin_node_takes_the_fullest_node_that_still_fits_leaving_the_emptiest_to_the_fills():
    nodes = [node("gpu-a"), node("gpu-b"), node("gpu-c", gpus=4), node("gpu-d", gpus=2)]
    busy = [pod("x", "team", node="gpu-a", gpus=1)]
    # gpu-c (4 free) is the smallest with 3 free; gpu-d (2) cannot take 3 replicas.
    assert rm.pin_node(nodes, busy, GPU, 3, None, None) == "gpu-c"
    # Equals: the last by name (the fills and runtime checks sort first by name).
    assert rm.pin_node([node("gpu-a"), node("gpu-b")], [], GPU, 3, None, None) == "gpu-b"


def test_pin_node_respects_taints_the_selector_and_readiness():
    nodes = [node("tainted", gpus=3, taints=TAINT), node("other", gpus=3, labels={"pool": "b"}), node("down", gpus=3, ready=False), node("big")]
    assert rm.pin_node(nodes, [], GPU, 3, None, None) == "other"
    assert rm.pin_node(nodes, [], GPU, 3, [{"key": "nvidia.com/gpu", "operator": "Exists"}], None) == "tainted"
    assert rm.pin_node(nodes, [], GPU, 3, None, {"pool": "a"}) is None
    assert rm.pin_node(nodes, [], GPU, 9, None, None) is None
