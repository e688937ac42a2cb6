# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a container sees: the runtime checks' shared parts.

A runtime check runs a pod pinned to a node whose kubelet runs containers and reads what the
container reported about itself (device nodes, environment, nvidia-smi, kernel) from its log, as
``aic.<key>=<value>`` lines printed by a POSIX shell script that needs only sh, ls, grep, sed and
uname (present in the CUDA base images and in busybox).  Nothing is inferred from prose: each key
is parsed into a structured observation.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl

OBSERVE_SCRIPT = r"""
echo "aic.devices=$(ls /dev 2>/dev/null | grep -E '^nvidia[0-9]+$' | tr '\n' ' ')"
echo "aic.visible_env=${NVIDIA_VISIBLE_DEVICES-<unset>}"
if command -v nvidia-smi >/dev/null 2>&1; then
  out=$(nvidia-smi --query-gpu=uuid,driver_version --format=csv,noheader 2>&1); rc=$?
  echo "aic.smi_rc=$rc"
  echo "$out" | sed 's/^/aic.smi=/'
else
  echo "aic.smi_rc=127"
fi
echo "aic.kernel=$(uname -r)"
echo "aic.done=1"
"""
OBSERVE_COMMAND = ["sh", "-c", OBSERVE_SCRIPT]
# The same report, then the container keeps running (and holding what it was given): for a pod
# whose allocation must stay live while something else is read (its metrics series).
HOLD_COMMAND = ["sh", "-c", OBSERVE_SCRIPT + "exec sleep 86400\n"]
GPU_TOLERATIONS = wl.GPU_TOLERATIONS


runs_containers = wl.runs_containers


def ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (node.get("status") or {}).get("conditions") or [])


def pick_node(nodes: list[dict[str, Any]], candidates: list[str] | None = None) -> dict[str, Any] | None:
    """The first Ready node (by name) that runs containers, among ``candidates`` when given."""
    for n in sorted(nodes, key=lambda x: x["metadata"]["name"]):
        if (candidates is None or n["metadata"]["name"] in candidates) and runs_containers(n) and ready(n):
            return n
    return None


def runtime_nodes(nodes: list[dict[str, Any]], candidates: set[str]) -> dict[str, int]:
    """The Ready nodes among ``candidates`` that run containers (name -> 1: runmates.unheld's candidates)."""
    return {n["metadata"]["name"]: 1 for n in nodes if n["metadata"]["name"] in candidates and runs_containers(n) and ready(n)}


def no_node_reason(mode: str, nodes: list[dict[str, Any]], what: str) -> str:
    """Why no runtime check ran: the option, or which nodes were looked at and what they run."""
    if mode == "never":
        return "skipped: runtime_checks is never"
    seen = ["%s (%s)" % (n["metadata"]["name"], ((n.get("status") or {}).get("nodeInfo") or {}).get("containerRuntimeVersion") or "no runtime") for n in nodes]
    return "skipped: no Ready node with %s runs containers; looked at %s" % (what, ", ".join(seen[:8]) or "no node")


def observer_pod(name: str, namespace: str, image: str, node: str, tolerations: list[dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:
    """A run-once pod on accelerator node ``node`` that reports what its container sees, with or
    without an accelerator: it tolerates GPU_TOLERATIONS and ``tolerations`` (a probe's option)."""
    return wl.pod(
        name, namespace, image=image, command=OBSERVE_COMMAND, node_selector={wl.HOSTNAME: node}, tolerations=wl.gpu_tolerations(tolerations), **kwargs
    )


def parse(log: str) -> dict[str, Any]:
    """The observation a container printed; ``complete`` is False when the script did not finish."""
    out: dict[str, Any] = {"devices": [], "visible_env": None, "smi_rc": None, "gpus": [], "smi_output": [], "kernel": "", "complete": False}
    for line in log.splitlines():
        if not line.startswith("aic.") or "=" not in line:
            continue
        key, value = line[4:].split("=", 1)
        value = value.strip()
        if key == "devices":
            out["devices"] = sorted(value.split())
        elif key == "visible_env":
            out["visible_env"] = None if value == "<unset>" else value
        elif key == "smi_rc":
            out["smi_rc"] = int(value) if value.lstrip("-").isdigit() else None
        elif key == "smi" and value:
            out["smi_output"].append(value)
            cells = [c.strip() for c in value.split(",")]
            if len(cells) == 2 and cells[0].startswith(("GPU-", "MIG-")):
                out["gpus"].append({"uuid": cells[0], "driver_version": cells[1]})
        elif key == "kernel":
            out["kernel"] = value
        elif key == "done":
            out["complete"] = True
    return out


def observe(client: Any, name: str, namespace: str, timeout_s: float) -> tuple[str, dict[str, Any]]:
    """Wait for an observer pod to finish; return (phase, parsed observation)."""
    phase, log = wl.run_to_completion(client, name, namespace, timeout_s)
    return phase, parse(log)


def observe_running(client: Any, name: str, namespace: str, timeout_s: float) -> tuple[str, dict[str, Any]]:
    """Read a running HOLD_COMMAND pod's report: poll its log until the script finished (or the
    pod ended, or ``timeout_s`` passed); return (phase, parsed observation)."""
    deadline = time.monotonic() + timeout_s
    while True:
        pod = client.get("v1", "Pod", name, namespace) or {}
        phase = (pod.get("status") or {}).get("phase") or "Unknown"
        log = ""
        if phase != "Pending":
            doc = client.request("GET", "/api/v1/namespaces/%s/pods/%s/log" % (namespace, name), what="read the log of pod %s" % name)
            log = str(doc.get("raw", "")) if isinstance(doc, dict) else str(doc)
        seen = parse(log)
        if seen["complete"] or phase in ("Succeeded", "Failed") or time.monotonic() >= deadline:
            return phase, seen
        time.sleep(1.0)


def uuids(seen: dict[str, Any]) -> list[str]:
    return sorted(g["uuid"] for g in seen.get("gpus") or [])


def sees_nothing(seen: dict[str, Any]) -> tuple[bool, str]:
    """(no accelerator visible, what was seen): no /dev/nvidiaN and no GPU in nvidia-smi."""
    ok = seen.get("complete") and not seen.get("devices") and not seen.get("gpus")
    return bool(ok), summary(seen)


def summary(seen: dict[str, Any]) -> str:
    if not seen.get("complete"):
        return "the container did not report (its script did not finish)"
    smi = "nvidia-smi absent" if seen.get("smi_rc") == 127 else "nvidia-smi exit %s, GPUs %s" % (seen.get("smi_rc"), uuids(seen) or "none")
    return "device nodes %s; %s; NVIDIA_VISIBLE_DEVICES=%s" % (seen.get("devices") or "none", smi, seen.get("visible_env"))


def release(ctx: Any, namespace: str, pods: list[str], claims: list[str] | None = None) -> None:
    """Delete the observer pods (and their claims) and wait until they are gone, so that the
    accelerators they held are free again for the probe's next step (a node may have one GPU)."""
    for name in pods:
        ctx.delete({"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": namespace}, wait=True)
    for name in claims or []:
        ctx.delete({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "name": name, "namespace": namespace}, wait=True)
