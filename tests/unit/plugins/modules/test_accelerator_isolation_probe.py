"""accelerator_isolation_probe's verdicts against the fake cluster (tests/unit/fakecluster.py)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.modules import accelerator_isolation_probe as mod
from tests.unit import fakecluster as fc

DP = "device plugin accelerators are exclusive"
DRA = "DRA devices are exclusive"
HOST = "host device access outside the resource framework is refused"
NONE_SEES = "pod without request sees no accelerator"
ENV_SEES = "NVIDIA_VISIBLE_DEVICES=all without request sees no accelerator"
PAIR = "pods with one accelerator each see exactly their own"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def test_kwok_only_cluster_is_a_partial_pass_with_the_runtime_checks_undecided(run_module, monkeypatch):
    # No node runs containers: the runtime checks are not decided, the NVIDIA_VISIBLE_DEVICES case is
    # not attempted (so not recorded), and the result is a partial pass, never a fail or a bare pass.
    r = probe(run_module, monkeypatch, fc.reference_cluster())
    assert r.verdict == "pass" and r.reason.startswith("partial: 4 of ")
    assert r.failed() == []
    assert sorted(r.undecided()) == sorted([ENV_SEES, NONE_SEES, PAIR + " (DRA)", PAIR + " (device plugin)"])
    assert all(r.check(n)["kind"] == "runtime" for n in r.undecided())
    assert r.ok(DP) and r.ok(DRA) and r.ok(HOST) and r.ok("every free accelerator can be requested")
    assert "Insufficient nvidia.com/gpu" in r.negative("one nvidia.com/gpu more than node refcluster-gpu-1 has free")["outcome"]
    assert r.check(HOST)["detail"].startswith("forbidden (403) to create Pod")
    assert [n["refused"] for n in r["negative"]] == [True, True]
    assert r["observations"]["dra"]["devices"] == 8


def test_healthy_runtime_node_decides_every_runtime_check(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(runtime_node=True))
    assert (r.verdict, r.undecided(), r.failed()) == ("pass", [], [])
    assert r["observations"]["runtime"]["paths"] == ["device plugin", "DRA"]
    assert r.negative("pod without a request setting NVIDIA_VISIBLE_DEVICES=all")["refused"] is True


def test_runtime_honouring_nvidia_visible_devices_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    fc.add_runtime_gpu_node(c, faults=("legacy-envvar",))
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("2 checks failed: %s: device nodes ['nvidia0', 'nvidia1']" % NONE_SEES)
    assert r.ok(PAIR + " (device plugin)") and r.ok(PAIR + " (DRA)")  # a granted GPU's env names only it
    assert r.failed() == [NONE_SEES, ENV_SEES]
    assert r.negative("pod without a request setting NVIDIA_VISIBLE_DEVICES=all")["refused"] is False


def test_plugin_handing_every_gpu_to_each_container_fails_the_pair_checks(run_module, monkeypatch):
    c = fc.reference_cluster()
    fc.add_runtime_gpu_node(c, faults=("all-devices",))
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [PAIR + " (device plugin)", PAIR + " (DRA)"]
    assert "rt-dp-a sees ['GPU-" in r.check(PAIR + " (device plugin)")["detail"]


def test_nothing_mediated_fails_before_creating_anything(run_module, monkeypatch):
    c = fc.reference_cluster(dra=False)
    for n in c.all("v1", "Node"):
        n["status"]["allocatable"].pop("nvidia.com/gpu", None)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("no accelerator is exposed through a device plugin (nvidia.com/gpu) or DRA")
    assert not c.all("v1", "Pod")


def test_scheduler_not_accounting_gpus_hands_one_twice(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.faults.add("no-extended-resource-accounting")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [DP] and r.reason.startswith(DP + ": bound to node refcluster-gpu-1")
    assert r.negative("one nvidia.com/gpu more")["refused"] is False


def test_dra_allocator_handing_a_held_device_out_again_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.faults.add("dra-double-allocate")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [DRA] and "claim unallocated=False" in r.reason
    # The device-plugin fill took refcluster-gpu-1: the DRA case fills another node.
    assert r.negative("a second claim for a device on refcluster-gpu-2")["refused"] is False


def test_class_installed_but_nothing_published_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    for s in c.all("resource.k8s.io/v1", "ResourceSlice"):
        c.remove("resource.k8s.io/v1", "ResourceSlice", s["metadata"]["name"])
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason == DRA + ": DeviceClass gpu.nvidia.com is installed but driver gpu.nvidia.com publishes no device"


def test_namespace_without_pod_security_admits_host_dev_and_fails(run_module, monkeypatch):
    c = fc.reference_cluster(runtime_node=True)
    c.pod_security = False
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [HOST, "probe accelerator pods use no host device access"]
    assert r.reason.startswith("2 checks failed: %s: a privileged pod mounting host /dev was admitted" % HOST)


@pytest.mark.parametrize(
    ("max_pods", "detail"), [(4, "node refcluster-gpu-1 has 8 free, more than max_pods 4"), (16, "no free nvidia.com/gpu on any node its pods tolerate")]
)
def test_device_plugin_case_undecided_when_it_cannot_be_set_up(run_module, monkeypatch, max_pods, detail):
    c = fc.reference_cluster(runtime_node=True)
    if "no free" in detail:  # every device-plugin GPU already held by someone else's pods
        for node, n in (("refcluster-gpu-1", "8"), ("refcluster-gpu-2", "8"), ("refcluster-rt-1", "2")):
            c.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "busy-" + node, "namespace": "default"},
                    "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": n}}}]},
                }
            )
    r = probe(run_module, monkeypatch, c, max_pods=max_pods, undecided_runtime_checks="allow")
    assert r.verdict == "pass" and r.check(DP)["ok"] is None and r.check(DP)["detail"] == detail


def test_dra_case_undecided_when_every_node_has_an_allocated_device(run_module, monkeypatch):
    c = fc.reference_cluster(runtime_node=True)
    c.faults.add("claim-controller-off")  # the other tenant's claims stay as they are
    for i, node in enumerate(("refcluster-gpu-1", "refcluster-gpu-2", "refcluster-rt-1")):
        c.apply(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": "other-%d" % i, "namespace": "default"},
                "spec": {},
                "status": {"allocation": {"devices": {"results": [{"driver": "gpu.nvidia.com", "pool": node, "device": "gpu-1"}]}}},
            }
        )
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass", (r.reason, r["checks"])
    assert r.check(DRA)["ok"] is None and "no idle node to fill" in r.check(DRA)["detail"]


def test_a_node_tainted_for_others_is_not_filled(run_module, monkeypatch):
    # A GPU node of an autoscaled pool joins while the probe runs (the run's cluster_autoscaling
    # probe launched it): tainted for the autoscaler's pods, sorted before the others, its 8 GPUs and
    # 8 DRA devices all free.  Filling it would be refused for the taint, not for the accelerators.
    import copy

    from tests.unit.fake_k8s.autoscaling import kwok_node

    c = fc.reference_cluster(runtime_node=True)
    taint = {"key": "ai-conformance.io/autoscaled", "value": "true", "effect": "NoSchedule"}
    resources = {"nvidia.com/gpu": "8", "pods": "110", "cpu": "32", "memory": "256Gi"}
    c.create_obj(kwok_node("kwok-autoscaled-1", {"kubernetes.io/hostname": "kwok-autoscaled-1"}, [taint], resources, {}))
    gpu_slice = copy.deepcopy(fc.REFCLUSTER["gpu_slices"][0])
    gpu_slice["metadata"]["name"] = "kwok-autoscaled-1-gpu.nvidia.com"
    gpu_slice["metadata"]["ownerReferences"][0]["name"] = "kwok-autoscaled-1"
    gpu_slice["spec"]["nodeName"] = "kwok-autoscaled-1"
    gpu_slice["spec"]["pool"]["name"] = "kwok-autoscaled-1"
    c.apply(gpu_slice)
    c.settle()
    r = probe(run_module, monkeypatch, c)
    assert (r.verdict, r.failed(), r.undecided()) == ("pass", [], [])
    assert r["observations"]["device_plugin"]["node"] == "refcluster-gpu-1"
    assert r["observations"]["dra"]["node"] != "kwok-autoscaled-1"
    # Told to tolerate that taint, the probe may fill the node (and the fake scheduler lets it): the
    # device-plugin case does (most free GPUs, first by name), the DRA case fills another.
    r = probe(run_module, monkeypatch, c, tolerations=[{"key": "ai-conformance.io/autoscaled", "operator": "Exists"}])
    assert r.verdict == "pass" and r["observations"]["device_plugin"]["node"] == "kwok-autoscaled-1", r.reason
    assert r["observations"]["dra"]["node"] == "refcluster-gpu-1"


def test_the_two_exclusivity_windows_overlap_on_two_nodes_and_follow_each_other_on_one(run_module, monkeypatch):
    # Two nodes with free GPUs: the DRA case fills the other node while the device-plugin case's
    # window runs, and is decided first; the windows overlap, so the probe waits one window, not two.
    c = fc.reference_cluster()
    t0 = c.now
    r = probe(run_module, monkeypatch, c, observe_seconds=30)
    assert [n["case"].split(" while")[0].rstrip(",") for n in r["negative"]] == [
        "a second claim for a device on refcluster-gpu-2",
        "one nvidia.com/gpu more than node refcluster-gpu-1 has free",
    ]
    assert all(n["refused"] for n in r["negative"]) and r.verdict == "pass"
    assert 30 <= c.now - t0 < 60  # on the fake cluster's clock
    # One node only (refcluster-gpu-2's GPUs and devices held by someone else): the device-plugin
    # case is decided before the DRA fill takes the same node.
    c = fc.reference_cluster()
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "busy", "namespace": "default"},
             "spec": {"nodeName": "refcluster-gpu-2", "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "8"}}}]}})  # fmt: skip
    for s in c.all("resource.k8s.io/v1", "ResourceSlice"):
        if s["spec"].get("nodeName") == "refcluster-gpu-2":
            c.remove("resource.k8s.io/v1", "ResourceSlice", s["metadata"]["name"])
    t0 = c.now
    r = probe(run_module, monkeypatch, c, observe_seconds=30)
    assert [n["case"].split(" while")[0].rstrip(",") for n in r["negative"]] == [
        "one nvidia.com/gpu more than node refcluster-gpu-1 has free",
        "a second claim for a device on refcluster-gpu-1",
    ]
    assert all(n["refused"] for n in r["negative"]) and r.verdict == "pass" and c.now - t0 >= 60


# -- beside the run's other probes (conformance.yml's lanes: pod_autoscaling in the background) ----
def run_mate_cluster():
    """gpu-1 has the most free GPUs (7) but pod_autoscaling of the same run (run id t1) has a pod
    pinned there and scales up meanwhile; gpu-2 has 4 free (another team's pods hold 4)."""
    c = fc.reference_cluster()
    labels = {"ai-conformance.io/run-id": "t1", "app.kubernetes.io/managed-by": "ai-conformance", "ai-conformance.io/requirement": "pod-autoscaling"}
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "aic-hpa-t1", "labels": labels}})
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})

    def gpu_pod(name, ns, node):
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": node},
                "containers": [{"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
            },
        }

    c.apply(gpu_pod("hpa-0", "aic-hpa-t1", "refcluster-gpu-1"), *[gpu_pod("busy-%d" % i, "team", "refcluster-gpu-2") for i in range(4)])

    def scale_up(op, obj, _old):  # the HPA adds a replica on its node while the fill is created there
        md = obj.get("metadata") or {}
        if op == "CREATE" and md.get("name") == "dp-0" and obj["spec"].get("nodeSelector", {}).get("kubernetes.io/hostname") == "refcluster-gpu-1":
            c.create_obj(gpu_pod("hpa-1", "aic-hpa-t1", "refcluster-gpu-1"))

    c.admission.append(scale_up)
    return c


def test_the_fills_leave_out_the_node_where_a_run_mate_holds_gpus(run_module, monkeypatch):
    # Sized to gpu-1's 7 free GPUs, the fill would lose one to the HPA's new replica and fail
    # "every free accelerator can be requested": a false finding about the platform.
    r = probe(run_module, monkeypatch, run_mate_cluster())
    assert r.verdict == "pass" and r.failed() == []
    assert r["observations"]["device_plugin"]["node"] == "refcluster-gpu-2" and r["observations"]["device_plugin"]["free_before"] == 4
    left = r["observations"]["beside_run_mates"]
    assert left["device_plugin_fill"] == {"left_out": {"refcluster-gpu-1": ["pod-autoscaling"]}, "waited_s": 0.0}
    # The HPA's pods hold no DRA device: the DRA fill may still use gpu-1.
    assert "dra_fill" not in left and r["observations"]["dra"]["node"] == "refcluster-gpu-1"
