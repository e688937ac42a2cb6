# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus access for the observability probes: discovery, the HTTP query API (directly or
through the API server's service proxy, so no port-forward and no hard-coded namespace), and the
samples of a text exposition page, read by prometheus_client's parser."""

from __future__ import absolute_import, annotations, division, print_function

import json
import re
import time
import traceback
from typing import Any
from urllib.parse import urlencode

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.api_errors import _root_cause, unreachable_fix
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError

try:
    from prometheus_client.parser import text_string_to_metric_families

    HAS_PROMETHEUS_CLIENT = True
    PROMETHEUS_CLIENT_IMP_ERR = None
except ImportError:
    HAS_PROMETHEUS_CLIENT = False
    PROMETHEUS_CLIENT_IMP_ERR = traceback.format_exc()

__metaclass__ = type

# Labels a Prometheus Service carries in the common installs: kube-prometheus-stack
# (app.kubernetes.io/name=prometheus, operated-prometheus=true), the prometheus community chart
# (app.kubernetes.io/name=prometheus / app=prometheus), GKE managed collection (app=managed-prometheus...).
PROMETHEUS_LABELS = (("app.kubernetes.io/name", "prometheus"), ("operated-prometheus", "true"), ("app", "prometheus"))
PROMETHEUS_PORTS = ("web", "http-web", "http", "prometheus")
# Options of every module that reads Prometheus (documented by doc_fragments/prometheus.py).
PROMETHEUS_ARGSPEC: dict[str, dict[str, Any]] = {
    "prometheus_url": {"type": "str"},
    "prometheus_service": {"type": "str"},
    "prometheus_token": {"type": "str", "no_log": True},
    "prometheus_validate_certs": {"type": "bool", "default": True},
}


class Prometheus:
    """The query API of one Prometheus.  ``url``: reached directly; ``service``: (namespace, name,
    port) reached through the API server's service proxy with the caller's credentials."""

    def __init__(
        self, client: Any, url: str | None = None, service: tuple[str, str, str] | None = None, token: str | None = None, validate_certs: bool = True
    ) -> None:
        self.client = client
        self.url = url.rstrip("/") if url else None
        self.service = service
        self.token = token
        self.validate_certs = validate_certs
        self.where = self.url or "service %s/%s port %s (through the API server proxy)" % service  # type: ignore[str-format]

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        if self.service:
            ns, name, port = self.service
            proxy = "/api/v1/namespaces/%s/services/%s:%s/proxy%s" % (ns, name, port, path)
            try:
                return self.client.request("GET", proxy, query=params, what="query Prometheus at %s" % self.where)
            except ClusterError as exc:
                raise ClusterError("Prometheus at %s: %s" % (self.where, exc), exc.kind, exc.status)
        import urllib3

        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer %s" % self.token
        pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED" if self.validate_certs else "CERT_NONE")
        try:
            resp = pool.request("GET", "%s%s?%s" % (self.url, path, urlencode(params)), headers=headers, timeout=urllib3.Timeout(connect=5, read=30))
        except Exception as exc:  # urllib3 raises many kinds; all mean the same here
            raise ClusterError("cannot reach Prometheus at %s: %s (%s)" % (self.url, _root_cause(exc), unreachable_fix(exc)), "unreachable")
        if resp.status in (401, 403):
            raise ClusterError("Prometheus at %s refused the request (HTTP %d): set prometheus_token" % (self.url, resp.status), "forbidden", resp.status)
        try:
            return json.loads(resp.data)
        except ValueError:
            raise ClusterError("Prometheus at %s answered HTTP %d with no JSON" % (self.url, resp.status), "api", resp.status)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; [{metric: {labels}, value: float, ts: float}]."""
        doc = self._get("/api/v1/query", {"query": promql})
        if not isinstance(doc, dict) or doc.get("status") != "success":
            raise ClusterError("Prometheus at %s rejected %s: %s" % (self.where, promql, (doc or {}).get("error", doc)), "invalid")
        data = doc.get("data") or {}
        if data.get("resultType") == "scalar":
            ts, v = data["result"]
            return [{"metric": {}, "value": float(v), "ts": float(ts)}]
        return [{"metric": r.get("metric", {}), "value": float(r["value"][1]), "ts": float(r["value"][0])} for r in data.get("result") or []]

    def targets(self) -> list[dict[str, Any]]:
        doc = self._get("/api/v1/targets", {"state": "active"})
        return ((doc or {}).get("data") or {}).get("activeTargets") or []

    def config(self) -> str:
        """The loaded configuration (YAML text of /api/v1/status/config)."""
        doc = self._get("/api/v1/status/config", {})
        if not isinstance(doc, dict) or doc.get("status") != "success":
            raise ClusterError("Prometheus at %s does not show its configuration: %s" % (self.where, (doc or {}).get("error", doc)), "invalid")
        return str((doc.get("data") or {}).get("yaml") or "")


def _port_of(svc: dict[str, Any]) -> str | None:
    ports = svc.get("spec", {}).get("ports") or []
    for want in PROMETHEUS_PORTS:
        for p in ports:
            if p.get("name") == want:
                return str(p["name"])
    for p in ports:
        if p.get("port") == 9090:
            return str(p.get("name") or p["port"])
    return None


def candidates(services: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Prometheus servers among Services of any namespace: (namespace, name, port)."""
    out = []
    for s in services:
        labels = s["metadata"].get("labels") or {}
        if s.get("spec", {}).get("type") == "ExternalName":
            continue
        if not any(labels.get(k) == v for k, v in PROMETHEUS_LABELS):
            continue
        name = s["metadata"]["name"]
        if any(x in name for x in ("adapter", "operator", "alertmanager", "node-exporter", "pushgateway", "kube-state")):
            continue
        port = _port_of(s)
        if port:
            out.append((s["metadata"]["namespace"], name, port))
    return sorted(set(out))


def parse_service_ref(ref: str) -> tuple[str, str, str | None]:
    """'namespace/name[:port]' -> (namespace, name, port or None)."""
    m = re.match(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(:([A-Za-z0-9-]+))?$", ref or "")
    if not m:
        raise ValueError("prometheus_service must look like namespace/name or namespace/name:port, got %r" % ref)
    return m.group(1), m.group(3), m.group(6)


def prometheus_param_error(params: dict[str, Any]) -> str | None:
    """One readable line for bad Prometheus options, or None."""
    if params.get("prometheus_url") and params.get("prometheus_service"):
        return "set prometheus_url or prometheus_service, not both"
    if params.get("prometheus_url") and not re.match(r"^https?://", params["prometheus_url"]):
        return "prometheus_url must be an http(s) URL, got %r" % params["prometheus_url"]
    if params.get("prometheus_service"):
        try:
            parse_service_ref(params["prometheus_service"])
        except ValueError as exc:
            return str(exc)
    return None


def poll(check: Any, timeout_s: float, interval_s: float = 2.0) -> tuple[Any, float]:
    """Call ``check()`` until it returns something truthy or ``timeout_s`` passes; returns (the
    last value, seconds waited).  Prometheus has no watch: scrape results can only be polled, at
    a fraction of a scrape interval."""
    t0 = time.monotonic()
    while True:
        value = check()
        waited = time.monotonic() - t0
        if value or waited >= timeout_s:
            return value, round(waited, 1)
        time.sleep(min(interval_s, max(0.0, timeout_s - waited)))


def discover(client: Any, params: dict[str, Any]) -> tuple[Prometheus | None, str]:
    """The Prometheus to query and how it was chosen; (None, why) when there is none."""
    if params.get("prometheus_url"):
        return Prometheus(
            client, url=params["prometheus_url"], token=params.get("prometheus_token"), validate_certs=params.get("prometheus_validate_certs", True)
        ), "prometheus_url"
    if params.get("prometheus_service"):
        ns, name, port = parse_service_ref(params["prometheus_service"])
        svc = client.get("v1", "Service", name, ns)
        if svc is None:
            return None, "prometheus_service %s/%s does not exist" % (ns, name)
        port = port or _port_of(svc)
        if not port:
            return None, "Service %s/%s has no port named %s or 9090: name the port in prometheus_service" % (ns, name, "/".join(PROMETHEUS_PORTS))
        return Prometheus(client, service=(ns, name, port)), "prometheus_service"
    found = candidates(client.list("v1", "Service")["items"])
    if not found:
        return None, "no Prometheus Service found in any namespace (labels %s); set prometheus_url or prometheus_service" % ", ".join(
            "%s=%s" % kv for kv in PROMETHEUS_LABELS
        )
    if len(found) > 1:
        # Several (e.g. prometheus-operated and a chart's Service for the same server): the first
        # by name answers for all; the choice is recorded.
        return Prometheus(client, service=found[0]), "discovered %s (of %s)" % ("/".join(found[0]), ", ".join("/".join(f) for f in found))
    return Prometheus(client, service=found[0]), "discovered %s" % "/".join(found[0])


# A counter's TYPE line.  prometheus_client's text parser renames the samples of a counter whose
# name lacks "_total" to the OpenMetrics spelling (name + "_total"); read as untyped, every sample
# keeps the name the exporter wrote (DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION stays as it is).
_COUNTER_TYPE = re.compile(r'^([ \t]*#[ \t]+TYPE[ \t]+(?:"(?:[^"\\]|\\.)*"|\S+)[ \t]+)counter([ \t\r]*)$', re.MULTILINE)


def parse_exposition(text: str) -> list[dict[str, Any]]:
    """Prometheus text format -> [{name, labels, value, ts}], one per sample (a histogram's
    ``_bucket``/``_sum``/``_count`` and a summary's quantiles are samples of their own), each named
    as written; ``ts`` is the sample's own timestamp in seconds when the exporter wrote one, else
    None.  A page that is not in the text format raises ClusterError(kind="invalid")."""
    if not HAS_PROMETHEUS_CLIENT:
        raise ClusterError("the Python library 'prometheus_client' is required to read a metrics page (pip install prometheus_client)", "config")
    out = []
    try:
        for family in text_string_to_metric_families(_COUNTER_TYPE.sub(r"\1untyped\2", text)):
            for s in family.samples:
                ts = s.timestamp
                out.append({"name": s.name, "labels": dict(s.labels), "value": float(s.value), "ts": None if ts is None else float(ts)})
    except ValueError as exc:
        raise ClusterError("the metrics page is not in the Prometheus text format: %s" % (str(exc).splitlines() or ["unparsable"])[0][:200], "invalid")
    return out


def label_of(labels: dict[str, str], names: tuple[str, ...]) -> str:
    """First non-empty of several label spellings (pod vs exported_pod after a relabel)."""
    for n in names:
        if labels.get(n):
            return labels[n]
    return ""


# What dcgm_query requires by default, with the physical range each reading must fall in.
DCGM_FIELDS = {
    "DCGM_FI_DEV_GPU_UTIL": (0.0, 100.0),
    "DCGM_FI_DEV_FB_USED": (0.0, 4.0e6),
    "DCGM_FI_DEV_FB_FREE": (0.0, 4.0e6),
    "DCGM_FI_DEV_GPU_TEMP": (0.0, 130.0),
    "DCGM_FI_DEV_POWER_USAGE": (0.0, 3000.0),
    "DCGM_FI_DEV_SM_CLOCK": (0.0, 5000.0),
}
NODE_LABELS = ("Hostname", "hostname", "node", "kubernetes_node", "nodename")
POD_LABELS = ("pod", "exported_pod")
NAMESPACE_LABELS = ("namespace", "exported_namespace")
CONTAINER_LABELS = ("container", "exported_container")


def gpu_nodes(nodes: list[dict[str, Any]], slices: list[dict[str, Any]], resource_name: str, driver: str) -> dict[str, int]:
    """node -> how many accelerators it has, from allocatable (device plugin) or DRA slices."""
    out: dict[str, int] = {}
    for n in nodes:
        try:
            c = int(str((n.get("status", {}).get("allocatable") or {}).get(resource_name, "0")))
        except ValueError:
            c = 0
        if c > 0:
            out[n["metadata"]["name"]] = c
    per_node: dict[str, int] = {}
    for s in slices:
        spec = s.get("spec", {})
        if spec.get("driver") == driver and spec.get("nodeName"):
            per_node[spec["nodeName"]] = per_node.get(spec["nodeName"], 0) + len(spec.get("devices") or [])
    for node, c in per_node.items():
        out[node] = max(out.get(node, 0), c)
    return out


def pick_node_label(series: list[dict[str, Any]], node_names: set[str], wanted: str = "auto") -> str | None:
    """The label that names the node in these series: the one whose values match most nodes."""
    if wanted != "auto":
        return wanted
    best, hits = None, 0
    for name in NODE_LABELS:
        n = len({s["metric"].get(name) for s in series} & node_names)
        if n > hits:
            best, hits = name, n
    return best


def gpus_reporting(series: list[dict[str, Any]], node_label: str | None, nodes: dict[str, int]) -> dict[str, int]:
    """node -> distinct GPU UUIDs among these series that name the node."""
    out = {}
    for node in sorted(nodes):
        out[node] = len({s["metric"].get("UUID") for s in series if node_label and s["metric"].get(node_label) == node and s["metric"].get("UUID")})
    return out


def out_of_range(series_by_field: dict[str, list[dict[str, Any]]]) -> list[str]:
    bad = []
    for field, series in sorted(series_by_field.items()):
        lo, hi = DCGM_FIELDS.get(field, (float("-inf"), float("inf")))
        for s in series:
            if not lo <= s["value"] <= hi:
                bad.append("%s=%s on %s" % (field, s["value"], s["metric"].get("UUID", "?")))
    return bad
