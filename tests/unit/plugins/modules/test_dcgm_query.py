"""dcgm_query's verdicts against the fake cluster's Prometheus and DCGM exporter (fields and
readings of the recorded H100, tests/refcluster/fixtures/h100-query.csv)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.modules import dcgm_query as mod
from tests.unit import fakecluster as fc

ATTR = "a GPU pod's GPU carries its pod, namespace and container labels"
UUID = "the series naming the GPU pod carry the GPU allocated to it"
LIVE_TS = "samples advance between two reads"
LIVE = "readings move between two reads"
CPU_CASE = "a CPU-only pod"
ON_GPU_1 = {"node_selector": {"kubernetes.io/hostname": "refcluster-gpu-1"}}


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def cluster(broken=(), prometheus=True, prom_broken="", shows_interval=True, runtime_node=False, **kw):
    c = fc.reference_cluster(runtime_node=runtime_node)
    exp = fc.DcgmExporter(c, broken=broken, **kw)
    if prometheus:
        fc.Prometheus(c, exporter=exp, broken=prom_broken, shows_interval=shows_interval)
    return c


def test_prometheus_source_passes_with_attribution(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), **ON_GPU_1)
    assert r.verdict == "pass" and r.failed() == [] and r.undecided() == []
    obs = r["observations"]
    assert obs["source"] == "prometheus" and obs["node_label"] == "Hostname"
    assert obs["gpus_reporting"] == {"refcluster-gpu-1": 8, "refcluster-gpu-2": 8}
    assert r.ok("samples are fresh") and r.ok(ATTR) and r.ok(UUID) and r.negative(CPU_CASE)["refused"] is True
    # Attribution through DRA: the series name the UUID the claim's device publishes.
    att = obs["attribution"]
    assert att["via"] == "dra" and att["gpus"] == att["allocated"] and att["allocated_from"].startswith("DRA claim aic-gpu-t1: refcluster-gpu-1/gpu-")
    # Liveness: two reads one scrape interval (read from the exporter's target) and a margin apart.
    assert obs["liveness"]["interval_from"] == "scrapeInterval 15s of target refcluster-gpu-1:9400 (job nvidia-dcgm-exporter)"
    assert obs["liveness"]["reads_apart_s"] >= 15 + 3.75 and obs["liveness"]["energy_counter"] is True
    assert r.check(LIVE_TS)["detail"].startswith("16 GPUs' timestamps advanced across two reads")
    assert r.check(LIVE)["detail"].startswith("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION moved on all 16 GPUs")


def test_exporter_endpoint_alone_passes_on_its_energy_counter(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(prometheus=False), **ON_GPU_1)
    assert r.verdict == "pass" and r.undecided() == [] and r["observations"]["source"] == "exporter"
    for name in ("samples are fresh", LIVE_TS):  # dcgm-exporter writes no timestamps: decided from Prometheus' only
        with pytest.raises(AssertionError):
            r.check(name)
    assert r.check(LIVE)["detail"].startswith("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION moved on all 16 GPUs across two reads")
    assert r["observations"]["liveness"]["interval_from"].startswith("option scrape_interval_seconds")
    assert r["observations"]["liveness"]["reads_apart_s"] >= 30 + 7.5


def test_interval_from_the_option_when_prometheus_does_not_show_it(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(shows_interval=False), scrape_interval_seconds=20, **ON_GPU_1)
    assert r.verdict == "pass" and r.undecided() == []
    live = r["observations"]["liveness"]
    assert live["interval_s"] == 20 and live["interval_from"].startswith("option scrape_interval_seconds (no active target of job ['nvidia-dcgm-exporter']")
    assert live["reads_apart_s"] >= 25


def test_frozen_prometheus_fails_the_timestamps_before_the_samples_age_out(run_module, monkeypatch):
    # Its scrapes stopped a moment ago: every sample is still younger than max_age_seconds.
    r = probe(run_module, monkeypatch, cluster(prom_broken="frozen"), attribution=False)
    assert r.verdict == "fail" and r.failed() == [LIVE_TS] and r.ok("samples are fresh")
    assert r.reason.startswith(LIVE_TS + ": 16 of 16 GPUs' sample timestamps stood still across two reads")
    assert r.check(LIVE)["ok"] is None  # nothing was scraped again, so no reading could move


@pytest.mark.parametrize("prometheus", [True, False], ids=["through-prometheus", "exporter-endpoint"])
def test_frozen_exporter_fails_on_its_energy_counter(run_module, monkeypatch, prometheus):
    # DCGM stopped answering: the exporter serves its first readings forever.  Prometheus keeps
    # scraping them (fresh timestamps), so only the readings themselves show it.
    r = probe(run_module, monkeypatch, cluster(broken=("frozen",), prometheus=prometheus), attribution=False)
    assert r.verdict == "fail" and r.failed() == [LIVE]
    assert r.reason.startswith(LIVE + ": DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION stood still on 16 of 16 GPUs across two reads")


def test_frozen_exporter_attributes_no_new_pod(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(broken=("frozen",)), **ON_GPU_1)
    assert r.verdict == "fail" and r.failed() == [ATTR, LIVE]


def test_identical_readings_without_an_energy_counter_leave_liveness_undecided(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(prometheus=False, counter=False), **ON_GPU_1)
    assert r.verdict == "pass" and r.undecided() == [LIVE] and r.reason.startswith("partial: 1 of ")
    assert "idle GPUs and a frozen exporter look the same" in r.check(LIVE)["detail"]


def test_exporter_naming_the_pod_on_another_gpu_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(broken=("wrong-gpu",)), **ON_GPU_1)
    assert r.verdict == "fail" and r.failed() == [UUID] and r.ok(ATTR)
    att = r["observations"]["attribution"]
    assert len(att["gpus"]) == 1 and att["gpus"] != att["allocated"]
    assert r.reason == UUID + ": series name %s; the pod was allocated %s (%s)" % (att["gpus"], att["allocated"], att["allocated_from"])


def test_device_plugin_attribution_is_undecided_where_no_container_can_look(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), attribution_via="device_plugin", **ON_GPU_1)
    assert r.verdict == "pass" and r.undecided() == [UUID] and r.check(UUID)["kind"] == "runtime" and r.ok(ATTR)
    assert r.check(UUID)["detail"] == "a device plugin's choice is seen only inside the container, and node refcluster-gpu-1 runs no containers"


@pytest.mark.parametrize(("broken", "verdict"), [((), "pass"), (("wrong-gpu",), "fail")])
def test_device_plugin_attribution_is_decided_from_the_container_on_a_real_node(run_module, monkeypatch, broken, verdict):
    r = probe(run_module, monkeypatch, cluster(broken=broken, runtime_node=True), attribution_via="device_plugin")
    att = r["observations"]["attribution"]
    assert r.verdict == verdict and att["node"] == "refcluster-rt-1" and att["allocated_from"] == "nvidia-smi in the pod's container"
    assert r.undecided() == [] and r.ok(UUID) is (verdict == "pass") and r.ok(ATTR)


@pytest.mark.parametrize(
    ("broken", "fields", "check", "detail"),
    [
        ((), ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP"), "every required field is exposed", "missing: DCGM_FI_DEV_FB_USED"),
        (
            ("one-node",),
            tuple(fc.H100_READINGS),
            "every GPU of every GPU node reports every field",
            "short: {'DCGM_FI_DEV_GPU_UTIL on refcluster-gpu-2': '0/8'",
        ),
        (("no-labels",), tuple(fc.H100_READINGS), "series identify the GPU (UUID, modelName)", "without UUID/modelName on"),
        (("hot",), tuple(fc.H100_READINGS), "readings are in physical range", "DCGM_FI_DEV_GPU_TEMP=200.0 on GPU-"),
        (("no-attribution",), tuple(fc.H100_READINGS), ATTR, "no DCGM_FI_DEV_GPU_UTIL series names pod"),
    ],
)
def test_each_broken_exporter_fails_its_check(run_module, monkeypatch, broken, fields, check, detail):
    r = probe(run_module, monkeypatch, cluster(broken=broken, fields=fields), **ON_GPU_1)
    assert r.verdict == "fail" and check in r.failed() and detail in r.check(check)["detail"]


def test_exporter_naming_every_pod_of_the_node_attributes_the_cpu_pod_and_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(broken=("pods-by-node",)), **ON_GPU_1)
    assert r.verdict == "fail" and r.negative(CPU_CASE)["refused"] is False and r.negative(CPU_CASE)["outcome"].startswith("named on ['GPU-")


def test_stale_samples_fail(run_module, monkeypatch):
    c = cluster(prom_broken="frozen")
    c.advance(200)
    r = probe(run_module, monkeypatch, c, attribution=False)
    assert r.verdict == "fail" and r.failed() == ["samples are fresh", LIVE_TS] and "(limit 120 s)" in r.reason


def test_attribution_off_leaves_the_negative_case_unattempted_and_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), attribution=False)
    assert r.verdict == "fail" and r.reason == "negative case not proven refused: a CPU-only pod must not be attributed any GPU"


def test_no_metrics_endpoint_fails_and_no_gpu_node_skips(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster())
    assert r.verdict == "fail" and r.reason.startswith("no accelerator metrics endpoint: no Prometheus Service found")
    c = fc.reference_cluster(dra=False)
    for n in c.all("v1", "Node"):
        n["status"]["allocatable"].pop("nvidia.com/gpu", None)
    fc.Prometheus(c)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "skip" and r.reason.startswith("no node advertises nvidia.com/gpu")


def test_gpu_pod_that_cannot_be_placed_leaves_attribution_undecided(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), node_selector={"kubernetes.io/hostname": "refcluster-cpu-1"})
    assert r.verdict == "fail" and r.check(ATTR)["ok"] is None and "could not be placed" in r.check(ATTR)["detail"]
    assert r.check(UUID)["ok"] is None


def test_query_mode_returns_the_samples_and_is_deprecated(run_module, monkeypatch):
    # The deprecation is recorded where the argument spec validator announces it (ansible-core's
    # global list only collects it outside a controller display, so it is not read here).
    from ansible.module_utils.common import arg_spec

    announced = []
    monkeypatch.setattr(arg_spec, "deprecate", lambda **kw: announced.append(kw))
    fc.use(monkeypatch, cluster())
    res = run_module(mod.main, {"query": "DCGM_FI_DEV_GPU_UTIL"})
    assert not res.failed and "verdict" not in res.result
    assert sorted({s["metric"]["Hostname"] for s in res.result["series"]}) == ["refcluster-gpu-1", "refcluster-gpu-2"]
    assert len(res.result["series"]) == 16 and res.result["prometheus"]
    assert [(d["msg"], d["version"], d["deprecator"].resolved_name) for d in announced] == [
        ("Param 'query' is deprecated. See the module docs for more information", "1.0.0", "ai_conformance.kubernetes")
    ]


def test_a_gpu_node_that_leaves_between_the_two_reads_is_named_not_judged(run_module, monkeypatch):
    # An autoscaled node scaled down while the probe runs: its series stop, and that is not a frozen
    # exporter.  The other GPUs are still judged.  (On the reference cluster its 8 GPUs' samples stood
    # still across the two reads and failed the probe, 2026-12-06; this fake Prometheus keeps serving
    # a removed node's series, so here the observation is what tells the fix apart.)
    c = cluster()
    c.after(10.0, lambda: c.remove("v1", "Node", "refcluster-gpu-2"))
    r = probe(run_module, monkeypatch, c, **ON_GPU_1)
    assert r.verdict == "pass", r.reason
    assert "gpus_whose_node_left" in r["observations"], sorted(r["observations"])
    assert sorted(set(r["observations"]["gpus_whose_node_left"].values())) == ["refcluster-gpu-2"]
    assert len(r["observations"]["gpus_whose_node_left"]) == 8
    # A frozen exporter is still caught on the nodes that stayed.
    c = cluster(broken=("frozen",))
    c.after(10.0, lambda: c.remove("v1", "Node", "refcluster-gpu-2"))
    r = probe(run_module, monkeypatch, c, **ON_GPU_1)
    assert r.verdict == "fail" and LIVE_TS in r.failed()


def removing_node_event(name):
    """The Event kube-controller-manager's node lifecycle controller writes when a Node object is
    deleted (as seen on the reference cluster for a node Karpenter removed, 2026-12-06)."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "%s.removing" % name, "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": name, "apiVersion": "v1"},
        "reason": "RemovingNode",
        "message": "Node %s event: Removing Node %s from Controller" % (name, name),
        "source": {"component": "node-controller"},
        "type": "Normal",
    }


def remove_node(c, name):
    """A Node deleted, and its ResourceSlices with it (the garbage collector: the node owns them)."""
    c.remove("v1", "Node", name)
    for s in c.all("resource.k8s.io/v1", "ResourceSlice"):
        if s["spec"].get("nodeName") == name:
            c.remove("resource.k8s.io/v1", "ResourceSlice", s["metadata"]["name"])


def test_a_gpu_node_removed_just_before_the_first_read_is_named_not_judged(run_module, monkeypatch):
    # cluster_autoscaling's node was deleted just before this probe looked (serial mode runs it right
    # before; make bench at 8e2e2af): Prometheus still served its last samples at the first read and
    # had dropped them by the second.  The node lifecycle controller's RemovingNode event says it
    # was a node of this cluster.
    c = cluster()
    remove_node(c, "refcluster-gpu-2")
    c.apply(removing_node_event("refcluster-gpu-2"))
    r = probe(run_module, monkeypatch, c, **ON_GPU_1)
    assert r.verdict == "pass", r.reason
    assert sorted(set(r["observations"].get("gpus_whose_node_left", {}).values())) == ["refcluster-gpu-2"]


def test_gpus_on_a_node_the_cluster_never_had_are_judged(run_module, monkeypatch):
    # The same series with no Node and no RemovingNode event: an exporter reporting GPUs of no node
    # of this cluster is not excused.
    c = cluster()
    remove_node(c, "refcluster-gpu-2")
    r = probe(run_module, monkeypatch, c, **ON_GPU_1)
    assert r["observations"]["gpus_expected"] == {"refcluster-gpu-1": 8}
    assert "gpus_whose_node_left" not in r["observations"]
