"""GPU metrics: the DCGM exporter on every GPU node and Prometheus scraping it and the pods it
discovers."""

from __future__ import annotations

import copy
import re
import sys
from typing import Any

from .base import EPOCH, labels_match, phase_of, selector_of
from .cluster import FakeCluster
from .install import http_service

# One GPU's readings as the recorded H100 reported them (tests/refcluster/fixtures/h100-query.csv).
H100_READINGS = {
    "DCGM_FI_DEV_GPU_UTIL": 0.0,
    "DCGM_FI_DEV_FB_USED": 0.0,
    "DCGM_FI_DEV_FB_FREE": 81079.0,
    "DCGM_FI_DEV_GPU_TEMP": 34.0,
    "DCGM_FI_DEV_POWER_USAGE": 123.5,
    "DCGM_FI_DEV_SM_CLOCK": 1980.0,
}
EXAMPLE_APP = "quay.io/brancz/prometheus-example-app"


def load_of(c: FakeCluster, pod: dict[str, Any]) -> float:
    """The GPU utilization a pod's load program drives: the ``utilization`` key of a ConfigMap it
    mounts (hpa_probe's workload reads /load/utilization), else idle."""
    for v in pod["spec"].get("volumes") or []:
        cm = c.obj("v1", "ConfigMap", (v.get("configMap") or {}).get("name", ""), pod["metadata"]["namespace"])
        if cm and "utilization" in (cm.get("data") or {}):
            return float(cm["data"]["utilization"])
    return 0.0


def _load(c: FakeCluster, pod: dict[str, Any]) -> float:
    # load_of as tests.unit.fakecluster exports it at the time of the call: tests replace fakecluster.load_of.
    return sys.modules["tests.unit.fakecluster"].load_of(c, pod)


def _target(discovered: dict[str, str], labels: dict[str, str], pool: str, url: str) -> dict[str, Any]:
    """An active target as Prometheus' /api/v1/targets lists it."""
    return {"discoveredLabels": discovered, "labels": labels, "scrapePool": pool, "scrapeUrl": url, "health": "up"}


class DcgmExporter:
    """dcgm-exporter on every GPU node, behind Service gpu-operator/nvidia-dcgm-exporter (port
    metrics): one series per GPU and field, labelled gpu, UUID, modelName, Hostname, and pod,
    namespace, container for the pod holding the GPU (kubelet pod-resources), and the energy
    counter DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (mJ since boot, power x time) unless ``counter``
    is False.  A GPU's utilization is what the pods holding it drive (``load_of``), whichever pod
    the exporter names on its series.  broken: a set of "no-attribution", "pods-by-node" (names
    every pod of the GPU's node), "wrong-gpu" (names a pod on the series of the next GPU of its
    node: a device index/minor mix-up), "no-labels" (no UUID or modelName), "hot" (temperature
    200), "one-node" (runs on the first GPU node only), "frozen" (DCGM stopped answering: it
    serves the readings of its first collection forever); ``fields`` limits what it exports."""

    ENERGY = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"

    def __init__(self, c: FakeCluster, broken: tuple[str, ...] = (), fields: tuple[str, ...] = tuple(H100_READINGS), counter: bool = True) -> None:
        self.c, self.broken, self.fields, self.counter = c, set(broken), fields, counter
        self.boot = c.now - 86400.0
        self.first: list[tuple[str, dict[str, str], float]] | None = None
        port = {"name": "metrics", "port": 9400}
        http_service(
            c, "gpu-operator", "nvidia-dcgm-exporter", {"app": "nvidia-dcgm-exporter"}, port, lambda method, rest, query, body: {"raw": self.exposition()}
        )

    def holders(self, g: dict[str, Any], on_node: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [p for p in on_node if g["uuid"] in self.c.dp_assigned.get(p["metadata"]["uid"], []) + self.c.claim_gpus(p)]

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        if "frozen" in self.broken and self.first is not None:
            return self.first
        out = []
        nodes = self.c.device_nodes()
        for node in nodes[:1] if "one-node" in self.broken else nodes:
            on_node = self.c.pods_on(node)
            gpus = self.c.node_gpus(node)
            for i, g in enumerate(gpus):
                physical = self.holders(g, on_node)
                util = max([_load(self.c, h) for h in physical] or [0.0])
                named = physical
                if "wrong-gpu" in self.broken:
                    named = self.holders(gpus[(i + 1) % len(gpus)], on_node)
                if "pods-by-node" in self.broken:
                    named = on_node
                if "no-attribution" in self.broken:
                    named = []
                for holder in named or [None]:
                    labels = {
                        "gpu": str(g["minor"]),
                        "UUID": g["uuid"],
                        "modelName": g.get("model") or "NVIDIA H100 80GB HBM3",
                        "Hostname": node,
                        "device": "nvidia%d" % g["minor"],
                    }
                    if "no-labels" in self.broken:
                        labels.pop("UUID")
                        labels.pop("modelName")
                    if holder is not None:
                        labels.update(
                            pod=holder["metadata"]["name"], namespace=holder["metadata"]["namespace"], container=holder["spec"]["containers"][0]["name"]
                        )
                    for f in self.fields:
                        v = H100_READINGS[f]
                        if f == "DCGM_FI_DEV_GPU_UTIL":
                            v = util
                        if f == "DCGM_FI_DEV_GPU_TEMP" and "hot" in self.broken:
                            v = 200.0
                        out.append((f, labels, v))
                    if self.counter:
                        out.append((self.ENERGY, labels, round(H100_READINGS["DCGM_FI_DEV_POWER_USAGE"] * 1000.0 * (self.c.now - self.boot))))
        if self.first is None:
            self.first = out
        return out

    def exposition(self) -> str:
        lines = []
        samples = self.samples()
        for f in list(self.fields) + ([self.ENERGY] if self.counter else []):
            lines += ["# HELP %s recorded field" % f, "# TYPE %s %s" % (f, "counter" if f == self.ENERGY else "gauge")]
            lines += ["%s{%s} %g" % (n, ",".join('%s="%s"' % kv for kv in sorted(lb.items())), v) for n, lb, v in samples if n == f]
        return "\n".join(lines) + "\n"


class Prometheus:
    """Prometheus behind Service monitoring/prometheus (port web), scraping every 15 s: the DCGM
    exporter, and pods discovered through PodMonitors (served when ``podmonitor``) or the
    prometheus.io/scrape annotation; the example app serves ``version`` and every target ``up``.
    The exporter's series get the target labels job and instance (honor_labels, as the GPU
    operator's ServiceMonitor sets it).  broken: "not-selective" (scrapes every running pod with a
    container port), "blind" (its service discovery finds no pod), "frozen" (its scrapes stop
    after the first).  Serves /api/v1/query (a PromQL subset), /api/v1/targets (with each target's
    scrapeInterval) and /api/v1/status/config; with ``shows_interval`` False neither shows the
    interval (an older Prometheus, or a proxy that serves only queries)."""

    EXPORTER_JOB = "nvidia-dcgm-exporter"

    def __init__(
        self,
        c: FakeCluster,
        podmonitor: bool = True,
        exporter: DcgmExporter | None = None,
        broken: str = "",
        interval: float = 15.0,
        shows_interval: bool = True,
    ) -> None:
        self.c, self.exporter, self.broken = c, exporter, broken
        self.interval, self.shows_interval = interval, shows_interval
        self.series: dict[tuple[str, tuple], tuple[float, float]] = {}
        self.active: list[dict[str, Any]] = []
        self.scrapes = 0
        if podmonitor:
            c.serve("monitoring.coreos.com/v1", "PodMonitor", "podmonitors")
        http_service(c, "monitoring", "prometheus", {"app.kubernetes.io/name": "prometheus"}, {"name": "web", "port": 9090}, self.http)
        self.scrape()
        c.every(interval, self.scrape)

    def targets(self) -> list[tuple[dict[str, Any], str]]:
        out: list[tuple[dict[str, Any], str]] = []
        if self.broken == "blind":
            return out
        monitors = self.c.all("monitoring.coreos.com/v1", "PodMonitor") if self.c.served("monitoring.coreos.com/v1") else []
        for p in self.c.all("v1", "Pod"):
            if phase_of(p) != "Running":
                continue
            ports = [x for c_ in p["spec"]["containers"] for x in c_.get("ports") or []]
            ann = p["metadata"].get("annotations") or {}
            for m in monitors:
                sel = selector_of(m["spec"]["selector"].get("matchLabels", {}))
                if m["metadata"]["namespace"] == p["metadata"]["namespace"] and labels_match(p["metadata"]["labels"], sel):
                    if any(x.get("name") == e.get("port") for e in m["spec"]["podMetricsEndpoints"] for x in ports):
                        out.append((p, "podMonitor/%s/%s/0" % (m["metadata"]["namespace"], m["metadata"]["name"])))
            if ann.get("prometheus.io/scrape") == "true" or (self.broken == "not-selective" and ports):
                out.append((p, "kubernetes-pods"))
        return out

    def scrape(self) -> None:
        if self.broken == "frozen" and self.scrapes:
            return
        self.scrapes += 1
        now = EPOCH + self.c.now
        self.active = []
        if self.exporter is not None:
            for name, labels, v in self.exporter.samples():
                target = {"job": self.EXPORTER_JOB, "instance": "%s:9400" % labels.get("Hostname", "")}
                self.series[(name, tuple(sorted(dict(labels, **target).items())))] = (v, now)
            for node in self.c.device_nodes():
                labels = {"job": self.EXPORTER_JOB, "instance": "%s:9400" % node}
                pool = "serviceMonitor/gpu-operator/nvidia-dcgm-exporter/0"
                self.active.append(_target({"__meta_kubernetes_pod_node_name": node}, labels, pool, "http://%s:9400/metrics" % node))
        for pod, pool in self.targets():
            base = {"namespace": pod["metadata"]["namespace"], "pod": pod["metadata"]["name"], "job": pool}
            self.series[("up", tuple(sorted(base.items())))] = (1.0, now)
            if any(str(c_.get("image", "")).startswith(EXAMPLE_APP) for c_ in pod["spec"]["containers"]):
                self.series[("version", tuple(sorted(dict(base, version="v0.5.0").items())))] = (1.0, now)
            url = "http://%s:8080/metrics" % pod["status"].get("podIP")
            self.active.append(_target({"__meta_kubernetes_pod_name": pod["metadata"]["name"]}, base, pool, url))
        for t in self.active:
            if self.shows_interval:
                t.update(scrapeInterval="%ds" % self.interval, scrapeTimeout="10s")

    def select(self, q: str) -> list[tuple[dict[str, str], float, float]]:
        """A selector's series in the lookback window: (labels, value, sample timestamp)."""
        now = EPOCH + self.c.now
        m = re.match(r"^([\w:]+)(?:\{(.*)\})?$", q)
        if not m:
            raise ValueError(q)
        want = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out = []
        for (name, labels), (v, ts) in self.series.items():
            lb = dict(labels)
            if name == m.group(1) and all(lb.get(k) == x for k, x in want.items()) and now - ts <= 300:
                out.append((dict(lb, __name__=name), v, ts))
        return out

    def query(self, q: str) -> list[dict[str, Any]]:
        """Instant query results as Prometheus answers them: [evaluation time, value]."""
        now = EPOCH + self.c.now
        q = q.strip()
        if q == "vector(1)":
            return [{"metric": {}, "value": [now, "1"]}]
        m = re.match(r"^(time\(\) - )?timestamp\((\w+)\)$", q)
        if m:
            return [
                {"metric": {k: v for k, v in lb.items() if k != "__name__"}, "value": [now, str(now - ts if m.group(1) else ts)]}
                for lb, _v, ts in self.select(m.group(2))
            ]
        return [{"metric": lb, "value": [now, str(v)]} for lb, v, _ts in self.select(q)]

    def http(self, method: str, rest: str, query: dict[str, Any], body: Any) -> Any:
        if rest == "/api/v1/targets":
            return {"status": "success", "data": {"activeTargets": copy.deepcopy(self.active)}}
        if rest == "/api/v1/status/config" and self.shows_interval:
            return {"status": "success", "data": {"yaml": "global:\n  scrape_interval: %ds\n  scrape_timeout: 10s\n" % self.interval}}
        if rest == "/api/v1/query":
            try:
                return {"status": "success", "data": {"resultType": "vector", "result": self.query(query.get("query", ""))}}
            except ValueError:
                return {"status": "error", "errorType": "bad_data", "error": "parse error"}
        return {"status": "error", "error": "not found"}
