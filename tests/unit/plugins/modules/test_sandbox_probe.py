"""sandbox_probe's verdicts against the fake cluster (tests/unit/fakecluster.py), with the
reference cluster's gVisor RuntimeClass (tests/refcluster/manifests/runtimeclass-gvisor.yaml)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.modules import sandbox_probe as mod
from tests.unit import fakecluster as fc

KERNEL = "sandboxed pod runs on a kernel other than the node's"
PLAIN_KERNEL = "pod without the class sees the node's kernel"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def sandbox_cluster(real_node=False, handlers=None):
    c = fc.reference_cluster(dra=False)
    c.apply(fc.REFCLUSTER["runtime_class"])
    if real_node:
        fc.add_sandbox_node(c, handlers)
    return c


def test_kwok_sandbox_pool_passes_with_kernel_checks_undecided(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, sandbox_cluster())
    assert r.verdict == "pass" and r.undecided() == [KERNEL, PLAIN_KERNEL]
    assert r.ok("RuntimeClass overhead set on the pod by admission") and r.ok("RuntimeClass node selector merged into the pod")
    assert r.ok("sandboxed pod bound to a node of the class") and r["observations"]["node"] == "refcluster-sandbox-1"
    assert [n["refused"] for n in r["negative"]] == [True, True, True]
    assert r.negative("pod naming RuntimeClass")["outcome"].startswith("403 Forbidden: forbidden (403) to create Pod")
    assert "didn't match Pod's node affinity/selector" in r.negative("sandboxed pod pinned to")["outcome"]


def test_sandboxed_pod_on_a_real_node_runs_on_its_own_kernel(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, sandbox_cluster(real_node=True))
    assert (r.verdict, r.undecided(), r.failed()) == ("pass", [], [])
    assert r["observations"]["kernels"] == {"node": fc.HOST_KERNEL, "sandboxed": fc.GVISOR_KERNEL, "plain": fc.HOST_KERNEL}


def test_sandbox_handler_that_is_plain_runc_fails(run_module, monkeypatch):
    c = sandbox_cluster(real_node=True, handlers={"runc": fc.HOST_KERNEL, "runsc": fc.HOST_KERNEL})
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [KERNEL]
    assert r.reason == "%s: pod %s, node %s" % (KERNEL, fc.HOST_KERNEL, fc.HOST_KERNEL)


def test_runtime_class_admission_off_fails_and_lets_the_negatives_in(run_module, monkeypatch):
    c = sandbox_cluster()
    c.faults.add("runtime-class-admission-off")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail"
    assert r.failed()[:2] == ["RuntimeClass overhead set on the pod by admission", "RuntimeClass node selector merged into the pod"]
    assert r.negative("pod naming RuntimeClass")["refused"] is False
    assert r.negative("pod under gvisor declaring an overhead")["refused"] is False


def test_api_not_served_fails(run_module, monkeypatch):
    c = sandbox_cluster()
    c.kinds.pop("node.k8s.io/v1")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("the RuntimeClass API (node.k8s.io/v1) is not served")


def test_declared_none_is_not_applicable(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, sandbox_cluster(), declared="none")
    assert r.verdict == "not_applicable" and r.reason.startswith("the platform runs only trusted")


@pytest.mark.parametrize(
    ("handler", "args", "reason"),
    [
        ("runc", {}, "no RuntimeClass uses a sandbox handler (runsc, kata*, or extra_handlers); classes: gvisor=runc"),
        ("runc", {"runtime_class": "gvisor"}, "RuntimeClass gvisor uses handler 'runc', which is not a sandbox runtime"),
        ("runsc", {"runtime_class": "kata"}, "RuntimeClass kata does not exist"),
    ],
)
def test_no_usable_sandbox_class_fails(run_module, monkeypatch, handler, args, reason):
    c = sandbox_cluster()
    c.obj("node.k8s.io/v1", "RuntimeClass", "gvisor")["handler"] = handler
    r = probe(run_module, monkeypatch, c, **args)
    assert r.verdict == "fail" and r.reason.startswith(reason)


def test_no_node_of_the_class_fails_placement(run_module, monkeypatch):
    c = sandbox_cluster()
    c.remove("v1", "Node", "refcluster-sandbox-1")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == ["sandboxed pod bound to a node of the class"]
    assert r.check("a pod without the class is not sandboxed")["ok"] is None
