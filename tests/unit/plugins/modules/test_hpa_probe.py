"""hpa_probe's verdicts against the fake cluster: DCGM exporter -> Prometheus -> custom-metrics
adapter -> HPA controller -> Deployment.  The load a pod's ConfigMap sets drives the GPU the pod
was allocated (its load container's part); the exporter reports each GPU's utilization on that
GPU's series and names on it whichever pod its pod mapper says holds it, so the loop closes only
when the exporter's attribution is right."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import hpa_probe as mod
from tests.unit import fakecluster as fc
from tests.unit.fake_k8s.hpa import ScheduledScaler

UP = "scaled up while the GPU metric is high"
DOWN = "scaled back down when the GPU metric is low"
METRIC_UP = "the scale-up followed the HPA's metric above its target"
METRIC_DOWN = "the scale-down followed the HPA's metric below its target"
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
    assert r.ok(METRIC_UP) and r.ok(METRIC_DOWN)
    assert "(its current value up to 95, target 50)" in r.reason


def test_records_the_hpas_current_metric_over_time(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster())
    obs = r["observations"]
    # The target as the stored HPA's spec.metrics holds it.
    assert obs["metric_target"] == {
        "type": "Pods",
        "metric": "DCGM_FI_DEV_GPU_UTIL",
        "target_type": "AverageValue",
        "field": "averageValue",
        "raw": "50",
        "value": 50.0,
    }
    samples = obs["metric_samples"]
    assert samples[0]["phase"] == "idle" and {s["phase"] for s in samples} == {"idle", "up", "down"}
    # Times since the probe started, in order; the load's moments are on the same clock.
    times = [s["t_s"] for s in samples]
    assert times == sorted(times) and obs["load_raised_at_s"] <= obs["load_dropped_at_s"]
    assert all(s["t_s"] >= obs["load_raised_at_s"] for s in samples if s["phase"] == "up")
    assert all(s["t_s"] >= obs["load_dropped_at_s"] for s in samples if s["phase"] == "down")
    # At least one sample per HPA sync (15 s) waited through: no gap longer than that.
    assert max(b - a for a, b in zip(times, times[1:])) < 15
    # The values are the controller's: 0 while idle, the GPU load while high, 0 again at the end.
    assert samples[0]["current"] == 0.0 and max(s["current"] for s in samples if s["phase"] == "up") == 95.0
    assert samples[-1]["current"] == 0.0 and samples[-1]["replicas"] == 1
    assert all(s["raw"] == "%g" % s["current"] for s in samples)
    # Every replica change is also a sample with the new count.
    for change in obs["replica_changes"]:
        phase = change.get("phase", "up")
        assert any(s["phase"] == phase and s["replicas"] == change["replicas"] for s in samples), change


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


def test_a_scale_up_by_something_else_while_the_metric_stays_under_target_fails(run_module, monkeypatch):
    # The GPUs stay idle (the metric never reaches the target), and a schedule (or an operator's
    # kubectl scale) raises every GPU Deployment to 3 while the probe waits: replicas rise and fall
    # as a working HPA's would, so every replica check passes; only the metric says who scaled.
    c = cluster()
    monkeypatch.setattr(fc, "load_of", lambda cluster, pod: 0.0)
    ScheduledScaler(c, at_s=25.0, replicas=3)
    r = probe(run_module, monkeypatch, c)
    assert r.ok(UP) and r.ok(DOWN) and r.negative(BLIND)["refused"] is True
    assert r.verdict == "fail" and r.failed() == [METRIC_UP], r["checks"]
    detail = r.check(METRIC_UP)["detail"]
    assert detail.startswith("the replicas rose while the HPA's current DCGM_FI_DEV_GPU_UTIL never exceeded its target 50 (highest 0 in ")
    assert detail.endswith("something other than the metric scaled the Deployment") and r.reason == METRIC_UP + ": " + detail
    assert max(s["current"] for s in r["observations"]["metric_samples"]) == 0.0


def test_the_same_scale_with_the_gpu_busy_passes(run_module, monkeypatch):
    # The control of the test above: the same scaler, the load reaching the GPUs.
    c = cluster()
    ScheduledScaler(c, at_s=25.0, replicas=3)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and r.ok(METRIC_UP), r.reason


def test_an_hpa_rewritten_to_scale_on_cpu_fails(run_module, monkeypatch):
    # A mutating webhook (a platform policy) replaces GPU metrics in HPAs by CPU: the HPA computes a
    # replica count and scales the pods as their load rises (the load program keeps its CPU busy
    # too), but not on the GPU metric.  (The HPA on the absent metric is left alone: a probe that
    # only asked for some current metric and a scale-up would pass this cluster.)
    c = cluster()

    def on_cpu(hpa):
        if any(m.get("pods", {}).get("metric", {}).get("name", "").startswith("DCGM_") for m in hpa["spec"]["metrics"]):
            hpa["spec"]["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "500m"}}}]

    fc.MutatingWebhook(
        c, "hpa-defaults.policy.example", [{"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "operations": ["CREATE"]}], on_cpu
    )
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith(
        "the HPA computes a replica count but never showed DCGM_FI_DEV_GPU_UTIL in status.currentMetrics after 60 s "
        "(stored spec.metrics: Resource cpu; currentMetrics: Resource cpu=0)"
    ), r.reason
    # What the HPA did scale on works: the probe stops at the metric, before any scaling is taken as evidence.
    conditions = {c["type"]: c for c in r["observations"]["hpa_status"]["conditions"]}
    assert r["checks"] == [] and conditions["ScalingActive"]["reason"] == "ValidMetricFound"


# -- beside the accelerator probes (conformance.yml's background lane, probes/runmates) --------
def gpu_pods_by_node(c):
    out = {}
    for p in c.list("v1", "Pod")["items"]:
        if p["metadata"]["namespace"].startswith("aic-") and p["spec"].get("nodeName") and "aic-gpu-workload" in p["metadata"]["name"]:
            out.setdefault(p["spec"]["nodeName"], set()).add(p["metadata"]["name"])
    return out


def test_beside_the_accelerator_probes_its_gpu_pods_are_pinned_to_one_node(run_module, monkeypatch, tmp_path):
    c, seen = cluster(), {}
    c.admission.append(lambda op, obj, _old: seen.update(gpu_pods_by_node(c)) if op == "CREATE" else None)
    r = probe(run_module, monkeypatch, c, alongside_marker=str(tmp_path / "never-written"))
    assert r.verdict == "pass" and r.failed() == []
    # Both GPU nodes have 8 free: the last by name, so the fills (first by name) keep refcluster-gpu-1.
    assert r["observations"]["placement"] == {"pinned_node": "refcluster-gpu-2", "beside_accelerator_probes": True}
    assert set(seen) == {"refcluster-gpu-2"} and len(set().union(*seen.values())) >= 2  # every replica, up to the scale-up's


def test_without_a_node_that_fits_it_waits_for_the_accelerator_probes(run_module, monkeypatch, tmp_path):
    marker = tmp_path / "accelerator-probes-done"
    c = cluster()
    c.after(20.0, marker.touch)
    r = probe(run_module, monkeypatch, c, max_replicas=9, alongside_marker=str(marker))  # 9 GPUs: no node has them
    assert r["observations"]["placement"] == {"pinned_node": None, "beside_accelerator_probes": False, "waited_s": 20.0}
    assert r.ok(UP)


def test_without_a_node_that_fits_and_no_marker_it_is_an_error_and_creates_nothing(run_module, monkeypatch, tmp_path):
    c = cluster()
    r = probe(run_module, monkeypatch, c, max_replicas=9, alongside_marker=str(tmp_path / "never"))
    assert r.verdict == "error" and r.reason.startswith("not probed: no node has 9 free nvidia.com/gpu to pin the pods to")
    assert [n for n in c.list("v1", "Namespace")["items"] if n["metadata"]["name"].startswith("aic-")] == []
