"""module_utils/hpa_metrics: the HPA's own view of its metric, and the decisions hpa_probe takes from it.

Recorded shape: the autoscaling/v2 HorizontalPodAutoscaler status as the Kubernetes documentation's
HPA walkthrough shows it (kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale-walkthrough,
"Autoscaling on multiple metrics and custom metrics": a Resource cpu and an Object metric), with a Pods
metric as the controller writes it (pkg/controller/podautoscaler: current.averageValue is
resource.NewMilliQuantity(..., DecimalSI), so 47.5 is written "47500m").  The last tests check that the
fake HPA controller of tests/unit/fake_k8s/hpa.py writes that same shape for Pods, Object and External
metrics."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import hpa_metrics as hm
from tests.unit import fakecluster as fc
from tests.unit.fake_k8s.base import EPOCH
from tests.unit.fake_k8s.hpa import milli_quantity

WALKTHROUGH = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "php-apache", "namespace": "default"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
        "minReplicas": 1,
        "maxReplicas": 10,
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
            {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
            {
                "type": "Object",
                "object": {
                    "metric": {"name": "requests-per-second"},
                    "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main-route"},
                    "target": {"type": "Value", "value": "10k"},
                },
            },
        ],
    },
    "status": {
        "observedGeneration": 1,
        "currentReplicas": 1,
        "desiredReplicas": 1,
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 0, "averageValue": "0"}}},
            {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"}, "current": {"averageValue": "47500m"}}},
            {
                "type": "Object",
                "object": {
                    "metric": {"name": "requests-per-second"},
                    "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main-route"},
                    "current": {"value": "10k"},
                },
            },
        ],
    },
}


def test_quantities_as_the_api_writes_them():
    assert [hm.quantity(q) for q in ("95", "47500m", "10k", "1.5", 3, None, "", "ninety")] == [95.0, 47.5, 10000.0, 1.5, 3.0, None, None, None]


def test_target_and_current_of_each_metric_type():
    assert hm.target_of(WALKTHROUGH, "requests-per-second") == {
        "type": "Object",
        "metric": "requests-per-second",
        "target_type": "Value",
        "field": "value",
        "raw": "10k",
        "value": 10000.0,
    }
    assert hm.target_of(WALKTHROUGH, "cpu")["field"] == "averageUtilization" and hm.target_of(WALKTHROUGH, "cpu")["value"] == 50.0
    assert hm.target_of(WALKTHROUGH, "DCGM_FI_DEV_GPU_UTIL") is None
    assert hm.current_of(WALKTHROUGH, "packets-per-second", "averageValue") == (47.5, "47500m")
    assert hm.current_of(WALKTHROUGH, "requests-per-second", "value") == (10000.0, "10k")
    assert hm.current_of(WALKTHROUGH, "cpu", "averageUtilization") == (0.0, 0)
    assert hm.current_of(WALKTHROUGH, "DCGM_FI_DEV_GPU_UTIL") == (None, None)
    assert hm.specified(WALKTHROUGH) == "Resource cpu, Pods packets-per-second, Object requests-per-second"
    assert hm.shown(WALKTHROUGH) == "Resource cpu=0; Pods packets-per-second=47500m; Object requests-per-second=10k"


def test_a_failed_metric_is_an_empty_entry_and_is_not_taken_for_the_metric():
    # The controller leaves {type: ""} for a metric it could not compute while others worked.
    hpa = copy.deepcopy(WALKTHROUGH)
    hpa["status"]["currentMetrics"][1] = {"type": ""}
    assert hm.current_of(hpa, "packets-per-second") == (None, None)
    assert "(empty type) ?=None" in hm.shown(hpa)


TARGET = {"type": "Pods", "metric": "m", "target_type": "AverageValue", "field": "averageValue", "raw": "50", "value": 50.0}


def samples(*rows):
    return [{"t_s": float(i), "phase": phase, "replicas": 1, "current": cur, "raw": None if cur is None else "%g" % cur} for i, (phase, cur) in enumerate(rows)]


def test_a_scale_up_counts_only_when_the_metric_exceeded_its_target():
    ok, detail = hm.drove_scale_up(samples(("idle", 0), ("up", 0), ("up", 95), ("up", 95)), TARGET, "m", None)
    assert ok is True and detail == "the HPA's current m was 95 (target 50) at 2.0 s, 2 of 3 samples above the target"
    # At the target is not above it; an idle phase above the target does not count for the load's phase.
    ok, detail = hm.drove_scale_up(samples(("idle", 80), ("up", 0), ("up", 50)), TARGET, "m", None)
    assert ok is False and detail.startswith("the replicas rose while the HPA's current m never exceeded its target 50 (highest 50 in 2 samples)")


def test_a_scale_up_without_the_metric_in_status_or_spec_fails():
    ok, detail = hm.drove_scale_up(samples(("up", None), ("up", None)), TARGET, "m", WALKTHROUGH)
    assert ok is False and detail.startswith("the replicas rose, but the HPA's status.currentMetrics never showed m in 2 samples (it showed: Resource cpu=0;")
    ok, detail = hm.drove_scale_up(samples(("up", 95)), None, "m", WALKTHROUGH)
    assert ok is False and detail.startswith("the stored HPA has no target for m in spec.metrics (it scales on Resource cpu, Pods packets-per-second")


def test_a_scale_down_counts_only_when_the_metric_fell_below_its_target():
    assert hm.followed_scale_down(samples(("up", 95), ("down", 95), ("down", 0)), TARGET, "m") == (True, "the HPA's current m was 0 (target 50) at 2.0 s")
    ok, detail = hm.followed_scale_down(samples(("up", 0), ("down", 95), ("down", 50)), TARGET, "m")
    assert ok is False and detail == "the replicas fell while the HPA's current m never went below its target 50 (lowest 50 in 2 samples)"
    assert hm.followed_scale_down(samples(("down", None)), TARGET, "m")[0] is False


class Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now


class OneHpa:
    """A client whose HPA shows the values given, one per read."""

    def __init__(self, values):
        self.values = list(values)

    def get(self, api_version, kind, name, namespace):
        hpa = copy.deepcopy(WALKTHROUGH)
        hpa["status"]["currentMetrics"][1]["pods"]["current"]["averageValue"] = self.values.pop(0)
        return hpa


def test_the_sampler_records_the_value_its_target_compares_with_the_time_since_the_start(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(hm, "time", clock)
    s = hm.Sampler(OneHpa(["0", "1500", "1500"]), "default", "php-apache", "packets-per-second", t0=0.0)
    clock.now = 3.0
    s.take("idle", 1)
    assert not s.due()
    clock.now = 8.0
    assert s.due()
    s.take("up", 1)
    s.take("up", 1)  # the same moment read twice is one sample
    assert s.samples == [
        {"t_s": 3.0, "phase": "idle", "replicas": 1, "current": 0.0, "raw": "0", "desired": 1},
        {"t_s": 8.0, "phase": "up", "replicas": 1, "current": 1500.0, "raw": "1500", "desired": 1},
    ]
    assert s.target["raw"] == "1k" and hm.drove_scale_up(s.samples, s.target, "packets-per-second", None)[0] is True


@pytest.mark.parametrize("value, text", [(95, "95"), (47.5, "47500m"), (0, "0"), (1500, "1500"), (95000, "95k"), (0.25, "250m")])
def test_the_fake_controller_writes_canonical_milli_quantities(value, text):
    assert milli_quantity(value) == text and hm.quantity(text) == value


def hpa_on(c, metric_spec):
    dep = wl.deployment(wl.pod("web", "default", labels={"app.kubernetes.io/name": "web"}, restart_policy="Always"), 2)
    c.create(dep)
    c.create(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 5,
                "metrics": [metric_spec],
            },
        }
    )


def series(c, prom, name, labels, value):
    def put():
        prom.series[(name, tuple(sorted(labels.items())))] = (value, EPOCH + c.now)

    put()
    c.every(5.0, put)


def test_the_fake_controller_writes_object_and_external_metric_status_as_the_real_one():
    c = fc.reference_cluster()
    prom = fc.Prometheus(c)
    fc.HpaController(c, prom)
    series(c, prom, "queue_depth", {"queue": "jobs"}, 30.0)
    series(c, prom, "requests_per_second", {"namespace": "default", "service": "web"}, 12.5)
    hpa_on(
        c,
        {
            "type": "External",
            "external": {"metric": {"name": "queue_depth", "selector": {"matchLabels": {"queue": "jobs"}}}, "target": {"type": "Value", "value": "10"}},
        },
    )
    c.advance(16)
    hpa = c.get("autoscaling/v2", "HorizontalPodAutoscaler", "web", "default")
    assert hpa["status"]["currentMetrics"] == [
        {"type": "External", "external": {"metric": {"name": "queue_depth", "selector": {"matchLabels": {"queue": "jobs"}}}, "current": {"value": "30"}}}
    ]
    assert hm.current_of(hpa, "queue_depth", hm.target_of(hpa, "queue_depth")["field"]) == (30.0, "30")
    c.delete("autoscaling/v2", "HorizontalPodAutoscaler", "web", "default")
    c.delete("apps/v1", "Deployment", "web", "default")
    ref = {"apiVersion": "v1", "kind": "Service", "name": "web"}
    obj = {"type": "Object", "object": {"metric": {"name": "requests_per_second"}, "describedObject": ref, "target": {"type": "Value", "value": "10"}}}
    hpa_on(c, obj)
    c.advance(16)
    hpa = c.get("autoscaling/v2", "HorizontalPodAutoscaler", "web", "default")
    assert hpa["status"]["currentMetrics"] == [
        {"type": "Object", "object": {"metric": {"name": "requests_per_second"}, "describedObject": ref, "current": {"value": "12500m"}}}
    ]
    assert hm.current_of(hpa, "requests_per_second", "value") == (12.5, "12500m")


def test_the_fake_controller_keeps_an_empty_entry_for_a_failed_metric_next_to_a_working_one():
    c = fc.reference_cluster()
    prom = fc.Prometheus(c)
    fc.HpaController(c, prom)
    series(c, prom, "queue_depth", {}, 4.0)
    hpa_on(c, {"type": "External", "external": {"metric": {"name": "queue_depth"}, "target": {"type": "AverageValue", "averageValue": "1"}}})
    hpa = c.obj("autoscaling/v2", "HorizontalPodAutoscaler", "web", "default")
    hpa["spec"]["metrics"].append({"type": "External", "external": {"metric": {"name": "nobody_exports_this"}, "target": {"type": "Value", "value": "1"}}})
    c.advance(16)
    hpa = c.get("autoscaling/v2", "HorizontalPodAutoscaler", "web", "default")
    assert hpa["status"]["currentMetrics"] == [
        {"type": "External", "external": {"metric": {"name": "queue_depth"}, "current": {"averageValue": "2"}}},
        {"type": ""},
    ]
    assert hpa["status"]["desiredReplicas"] == 4  # ceil(4 / 1) from the metric that worked
