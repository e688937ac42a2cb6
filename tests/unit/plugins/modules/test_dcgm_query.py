"""dcgm_query's verdicts against the fake cluster's Prometheus and DCGM exporter (fields and
readings of the recorded H100, tests/refcluster/fixtures/h100-query.csv)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.modules import dcgm_query as mod
from tests.unit import fakecluster as fc

ATTR = "a GPU pod's GPU carries its pod and namespace labels"
CPU_CASE = "a CPU-only pod"
ON_GPU_1 = {"node_selector": {"kubernetes.io/hostname": "refcluster-gpu-1"}}


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def cluster(broken=(), prometheus=True, prom_broken="", **kw):
    c = fc.reference_cluster()
    exp = fc.DcgmExporter(c, broken=broken, **kw)
    if prometheus:
        fc.Prometheus(c, exporter=exp, broken=prom_broken)
    return c


def test_prometheus_source_passes_with_attribution(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), **ON_GPU_1)
    assert r.verdict == "pass" and r.failed() == [] and r.undecided() == []
    assert r["observations"]["source"] == "prometheus" and r["observations"]["node_label"] == "Hostname"
    assert r["observations"]["gpus_reporting"] == {"refcluster-gpu-1": 8, "refcluster-gpu-2": 8}
    assert r.ok("samples are fresh") and r.ok(ATTR) and r.negative(CPU_CASE)["refused"] is True


def test_exporter_endpoint_alone_passes(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(prometheus=False), **ON_GPU_1)
    assert r.verdict == "pass" and r["observations"]["source"] == "exporter"
    with pytest.raises(AssertionError):
        r.check("samples are fresh")  # only decided from Prometheus' timestamps


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
    assert r.verdict == "fail" and r.failed() == ["samples are fresh"] and "(limit 120 s)" in r.reason


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
