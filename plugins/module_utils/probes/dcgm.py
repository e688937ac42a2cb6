# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DCGM exporter as accelerator_metrics reads it: its endpoint (through the API server's
service proxy), the scrape interval Prometheus uses for it, and the two decisions that need more
than one look: liveness (two reads at least one interval apart) and attribution (the series
naming a pod carry the GPU that pod was allocated)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
import time
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mx
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt

EXPORTER_LABELS = (("app", "nvidia-dcgm-exporter"), ("app.kubernetes.io/name", "dcgm-exporter"), ("app", "dcgm-exporter"))
# In dcgm-exporter's default counters: energy since boot (mJ).  A powered GPU's never stands still,
# so a value that did not move between two reads is a reading nobody refreshed.
ENERGY_COUNTER = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"
LIVE_TS = "samples advance between two reads"
LIVE_READINGS = "readings move between two reads"


class Exporter:
    """The exporter's own endpoint read through the API server proxy.  Samples carry the
    timestamp the exporter wrote (dcgm-exporter writes none: ``ts`` None)."""

    def __init__(self, client: Any, service: tuple[str, str, str]) -> None:
        self.client, self.service = client, service
        self.where = "exporter Service %s/%s port %s (through the API server proxy)" % service

    def samples(self) -> list[dict[str, Any]]:
        ns, name, port = self.service
        doc = self.client.request("GET", "/api/v1/namespaces/%s/services/%s:%s/proxy/metrics" % (ns, name, port), what="read %s" % self.where)
        return mx.parse_exposition(doc.get("raw", "") if isinstance(doc, dict) else "")

    def query(self, name: str) -> list[dict[str, Any]]:
        return [{"metric": dict(s["labels"], __name__=s["name"]), "value": s["value"], "ts": s["ts"]} for s in self.samples() if s["name"] == name]


def find_exporter(client: Any, ref: str | None) -> tuple[str, str, str] | None:
    if ref:
        ns, name, port = mx.parse_service_ref(ref)
        svc = client.get("v1", "Service", name, ns)
        if svc is None:
            return None
        return ns, name, port or str((svc["spec"].get("ports") or [{}])[0].get("name") or svc["spec"]["ports"][0]["port"])
    for s in client.list("v1", "Service")["items"]:
        labels = s["metadata"].get("labels") or {}
        if any(labels.get(k) == v for k, v in EXPORTER_LABELS) and s["spec"].get("type") != "ExternalName":
            port = (s["spec"].get("ports") or [{}])[0]
            return s["metadata"]["namespace"], s["metadata"]["name"], str(port.get("name") or port.get("port"))
    return None


def pick_source(client: Any, params: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    """(Prometheus or Exporter, how it was chosen, observations); (None, why, {}) when neither is there."""
    why = "source is exporter"
    if params["source"] in ("auto", "prometheus"):
        prom, why = mx.discover(client, params)
        if prom is not None:
            return prom, why, {"source": "prometheus", "prometheus": "%s (%s)" % (prom.where, why)}
        if params["source"] == "prometheus":
            return None, why, {}
    svc = find_exporter(client, params["exporter_service"])
    if svc is None:
        labels = ", ".join("%s=%s" % kv for kv in EXPORTER_LABELS)
        return None, "no accelerator metrics endpoint: %s, and no DCGM exporter Service (labels %s)" % (why, labels), {}
    exp = Exporter(client, svc)
    return exp, "exporter", {"source": "exporter", "exporter": exp.where}


def exposition_checks(by_field: dict[str, list[dict[str, Any]]], expected: dict[str, int], label: str | None) -> list[tuple[str, bool, str]]:
    """What one read shows: every field exposed, by every GPU of every GPU node, with UUID and
    model labels, in physical range."""
    out = []
    missing = [f for f, s in by_field.items() if not s]
    out.append(("every required field is exposed", not missing, "missing: %s" % ", ".join(missing) if missing else "%d fields" % len(by_field)))
    short = {}
    for f, series in by_field.items():
        got = mx.gpus_reporting(series, label, expected)
        short.update({"%s on %s" % (f, n): "%d/%d" % (got[n], c) for n, c in expected.items() if got[n] < c})
    total = "%d GPUs on %d nodes x %d fields (node label %s)" % (sum(expected.values()), len(expected), len(by_field), label)
    out.append(("every GPU of every GPU node reports every field", not short, ("short: %s" % short) if short else total))
    anonymous = [s for f in by_field.values() for s in f if not s["metric"].get("UUID") or not s["metric"].get("modelName")]
    unnamed = sorted({s["metric"].get(label or "", "?") for s in anonymous})
    out.append(("series identify the GPU (UUID, modelName)", not unnamed, "without UUID/modelName on: %s" % unnamed if unnamed else "all labelled"))
    bad = mx.out_of_range({f: s for f, s in by_field.items() if f in mx.DCGM_FIELDS})
    plausible = "utilization 0-100 %, temperature, power, clocks, framebuffer plausible"
    out.append(("readings are in physical range", not bad, "; ".join(bad[:5]) if bad else plausible))
    return out


def parse_duration(text: Any) -> float | None:
    """Prometheus durations: '15s', '1m30s', '500ms', '1h'; None when unreadable."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", str(text or ""))
    if not parts or "".join(n + u for n, u in parts) != str(text).strip():
        return None
    mult = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(n) * mult[u] for n, u in parts)


def scrape_interval(prom: mx.Prometheus, series: list[dict[str, Any]]) -> tuple[float | None, str]:
    """How often Prometheus scrapes the target these series came from: the target's
    ``scrapeInterval`` (matched by the series' job and instance labels), else the job's or the
    global ``scrape_interval`` of the configuration.  (None, why) when neither is exposed."""
    keys = {(s["metric"].get("job"), s["metric"].get("instance")) for s in series if s["metric"].get("job")}
    jobs = {j for j, _i in keys}
    why = []
    try:
        for t in prom.targets():
            lb = t.get("labels") or {}
            if (lb.get("job"), lb.get("instance")) in keys or (lb.get("job") in jobs and not any(i for _j, i in keys)):
                sec = parse_duration(t.get("scrapeInterval"))
                if sec:
                    return sec, "scrapeInterval %s of target %s (job %s)" % (t["scrapeInterval"], lb.get("instance"), lb.get("job"))
        why.append("no active target of job %s shows a scrapeInterval" % (sorted(jobs) or "(series carry no job label)"))
    except ClusterError as exc:
        why.append("targets not readable: %s" % exc.message)
    try:
        import yaml

        cfg = yaml.safe_load(prom.config()) or {}
        for sc in cfg.get("scrape_configs") or []:
            if sc.get("job_name") in jobs and parse_duration(sc.get("scrape_interval")):
                return parse_duration(sc["scrape_interval"]), "scrape_interval %s of job %s in the configuration" % (sc["scrape_interval"], sc["job_name"])
        glob = (cfg.get("global") or {}).get("scrape_interval")
        if parse_duration(glob):
            return parse_duration(glob), "global scrape_interval %s in the configuration" % glob
        why.append("the configuration sets no scrape_interval")
    except (ClusterError, ValueError, AttributeError, ImportError) as exc:
        why.append("configuration not readable: %s" % getattr(exc, "message", exc))
    return None, "; ".join(why)


def snapshot(src: Any, fields: list[str]) -> dict[str, Any]:
    """One read of every GPU's readings: {at, gpus: {UUID: {node, values: {field: [values]},
    ts: newest sample timestamp or None, counter: energy or None}}}.  Prometheus: the values, and
    the samples' own timestamps through ``timestamp()``; exporter: one read of its page."""
    rows = []
    if isinstance(src, Exporter):
        rows = [(s["name"], s["labels"], s["value"], s["ts"]) for s in src.samples()]
    else:
        for name in list(dict.fromkeys(list(fields) + [ENERGY_COUNTER])):
            rows += [(name, s["metric"], s["value"], None) for s in src.query(name)]
        rows += [(None, s["metric"], None, s["value"]) for s in src.query("timestamp(%s)" % fields[0])]
    gpus: dict[str, dict[str, Any]] = {}
    for name, labels, value, ts in rows:
        uuid = labels.get("UUID")
        if not uuid or (name is not None and name not in fields and name != ENERGY_COUNTER):
            continue
        e = gpus.setdefault(uuid, {"values": {}, "ts": None, "counter": None, "node": mx.label_of(labels, mx.NODE_LABELS)})
        if ts is not None:
            e["ts"] = max(e["ts"] or 0.0, ts)
        if name == ENERGY_COUNTER:
            e["counter"] = max(e["counter"] or 0.0, value)
        elif name is not None:
            e["values"].setdefault(name, []).append(value)
    for e in gpus.values():
        e["values"] = {k: sorted(v) for k, v in e["values"].items()}
    return {"at": time.monotonic(), "gpus": gpus}


def _names(uuids: list[str], gpus: dict[str, Any]) -> str:
    shown = ["%s on %s" % (u, gpus.get(u, {}).get("node") or "?") for u in uuids[:4]]
    return ", ".join(shown) + (" and %d more" % (len(uuids) - 4) if len(uuids) > 4 else "")


def removed_nodes(client: Any, names: set[str]) -> set[str]:
    """Which of ``names`` the node lifecycle controller recorded as removed from the cluster (a core
    Event, reason RemovingNode, on the Node, as kube-controller-manager writes it when a Node object
    is deleted): a node deleted just before the probe looked, whose last samples Prometheus still
    serves until they are stale."""
    if not names:
        return set()
    events = client.list("v1", "Event", field_selector="involvedObject.kind=Node,reason=RemovingNode")["items"]
    return {(e.get("involvedObject") or {}).get("name") for e in events} & set(names)


def liveness(first: dict[str, Any], second: dict[str, Any], prometheus: bool, interval: str) -> list[tuple[str, bool | None, str]]:
    """The liveness checks from two snapshots (check name, ok, detail).

    ``samples advance``: every GPU's newest sample timestamp moved (Prometheus: the scrape
    timestamps; exporter: only when it writes timestamps).  ``readings move``: every GPU's
    energy counter moved (where the exporter serves it; in Prometheus mode only GPUs whose
    samples were scraped again count), else any reading changed; identical readings and no
    counter leave it undecided: idle GPUs and a frozen exporter look the same."""
    a, b = first["gpus"], second["gpus"]
    apart = "two reads %.1f s apart (%s)" % (second["at"] - first["at"], interval)
    out: list[tuple[str, bool | None, str]] = []
    if not a:
        out.append((LIVE_READINGS, None, "no GPU reported in the first read: there was nothing to follow"))
        return out
    scraped = sorted(a)
    if prometheus or any(e["ts"] is not None for e in a.values()):
        stuck = sorted(u for u, e in a.items() if e["ts"] is None or (b.get(u) or {}).get("ts") is None or b[u]["ts"] <= e["ts"])
        scraped = [u for u in sorted(a) if u not in stuck]
        whose = "Prometheus' samples" if prometheus else "the exporter's own timestamps"
        out.append(
            (
                LIVE_TS,
                not stuck,
                ("%d of %d GPUs' sample timestamps stood still across %s: %s" % (len(stuck), len(a), apart, _names(stuck, a)))
                if stuck
                else "%d GPUs' timestamps advanced across %s (%s)" % (len(a), apart, whose),
            )
        )
    if not scraped:
        out.append((LIVE_READINGS, None, "no GPU's samples were refreshed between the reads, so no reading could move"))
        return out
    counted = [u for u in scraped if a[u]["counter"] is not None]
    if counted:
        still = [u for u in counted if (b.get(u) or {}).get("counter") is None or b[u]["counter"] <= a[u]["counter"]]
        out.append(
            (
                LIVE_READINGS,
                not still,
                ("%s stood still on %d of %d GPUs across %s: %s" % (ENERGY_COUNTER, len(still), len(counted), apart, _names(still, a)))
                if still
                else "%s moved on all %d GPUs across %s" % (ENERGY_COUNTER, len(counted), apart),
            )
        )
        return out
    changed = [u for u in scraped if b.get(u, {}).get("values") != a[u]["values"]]
    out.append(
        (
            LIVE_READINGS,
            True if changed else None,
            ("readings changed on %d of %d GPUs across %s (no %s exposed)" % (len(changed), len(scraped), apart, ENERGY_COUNTER))
            if changed
            else "every reading of %d GPUs was identical across %s and no %s is exposed: idle GPUs and a frozen exporter look the same"
            % (len(scraped), apart, ENERGY_COUNTER),
        )
    )
    return out


def liveness_observations(first: dict[str, Any], second: dict[str, Any], interval: float, where: str) -> dict[str, Any]:
    energy = any(e["counter"] is not None for e in first["gpus"].values())
    return {"interval_s": interval, "interval_from": where, "reads_apart_s": round(second["at"] - first["at"], 1), "energy_counter": energy}


def naming(series: list[dict[str, Any]], pod: str, namespace: str) -> list[dict[str, Any]]:
    """The series whose pod and namespace labels name this pod."""
    return [s for s in series if mx.label_of(s["metric"], mx.POD_LABELS) == pod and mx.label_of(s["metric"], mx.NAMESPACE_LABELS) == namespace]


def allocated_by_claim(claim: dict[str, Any] | None, devices: dict[tuple[str, str], dict[str, Any]]) -> tuple[list[str] | None, str]:
    """The UUIDs of the devices a claim was allocated, from the ResourceSlices' ``uuid``
    attribute; (None, why) when a device is not published or publishes no uuid."""
    results = (((claim or {}).get("status") or {}).get("allocation") or {}).get("devices", {}).get("results") or []
    if not results:
        return None, "claim %s has no allocation" % ((claim or {}).get("metadata") or {}).get("name")
    out = []
    for r in results:
        dev = devices.get((r.get("pool"), r.get("device")))
        uuid = (dev or {}).get("attributes", {}).get("uuid")
        if not uuid:
            return None, "device %s of pool %s %s" % (r.get("device"), r.get("pool"), "publishes no uuid attribute" if dev else "is in no ResourceSlice")
        out.append(str(uuid))
    return sorted(out), "DRA claim %s: %s (ResourceSlice uuid)" % (
        claim["metadata"]["name"],
        ", ".join("%s/%s" % (r.get("pool"), r.get("device")) for r in results),
    )


def allocated_in_container(seen: dict[str, Any]) -> tuple[list[str] | None, str]:
    """The UUIDs a device-plugin container was given, as it reported them: nvidia-smi's list,
    else NVIDIA_VISIBLE_DEVICES when it holds UUIDs."""
    if not seen.get("complete"):
        return None, "the container did not report what it was given"
    if seen.get("gpus"):
        return sorted(g["uuid"] for g in seen["gpus"]), "nvidia-smi in the pod's container"
    env = [x.strip() for x in str(seen.get("visible_env") or "").split(",") if x.strip()]
    if env and all(x.startswith(("GPU-", "MIG-")) for x in env):
        return sorted(env), "NVIDIA_VISIBLE_DEVICES in the pod's container"
    return None, "the container saw no GPU UUID (NVIDIA_VISIBLE_DEVICES=%s, no nvidia-smi output)" % seen.get("visible_env")


def freshness(prom: mx.Prometheus, field: str, limit: int) -> tuple[bool, str, dict[str, Any]]:
    """``samples are fresh``: every GPU's newest sample of ``field`` is at most ``limit`` s old.
    Per GPU the newest series counts: a series left behind by a relabelling (same GPU, other
    labels) ages out of the lookback window and is only reported."""
    ages = prom.query("time() - timestamp(%s)" % field)
    newest: dict[str, float] = {}
    for a in ages:
        u = a["metric"].get("UUID", "")
        newest[u] = min(newest.get(u, float("inf")), a["value"])
    oldest = max(newest.values() or [float("inf")])
    obs = {"stale_series": sum(1 for a in ages if a["value"] > limit), "oldest_sample_s": round(oldest, 1) if ages else None}
    detail = "the stalest GPU's newest %s sample is %.1f s old (limit %d s)" % (field, oldest, limit) if ages else "no samples"
    return bool(ages) and oldest <= limit, detail, obs


def read_interval(src: Any, series: list[dict[str, Any]], option: int) -> tuple[float, str]:
    """Seconds between the two liveness reads, and where they come from: Prometheus' scrape
    interval for the exporter's target when it shows it, else the option."""
    if not isinstance(src, mx.Prometheus):
        return float(option), "option scrape_interval_seconds (the exporter's collection interval)"
    sec, where = scrape_interval(src, series)
    if sec:
        return sec, where
    return float(option), "option scrape_interval_seconds (%s)" % where


def attribution_path(client: Any, slices: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """``dra`` when the driver publishes devices and the DeviceClass exists (the allocation is
    then readable from the API), else ``device_plugin``; the option decides when not auto."""
    if params["attribution_via"] != "auto":
        return str(params["attribution_via"])
    published = any((s.get("spec") or {}).get("driver") == params["driver"] and (s.get("spec") or {}).get("devices") for s in slices)
    if published and client.get(dra.API, "DeviceClass", params["device_class"]) is not None:
        return "dra"
    return "device_plugin"


def gpu_pod(name: str, namespace: str, via: str, nodes: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects of the attribution's GPU pod: a claim and a pod using it (DRA), or a pod
    requesting one ``resource_name`` that reports what its container was given and keeps running
    (device plugin: the choice is seen only inside the container, so a node that runs containers
    is preferred when no node_selector is set)."""
    selector, tolerations = params["node_selector"], params["tolerations"]
    if via == "dra":
        claims = [{"name": "accel", "resourceClaimName": name}]
        return [dra.claim(name, namespace, params["device_class"]), wl.pod(name, namespace, claims=claims, node_selector=selector, tolerations=tolerations)]
    gpu_nodes = [n["metadata"]["name"] for n in nodes if mx.gpu_nodes([n], [], params["resource_name"], params["driver"])]
    looker = None if selector else rt.pick_node(nodes, gpu_nodes)
    if looker is not None:
        selector, tolerations = {wl.HOSTNAME: looker["metadata"]["name"]}, wl.gpu_tolerations(tolerations)
    limits = {params["resource_name"]: "1"}
    return [wl.pod(name, namespace, image=params["gpu_image"], command=rt.HOLD_COMMAND, limits=limits, node_selector=selector, tolerations=tolerations)]


def allocated(
    client: Any, via: str, pod: str, namespace: str, node: str, nodes: list[dict[str, Any]], params: dict[str, Any]
) -> tuple[list[str] | None, str, str]:
    """(UUIDs allocated to the GPU pod, or None; where they were read or why not; check kind).
    DRA: the claim's devices' uuid in the ResourceSlices.  Device plugin: what the running
    container reported, where the node runs containers."""
    if via == "dra":
        devices = dra.published_devices(client.list(dra.API, "ResourceSlice")["items"], params["driver"])
        uuids, how = allocated_by_claim(client.get(dra.API, "ResourceClaim", pod, namespace), devices)
        return uuids, how, "api"
    live = next((n for n in nodes if n["metadata"]["name"] == node), None)
    if not rt.runs_containers(live):
        return None, "a device plugin's choice is seen only inside the container, and node %s runs no containers" % node, "runtime"
    _phase, seen = rt.observe_running(client, pod, namespace, params["timeout"])
    uuids, how = allocated_in_container(seen)
    return uuids, how, "runtime"
