"""sandbox_probe (workload_sandboxing) on the reference cluster.

The cluster offers RuntimeClass gvisor (handler runsc) with GKE Sandbox's node label, taint and a
fixed overhead; the real kube-apiserver's RuntimeClass admission plugin and the real scheduler do
the work.  The class's nodes are the kwok node refcluster-sandbox-1 and the real node refcluster-rt-2
(gVisor's runsc): the probe runs its pods on the real one and observes the kernels."""

from __future__ import annotations

import pytest

from tests.integration.reasons import first_failure

pytestmark = pytest.mark.integration

SANDBOX_NODE = "refcluster-rt-2"
LABEL = "sandbox.gke.io/runtime"


def _check(res, name):
    return next(c for c in res["result"]["checks"] if c["name"] == name)


def test_gvisor_class_is_admitted_placed_and_guarded(ansible_module, k8s, probe_image, runtime_nodes):
    res = ansible_module("sandbox_probe", run_id="it-sandbox-pass", observe_seconds=3, probe_image=probe_image)
    r = res["result"]
    assert res["verdict"] == "pass", res["reason"]
    assert r["observations"]["runtime_class"]["name"] == "gvisor" and r["observations"]["node"] == SANDBOX_NODE
    assert r["observations"]["admitted_pod"]["overhead"] == {"cpu": "250m", "memory": "64Mi"}
    assert [n["refused"] for n in r["negative"]] == [True, True, True]
    assert "not found" in r["negative"][0]["outcome"] and "Overhead" in r["negative"][1]["outcome"]
    # The kernel checks ran: gVisor's kernel in the sandboxed pod, the host's in the plain one.
    runtime = [c for c in r["checks"] if c["kind"] == "runtime"]
    assert len(runtime) == 2 and all(c["ok"] is True for c in runtime), runtime
    assert "runs on its own kernel" in res["reason"]
    assert k8s.list("v1", "Pod", label_selector="ai-conformance.io/run-id=it-sandbox-pass")["items"] == []


def test_declared_none_is_not_applicable_with_its_reason(ansible_module):
    res = ansible_module("sandbox_probe", run_id="it-sandbox-none", declared="none", justification="single-tenant appliance, vendor images only")
    assert res["verdict"] == "not_applicable"
    assert res["reason"] == "single-tenant appliance, vendor images only"
    assert res["result"]["observations"]["sandbox_classes"] == ["gvisor"]


@pytest.mark.fault
def test_fails_without_a_sandbox_runtime_class(ansible_module, breaker):
    with breaker.deleted("node.k8s.io/v1", "RuntimeClass", "gvisor"):
        res = ansible_module("sandbox_probe", run_id="it-sandbox-gone")
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("no RuntimeClass uses a sandbox handler")


@pytest.mark.fault
def test_fails_when_the_named_class_is_not_a_sandbox(ansible_module, k8s):
    k8s.create({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "it-plain-runc"}, "handler": "runc"})
    try:
        res = ansible_module("sandbox_probe", run_id="it-sandbox-runc", runtime_class="it-plain-runc")
    finally:
        k8s.delete("node.k8s.io/v1", "RuntimeClass", "it-plain-runc")
    assert res["verdict"] == "fail"
    assert res["reason"] == "RuntimeClass it-plain-runc uses handler 'runc', which is not a sandbox runtime (runsc, kata*, or extra_handlers)"


@pytest.mark.fault
def test_fails_when_no_node_carries_the_sandbox_runtime(ansible_module, breaker):
    """The class points at nodes that no longer offer runsc: sandboxed pods cannot be placed."""
    # Both of the class's nodes: the real one (runsc) and the kwok one.
    with breaker.labelled(SANDBOX_NODE, {LABEL: None}), breaker.labelled("refcluster-sandbox-1", {LABEL: None}):
        res = ansible_module("sandbox_probe", run_id="it-sandbox-nonode", timeout=15, observe_seconds=3)
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("sandboxed pod bound to a node of the class: not bound")
    assert _check(res, "RuntimeClass node selector merged into the pod")["ok"] is True


def test_bad_input_is_one_line(ansible_module):
    res = ansible_module("sandbox_probe", declared="maybe")
    assert res.get("failed") and "declared" in res["msg"] and "\n" not in res["msg"]
