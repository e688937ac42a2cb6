"""The reference cluster itself: real scheduler + fake GPU nodes + fake DRA driver."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RunContext, new_run_id, sweep
from tests.refcluster import cluster as harness
from tests.refcluster.fakes import gpus

pytestmark = pytest.mark.integration


def _ready(n):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))


def test_gpu_nodes_ready_with_gfd_labels(k8s):
    nodes = {n["metadata"]["name"]: n for n in k8s.list("v1", "Node")["items"]}
    gpu_nodes = [n for n in nodes.values() if n["metadata"]["labels"].get("nvidia.com/gpu.present") == "true"]
    assert len(gpu_nodes) >= 2
    rec = gpus.recorded_gpu()
    for n in gpu_nodes:
        assert _ready(n)
        # kwok GPU nodes carry the HGX board's 8; the real node refcluster-rt-1 its 2 fake GPUs.
        assert n["status"]["allocatable"]["nvidia.com/gpu"] == str(
            len(gpus.inventory().get(n["metadata"]["name"], [])) or gpus.RUNTIME_NODE_SPECS.get(n["metadata"]["name"], {}).get("gpus")
        )
        labels = n["metadata"]["labels"]
        assert labels["nvidia.com/gpu.product"] == rec["product"].replace(" ", "-")
        assert labels["nvidia.com/cuda.driver-version.full"] == rec["driver_version"]
        assert labels["nvidia.com/gpu.memory"] == str(rec["memory_mib"])
    cpu = [n for n in nodes.values() if "nvidia.com/gpu" not in n["status"]["capacity"]]
    assert cpu and all(_ready(n) for n in cpu)


def test_fake_dra_driver_publishes_the_recorded_gpu(k8s):
    slices = k8s.list("resource.k8s.io/v1", "ResourceSlice")["items"]
    by_node = {s["spec"]["nodeName"]: s for s in slices if s["spec"]["driver"] == "gpu.nvidia.com"}
    # kwok GPU nodes get the fake driver's slices; the real node's come from its own kubelet plugin.
    assert set(by_node) == {"refcluster-gpu-1", "refcluster-gpu-2"} | ({"refcluster-rt-1"} if runtime_nodes_up() else set())
    assert by_node.get("refcluster-rt-1", {}).get("metadata", {}).get("labels", {}).get("app.kubernetes.io/managed-by") != "refcluster-fake-dra-driver"
    devs = by_node["refcluster-gpu-1"]["spec"]["devices"]
    assert [d["name"] for d in devs] == ["gpu-%d" % i for i in range(8)]
    rec = gpus.recorded_gpu()
    assert devs[0]["attributes"]["uuid"]["string"] == rec["uuid"]
    assert devs[0]["attributes"]["productName"]["string"] == rec["product"]
    assert devs[0]["capacity"]["memory"]["value"] == "%dMi" % rec["memory_mib"]
    assert k8s.get("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com") is not None


def test_scheduler_allocates_a_claim_and_binds_the_pod_to_the_device_node(k8s):
    with RunContext(k8s, new_run_id(), "refcluster-smoke") as ctx:
        ns = ctx.ensure_namespace()
        ctx.create(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": "gpu", "namespace": ns},
                "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com"}}]}},
            }
        )
        ctx.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "user", "namespace": ns},
                "spec": {
                    "resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu"}],
                    "containers": [{"name": "c", "image": "registry.invalid/cuda:never-pulled", "resources": {"claims": [{"name": "gpu"}]}}],
                },
            }
        )
        pod = k8s.wait_for("v1", "Pod", "user", lambda p: bool(p) and p["status"].get("phase") == "Running", ns, timeout_s=60)
        claim = k8s.get("resource.k8s.io/v1", "ResourceClaim", "gpu", ns)
        result = claim["status"]["allocation"]["devices"]["results"][0]
        # Pools are per node and per driver (the fake DRANET publishes a pool of the same name).
        slice_ = next(
            s
            for s in k8s.list("resource.k8s.io/v1", "ResourceSlice")["items"]
            if s["spec"]["pool"]["name"] == result["pool"] and s["spec"]["driver"] == result["driver"]
        )
        assert result["device"] in [d["name"] for d in slice_["spec"]["devices"]]
        assert pod["spec"]["nodeName"] == slice_["spec"]["nodeName"]
        assert claim["status"]["reservedFor"][0]["uid"] == pod["metadata"]["uid"]
    assert k8s.get("v1", "Namespace", ns) is None or k8s.get("v1", "Namespace", ns)["status"]["phase"] == "Terminating"


def test_run_context_never_deletes_foreign_objects(k8s):
    foreign = k8s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "foreign-"}})
    name = foreign["metadata"]["name"]
    try:
        ctx = RunContext(k8s, new_run_id())
        ctx.track(foreign)  # even if a bug registered it, the label check protects it
        report = ctx.cleanup()
        assert report[0]["outcome"].startswith("left alone")
        assert k8s.get("v1", "Namespace", name) is not None
        assert sweep(k8s, run_id=ctx.run_id) == []
    finally:
        k8s.delete("v1", "Namespace", name)


def test_status_reports_memory_and_health(refcluster):
    st = harness.status()
    assert st["healthy"]
    rss = harness.rss_mib()
    assert set(rss) >= {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
    assert sum(rss.values()) < 4096


def test_up_repairs_a_half_dead_cluster(refcluster, k8s):
    """A crashed component makes the cluster unhealthy; up() tears down and starts clean."""
    import os
    import signal

    pid = harness.running("kube-scheduler")
    assert pid
    os.killpg(pid, signal.SIGKILL)
    assert harness.status()["healthy"] is False
    st = harness.up()
    assert st["healthy"] and not st.get("already_up")
    assert harness._orphans() == []
    nodes = sorted(n["metadata"]["name"] for n in k8s.list("v1", "Node")["items"])
    # The fixture's pools plus the host node that stands for this machine, nothing left over.
    real = ["refcluster-rt-1", "refcluster-rt-2"] if runtime_nodes_up() else []
    assert nodes == sorted(["refcluster-cpu-1", "refcluster-gpu-1", "refcluster-gpu-2", "refcluster-host", "refcluster-sandbox-1"] + real)


def test_webhook_wiring_is_declarative_and_unwired_on_stop(k8s):
    """An optional component with a manifests entry: wired after ready, unwired before stop."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
    from tests.refcluster.config import load_components

    comps = load_components()
    comp = comps["test-webhook"]
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"generateName": "wired-", "namespace": "default", "labels": {"refcluster.ai-conformance.io/deny": "true"}},
    }
    harness.start(comp, comps)
    harness.wait_ready(comp)
    assert harness.wire(comp) == ["ValidatingWebhookConfiguration/refcluster-test-webhook"]
    try:
        with pytest.raises(ClusterError) as e:
            k8s.create(cm)
        assert "denied by the refcluster test webhook" in e.value.message
        unlabelled = k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "plain-", "namespace": "default"}})
        k8s.delete("v1", "ConfigMap", unlabelled["metadata"]["name"], "default")
    finally:
        harness.stop("test-webhook")
    assert k8s.get("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "refcluster-test-webhook") is None
    created = k8s.create(cm)  # the dead webhook no longer blocks anything
    k8s.delete("v1", "ConfigMap", created["metadata"]["name"], "default")


def runtime_nodes_up() -> bool:
    """Whether this host runs the real worker nodes (the supervisor's ready file says)."""
    import json

    from tests.refcluster.config import STATE

    return not json.loads((STATE / "run" / "runtime-nodes.ready").read_text()).get("skipped")
