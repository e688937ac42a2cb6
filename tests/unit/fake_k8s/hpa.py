"""Horizontal pod autoscaling on custom metrics: prometheus-adapter serving Prometheus' series as
custom.metrics.k8s.io (and external.metrics.k8s.io), the HPA controller, and a scaler that is not
the HPA (a schedule scaling GPU workloads whatever their metric says)."""

from __future__ import annotations

import math
from typing import Any

from .base import cond, phase_of, qty
from .cluster import FakeCluster
from .metrics import Prometheus, _load

# autoscaling/v2 MetricSpec/MetricStatus: the member of each metric type, and the ScalingActive
# reason the controller gives when that type's metric cannot be computed.
MEMBER = {"Pods": "pods", "Object": "object", "External": "external", "Resource": "resource"}
FAILED = {"Pods": "FailedGetPodsMetric", "Object": "FailedGetObjectMetric", "External": "FailedGetExternalMetric", "Resource": "FailedGetResourceMetric"}
TOLERANCE = 0.1  # kube-controller-manager --horizontal-pod-autoscaler-tolerance


def milli_quantity(value: float) -> str:
    """``resource.NewMilliQuantity(round(value * 1000), resource.DecimalSI).String()``: the
    canonical quantity the HPA controller writes in status.currentMetrics ("95", "47500m", "95k")."""
    milli = round(value * 1000)
    if milli == 0:
        return "0"
    for exp, suffix in ((15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k"), (0, "")):
        scale = 10 ** (exp + 3)
        if milli % scale == 0:
            return "%d%s" % (milli // scale, suffix)
    return "%dm" % milli


class MetricError(Exception):
    """A metric the controller cannot compute: (ScalingActive reason, message)."""


class HpaController:
    """prometheus-adapter (APIService v1beta2.custom.metrics.k8s.io, Available unless
    ``available`` is False) serving pod metrics from Prometheus' series that name the pod, object
    metrics from series naming the described object, external metrics from series matching the
    metric's selector; metrics-server's pod CPU (the load program keeps its CPU as busy as the GPU it
    drives: ``load_of`` % of one core); and the HPA controller syncing every 15 s as the real one
    does (pkg/controller/podautoscaler): each of spec.metrics gives a replica proposal (the largest
    wins, within a 10 % tolerance, min/max replicas), status.currentMetrics holds one MetricStatus
    per spec metric in spec order (``{type: ""}`` for one that failed while others did not), with
    current.averageValue/value as milli-quantities; conditions ScalingActive and AbleToScale.
    When no metric can be computed the controller keeps its last currentMetrics.
    broken: "any-metric" (the adapter answers 0 for metrics nobody exports), "no-scale-down"."""

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

    # -- what the metrics APIs answer ----------------------------------------------------------
    def series_mean(self, selector: str) -> float | None:
        vals = [float(r["value"][1]) for r in self.prom.query(selector)]
        if not vals:
            return 0.0 if self.broken == "any-metric" else None
        return sum(vals) / len(vals)

    def pod_metric(self, pod: dict[str, Any], metric: str) -> float | None:
        return self.series_mean('%s{namespace="%s",pod="%s"}' % (metric, pod["metadata"]["namespace"], pod["metadata"]["name"]))

    def _no_metric(self, mtype: str, metric: str, what: str) -> MetricError:
        api = "custom metrics API" if mtype in ("Pods", "Object") else "external metrics API"
        return MetricError(
            FAILED[mtype],
            "the HPA was unable to compute the replica count: unable to get metric %s: unable to fetch metrics from %s: "
            "the server could not find the metric %s for %s" % (metric, api, metric, what),
        )

    # -- one metric: (value compared with the target, target, its MetricStatus, replica proposal) --
    def compute(self, ms: dict[str, Any], ns: str, pods: list[dict[str, Any]], cur: int) -> tuple[dict[str, Any], int]:
        mtype = ms.get("type", "")
        src = ms.get(MEMBER.get(mtype, ""), {}) or {}
        target = src.get("target") or {}
        if mtype == "Resource":
            return self.resource(src, pods)
        name = (src.get("metric") or {}).get("name", "")
        if not self.up:
            raise self._no_metric(mtype, name, "pods" if mtype == "Pods" else mtype.lower())
        if mtype == "Pods":
            vals = [self.pod_metric(p, name) for p in pods]
            if not pods or any(v is None for v in vals):
                raise self._no_metric(mtype, name, "pods")
            avg = sum(vals) / len(vals)
            want = self.propose(avg / qty(target["averageValue"]), len(pods), cur)
            return {"type": "Pods", "pods": {"metric": dict(src["metric"]), "current": {"averageValue": milli_quantity(avg)}}}, want
        if mtype == "External":
            labels = ((src["metric"].get("selector") or {}).get("matchLabels")) or {}
            value = self.series_mean("%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in sorted(labels.items()))) if labels else name)
            status_key = "averageValue" if target.get("type") == "AverageValue" else "value"
            return self.total(mtype, src, name, value, target, status_key, len(pods), cur, "external")
        if mtype == "Object":
            ref = src.get("describedObject") or {}
            value = self.series_mean('%s{namespace="%s",%s="%s"}' % (name, ns, ref.get("kind", "").lower(), ref.get("name", "")))
            status_key = "averageValue" if target.get("type") == "AverageValue" else "value"
            status, want = self.total(mtype, src, name, value, target, status_key, len(pods), cur, "%s %s" % (ref.get("kind"), ref.get("name")))
            status["object"]["describedObject"] = dict(ref)
            return status, want
        raise MetricError("InvalidMetricSourceType", "the HPA was unable to compute the replica count: unknown metric source type %r" % mtype)

    def total(self, mtype, src, name, value, target, status_key, ready, cur, what) -> tuple[dict[str, Any], int]:
        if value is None:
            raise self._no_metric(mtype, name, what)
        if status_key == "averageValue":  # the total divided over the replicas
            want = math.ceil(value / qty(target["averageValue"]))
            shown = value / max(cur, 1)
        else:
            want, shown = self.propose(value / qty(target["value"]), ready, cur), value
        member = MEMBER[mtype]
        status = {"type": mtype, member: {"metric": dict(src["metric"]), "current": {status_key: milli_quantity(shown)}}}
        return status, want

    def resource(self, src: dict[str, Any], pods: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
        """metrics-server's CPU of each pod (cores); Utilization needs a CPU request on every container."""
        name, target = src.get("name"), src.get("target") or {}
        if name != "cpu" or not pods:
            raise MetricError(
                "FailedGetResourceMetric", "the HPA was unable to compute the replica count: failed to get %s utilization: no metrics returned" % name
            )
        usage = [_load(self.c, p) / 100.0 for p in pods]
        avg = sum(usage) / len(usage)
        if target.get("type") == "Utilization":
            for p in pods:
                for ctr in p["spec"]["containers"]:
                    if "cpu" not in ((ctr.get("resources") or {}).get("requests") or {}):
                        raise MetricError(
                            "FailedGetResourceMetric",
                            "the HPA was unable to compute the replica count: failed to get cpu utilization: "
                            'missing request for cpu in container "%s" of Pod "%s"' % (ctr["name"], p["metadata"]["name"]),
                        )
            request = qty(pods[0]["spec"]["containers"][0]["resources"]["requests"]["cpu"])
            util = round(100 * avg / request)
            want = self.propose(util / float(target["averageUtilization"]), len(pods), len(pods))
            return {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": util, "averageValue": milli_quantity(avg)}}}, want
        want = self.propose(avg / qty(target["averageValue"]), len(pods), len(pods))
        return {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": milli_quantity(avg)}}}, want

    @staticmethod
    def propose(ratio: float, ready: int, cur: int) -> int:
        """The replica calculator: within the tolerance nothing changes, else ceil(ratio * ready pods)."""
        if abs(ratio - 1.0) <= TOLERANCE:
            return cur
        return math.ceil(ratio * ready)

    def sync(self) -> None:
        for h in self.c.all("autoscaling/v2", "HorizontalPodAutoscaler"):
            spec, ns = h["spec"], h["metadata"]["namespace"]
            dep = self.c.obj("apps/v1", "Deployment", spec["scaleTargetRef"]["name"], ns)
            if dep is None:
                continue
            pods = [p for p in self.c.pods_matching(ns, dep["spec"]["selector"]["matchLabels"]) if phase_of(p) == "Running"]
            cur = int(dep["spec"].get("replicas", 1))
            now = self.c.iso()
            cond(h, "AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale", now)
            statuses: list[dict[str, Any]] = []
            proposals, errors = [], []
            for ms in spec.get("metrics") or []:
                try:
                    status, want = self.compute(ms, ns, pods, cur)
                except MetricError as exc:
                    errors.append(exc.args)
                    statuses.append({"type": ""})
                    continue
                statuses.append(status)
                proposals.append(want)
            if not proposals:
                reason, message = errors[0] if errors else ("InvalidMetricSourceType", "the HPA was unable to compute the replica count: no metrics")
                cond(h, "ScalingActive", "False", reason, message, now)
                self.c.touch(h)
                continue
            cond(
                h, "ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from %s" % self.described(spec), now
            )
            h["status"] = dict(h.get("status") or {}, currentMetrics=statuses)
            lo = int(spec.get("minReplicas", 1))
            want = min(int(spec["maxReplicas"]), max(lo, *proposals))
            if self.broken == "no-scale-down":
                want = max(want, cur)
            if want != cur:
                dep["spec"]["replicas"] = want
                dep["metadata"]["generation"] += 1
                self.c.touch(dep)
            h["status"].update(currentReplicas=cur, desiredReplicas=want)
            self.c.touch(h)

    @staticmethod
    def described(spec: dict[str, Any]) -> str:
        ms = (spec.get("metrics") or [{}])[0]
        src = ms.get(MEMBER.get(ms.get("type", ""), ""), {}) or {}
        if ms.get("type") == "Resource":
            return "cpu resource"
        return "%s metric %s" % (ms.get("type", "").lower(), (src.get("metric") or {}).get("name"))


class ScheduledScaler:
    """Something other than the HPA that scales GPU workloads: at ``at_s`` seconds of cluster time
    (a cron trigger, or an operator running ``kubectl scale``) it sets every Deployment whose pods
    request ``resource`` to ``replicas``, whatever any metric says."""

    def __init__(self, c: FakeCluster, at_s: float, replicas: int, resource: str = "nvidia.com/gpu") -> None:
        self.c, self.replicas, self.resource = c, replicas, resource
        c.after(at_s, self.scale)

    def scale(self) -> None:
        for dep in self.c.all("apps/v1", "Deployment"):
            ctrs = dep["spec"]["template"]["spec"].get("containers") or []
            if any(self.resource in ((ctr.get("resources") or {}).get("limits") or {}) for ctr in ctrs) and dep["spec"].get("replicas") != self.replicas:
                dep["spec"]["replicas"] = self.replicas
                dep["metadata"]["generation"] += 1
                self.c.touch(dep)
