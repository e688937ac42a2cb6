"""Horizontal pod autoscaling on custom metrics: prometheus-adapter serving Prometheus' series as
custom.metrics.k8s.io, and the HPA controller."""

from __future__ import annotations

import math
from typing import Any

from .base import cond, phase_of, qty
from .cluster import FakeCluster
from .metrics import Prometheus


class HpaController:
    """prometheus-adapter (APIService v1beta2.custom.metrics.k8s.io, Available unless
    ``available`` is False) serving pod metrics from Prometheus' series that name the pod, and
    the HPA controller syncing every 15 s: Pods/AverageValue targets, min/max replicas, conditions
    ScalingActive and AbleToScale.  broken: "any-metric" (the adapter answers 0 for metrics
    nobody exports), "no-scale-down"."""

    def __init__(self, c: FakeCluster, prom: Prometheus, available: bool = True, broken: str = "", registered: bool = True) -> None:
        self.c, self.prom, self.broken = c, prom, broken
        if registered:
            c.apply(
                {
                    "apiVersion": "apiregistration.k8s.io/v1",
                    "kind": "APIService",
                    "metadata": {"name": "v1beta2.custom.metrics.k8s.io"},
                    "spec": {"group": "custom.metrics.k8s.io", "version": "v1beta2", "service": {"name": "prometheus-adapter", "namespace": "monitoring"}},
                    "status": {
                        "conditions": [
                            {
                                "type": "Available",
                                "status": "True" if available else "False",
                                "reason": "Passed" if available else "MissingEndpoints",
                                "message": "" if available else "endpoints for service/prometheus-adapter in monitoring have no addresses",
                            }
                        ]
                    },
                }
            )
        self.up = registered and available
        c.every(15.0, self.sync)

    def pod_metric(self, pod: dict[str, Any], metric: str) -> float | None:
        vals = [float(r["value"][1]) for r in self.prom.query('%s{namespace="%s",pod="%s"}' % (metric, pod["metadata"]["namespace"], pod["metadata"]["name"]))]
        if not vals:
            return 0.0 if self.broken == "any-metric" else None
        return sum(vals) / len(vals)

    def sync(self) -> None:
        for h in self.c.all("autoscaling/v2", "HorizontalPodAutoscaler"):
            spec = h["spec"]
            dep = self.c.obj("apps/v1", "Deployment", spec["scaleTargetRef"]["name"], h["metadata"]["namespace"])
            if dep is None:
                continue
            pods = [p for p in self.c.pods_matching(h["metadata"]["namespace"], dep["spec"]["selector"]["matchLabels"]) if phase_of(p) == "Running"]
            metric = spec["metrics"][0]["pods"]["metric"]["name"]
            target = qty(spec["metrics"][0]["pods"]["target"]["averageValue"])
            vals = [self.pod_metric(p, metric) for p in pods] if self.up else [None]
            now = self.c.iso()
            cond(h, "AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale", now)
            if not pods or any(v is None for v in vals):
                cond(
                    h,
                    "ScalingActive",
                    "False",
                    "FailedGetPodsMetric",
                    "the HPA was unable to compute the replica count: unable to get metric %s: unable to fetch metrics from custom metrics API: "
                    "the server could not find the metric %s for pods" % (metric, metric),
                    now,
                )
                self.c.touch(h)
                continue
            avg = sum(vals) / len(vals)
            cond(h, "ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from pods metric %s" % metric, now)
            h["status"] = dict(
                h.get("status") or {}, currentMetrics=[{"type": "Pods", "pods": {"metric": {"name": metric}, "current": {"averageValue": "%g" % avg}}}]
            )
            cur = int(dep["spec"].get("replicas", 1))
            want = min(
                int(spec["maxReplicas"]), max(int(spec.get("minReplicas", 1)), math.ceil(cur * avg / target) if avg else int(spec.get("minReplicas", 1)))
            )
            if self.broken == "no-scale-down":
                want = max(want, cur)
            if want != cur:
                dep["spec"]["replicas"] = want
                dep["metadata"]["generation"] += 1
                self.c.touch(dep)
            h["status"].update(currentReplicas=cur, desiredReplicas=want)
            self.c.touch(h)
