"""The runtime lane: real worker nodes run containers, and the checks that need a container are decided.

refcluster-rt-1 is a kubelet + containerd node with FAKE GPUs a container can see (device nodes
through CDI, a fake nvidia-smi); refcluster-rt-2 is a gVisor sandbox node.  The faults here are the
ones only a container can reveal: a plugin that hands every container every GPU, a runtime that
honours NVIDIA_VISIBLE_DEVICES=all from an unprivileged pod, and a sandbox handler that is plain runc.
"""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RunContext, new_run_id

pytestmark = pytest.mark.integration

GPU_NODE, SANDBOX_NODE = "refcluster-rt-1", "refcluster-rt-2"


def runtime_checks(r):
    return {c["name"]: c for c in r["checks"] if c["kind"] == "runtime"}


def test_real_nodes_run_containers_and_publish_their_gpus(k8s, runtime_nodes):
    nodes = {n["metadata"]["name"]: n for n in k8s.list("v1", "Node")["items"]}
    for name in runtime_nodes:
        info = nodes[name]["status"]["nodeInfo"]
        assert info["containerRuntimeVersion"].startswith("containerd://2.4"), info
        assert info["kubeletVersion"] == "v1.37.2", info
    assert nodes[GPU_NODE]["status"]["allocatable"]["nvidia.com/gpu"] == "2"
    assert {t["key"] for t in nodes[GPU_NODE]["spec"]["taints"]} == {"nvidia.com/gpu"}
    assert nodes[SANDBOX_NODE]["metadata"]["labels"]["sandbox.gke.io/runtime"] == "gvisor"
    slices = [s for s in k8s.list("resource.k8s.io/v1", "ResourceSlice")["items"] if s["spec"].get("nodeName") == GPU_NODE]
    assert [s["spec"]["driver"] for s in slices] == ["gpu.nvidia.com"], slices
    devices = slices[0]["spec"]["devices"]
    assert sorted(d["name"] for d in devices) == ["gpu-0", "gpu-1"]
    assert all(d["attributes"]["productName"]["string"] == "NVIDIA H100 80GB HBM3" for d in devices)


def test_isolation_runtime_checks_are_decided_on_a_healthy_node(ansible_module, runtime_nodes, probe_image):
    res = ansible_module("accelerator_isolation_probe", run_id="it-rt-iso", observe_seconds=3, probe_image=probe_image)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    checks = runtime_checks(r)
    assert set(checks) == {
        "pod without request sees no accelerator",
        "NVIDIA_VISIBLE_DEVICES=all without request sees no accelerator",
        "pods with one accelerator each see exactly their own (device plugin)",
        "pods with one accelerator each see exactly their own (DRA)",
    }
    assert all(c["ok"] is True for c in checks.values()), checks
    assert r["observations"]["runtime"]["node"] == GPU_NODE
    seen = r["observations"]["runtime"]["seen"]
    assert seen["rt-none"]["devices"] == [] and seen["rt-none"]["smi_rc"] == 127
    assert len(seen["rt-dra-a"]["gpus"]) == 1 and seen["rt-dra-a"]["gpus"] != seen["rt-dra-b"]["gpus"]
    env_case = [n for n in r["negative"] if "NVIDIA_VISIBLE_DEVICES=all" in n["case"]]
    assert env_case and env_case[0]["refused"] is True


def test_dra_and_driver_runtime_checks_are_decided(ansible_module, runtime_nodes, probe_image):
    res = ansible_module("dra_probe", run_id="it-rt-dra", observe_seconds=3, gpu_image=probe_image)
    assert res["verdict"] == "pass", res["reason"]
    rc = runtime_checks(res["result"])["container sees exactly the allocated GPU"]
    assert rc["ok"] is True, rc
    seen = res["result"]["observations"]["runtime_check"]
    assert seen["node"] == GPU_NODE and len(seen["allocated_uuids"]) == 1 and len(seen["seen"]["devices"]) == 1, seen
    assert [g["uuid"] for g in seen["seen"]["gpus"]] == seen["allocated_uuids"]
    res = ansible_module("driver_runtime_probe", run_id="it-rt-drv", observe_seconds=3, probe_image=probe_image)
    assert res["verdict"] == "pass", res["reason"]
    rc = runtime_checks(res["result"])["container runtime exposes the advertised driver"]
    assert rc["ok"] is True and "580.159.4" in rc["detail"], rc


def test_both_consumers_of_a_shared_claim_see_the_shared_gpu(ansible_module, runtime_nodes, probe_image):
    res = ansible_module("gpu_sharing_probe", run_id="it-rt-share", observe_seconds=3, probe_image=probe_image)
    assert res["verdict"] == "pass", res["reason"]
    rc = runtime_checks(res["result"])["each consumer of a shared claim sees exactly the shared GPU"]
    assert rc["ok"] is True, rc
    shared = res["result"]["observations"]["runtime_shared"]
    assert shared["node"] == GPU_NODE and len(shared["allocated_uuids"]) == 1
    assert all([g["uuid"] for g in seen["gpus"]] == shared["allocated_uuids"] for seen in shared["seen"].values())


@pytest.mark.fault
def test_a_dra_plugin_that_hands_out_every_gpu_fails(ansible_module, breaker, runtime_nodes, probe_image):
    with breaker.node_fault(dra_fault="all-devices"):
        iso = ansible_module("accelerator_isolation_probe", run_id="it-rt-dra-all", observe_seconds=3, probe_image=probe_image)
        dra = ansible_module("dra_probe", run_id="it-rt-dra-all2", observe_seconds=3, gpu_image=probe_image)
        share = ansible_module("gpu_sharing_probe", run_id="it-rt-dra-all3", observe_seconds=3, probe_image=probe_image)
    assert share["verdict"] == "fail"
    assert share["reason"].startswith("each consumer of a shared claim sees exactly the shared GPU"), share["reason"]
    assert iso["verdict"] == "fail"
    assert "pods with one accelerator each see exactly their own (DRA)" in iso["reason"], iso["reason"]
    assert runtime_checks(iso["result"])["pods with one accelerator each see exactly their own (device plugin)"]["ok"] is True
    assert dra["verdict"] == "fail"
    assert "container sees exactly the allocated GPU" in dra["reason"], dra["reason"]


@pytest.mark.fault
def test_a_device_plugin_that_hands_out_every_gpu_fails(ansible_module, breaker, runtime_nodes, probe_image):
    with breaker.node_fault(device_plugin_fault="all-devices"):
        iso = ansible_module("accelerator_isolation_probe", run_id="it-rt-dp-all", observe_seconds=3, probe_image=probe_image)
    assert iso["verdict"] == "fail"
    assert "pods with one accelerator each see exactly their own (device plugin)" in iso["reason"], iso["reason"]
    assert runtime_checks(iso["result"])["pods with one accelerator each see exactly their own (DRA)"]["ok"] is True


@pytest.mark.fault
def test_a_runtime_honouring_nvidia_visible_devices_all_fails(ansible_module, breaker, runtime_nodes, probe_image):
    with breaker.node_fault(runtime="legacy-nvidia"):
        iso = ansible_module("accelerator_isolation_probe", run_id="it-rt-legacy", observe_seconds=3, probe_image=probe_image)
    assert iso["verdict"] == "fail"
    assert "NVIDIA_VISIBLE_DEVICES=all without request sees no accelerator" in iso["reason"], iso["reason"]
    seen = iso["result"]["observations"]["runtime"]["seen"]["rt-env"]
    assert seen["devices"] == ["nvidia0", "nvidia1"] and len(seen["gpus"]) == 2, seen
    assert runtime_checks(iso["result"])["pod without request sees no accelerator"]["ok"] is True
    env_case = [n for n in iso["result"]["negative"] if "NVIDIA_VISIBLE_DEVICES=all" in n["case"]]
    assert env_case[0]["refused"] is False


def test_sandboxed_pod_runs_on_another_kernel(ansible_module, runtime_nodes, probe_image):
    res = ansible_module("sandbox_probe", run_id="it-rt-sbx", observe_seconds=3, probe_image=probe_image)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    checks = runtime_checks(r)
    assert all(c["ok"] is True for c in checks.values()) and len(checks) == 2, checks
    kernels = r["observations"]["kernels"]
    assert r["observations"]["node"] == SANDBOX_NODE
    assert kernels["plain"] == kernels["node"] and kernels["sandboxed"] != kernels["node"], kernels


@pytest.mark.fault
def test_a_sandbox_handler_that_is_plain_runc_fails(ansible_module, breaker, runtime_nodes, probe_image):
    with breaker.node_fault(sandbox_runtime="runc"):
        res = ansible_module("sandbox_probe", run_id="it-rt-sbx-runc", observe_seconds=3, probe_image=probe_image)
    assert res["verdict"] == "fail"
    assert "sandboxed pod runs on a kernel other than the node's" in res["reason"], res["reason"]
    kernels = res["result"]["observations"]["kernels"]
    assert kernels["sandboxed"] == kernels["node"], kernels


def _pod(name: str, ns: str, node: str, command: str, image: str, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {
            "restartPolicy": "Never",
            "nodeName": node,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "c", "image": image, "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", command]}],
        },
    }


def test_a_service_routes_between_the_real_nodes_pods(k8s, runtime_nodes, probe_image):
    """kube-proxy (nftables, one for both nodes: tests/refcluster/node_proxy.py) routes a ClusterIP:
    from a pod on the sandbox node to a backend on the GPU node (routed between the node bridges) and
    from a pod beside the backend (the same bridge).  The backend answers with its own name, so an
    answer proves the Service reached that pod; without kube-proxy's rules the ClusterIP answers nothing."""
    import json

    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads
    from tests.refcluster.config import STATE

    info = json.loads((STATE / "run" / "runtime-nodes.ready").read_text())
    assert info.get("services_not_routed") is None, info
    with RunContext(k8s, new_run_id(), "refcluster-svc") as ctx:
        ns = ctx.ensure_namespace()
        serve = 'mkdir -p /tmp/www && echo "backend $(hostname)" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'
        ctx.create(_pod("backend", ns, GPU_NODE, serve, probe_image, {"app": "svc-backend"}))
        svc = ctx.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "backend", "namespace": ns},
                "spec": {"selector": {"app": "svc-backend"}, "ports": [{"port": 80, "targetPort": 8080}]},
            }
        )
        k8s.wait_for("v1", "Pod", "backend", lambda p: bool(p) and any(c.get("ready") for c in p["status"].get("containerStatuses") or []), ns, 90, "run")
        ip = svc["spec"]["clusterIP"]
        # nc, not wget: Debian's static busybox wget crashes looking up the "http" service (NSS).
        fetch = "for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s 80 | tail -1 | grep . && exit 0; sleep 1; done; exit 1" % ip
        for client, node in (("from-sandbox-node", SANDBOX_NODE), ("from-gpu-node", GPU_NODE)):
            ctx.create(_pod(client, ns, node, fetch, probe_image))
        for client in ("from-sandbox-node", "from-gpu-node"):
            phase, log = workloads.run_to_completion(k8s, client, ns, 90)
            assert (phase, log.strip()) == ("Succeeded", "backend backend"), (client, phase, log)


def test_cluster_down_leaves_nothing_of_the_nodes_behind(k8s, runtime_nodes):
    """Down after the real nodes ran containers: no process, mount, netns, veth, bridge, cgroup or
    host directory of theirs is left; then the cluster comes back for the tests after this one."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    from tests.refcluster import cluster as harness
    from tests.refcluster import node_host, node_proxy
    from tests.refcluster.config import CACHE, STATE

    created = json.loads(node_host.HOST_DIRS_FILE.read_text()) if node_host.HOST_DIRS_FILE.is_file() else []
    forward_before = node_proxy.SAVED_FORWARD.read_text().strip() if node_proxy.SAVED_FORWARD.is_file() else None
    harness.down(quiet=True)
    try:
        ours = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    exe = str((d / "exe").resolve())
                except OSError:
                    continue
                if exe.startswith(str(CACHE / "bin")):
                    ours.append("%s %s" % (d.name, exe))
        assert ours == [], ours
        mounts = [m for m in Path("/proc/self/mountinfo").read_text().splitlines() if str(STATE) in m or any(p in m.split()[4] for p in node_host.BIND_PATHS)]
        assert mounts == [], mounts
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
        assert "aic-rt" not in links and "veth" not in links, links
        assert [str(h / n) for h in node_host.cgroup_hierarchies() for n in node_host.NODES if (h / n).exists()] == []
        assert [p for p in created if Path(p).exists()] == []
        if shutil.which("iptables-save"):
            rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
            assert "CNI-" not in rules and "KUBE-" not in rules, rules
        if shutil.which("nft"):
            tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout
            assert "kube-proxy" not in tables, tables
        if forward_before is not None:  # kube-proxy ran: the host's forwarding setting is back
            assert node_proxy.FORWARD.read_text().strip() == forward_before
        assert not node_proxy.SAVED_FORWARD.exists()
    finally:
        assert harness.up()["healthy"]
