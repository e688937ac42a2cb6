"""The accelerators role's five probes on GPU nodes tainted ``sku=gpu:NoSchedule`` (the taint Azure's
GPU page gives an AKS GPU pool): without the ``tolerations`` option their GPU pods are refused by
the taint, and the result says so; with it (accelerators_gpu_tolerations) they pass, and every pod
they place on a GPU node still carries the built-in nvidia.com/gpu toleration.  A malformed
toleration stops the module with one line, before the cluster is contacted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.doc_fragments.gpu_pods import ModuleDocFragment
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt
from ansible_collections.ai_conformance.kubernetes.plugins.modules import (
    accelerator_isolation_probe,
    dra_probe,
    driver_runtime_probe,
    gpu_sharing_probe,
    virtualization_probe,
)
from tests.unit import fakecluster as fc
from tests.unit.plugins.modules.test_gpu_sharing_probe import time_sliced
from tests.unit.plugins.modules.test_virtualization_probe import passthrough, vgpu

SKU_TAINT = {"key": "sku", "value": "gpu", "effect": "NoSchedule"}
SKU = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
UNTOLERATED = "untolerated taint {sku: gpu}"
ROLE = Path(__file__).resolve().parents[4] / "roles" / "accelerators"
MODULES = (dra_probe, accelerator_isolation_probe, driver_runtime_probe, gpu_sharing_probe, virtualization_probe)


def sku_tainted(c):
    """Every node with allocatable nvidia.com/gpu (the kwok H100 nodes and, where added, the real GPU
    node, which keeps its nvidia.com/gpu taint too) tainted sku=gpu:NoSchedule."""
    for n in c.all("v1", "Node"):
        if "nvidia.com/gpu" in (n["status"].get("allocatable") or {}):
            n.setdefault("spec", {}).setdefault("taints", []).append(dict(SKU_TAINT))
    c.settle()
    return c


def created_pods(c):
    return {h["object"]["metadata"]["name"]: h["object"] for h in c.history if h["type"] == "ADDED" and h["object"]["kind"] == "Pod"}


# id -> (module, cluster, arguments).  With the real GPU node, every probe's runtime observers run too.
CASES = {
    "dra_support": (dra_probe, lambda: fc.reference_cluster(runtime_node=True), {}),
    "secure_accelerator_access": (accelerator_isolation_probe, lambda: fc.reference_cluster(runtime_node=True), {}),
    "driver_runtime_management": (driver_runtime_probe, lambda: fc.reference_cluster(runtime_node=True), {}),
    "gpu_sharing-dra_shared_claim": (gpu_sharing_probe, lambda: fc.reference_cluster(runtime_node=True), {}),
    "gpu_sharing-time_slicing": (gpu_sharing_probe, lambda: time_sliced(fc.reference_cluster()), {"strategy": "time_slicing"}),
    "virtualized_accelerator-vgpu": (virtualization_probe, lambda: vgpu(fc.reference_cluster()), {"declared": "vgpu"}),
    "virtualized_accelerator-passthrough": (virtualization_probe, lambda: passthrough(fc.reference_cluster()), {"declared": "passthrough"}),
}
ON_THE_REAL_GPU_NODE = ("dra_support", "secure_accelerator_access", "driver_runtime_management", "gpu_sharing-dra_shared_claim")


def run(run_module, monkeypatch, case, **extra):
    module, cluster, args = CASES[case]
    c = sku_tainted(cluster())
    return fc.run_probe(run_module, monkeypatch, module, c, **dict(args, **extra)), c


def test_the_fake_scheduler_honours_the_taint_and_the_toleration():
    # Not the probes' logic: the fake kube-scheduler refuses a GPU pod on a sku=gpu node unless the
    # pod tolerates that taint (key, value and effect), as kube-scheduler's TaintToleration does.
    for tolerations, bound in (([], False), ([dict(SKU, value="cpu")], False), ([dict(SKU, effect="NoExecute")], False), ([SKU], True)):
        c = sku_tainted(fc.reference_cluster(dra=False))
        fc.ensure_namespace(c, "ns")
        c.create(wl.pod("p", "ns", limits={"nvidia.com/gpu": "1"}, node_selector={wl.HOSTNAME: "refcluster-gpu-1"}, tolerations=tolerations))
        pod = c.obj("v1", "Pod", "p", "ns")
        assert wl.is_bound(pod) == bound, tolerations
        assert bound or UNTOLERATED in wl.unschedulable_message(pod)


@pytest.mark.parametrize("case", ON_THE_REAL_GPU_NODE)
def test_without_the_option_the_runtime_observers_never_schedule_and_the_probe_errors_naming_the_taint(run_module, monkeypatch, case):
    # Today's behaviour: the first pod is a runtime observer pinned to the real GPU node; it stays
    # Unschedulable, the probe's wait for it times out (an error, not a verdict on the platform),
    # and the timeout evidence keeps the scheduler's event naming the taint.
    r, _c = run(run_module, monkeypatch, case)
    assert r.verdict == "error" and r.reason.startswith("timed out after 60s waiting for ")
    events = r["observations"]["timeout_evidence"]["events"]
    assert events and all(e["reason"] == "FailedScheduling" and UNTOLERATED in e["message"] for e in events)


@pytest.mark.parametrize(
    "case, failed",
    [
        ("gpu_sharing-time_slicing", "more pods than physical GPUs each get a GPU: 0 pods bound on refcluster-gpu-2"),
        ("virtualized_accelerator-vgpu", "a vGPU is schedulable like a physical GPU: Unschedulable: 0/4 nodes are available"),
        ("virtualized_accelerator-passthrough", "passthrough claim scheduled: Unschedulable: 0/4 nodes are available"),
    ],
)
def test_without_the_option_the_gpu_pods_are_refused_by_the_taint_and_the_probe_fails(run_module, monkeypatch, case, failed):
    # Today's behaviour where no runtime observer comes first: the GPU pods are refused by the taint
    # and the probe fails, its reason (or its negative case) giving the scheduler's message.
    r, _c = run(run_module, monkeypatch, case)
    assert r.verdict == "fail" and r.reason.startswith(failed)
    assert UNTOLERATED in r.reason or any(UNTOLERATED in n["outcome"] for n in r["negative"])


def test_without_the_option_a_kwok_only_cluster_fails_with_the_taint_named(run_module, monkeypatch):
    c = sku_tainted(fc.reference_cluster())
    r = fc.run_probe(run_module, monkeypatch, dra_probe, c)
    assert r.verdict == "fail" and r.failed() == ["pod with a claim scheduled"] and UNTOLERATED in r.reason


@pytest.mark.parametrize("case", sorted(CASES))
def test_with_the_sku_toleration_the_probe_passes_and_keeps_the_builtin_toleration(run_module, monkeypatch, case):
    r, c = run(run_module, monkeypatch, case, tolerations=[SKU])
    assert r.verdict == "pass" and r.failed() == [], r.reason
    # Where the real GPU node is, its runtime checks were decided: the observers ran there, through both taints.
    assert case not in ON_THE_REAL_GPU_NODE or [u for u in r.undecided() if r.check(u)["kind"] == "runtime"] == []
    pods = created_pods(c)
    assert pods
    for name, pod in pods.items():
        assert pod["spec"]["tolerations"] == [SKU] + wl.GPU_TOLERATIONS, name
    assert all(UNTOLERATED not in n["outcome"] for n in r["negative"])


def test_the_runtime_observers_tolerate_both_taints_on_the_real_gpu_node(run_module, monkeypatch):
    r, c = run(run_module, monkeypatch, "secure_accelerator_access", tolerations=[SKU])
    assert r["observations"]["runtime"]["node"] == "refcluster-rt-1" and r.undecided() == []
    pods = created_pods(c)
    # The observers without any accelerator request are pinned to the GPU node too.
    for name in ("rt-none", "rt-env"):
        assert pods[name]["spec"]["nodeSelector"] == {wl.HOSTNAME: "refcluster-rt-1"} and pods[name]["spec"]["tolerations"] == [SKU] + wl.GPU_TOLERATIONS


# -- the option's shape -------------------------------------------------------------------------------
BAD = [
    (
        [{"key": "sku", "operator": "Exists", "value": "gpu"}],
        "tolerations[0] (key=sku, operator=Exists, value=gpu): value must be empty when operator is Exists",
    ),
    ([SKU, {"operator": "Equal", "value": "gpu"}], "tolerations[1] (operator=Equal, value=gpu): operator must be Exists when key is empty"),
    ([{}], "tolerations[0] (empty): operator must be Exists when key is empty"),
    ([{"key": "sku", "effect": "NoSchedule", "tolerationSeconds": 30}], "effect must be NoExecute when tolerationSeconds is set"),
    ([{"key": "bad key!"}], "tolerations[0] (key=bad key!): key 'bad key!' is not a valid label name"),
    ([{"key": "-sku.example.com/gpu"}], "is not a valid label name"),
    ([{"key": "sku", "value": "x" * 64}], "is not a valid label value"),
    ([{"key": "sku", "operator": "equal"}], "value of operator must be one of: Exists, Equal, got: equal found in tolerations"),
    ([{"key": "sku", "effect": "noschedule"}], "value of effect must be one of: NoSchedule, PreferNoSchedule, NoExecute, got: noschedule"),
    ([{"key": "sku", "colour": "x"}], "Unsupported parameters for (basic.py) module: tolerations.colour."),
    ("sku=gpu:NoSchedule", "Unsupported parameters for (basic.py) module: tolerations.sku."),
    ([{"key": "sku", "effect": "NoExecute", "tolerationSeconds": "soon"}], "argument 'tolerationSeconds' is of type str found in 'tolerations'"),
    ({"key": "sku"}, "argument 'tolerations' is of type dict and we were unable to convert to list"),
    (["sku"], "dictionary requested, could not parse JSON or key=value"),  # Ansible's own line
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("tolerations, line", BAD, ids=range(len(BAD)))
def test_a_malformed_toleration_stops_the_module_with_one_line(run_module, module, tolerations, line):
    # No kubeconfig anywhere: the module fails on its arguments before it looks for a cluster.
    res = run_module(module.main, {"tolerations": tolerations, "kubeconfig": "/nonexistent/kubeconfig"})
    msg = res.result["msg"]
    assert res.failed and line in msg, msg
    assert "\n" not in msg and "Traceback" not in msg and "exception" not in res.result


@pytest.mark.parametrize(
    "ok",
    [
        [{"operator": "Exists"}],  # tolerates every taint, as Kubernetes allows
        [{"key": "sku", "operator": "Exists", "effect": "NoSchedule"}],
        [{"key": "sku", "value": "gpu"}],  # operator unset: Equal, every effect
        [{"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot", "effect": "NoSchedule"}],
        [{"key": "sku", "value": "", "effect": "NoExecute", "tolerationSeconds": 300}],
        [dict(SKU, tolerationSeconds=None)],  # an unset sub-option, as the argument spec gives it
    ],
)
def test_well_formed_tolerations_pass_the_check(ok):
    assert wl.toleration_error(ok) is None


def test_the_option_adds_to_the_builtin_toleration_and_never_replaces_it():
    given = [dict(SKU, tolerationSeconds=None)]  # the argument spec's None for an unset sub-option is dropped
    assert wl.gpu_tolerations(given) == [SKU] + wl.GPU_TOLERATIONS
    assert wl.gpu_tolerations(None) == wl.GPU_TOLERATIONS and wl.gpu_tolerations(wl.GPU_TOLERATIONS) == wl.GPU_TOLERATIONS
    # A GPU pod without the option is what it was; with it, the option's tolerations come first.
    assert wl.pod("a", "ns", limits={"nvidia.com/gpu": "1"}, tolerations=[])["spec"]["tolerations"] == wl.GPU_TOLERATIONS
    assert wl.pod("b", "ns", claims=[{"name": "x", "resourceClaimName": "c"}], tolerations=given)["spec"]["tolerations"] == [SKU] + wl.GPU_TOLERATIONS
    # An observer pinned to a GPU node tolerates both, with or without an accelerator request.
    assert rt.observer_pod("o", "ns", "img", "n1", given)["spec"]["tolerations"] == [SKU] + wl.GPU_TOLERATIONS
    assert rt.observer_pod("o", "ns", "img", "n1")["spec"]["tolerations"] == wl.GPU_TOLERATIONS


def test_the_doc_fragment_matches_the_argspec():
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert sorted(doc) == sorted(wl.GPU_POD_ARGSPEC)
    for name, spec in wl.GPU_POD_ARGSPEC.items():
        assert (doc[name]["type"], doc[name]["elements"], doc[name]["default"]) == (spec["type"], spec["elements"], spec["default"])
        assert sorted(doc[name]["suboptions"]) == sorted(spec["options"])
        for sub, sub_spec in spec["options"].items():
            assert doc[name]["suboptions"][sub]["type"] == sub_spec["type"], sub
            assert doc[name]["suboptions"][sub].get("choices") == sub_spec.get("choices"), sub


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_each_probe_takes_the_shared_option_and_its_doc(module):
    assert module.EXTRA["tolerations"] is wl.GPU_POD_ARGSPEC["tolerations"]
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert "ai_conformance.kubernetes.gpu_pods" in doc["extends_documentation_fragment"] and "tolerations" not in doc["options"]


def test_the_accelerators_role_passes_accelerators_gpu_tolerations_to_each_probe():
    records = [r for r in registry.RECORDS if r.domain == "accelerators"]
    assert sorted(r.module for r in records) == sorted(m.__name__.rsplit(".", 1)[1] for m in MODULES)
    for rec in records:
        assert registry.Option("tolerations", "accelerators_gpu_tolerations", omit_empty=True) in rec.options, rec.id
    assert yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())["accelerators_gpu_tolerations"] == []
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]["accelerators_gpu_tolerations"]
    assert (spec["type"], spec["elements"], spec["default"]) == ("list", "dict", []) and spec["description"]
