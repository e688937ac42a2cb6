from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import sandbox as sb


def rc(name, handler, overhead=None, selector=None, tolerations=None):
    obj = {"metadata": {"name": name}, "handler": handler}
    if overhead:
        obj["overhead"] = {"podFixed": overhead}
    if selector or tolerations:
        obj["scheduling"] = {"nodeSelector": selector, "tolerations": tolerations}
    return obj


@pytest.mark.parametrize(
    "handler, kind",
    [("runsc", "gvisor"), ("runsc-debug", "gvisor"), ("gvisor", "gvisor"), ("kata", "kata"), ("kata-qemu-snp", "kata"), ("kata_clh", "kata")]
    + [("runc", None), ("crun", None), ("nvidia", None), ("", None), (None, None), ("katana", None), ("runscx", None)],
)
def test_sandbox_kind_by_handler(handler, kind):
    assert sb.sandbox_kind(handler) == kind


def test_sandbox_classes_prefer_gvisor_then_kata_and_take_declared_handlers():
    classes = [rc("nvidia", "nvidia"), rc("kata-vm-isolation", "kata"), rc("b-gvisor", "runsc"), rc("a-gvisor", "runsc"), rc("fc", "firecracker")]
    assert [c["name"] for c in sb.sandbox_classes(classes)] == ["a-gvisor", "b-gvisor", "kata-vm-isolation"]
    found = sb.sandbox_classes(classes, extra_handlers=["firecracker"])
    assert [(c["name"], c["sandbox"]) for c in found][-1] == ("fc", "declared")


GKE = rc(
    "gvisor",
    "runsc",
    overhead={"cpu": "250m", "memory": "64Mi"},
    selector={"sandbox.gke.io/runtime": "gvisor"},
    tolerations=[{"key": "sandbox.gke.io/runtime", "operator": "Equal", "value": "gvisor", "effect": "NoSchedule"}],
)


def admitted(**spec):
    return {"spec": dict({"runtimeClassName": "gvisor"}, **spec)}


def test_admission_applied_all_true_for_what_the_plugin_writes():
    cls = sb.describe(GKE)
    pod = admitted(
        overhead={"cpu": "250m", "memory": "64Mi"},
        nodeSelector={"sandbox.gke.io/runtime": "gvisor", "other": "x"},
        tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}] + cls["tolerations"],
    )
    assert [c[1] for c in sb.admission_applied(pod, cls)] == [True, True, True, True]


@pytest.mark.parametrize(
    "spec, failing",
    [
        ({"overhead": None, "nodeSelector": {"sandbox.gke.io/runtime": "gvisor"}}, "RuntimeClass overhead set on the pod by admission"),
        ({"overhead": {"cpu": "250m"}, "nodeSelector": {"sandbox.gke.io/runtime": "gvisor"}}, "RuntimeClass overhead set on the pod by admission"),
        ({"overhead": {"cpu": "250m", "memory": "64Mi"}, "nodeSelector": {}}, "RuntimeClass node selector merged into the pod"),
    ],
)
def test_admission_applied_flags_what_the_plugin_did_not_do(spec, failing):
    cls = sb.describe(GKE)
    spec["tolerations"] = cls["tolerations"]
    bad = [c[0] for c in sb.admission_applied(admitted(**spec), cls) if not c[1]]
    assert bad == [failing]


def test_admission_applied_without_overhead_or_scheduling_checks_only_the_class():
    cls = sb.describe(rc("kata", "kata"))
    assert [c[0] for c in sb.admission_applied(admitted(), cls)] == ["pod admitted with runtimeClassName kata"]
    assert sb.admission_applied({"spec": {}}, cls)[0][1] is False


def test_node_match_and_kernel_parsing():
    node = {"metadata": {"labels": {"sandbox.gke.io/runtime": "gvisor"}}, "status": {"nodeInfo": {"kernelVersion": "6.8.0-1015-gcp"}}}
    assert sb.node_matches(node, {"sandbox.gke.io/runtime": "gvisor"}) and sb.node_matches(node, {})
    assert not sb.node_matches(node, {"sandbox.gke.io/runtime": "kata"}) and not sb.node_matches(None, {"a": "b"})
    assert sb.kernel_of(node) == "6.8.0-1015-gcp" and sb.kernel_of({}) == ""
    assert sb.parse_release("4.4.0\n") == "4.4.0"
    assert sb.parse_release("") is None and sb.parse_release("a\nb\n") is None and sb.parse_release("Linux version 6.8") is None
