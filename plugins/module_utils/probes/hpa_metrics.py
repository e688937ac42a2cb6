# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HPA's own view of its metric over time, for hpa_probe.

The HPA controller writes, at each sync, one ``status.currentMetrics`` entry per ``spec.metrics``
entry (autoscaling/v2 MetricStatus: ``type`` Pods, Object, External, Resource or ContainerResource,
and under the member of that type the metric's name and ``current.averageValue`` / ``value`` /
``averageUtilization``, quantities such as "95" or "47500m").  ``Sampler`` reads the HPA at each
observation of the scaled Deployment and at least every ``SAMPLE_S`` seconds, recording the
current value with the time since the probe started; ``drove_scale_up`` and
``followed_scale_down`` decide from those samples whether the replica changes followed the metric.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
import traceback
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl

try:
    from kubernetes.utils.quantity import parse_quantity

    HAS_QUANTITY = True
    QUANTITY_IMPORT_ERROR = None
except ImportError:
    HAS_QUANTITY = False
    QUANTITY_IMPORT_ERROR = traceback.format_exc()

# The member of a MetricSpec/MetricStatus for each metric type.
MEMBER = {"Pods": "pods", "Object": "object", "External": "external", "Resource": "resource", "ContainerResource": "containerResource"}
# The MetricValueStatus field compared with each MetricTarget type.
TARGET_FIELD = {"AverageValue": "averageValue", "Value": "value", "Utilization": "averageUtilization"}
# A third of kube-controller-manager's default HPA sync period (15 s): every sync the probe waits
# through is seen at least once.
SAMPLE_S = 5.0
HPA_SYNC_S = 15.0  # kube-controller-manager --horizontal-pod-autoscaler-sync-period default

# The volume whose ConfigMap (key utilization, percent) the load container reads.
LOAD_VOLUME = "gpu-load"


def load_deployment(p: dict[str, Any], name: str, ns: str, load_cm: str, gpu: bool, sel: dict[str, str]) -> dict[str, Any]:
    """hpa_probe's Deployment (options load_image, load_command, resource_name, tolerations,
    min_replicas): pods with one ``resource_name`` each (``gpu``) whose load container reads the
    ConfigMap ``load_cm``, on nodes matching ``sel``."""
    pod = wl.pod(
        name,
        ns,
        image=p["load_image"],
        command=p["load_command"],
        limits={p["resource_name"]: "1"} if gpu else None,
        labels={"app.kubernetes.io/name": name},
        restart_policy="Always",
        node_selector=sel,
        tolerations=p["tolerations"],
    )
    pod["spec"]["volumes"] = [{"name": LOAD_VOLUME, "configMap": {"name": load_cm}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": LOAD_VOLUME, "mountPath": "/load", "readOnly": True}]
    return wl.deployment(pod, p["min_replicas"])


def manifest(name: str, ns: str, target: str, metric: str, value: int, lo: int, hi: int) -> dict[str, Any]:
    """The probe's HPA: Pods metric ``metric`` with an AverageValue target, short behaviour windows."""
    window = {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 5}, {"type": "Pods", "value": 4, "periodSeconds": 5}],
    }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": lo,
            "maxReplicas": hi,
            "metrics": [{"type": "Pods", "pods": {"metric": {"name": metric}, "target": {"type": "AverageValue", "averageValue": str(value)}}}],
            "behavior": {"scaleUp": dict(window), "scaleDown": dict(window)},
        },
    }


def condition_text(obj: dict[str, Any] | None, ctype: str) -> str:
    c = wl.condition(obj, ctype) or {}
    return "%s=%s %s: %s" % (ctype, c.get("status", "?"), c.get("reason", ""), c.get("message", "")) if c else "no %s condition" % ctype


def quantity(raw: Any) -> float | None:
    """A Kubernetes quantity ("95", "47500m", "1.5k") as a number; None when absent or malformed."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    if not HAS_QUANTITY:
        try:
            return float(raw)
        except ValueError:
            return None
    try:
        return float(parse_quantity(raw))
    except (ValueError, TypeError, ArithmeticError):
        return None


def _member(entry: dict[str, Any]) -> dict[str, Any]:
    return (entry or {}).get(MEMBER.get((entry or {}).get("type") or "", ""), {}) or {}


def metric_name(entry: dict[str, Any]) -> str:
    """The metric an autoscaling/v2 MetricSpec or MetricStatus is about (a resource's name for
    Resource and ContainerResource)."""
    member = _member(entry)
    if entry.get("type") in ("Resource", "ContainerResource"):
        return str(member.get("name") or "")
    return str((member.get("metric") or {}).get("name") or "")


def _shown(entry: dict[str, Any]) -> str:
    current = _member(entry).get("current") or {}
    value = next((current[f] for f in ("averageValue", "value", "averageUtilization") if f in current), None)
    return "%s %s=%s" % (entry.get("type") or "(empty type)", metric_name(entry) or "?", value)


def shown(hpa: dict[str, Any] | None) -> str:
    """Every entry of status.currentMetrics, as written."""
    return "; ".join(_shown(m) for m in ((hpa or {}).get("status") or {}).get("currentMetrics") or []) or "no currentMetrics"


def target_of(hpa: dict[str, Any] | None, metric: str) -> dict[str, Any] | None:
    """The stored spec.metrics target for ``metric``: type, target type, field, raw and value."""
    for entry in ((hpa or {}).get("spec") or {}).get("metrics") or []:
        if metric_name(entry) == metric:
            target = _member(entry).get("target") or {}
            field = TARGET_FIELD.get(target.get("type") or "", "")
            raw = target.get(field) if field else None
            return {"type": entry.get("type"), "metric": metric, "target_type": target.get("type"), "field": field, "raw": raw, "value": quantity(raw)}
    return None


def specified(hpa: dict[str, Any] | None) -> str:
    """The metrics the stored HPA scales on (type and name)."""
    out = ["%s %s" % (m.get("type"), metric_name(m)) for m in ((hpa or {}).get("spec") or {}).get("metrics") or []]
    return ", ".join(out) or "no spec.metrics"


def current_of(hpa: dict[str, Any] | None, metric: str, field: str = "") -> tuple[float | None, Any]:
    """(value, raw) of ``metric`` in status.currentMetrics, in the field its target compares
    (the first of averageValue, value, averageUtilization when ``field`` is empty)."""
    for entry in ((hpa or {}).get("status") or {}).get("currentMetrics") or []:
        if metric_name(entry) == metric:
            current = _member(entry).get("current") or {}
            key = field or next((f for f in ("averageValue", "value", "averageUtilization") if f in current), "")
            return quantity(current.get(key)), current.get(key)
    return None, None


class Sampler:
    """Reads the HPA and records its current value of ``metric`` with the time since ``t0`` (the
    probe's start), the phase and the Deployment's replicas at that moment."""

    def __init__(self, client: Any, namespace: str, name: str, metric: str, t0: float) -> None:
        self.client, self.namespace, self.name, self.metric, self.t0 = client, namespace, name, metric, t0
        self.samples: list[dict[str, Any]] = []
        self.target: dict[str, Any] | None = None
        self.last_hpa: dict[str, Any] | None = None
        self._last_t: float | None = None

    def since_start(self) -> float:
        return round(time.monotonic() - self.t0, 1)

    def due(self) -> bool:
        return self._last_t is None or time.monotonic() - self._last_t >= SAMPLE_S

    def catch_up(self, phase: str, replicas: Any, reached: Callable[[int], bool]) -> bool:
        """Sample until the HPA's status.desiredReplicas is what the Deployment reached, for at most two
        HPA syncs: the controller writes the new scale before its status, so a read right after a
        change can still show the metric of the sync before.  False when the HPA never wanted that
        count (something else set it); the last sample is taken either way."""

        def seen(o: dict[str, Any] | None) -> bool:
            desired = ((o or {}).get("status") or {}).get("desiredReplicas")
            ok = isinstance(desired, int) and reached(desired)
            if ok or self.due():
                self.take(phase, replicas, o)
            return ok

        ok = wait_sampling(self.client, "autoscaling/v2", "HorizontalPodAutoscaler", self.name, self.namespace, seen, 2 * HPA_SYNC_S)[0]
        if not ok:
            self.take(phase, replicas)
        return ok

    def take(self, phase: str, replicas: Any, hpa: dict[str, Any] | None = None) -> dict[str, Any]:
        live = hpa if hpa is not None else self.client.get("autoscaling/v2", "HorizontalPodAutoscaler", self.name, self.namespace)
        self._last_t = time.monotonic()
        self.last_hpa = live
        self.target = target_of(live, self.metric)
        value, raw = current_of(live, self.metric, (self.target or {}).get("field", ""))
        sample = {"t_s": self.since_start(), "phase": phase, "replicas": replicas, "current": value, "raw": raw}
        sample["desired"] = ((live or {}).get("status") or {}).get("desiredReplicas")
        if value is None:
            sample["shown"] = shown(live)
        if self.samples and self.samples[-1] == sample:
            return sample  # the same moment seen twice (a change that also ends a wait)
        self.samples.append(sample)
        return sample


def wait_sampling(client: Any, api_version: str, kind: str, name: str, namespace: str, predicate: Callable[[Any], bool], timeout_s: float) -> tuple[bool, Any]:
    """``client.wait_until`` cut into pieces of at most SAMPLE_S seconds, so that the predicate (which
    samples the HPA when one is due) runs at least that often, also while nothing changes."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        ok, last = client.wait_until(api_version, kind, name, predicate, namespace, max(0.0, min(SAMPLE_S, remaining)))
        if ok or remaining <= SAMPLE_S:
            return ok, last


def follow_replicas(
    client: Any,
    namespace: str,
    deployment: str,
    done: Callable[[int], bool],
    timeout_s: float,
    changes: list[dict[str, Any]],
    t0: float,
    sampler: Sampler,
    phase: str,
) -> tuple[bool, Any]:
    """Follow the Deployment's spec.replicas (what the HPA sets) until done(replicas); every change is
    appended to ``changes`` with its time since t0.  The HPA is sampled at every change and at least
    every SAMPLE_S seconds.  Returns (done, last replicas)."""
    last: list[Any] = [None]

    def seen(o: dict[str, Any] | None) -> bool:
        r = ((o or {}).get("spec") or {}).get("replicas")
        changed = r != last[0]
        if changed and last[0] is not None:
            changes.append({"replicas": r, "t_s": round(time.monotonic() - t0, 1)})
        last[0] = r
        if changed or sampler.due():
            sampler.take(phase, r)
        return r is not None and done(r)

    return wait_sampling(client, "apps/v1", "Deployment", deployment, namespace, seen, timeout_s)[0], last[0]


def highest(samples: list[dict[str, Any]], phase: str) -> float | None:
    vals = [s["current"] for s in samples if s.get("phase") == phase and s.get("current") is not None]
    return max(vals) if vals else None


def _above(samples: list[dict[str, Any]], phase: str, limit: float, above: bool) -> list[dict[str, Any]]:
    vals = [s for s in samples if s.get("phase") == phase and s.get("current") is not None]
    return [s for s in vals if (s["current"] > limit if above else s["current"] < limit)]


def drove_scale_up(samples: list[dict[str, Any]], target: dict[str, Any] | None, metric: str, hpa: dict[str, Any] | None) -> tuple[bool, str]:
    """A scale-up is evidence of the metric driving it only when the HPA's current value of the
    metric exceeded the target while the load was high (from raising it to the end of the wait)."""
    if target is None or target.get("value") is None:
        return False, "the stored HPA has no target for %s in spec.metrics (it scales on %s): the scale-up is not evidence of that metric" % (
            metric,
            specified(hpa),
        )
    up = [s for s in samples if s.get("phase") == "up"]
    seen = [s["current"] for s in up if s.get("current") is not None]
    hits = _above(samples, "up", target["value"], True)
    if hits:
        first = hits[0]
        return True, "the HPA's current %s was %s (target %s) at %s s, %d of %d samples above the target" % (
            metric,
            first["raw"],
            target["raw"],
            first["t_s"],
            len(hits),
            len(up),
        )
    if not seen:
        return (
            False,
            "the replicas rose, but the HPA's status.currentMetrics never showed %s in %d samples (it showed: %s): "
            "not evidence of the metric driving the scale-up"
            % (
                metric,
                len(up),
                shown(hpa),
            ),
        )
    return (
        False,
        "the replicas rose while the HPA's current %s never exceeded its target %s (highest %g in %d samples): "
        "something other than the metric scaled the Deployment"
        % (
            metric,
            target["raw"],
            max(seen),
            len(up),
        ),
    )


def followed_scale_down(samples: list[dict[str, Any]], target: dict[str, Any] | None, metric: str) -> tuple[bool, str]:
    """A scale-down follows the metric only when the HPA's current value fell below the target."""
    if target is None or target.get("value") is None:
        return False, "the stored HPA has no target for %s in spec.metrics" % metric
    down = [s for s in samples if s.get("phase") == "down"]
    seen = [s["current"] for s in down if s.get("current") is not None]
    hits = _above(samples, "down", target["value"], False)
    if hits:
        return True, "the HPA's current %s was %s (target %s) at %s s" % (metric, hits[0]["raw"], target["raw"], hits[0]["t_s"])
    if not seen:
        return False, "the replicas fell, but the HPA's status.currentMetrics never showed %s in %d samples" % (metric, len(down))
    return False, "the replicas fell while the HPA's current %s never went below its target %s (lowest %g in %d samples)" % (
        metric,
        target["raw"],
        min(seen),
        len(down),
    )
