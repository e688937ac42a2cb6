"""FAKE NVIDIA DCGM exporter for the reference cluster.

Stands in for dcgm-exporter, which needs a real GPU and DCGM.  It serves ``/metrics`` in
dcgm-exporter's exposition format: the field names, types and HELP lines of its default counters
(``etc/default-counters.csv`` of NVIDIA/dcgm-exporter), one series per GPU with the labels
``gpu, UUID, pci_bus_id, device, modelName, Hostname, DCGM_FI_DRIVER_VERSION`` and, with
``--kubernetes``, the pod attribution dcgm-exporter derives from the kubelet's pod-resources API:
``container, namespace, pod`` and, for GPUs allocated through DRA, ``dra_claim_name,
dra_claim_namespace, dra_driver_name, dra_pool_name, dra_device_name`` (the label set of the
Kubernetes documentation's dcgm-exporter sample).

GPU identity (UUIDs, PCI bus ids, product, memory, driver) is the one the fake DRA driver and
the node bootstrap use (``gpus.py``, from a recorded real H100).  Idle readings (temperature,
power, clocks, framebuffer) are the recorded H100's.  Attribution comes from the API: pods bound
to a GPU node holding ``nvidia.com/gpu`` (device plugin; GPUs handed out in order) and
ResourceClaims allocated from ``gpu.nvidia.com`` and reserved for a pod (DRA).

A kwok pod runs no container, so nothing loads a GPU.  The fake plays the container's part for
one documented contract: a pod that mounts a ConfigMap through a volume named ``gpu-load`` drives
its GPU to the utilization in that ConfigMap's key ``utilization`` (percent), the way the probe's
load container does on a real cluster.  Tests can also force values in a JSON control file
(``--control``): ``{"utilization": {"<UUID>": 80}}``.  Two faults come through the same file:
``{"frozen": true}`` (DCGM stopped answering: the exporter keeps serving its last readings, as
dcgm-exporter serves its last collection) and ``{"wrong_gpu": true}`` (the pod mapper names each
pod on the series of the next GPU of its node, a device index/minor mix-up).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.refcluster.config import ensure_collection_path

ensure_collection_path()

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError, get_client  # noqa: E402
from tests.refcluster.fakes import gpus as gpumod  # noqa: E402

DRA_DRIVER = "gpu.nvidia.com"
LOAD_VOLUME = "gpu-load"
LOAD_KEY = "utilization"

# (field, type, HELP) as in dcgm-exporter's etc/default-counters.csv; the subset this fake serves.
FIELDS = [
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
]


def recorded_readings(path: Path | None = None) -> dict[str, float]:
    """Idle readings of the recorded H100 (nvidia-smi -q -x)."""
    root = ET.parse(str(path or gpumod.FIXTURES / "h100-nvidia-smi-q.xml")).getroot()
    gpu = root.find("gpu")

    def num(xpath: str) -> float:
        el = gpu.find(xpath) if gpu is not None else None
        return float((el.text or "0").split()[0]) if el is not None and el.text and el.text.split()[0] != "N/A" else 0.0

    return {
        "sm_clock": num("clocks/sm_clock"),
        "mem_clock": num("clocks/mem_clock"),
        "gpu_temp": num("temperature/gpu_temp"),
        "memory_temp": num("temperature/memory_temp"),
        "power": num("gpu_power_readings/average_power_draw"),
        "power_limit": num("gpu_power_readings/current_power_limit"),
        "fb_used": num("fb_memory_usage/used"),
        "fb_free": num("fb_memory_usage/free"),
        "fb_reserved": num("fb_memory_usage/reserved"),
    }


def _gpu_limit(pod: dict[str, Any]) -> int:
    n = 0
    for c in pod.get("spec", {}).get("containers", []) or []:
        res = c.get("resources") or {}
        n += int((res.get("limits") or {}).get("nvidia.com/gpu", (res.get("requests") or {}).get("nvidia.com/gpu", 0)) or 0)
    return n


def _live(pod: dict[str, Any]) -> bool:
    return (
        bool(pod.get("spec", {}).get("nodeName"))
        and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        and not pod["metadata"].get("deletionTimestamp")
    )


def attribution(
    pods: list[dict[str, Any]], claims: list[dict[str, Any]], inventory: dict[str, list[gpumod.GPU]], wrong_gpu: bool = False
) -> dict[tuple[str, int], list[dict[str, str]]]:
    """(node, GPU minor) -> the pod labels of every pod holding it, as dcgm-exporter's pod mapper
    would report them (``wrong_gpu``: on the next GPU of the node instead)."""
    if wrong_gpu:
        right = attribution(pods, claims, inventory)
        out_w: dict[tuple[str, int], list[dict[str, str]]] = {}
        for node, gs in inventory.items():
            for i, g in enumerate(gs):
                if right.get((node, gs[(i + 1) % len(gs)].minor)):
                    out_w[(node, g.minor)] = right[(node, gs[(i + 1) % len(gs)].minor)]
        return out_w
    out: dict[tuple[str, int], list[dict[str, str]]] = {}
    by_uid = {p["metadata"]["uid"]: p for p in pods if _live(p)}
    taken: dict[str, set[int]] = {}
    for cl in claims:
        alloc = (cl.get("status") or {}).get("allocation") or {}
        users = [by_uid[r["uid"]] for r in (cl.get("status") or {}).get("reservedFor") or [] if r.get("resource") == "pods" and r.get("uid") in by_uid]
        for res in (alloc.get("devices") or {}).get("results") or []:
            if res.get("driver") != DRA_DRIVER or not str(res.get("device", "")).startswith("gpu-"):
                continue
            node, minor = res.get("pool", ""), int(str(res["device"]).split("-", 1)[1])
            taken.setdefault(node, set()).add(minor)
            for p in users:
                out.setdefault((node, minor), []).append(
                    {
                        "pod": p["metadata"]["name"],
                        "namespace": p["metadata"]["namespace"],
                        "container": p["spec"]["containers"][0]["name"],
                        "dra_claim_name": cl["metadata"]["name"],
                        "dra_claim_namespace": cl["metadata"]["namespace"],
                        "dra_driver_name": DRA_DRIVER,
                        "dra_pool_name": node,
                        "dra_device_name": res["device"],
                        "_uid": p["metadata"]["uid"],
                    }
                )
    # Device plugin: GPUs of a node go to its pods in creation order, skipping DRA-allocated ones.
    for p in sorted(by_uid.values(), key=lambda x: (x["metadata"].get("creationTimestamp", ""), x["metadata"]["name"])):
        want = _gpu_limit(p)
        node = p["spec"]["nodeName"]
        free = [g.minor for g in inventory.get(node, []) if g.minor not in taken.setdefault(node, set())]
        for minor in free[:want]:
            taken[node].add(minor)
            out.setdefault((node, minor), []).append(
                {
                    "pod": p["metadata"]["name"],
                    "namespace": p["metadata"]["namespace"],
                    "container": p["spec"]["containers"][0]["name"],
                    "_uid": p["metadata"]["uid"],
                }
            )
    return out


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(
    inventory: dict[str, list[gpumod.GPU]],
    held: dict[tuple[str, int], list[dict[str, str]]],
    load: dict[str, float],
    forced: dict[str, float],
    base: dict[str, float],
    kubernetes: bool,
    energy: dict[str, float] | None = None,
    physical: dict[tuple[str, int], list[dict[str, str]]] | None = None,
) -> str:
    """The exposition text: HELP/TYPE per field, then one line per GPU (and holder pod).
    ``energy``: each GPU's energy since boot (mJ), which the collection loop accumulates from the
    power it reports (a counter that moves as long as the exporter collects).  ``physical``: the
    pods that really hold each GPU, whose load drives it, when the pod mapper (``held``) names
    others (the wrong_gpu fault); by default the same."""
    rows = []
    for node in sorted(inventory):
        for g in inventory[node]:
            holders = held.get((node, g.minor), []) if kubernetes else []
            drivers = (physical if physical is not None else held).get((node, g.minor), []) if kubernetes else []
            util = forced.get(g.uuid, max([load.get(h["_uid"], 0.0) for h in drivers] or [0.0]))
            fb_total = base["fb_used"] + base["fb_free"]
            fb_used = base["fb_used"] + (fb_total * 0.6 if util > 0 else 0.0)
            values = {
                "DCGM_FI_DEV_SM_CLOCK": base["sm_clock"],
                "DCGM_FI_DEV_MEM_CLOCK": base["mem_clock"],
                "DCGM_FI_DEV_MEMORY_TEMP": base["memory_temp"] + util * 0.3,
                "DCGM_FI_DEV_GPU_TEMP": base["gpu_temp"] + util * 0.35,
                "DCGM_FI_DEV_POWER_USAGE": round(base["power"] + (base["power_limit"] - base["power"]) * util / 100.0 * 0.8, 3),
                "DCGM_FI_DEV_GPU_UTIL": util,
                "DCGM_FI_DEV_MEM_COPY_UTIL": round(util * 0.4),
                "DCGM_FI_DEV_FB_FREE": fb_total - fb_used,
                "DCGM_FI_DEV_FB_USED": fb_used,
                "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": round((energy or {}).get(g.uuid, 0.0)),
            }
            ident = [
                ("gpu", str(g.minor)),
                ("UUID", g.uuid),
                ("pci_bus_id", g.pci_bus_id),
                ("device", "nvidia%d" % g.minor),
                ("modelName", g.product),
                ("Hostname", node),
                ("DCGM_FI_DRIVER_VERSION", g.driver_version),
            ]
            for h in holders or [{}]:
                k8s = [
                    ("container", h.get("container", "")),
                    ("namespace", h.get("namespace", "")),
                    ("pod", h.get("pod", "")),
                ]
                k8s += [(k, h[k]) for k in ("dra_claim_name", "dra_claim_namespace", "dra_driver_name", "dra_pool_name", "dra_device_name") if k in h]
                labels = ",".join('%s="%s"' % (k, _esc(v)) for k, v in ident + sorted(k8s))
                rows.append((labels, values))
    out = []
    for field, mtype, help_text in FIELDS:
        out.append("# HELP %s %s" % (field, help_text))
        out.append("# TYPE %s %s" % (field, mtype))
        for labels, values in rows:
            v = values[field]
            out.append("%s{%s} %s" % (field, labels, int(v) if float(v).is_integer() else v))
    return "\n".join(out) + "\n"


class Exporter:
    def __init__(self, kubeconfig: str, kubernetes: bool, control: str, interval_s: float) -> None:
        self.client = get_client({"kubeconfig": kubeconfig})
        self.kubernetes = kubernetes
        self.control = Path(control) if control else None
        self.interval_s = interval_s
        self.rec = gpumod.recorded_gpu()
        self.base = recorded_readings()
        self.text = ""
        self.lock = threading.Lock()
        # Energy since "boot" (the exporter's start) per GPU, in mJ, and when it was last added to.
        self.energy: dict[str, float] = {}
        self.collected = time.monotonic()

    def inventory(self) -> dict[str, list[gpumod.GPU]]:
        """GPU nodes as the API shows them now (autoscaled nodes get synthesized GPUs, like the
        fake DRA driver gives them)."""
        fixed = gpumod.inventory()
        pools = gpumod.load_pools()
        out = {}
        for n in self.client.list("v1", "Node", label_selector="nvidia.com/gpu.present=true")["items"]:
            name = n["metadata"]["name"]
            count = gpumod.gpu_count(n)
            out[name] = fixed.get(name) or gpumod.gpus_for_node(name, count, self.rec, pools["hgx_bus_numbers"], False)
        return out

    def loads(self, pods: list[dict[str, Any]]) -> dict[str, float]:
        """pod uid -> utilization its load container would drive (the gpu-load ConfigMap)."""
        out = {}
        cms: dict[tuple[str, str], dict[str, Any] | None] = {}
        for p in pods:
            for v in p.get("spec", {}).get("volumes", []) or []:
                if v.get("name") == LOAD_VOLUME and v.get("configMap", {}).get("name"):
                    key = (p["metadata"]["namespace"], v["configMap"]["name"])
                    if key not in cms:
                        cms[key] = self.client.get("v1", "ConfigMap", key[1], key[0])
                    try:
                        out[p["metadata"]["uid"]] = max(0.0, min(100.0, float(((cms[key] or {}).get("data") or {}).get(LOAD_KEY, "0"))))
                    except ValueError:
                        pass
        return out

    def controls(self) -> dict[str, Any]:
        if not self.control or not self.control.is_file():
            return {}
        try:
            doc = json.loads(self.control.read_text())
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    def forced(self) -> dict[str, float]:
        try:
            return {k: float(v) for k, v in (self.controls().get("utilization") or {}).items()}
        except (ValueError, AttributeError):
            return {}

    def refresh(self) -> None:
        if self.controls().get("frozen") and self.text:
            return  # serves the last collection, as dcgm-exporter does when DCGM stops answering
        inv = self.inventory()
        pods = [p for p in self.client.list("v1", "Pod")["items"] if p.get("spec", {}).get("nodeName") in inv]
        claims = self.client.list("resource.k8s.io/v1", "ResourceClaim")["items"] if self.kubernetes else []
        physical = attribution(pods, claims, inv) if self.kubernetes else {}
        held = attribution(pods, claims, inv, True) if self.controls().get("wrong_gpu") else physical
        load = self.loads(pods) if self.kubernetes else {}
        forced = self.forced()
        now = time.monotonic()
        for node, gs in inv.items():
            for g in gs:
                holders = physical.get((node, g.minor), [])
                util = forced.get(g.uuid, max([load.get(h["_uid"], 0.0) for h in holders] or [0.0]))
                watts = self.base["power"] + (self.base["power_limit"] - self.base["power"]) * util / 100.0 * 0.8
                self.energy[g.uuid] = self.energy.get(g.uuid, 0.0) + watts * (now - self.collected) * 1000.0
        self.collected = now
        text = render(inv, held, load, forced, self.base, self.kubernetes, self.energy, physical)
        with self.lock:
            self.text = text

    def loop(self, ready_file: str) -> None:
        ready = False
        while True:
            try:
                self.refresh()
                if not ready:
                    Path(ready_file).parent.mkdir(parents=True, exist_ok=True)
                    Path(ready_file).write_text("ok\n")
                    ready = True
            except ClusterError as exc:
                print("API error (serving the last readings): %s" % exc, flush=True)
            time.sleep(self.interval_s)  # dcgm-exporter collects on an interval too (-c, ms)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--address", required=True, help="host:port to listen on")
    ap.add_argument("--kubernetes", action="store_true", help="attribute GPUs to pods (dcgm-exporter -k)")
    ap.add_argument("--control", default="", help="JSON file a test writes to force readings")
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--ready-file", required=True)
    args = ap.parse_args()
    exp = Exporter(args.kubeconfig, args.kubernetes, args.control, args.interval)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            with exp.lock:
                body = exp.text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: Any) -> None:
            return

    host, port = args.address.rsplit(":", 1)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    threading.Thread(target=exp.loop, args=(args.ready_file,), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
