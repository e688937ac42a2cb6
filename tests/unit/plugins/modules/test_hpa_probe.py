"""hpa_probe's verdicts against the fake cluster: DCGM exporter -> Prometheus -> custom-metrics
adapter -> HPA controller -> Deployment.  The load a pod's ConfigMap sets drives the GPU the pod
was allocated (its load container's part); the exporter reports each GPU's utilization on that
GPU's series and names on it whichever pod its pod mapper says holds it, so the loop closes only
when the exporter's attribution is right."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import hpa_probe as mod
from tests.unit import fakecluster as fc

UP = "scaled up while the GPU metric is high"
DOWN = "scaled back down when the GPU metric is low"
BLIND = "HPA aic-no-metric-hpa-t1 on metric aic_absent_metric_t1"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def cluster(broken="", available=True, registered=True, fields=tuple(fc.H100_READINGS), exporter_broken=()):
    c = fc.reference_cluster()
    prom = fc.Prometheus(c, exporter=fc.DcgmExporter(c, fields=fields, broken=exporter_broken))
    fc.HpaController(c, prom, available=available, broken=broken, registered=registered)
    return c


def test_scales_up_on_gpu_load_and_back_down(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster())
    assert r.verdict == "pass" and r.failed() == []
    assert r.ok("the HPA computes the GPU metric") and r.ok(UP) and r.ok(DOWN)
    assert [c["replicas"] for c in r["observations"]["replica_changes"]] == [2, 3, 1]
    neg = r.negative(BLIND)
    assert neg["refused"] is True and neg["outcome"].startswith("ScalingActive=False FailedGetPodsMetric")


def test_no_adapter_or_unavailable_adapter_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(registered=False))
    assert r.verdict == "fail" and r.reason.startswith("custom.metrics.k8s.io is not served: no metrics adapter is registered")
    r = probe(run_module, monkeypatch, cluster(available=False))
    assert r.verdict == "fail" and r.reason.startswith("custom.metrics.k8s.io is registered but not available: Available=False MissingEndpoints")


def test_metric_nobody_exports_fails_computing(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(fields=("DCGM_FI_DEV_GPU_TEMP",)))
    assert r.verdict == "fail" and r.reason.startswith("the HPA cannot compute DCGM_FI_DEV_GPU_UTIL after 60 s: ScalingActive=False FailedGetPodsMetric")


def test_hpa_that_never_scales_down_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(broken="no-scale-down"))
    assert r.verdict == "fail" and r.failed() == [DOWN] and r.reason.startswith(DOWN + ": still 3 replicas after 300 s")


def test_adapter_answering_for_absent_metrics_fails_the_negative_case(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(broken="any-metric"))
    assert r.verdict == "fail" and r.reason == "negative case not proven refused: " + BLIND + " that nobody serves"
    assert r.negative(BLIND)["refused"] is False


def test_gpu_metric_that_does_not_follow_the_load_fails_the_scale_up(run_module, monkeypatch):
    c = cluster()
    monkeypatch.setattr(fc, "load_of", lambda cluster, pod: 0.0)  # an exporter that reports every GPU idle
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [UP] and r.reason.startswith(UP + ": still 1 replicas after 300 s")


def test_exporter_naming_each_pod_on_another_gpus_series_breaks_the_loop(run_module, monkeypatch):
    # The load drives the pod's own GPU, but the series naming the pod is a neighbour's, idle one.
    r = probe(run_module, monkeypatch, cluster(exporter_broken=("wrong-gpu",)))
    assert r.verdict == "fail" and r.failed() == [UP] and r.reason.startswith(UP + ": still 1 replicas after 300 s")
