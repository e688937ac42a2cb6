"""dcgm_query, service_metrics_probe and hpa_probe on the reference cluster: the real Prometheus,
the real prometheus-adapter, the real controller-manager's HPA, the real Prometheus Go client
example service, and the FAKE DCGM exporter (tests/refcluster/fakes/dcgm_exporter.py)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration

# The metrics workload of the reference cluster (inventories/local): the example service runs as
# a local process, the container of a host-network pod on the host node.
WORKLOAD = {
    "discovery": "annotations",
    "image": "refcluster.local/prometheus-client-golang-example-random:v1.25.0",
    "port": 18080,
    "metric": "rpc_durations_seconds_count",
    "host_network": True,
    "node_selector": {"kubernetes.io/hostname": "refcluster-host"},
    "tolerations": [{"key": "refcluster.ai-conformance.io/host-processes", "operator": "Exists"}],
    "observe_seconds": 5,
}
PROM_CONFIG = "--config.file={state}/prometheus/prometheus.yml"
ADAPTER_CONFIG = "--config={state}/prometheus-adapter/config.yaml"


def prom_query(k8s, q):
    doc = k8s.request("GET", "/api/v1/namespaces/monitoring/services/prometheus-k8s:web/proxy/api/v1/query", query={"query": q})
    return doc["data"]["result"]


def wait_prom(k8s, q, want_empty, timeout=60):
    """Poll Prometheus until the query result is (non-)empty: scrapes have no watch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bool(prom_query(k8s, q)) != want_empty:
            return
        time.sleep(1)
    raise AssertionError("%s still %s after %d s" % (q, "present" if want_empty else "absent", timeout))


def test_dcgm_metrics_per_gpu_with_pod_attribution(ansible_module, k8s):
    wait_prom(k8s, "DCGM_FI_DEV_GPU_UTIL", want_empty=False)
    res = ansible_module("dcgm_query", run_id="it-dcgm")
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    assert all(c["ok"] for c in r["checks"]) and len(r["checks"]) == 9, r["checks"]
    obs = r["observations"]
    assert obs["source"] == "prometheus" and obs["node_label"] == "Hostname"
    # Every GPU the nodes advertise reports, no more, no fewer.
    assert obs["gpus_reporting"] == obs["gpus_expected"] and sum(obs["gpus_expected"].values()) >= 16
    # The attributed GPU is one of the pod's node's GPUs (identity shared with the fake DRA driver).
    att = obs["attribution"]
    slices = [
        s
        for s in k8s.list("resource.k8s.io/v1", "ResourceSlice")["items"]
        if s["spec"].get("nodeName") == att["node"] and s["spec"]["driver"] == "gpu.nvidia.com"
    ]
    node_uuids = {d["attributes"]["uuid"]["string"] for s in slices for d in s["spec"]["devices"]}
    assert len(att["gpus"]) == 1 and att["gpus"][0] in node_uuids
    # ... and it is the one the pod's claim was allocated (the device's uuid in its ResourceSlice).
    assert att["via"] == "dra" and att["gpus"] == att["allocated"]
    # Liveness: two reads one scrape interval (Prometheus' own, for the exporter's target) apart.
    assert obs["liveness"]["interval_from"].startswith("scrapeInterval 5s of target") and obs["liveness"]["energy_counter"] is True
    assert r["negative"][0]["refused"] is True


def test_dcgm_query_mode_returns_samples(ansible_module, k8s):
    wait_prom(k8s, "DCGM_FI_DEV_GPU_UTIL", want_empty=False)
    res = ansible_module("dcgm_query", query="count by (Hostname) (DCGM_FI_DEV_GPU_UTIL)")
    by_node = {s["metric"]["Hostname"]: s["value"] for s in res["series"]}
    assert by_node["refcluster-gpu-1"] == 8.0 and "prometheus-k8s" in res["prometheus"]


def test_dcgm_read_from_the_exporter_endpoint(ansible_module):
    # The fake exporter collects every 2 s (its --interval): that is the interval between the reads.
    res = ansible_module("dcgm_query", run_id="it-dcgm-exp", source="exporter", scrape_interval_seconds=2)
    assert res["verdict"] == "pass", res["result"]["reason"]
    assert [c["ok"] for c in res["result"]["checks"] if c["name"] == "readings move between two reads"] == [True]
    assert res["result"]["observations"]["attribution"]["gpus"]
    assert res["result"]["observations"]["exporter"].startswith("exporter Service gpu-operator/nvidia-dcgm-exporter")


@pytest.mark.fault
def test_dcgm_fails_when_the_exporter_is_stopped(ansible_module, breaker, k8s):
    with breaker.stopped("fake-dcgm-exporter"):
        wait_prom(k8s, "DCGM_FI_DEV_GPU_UTIL", want_empty=True)  # staleness markers after the failed scrape
        res = ansible_module("dcgm_query", run_id="it-dcgm-stale", source="prometheus", attribution=False)
    assert res["verdict"] == "fail", res["result"]["reason"]
    failed = {c["name"]: c["detail"] for c in res["result"]["checks"] if c["ok"] is False}
    assert "DCGM_FI_DEV_GPU_UTIL" in failed["every required field is exposed"]
    assert "DCGM_FI_DEV_GPU_UTIL on refcluster-gpu-1" in failed["every GPU of every GPU node reports every field"]


@pytest.mark.fault
def test_dcgm_fails_when_gpus_are_not_attributed_to_pods(ansible_module, breaker, k8s):
    with breaker.reconfigured("fake-dcgm-exporter", ["--kubernetes"]):
        wait_prom(k8s, "DCGM_FI_DEV_GPU_UTIL", want_empty=False)
        res = ansible_module("dcgm_query", run_id="it-dcgm-nopod", timeout=20)
    assert res["verdict"] == "fail", res["result"]["reason"]
    failed = [c for c in res["result"]["checks"] if c["ok"] is False]
    assert [c["name"] for c in failed] == ["a GPU pod's GPU carries its pod, namespace and container labels"]
    assert failed[0]["detail"].startswith("no DCGM_FI_DEV_GPU_UTIL series names pod")


@pytest.mark.fault
@pytest.mark.parametrize("source", ["prometheus", "exporter"])
def test_dcgm_fails_when_the_exporter_is_frozen(ansible_module, breaker, k8s, source):
    # DCGM stopped answering: the exporter keeps serving its last collection, values and all.  A
    # probe that only looks for the series (the upstream suite's check) passes this cluster.
    wait_prom(k8s, "DCGM_FI_DEV_GPU_UTIL", want_empty=False)
    with breaker.dcgm_control(frozen=True):
        res = ansible_module("dcgm_query", run_id="it-dcgm-frozen-%s" % source[:4], source=source, scrape_interval_seconds=2, attribution=False)
    assert res["verdict"] == "fail", res["result"]["reason"]
    failed = [c["name"] for c in res["result"]["checks"] if c["ok"] is False]
    assert "readings move between two reads" in failed, res["result"]["checks"]


@pytest.mark.fault
def test_dcgm_fails_when_the_exporter_names_pods_on_the_wrong_gpu(ansible_module, breaker, k8s):
    wait_prom(k8s, "DCGM_FI_DEV_GPU_UTIL", want_empty=False)
    with breaker.dcgm_control(wrong_gpu=True):
        res = ansible_module("dcgm_query", run_id="it-dcgm-wronggpu")
    assert res["verdict"] == "fail", res["result"]["reason"]
    failed = [c["name"] for c in res["result"]["checks"] if c["ok"] is False]
    assert failed == ["the series naming the GPU pod carry the GPU allocated to it"], res["result"]["checks"]


def test_workload_metrics_are_discovered_and_scraped(ansible_module):
    res = ansible_module("service_metrics_probe", run_id="it-svcmetrics", **WORKLOAD)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    t = r["observations"]["target"]
    assert t["scrapePool"] == "kubernetes-pods" and t["health"] == "up" and t["labels"]["pod"].startswith("aic-metrics-it-svcmetrics-")
    assert r["negative"][0]["refused"] is True and r["observations"]["first_scrape_s"] is not None


@pytest.mark.fault
def test_workload_not_scraped_fails(ansible_module, breaker):
    with breaker.reconfigured("prometheus", [PROM_CONFIG], ["--config.file={state}/prometheus/gpu-only.yml"]):
        res = ansible_module("service_metrics_probe", run_id="it-svc-noscrape", timeout=20, **WORKLOAD)
    assert res["verdict"] == "fail", res["result"]["reason"]
    failed = {c["name"]: c["detail"] for c in res["result"]["checks"] if c["ok"] is False}
    assert failed["the workload is a target found by Kubernetes service discovery"].startswith("no active target was discovered")


@pytest.mark.fault
def test_discovery_that_scrapes_every_pod_fails(ansible_module, breaker):
    # Prometheus scrapes every pod's declared port whether it opted in or not: the workload is
    # found and scraped (what a probe without a negative case would pass), but so is the one that
    # did not opt in.
    with breaker.reconfigured("prometheus", [PROM_CONFIG], ["--config.file={state}/prometheus/scrape-all.yml"]):
        res = ansible_module("service_metrics_probe", run_id="it-svc-scrapeall", timeout=30, **WORKLOAD)
    r = res["result"]
    assert res["verdict"] == "fail", r["reason"]
    assert all(c["ok"] is True for c in r["checks"]), r["checks"]
    neg = r["negative"][0]
    assert neg["refused"] is False and neg["outcome"] == "scraped anyway: discovery is not selective", neg
    assert r["reason"].startswith("negative case not proven refused: workload ") and r["reason"].endswith("that does not opt in"), r["reason"]


def test_hpa_scales_gpu_pods_up_and_down_on_a_gpu_metric(ansible_module):
    res = ansible_module("hpa_probe", run_id="it-hpa", scale_timeout=120)
    r = res["result"]
    assert res["verdict"] == "pass", r["reason"]
    changes = r["observations"]["replica_changes"]
    assert max(c["replicas"] for c in changes) == 3 and changes[-1] == dict(changes[-1], phase="down", replicas=1)
    assert r["observations"]["scale_up_s"] > 0 and r["observations"]["scale_down_s"] > 0
    neg = r["negative"][0]
    assert neg["refused"] is True and "ScalingActive=False FailedGetPodsMetric" in neg["outcome"]


@pytest.mark.fault
def test_hpa_fails_when_the_adapter_has_no_gpu_rule(ansible_module, breaker):
    with breaker.reconfigured("prometheus-adapter", [ADAPTER_CONFIG], ["--config={state}/prometheus-adapter/no-gpu-rule.yaml"]):
        res = ansible_module("hpa_probe", run_id="it-hpa-norule", timeout=30)
    assert res["verdict"] == "fail", res["result"]["reason"]
    assert "cannot compute DCGM_FI_DEV_GPU_UTIL" in res["reason"] and "ScalingActive=False FailedGetPodsMetric" in res["reason"]


@pytest.mark.fault
def test_hpa_fails_without_a_custom_metrics_api(ansible_module, breaker):
    with breaker.stopped("prometheus-adapter"):  # its APIServices are removed with it
        res = ansible_module("hpa_probe", run_id="it-hpa-noapi")
    assert res["verdict"] == "fail" and "custom.metrics.k8s.io is not served" in res["reason"]
