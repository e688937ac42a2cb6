"""Bad input to the reference-cluster harness: one clear message naming the component, no orphans.
These need no running cluster (the half-dead case is in tests/integration/test_refcluster.py)."""

from __future__ import annotations

import socket

import pytest

from tests.refcluster import build, cluster
from tests.refcluster.config import Component, load_components, ports


def test_port_in_use_names_port_and_component():
    port = ports()["apiserver"]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
    except OSError:
        pytest.skip("port %d is already taken on this machine" % port)
    try:
        with pytest.raises(cluster.HarnessError) as e:
            cluster.check_ports()
        assert "port %d (apiserver) on 127.0.0.1 is in use" % port in str(e.value)
        assert "components.yaml" in str(e.value)
    finally:
        s.close()


def test_missing_go_toolchain(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    comp = Component("kwok-missing", {"module": "sigs.k8s.io/kwok", "version": "v0.0.0-none", "binaries": {"kwok": "sigs.k8s.io/kwok/cmd/kwok"}})
    with pytest.raises(build.BuildError, match=r"the Go toolchain is not on PATH: install Go 1\.26"):
        build.build(comp, log=lambda m: None)


def test_build_failure_names_component_and_log(monkeypatch, tmp_path):
    monkeypatch.setattr(build, "CACHE", tmp_path)
    monkeypatch.setattr("tests.refcluster.config.CACHE", tmp_path)
    monkeypatch.setenv("GOFLAGS", "-mod=mod")
    monkeypatch.setenv("GOPROXY", "off")  # no network: `go get` must fail fast and be reported
    comp = Component("broken", {"module": "example.invalid/nothing", "version": "v9.9.9", "binaries": {"x": "example.invalid/nothing/cmd/x"}})
    with pytest.raises(build.BuildError) as e:
        build.build(comp, log=lambda m: None)
    msg = str(e.value)
    assert msg.startswith("build of component 'broken' (example.invalid/nothing@v9.9.9) failed")
    assert "full log:" in msg and "go list -m -versions example.invalid/nothing" in msg


def test_every_run_component_has_a_readiness_check_and_a_known_order():
    comps = load_components()
    order = [c.name for c in cluster.run_order(comps)]
    assert order.index("etcd") < order.index("kube-apiserver") < order.index("kwok")
    for c in comps.values():
        if c.run:
            assert c.run.get("ready"), "%s has no readiness check" % c.name


def test_dependency_cycle_is_reported():
    comps = {"a": Component("a", run={"after": ["b"]}), "b": Component("b", run={"after": ["a"]})}
    with pytest.raises(cluster.HarnessError, match="dependency cycle among: a, b"):
        cluster.run_order(comps)


def test_fake_dcgm_exporter_attributes_dra_and_device_plugin_gpus_without_overlap():
    from tests.refcluster.fakes import dcgm_exporter as fx
    from tests.refcluster.fakes import gpus as gpumod

    inv = {"n1": gpumod.inventory()["refcluster-gpu-1"]}

    def pod(name, uid, gpus, ts):
        lim = {"nvidia.com/gpu": str(gpus)} if gpus else {}
        return {
            "metadata": {"name": name, "namespace": "ns", "uid": uid, "creationTimestamp": ts},
            "spec": {"nodeName": "n1", "containers": [{"name": "main", "resources": {"limits": lim}}]},
            "status": {"phase": "Running"},
        }

    pods = [pod("dp", "u1", 2, "2026-01-01T00:00:02Z"), pod("dra", "u2", 0, "2026-01-01T00:00:01Z"), pod("cpu", "u3", 0, "2026-01-01T00:00:00Z")]
    claim = {
        "metadata": {"name": "c", "namespace": "ns"},
        "status": {
            "allocation": {"devices": {"results": [{"driver": "gpu.nvidia.com", "pool": "n1", "device": "gpu-0"}]}},
            "reservedFor": [{"resource": "pods", "uid": "u2", "name": "dra"}],
        },
    }
    held = fx.attribution(pods, [claim], inv)
    assert held[("n1", 0)][0]["pod"] == "dra" and held[("n1", 0)][0]["dra_claim_name"] == "c"
    assert [held[("n1", m)][0]["pod"] for m in (1, 2)] == ["dp", "dp"]  # the device plugin skips the DRA-held GPU
    assert all(h["pod"] != "cpu" for hs in held.values() for h in hs)
    text = fx.render(inv, held, {"u1": 80.0}, {}, fx.recorded_readings(), True, {inv["n1"][1].uuid: 123456.7})
    assert "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %)." in text
    assert "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter" in text
    energy = next(x for x in text.splitlines() if x.startswith("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{") and 'gpu="1"' in x)
    assert energy.endswith(" 123457")
    line = next(x for x in text.splitlines() if x.startswith("DCGM_FI_DEV_GPU_UTIL{") and 'pod="dp"' in x)
    assert line.endswith(" 80") and 'Hostname="n1"' in line and 'modelName="NVIDIA H100 80GB HBM3"' in line
    # The wrong_gpu fault: every pod named on the series of the next GPU of its node.
    shifted = fx.attribution(pods, [claim], inv, wrong_gpu=True)
    assert shifted[("n1", len(inv["n1"]) - 1)][0]["pod"] == "dra" and [shifted[("n1", m)][0]["pod"] for m in (0, 1)] == ["dp", "dp"]
    assert ("n1", 2) not in shifted
    # Under it the load still drives the pod's own GPU: the series naming "dp" shows another GPU's idle reading.
    text = fx.render(inv, shifted, {"u1": 80.0}, {}, fx.recorded_readings(), True, {}, held)
    named = [x for x in text.splitlines() if x.startswith("DCGM_FI_DEV_GPU_UTIL{") and 'pod="dp"' in x]
    # dp really holds GPUs 1 and 2; it is named on 0 (the DRA pod's, idle) and 1 (its own, loaded).
    assert {x.split('gpu="')[1].split('"')[0]: x.rsplit(" ", 1)[1] for x in named} == {"0": "0", "1": "80"}


def test_upstream_webhook_configurations_get_the_components_name():
    """Kueue and KubeRay both ship kubebuilder's ``validating-webhook-configuration``: wired under
    one name, the second would silently replace the first (found when both came up at once)."""
    comps = load_components()
    names = {}
    for comp in ("kueue", "kuberay"):
        docs = [cluster._own_name({"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "validating-webhook-configuration"}}, comps[comp])]
        names[comp] = docs[0]["metadata"]["name"]
    assert names == {"kueue": "kueue-validating-webhook-configuration", "kuberay": "kuberay-validating-webhook-configuration"}
    again = cluster._own_name({"kind": "MutatingWebhookConfiguration", "metadata": {"name": "kueue-x"}}, comps["kueue"])
    assert again["metadata"]["name"] == "kueue-x"
    crd = cluster._own_name({"kind": "CustomResourceDefinition", "metadata": {"name": "a.b"}}, comps["kueue"])
    assert crd["metadata"]["name"] == "a.b"


def test_every_wired_webhook_configuration_name_is_unique():
    comps = load_components()
    seen: dict[str, str] = {}
    for comp in comps.values():
        if not comp.run.get("manifests"):
            continue
        if any("{assets[" in m for m in comp.run["manifests"]) and not (comp.bin_dir / "assets").is_dir():
            continue  # not built on this machine
        for doc in cluster._manifests(comp):
            if doc["kind"].endswith("WebhookConfiguration"):
                name = doc["metadata"]["name"]
                assert name not in seen, "%s and %s both wire %s" % (seen.get(name), comp.name, name)
                seen[name] = comp.name


def test_fake_model_servers_answer_for_the_oldest_live_serving_pod_of_each_port():
    from tests.refcluster.fakes import openai_pd

    def spod(name, created, port, role="decode", phase="Running", node="refcluster-host", deleting=False, env=None):
        md = {"name": name, "namespace": "llm-d", "uid": "u-" + name, "creationTimestamp": created, "labels": {"llm-d.ai/role": role}}
        if deleting:
            md["deletionTimestamp"] = created
        ctr = {"name": "vllm", "args": ["--served-model-name", "tiny", "--port=%d" % port], "env": env or []}
        return {"metadata": md, "spec": {"nodeName": node, "hostNetwork": True, "containers": [ctr]}, "status": {"phase": phase}}

    pods = [
        spod("decode-new", "2026-12-01T00:00:05Z", 18200),
        spod("decode-old", "2026-12-01T00:00:01Z", 18200, env=[{"name": "AIC_STANDIN_PREFILL_SERVICE", "value": "pd-prefill"}]),
        spod("prefill-gone", "2026-12-01T00:00:00Z", 18100, role="prefill", deleting=True),
        spod("prefill-pending", "2026-12-01T00:00:00Z", 18100, role="prefill", phase="Pending"),
        spod("prefill-elsewhere", "2026-12-01T00:00:00Z", 18100, role="prefill", node="refcluster-cpu-1"),
        spod("prefill-a", "2026-12-01T00:00:02Z", 18100, role="prefill"),
    ]
    table = openai_pd.pods_by_port(pods, "refcluster-host")
    assert {p: (v["name"], v["role"]) for p, v in table.items()} == {18200: ("decode-old", "decode"), 18100: ("prefill-a", "prefill")}
    assert table[18200]["model"] == "tiny" and table[18200]["prefill_service"] == "pd-prefill"
    assert table[18100]["prefill_service"] == ""


def test_runtime_nodes_refuse_a_host_that_is_not_root(monkeypatch):
    from tests.refcluster import node_host

    monkeypatch.setattr(node_host.os, "geteuid", lambda: 1000)
    assert node_host.host_problem({}) == "not root (kubelet and containerd need root)"


def test_runtime_nodes_name_missing_cgroup_controllers_and_binaries(monkeypatch, tmp_path):
    from tests.refcluster import node_host

    monkeypatch.setattr(node_host.os, "geteuid", lambda: 0)
    for ctrl in ("cpu", "memory", "unified"):
        (tmp_path / ctrl).mkdir()
        (tmp_path / ctrl / "cgroup.procs").write_text("")
    monkeypatch.setattr(node_host, "CGROUP_ROOT", tmp_path)
    problem = node_host.host_problem({})
    assert problem == "cgroup v1 controllers missing: cpuacct, cpuset, pids, devices", problem


def test_runtime_nodes_name_a_binary_that_is_not_built(monkeypatch, tmp_path):
    from tests.refcluster import node_host

    if node_host.host_problem({}) not in (None,):
        pytest.skip("this host cannot run the real nodes at all: %s" % node_host.host_problem({}))
    problem = node_host.host_problem({"kubelet": tmp_path / "kubelet"})
    assert problem == "not built: %s (make cluster-build)" % (tmp_path / "kubelet")


def test_runtime_nodes_only_ever_delete_their_own_cgroups_and_bridges(monkeypatch, tmp_path):
    # cleanup_host on a host where nothing of the nodes exists touches nothing and reports nothing.
    from tests.refcluster import node_host

    (tmp_path / "memory" / "someone-else").mkdir(parents=True)
    (tmp_path / "memory" / "cgroup.procs").write_text("")
    monkeypatch.setattr(node_host, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(node_host, "NS_DIR", tmp_path / "ns")
    monkeypatch.setattr(node_host, "HOST_DIRS_FILE", tmp_path / "host-dirs.json")
    monkeypatch.setattr(node_host, "NET_ROOT", tmp_path / "net")  # never the live cluster's bridges
    monkeypatch.setattr(node_host.node_proxy, "cleanup", lambda: [])  # nor its kube-proxy tables (test_refcluster_proxy)
    assert node_host.cleanup_host() == []
    assert (tmp_path / "memory" / "someone-else").is_dir()


def test_fake_gpu_agents_count_a_launched_nodes_gpus_from_its_allocatable_and_republish_when_it_grows():
    # Karpenter's kwok provider gives a launched node capacity {nvidia.com/gpu: 1} (the pod it was
    # launched for) and allocatable 8 (the instance type); seen on the reference cluster 2026-12-06.
    from tests.refcluster.fakes import dra_driver
    from tests.refcluster.fakes import gpus as gpumod

    node = {
        "metadata": {"name": "kwok-launched", "uid": "u1", "labels": {"nvidia.com/gpu.present": "true"}, "annotations": {"kwok.x-k8s.io/node": "fake"}},
        "status": {"capacity": {"nvidia.com/gpu": "1", "pods": "1"}, "allocatable": {"nvidia.com/gpu": "8", "pods": "110"}},
    }
    assert gpumod.gpu_count(node) == 8 and gpumod.gpu_count({"status": {}}) == 0

    class Client:
        def __init__(self):
            self.slices, self.patches = {}, []

        def get(self, api, kind, name, ns=None):
            return self.slices.get(name)

        def create(self, obj):
            self.slices[obj["metadata"]["name"]] = obj
            return obj

        def patch(self, api, kind, name, body, ns=None):
            self.patches.append(body)
            self.slices[name] = dict(self.slices[name], spec=body["spec"])
            return self.slices[name]

    drv = dra_driver.FakeDriver.__new__(dra_driver.FakeDriver)
    drv.client, drv.inventory, drv.rec, drv.published = Client(), {}, gpumod.recorded_gpu(), set()
    # First seen before its status is complete: one GPU, then the node grows to its eight.
    drv.reconcile(dict(node, status={"capacity": {"nvidia.com/gpu": "1"}}))
    (name,) = drv.client.slices
    assert len(drv.client.slices[name]["spec"]["devices"]) == 1
    drv.reconcile(node)
    assert len(drv.client.slices[name]["spec"]["devices"]) == 8 and drv.client.slices[name]["spec"]["pool"]["generation"] == 2
    drv.reconcile(node)  # unchanged: nothing written
    assert len(drv.client.patches) == 1
