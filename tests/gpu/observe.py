"""What containers on the real GPU node see, recorded directly (before the probes run).

    python3 tests/gpu/observe.py --kubeconfig /opt/aic/pki/admin.kubeconfig --out observe.json

The probes' runtime checks need two free GPUs or a GPU nobody else holds; the GPU machine has one.
This records the raw facts the fakes must match, with the probes' own observer script
(plugins/module_utils/probes/runtime.py OBSERVE_SCRIPT) plus a few raw commands: a pod with a claim, a pod
without one, a pod without one that sets NVIDIA_VISIBLE_DEVICES=all, and two pods sharing one claim;
the CDI spec the DRA plugin wrote for each claim while its pod ran; the ResourceSlice and the Node.
Every pod tolerates the nvidia.com/gpu taint and is pinned to the node.  Needs the kubernetes client
(the wheels) and the collection on the path (run_on_device.sh sets both).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError, get_client
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt

NS = "aic-gpu-observe"
IMAGE = "localhost/ai-conformance/probe:v1"
# Raw views beside the probes' aic.* lines, then a pause so the claim's CDI spec can be read while
# the pod holds it.
EXTRA = r"""
echo "--- ls -l /dev/nvidia*"; ls -l /dev/nvidia* 2>&1
echo "--- nvidia-smi -L"; nvidia-smi -L 2>&1; echo "rc=$?"
echo "--- nvidia-smi --query-gpu=index,uuid,name,pci.bus_id,driver_version,memory.total,compute_cap --format=csv"
nvidia-smi --query-gpu=index,uuid,name,pci.bus_id,driver_version,memory.total,compute_cap --format=csv 2>&1
echo "--- nvidia-smi (header)"; nvidia-smi 2>&1 | head -12
echo "--- env"; env | grep -E '^(NVIDIA|PATH|LD_)' | sort
echo "--- mounts"; grep -E 'nvidia|x86_64-linux-gnu|lib64' /proc/self/mounts
echo "--- devices cgroup"; cat /proc/self/cgroup
sleep %d
"""


def run_pod(client, name: str, node: str, cdi_dir: Path, hold_s: int, claim: str = "", **kwargs) -> dict:
    pod = rt.observer_pod(name, NS, IMAGE, node, **kwargs)
    pod["spec"]["containers"][0]["command"] = ["sh", "-c", rt.OBSERVE_SCRIPT + EXTRA % hold_s]
    client.create(pod)
    specs: dict[str, str] = {}
    allocation: list = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the claim's CDI spec and allocation exist while the pod holds it
        for f in cdi_dir.glob("*.json"):
            specs.setdefault(f.name, f.read_text())
        if claim and not allocation:
            allocation = dra.allocation_results(client.get(dra.API, "ResourceClaim", claim, NS))
        live = client.get("v1", "Pod", name, NS) or {}
        if (live.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            break
        time.sleep(0.5)
    phase, log = wl.run_to_completion(client, name, NS, 60)
    out = {"phase": phase, "seen": rt.parse(log), "log": log, "cdi_specs": {k: json.loads(v) for k, v in specs.items()}}
    return dict(out, allocation=allocation) if claim else out


def observe(client, node: str, cdi_dir: Path) -> dict:
    out: dict = {"node": node, "pods": {}}
    out["node_info"] = (client.get("v1", "Node", node) or {}).get("status", {}).get("nodeInfo")
    out["node_taints"] = (client.get("v1", "Node", node) or {}).get("spec", {}).get("taints")
    out["resourceslices"] = [s["spec"] for s in client.list(dra.API, "ResourceSlice")["items"]]
    out["deviceclass"] = (client.get(dra.API, "DeviceClass", "gpu.nvidia.com") or {}).get("spec")
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    try:
        client.wait_for("v1", "ServiceAccount", "default", lambda o: o is not None, NS, 60, "be created by the controller manager")
        client.create(dra.claim("one", NS, "gpu.nvidia.com"))
        out["pods"]["claim"] = run_pod(client, "claim", node, cdi_dir, 10, claim="one", claims=[{"name": "accel", "resourceClaimName": "one"}])
        out["pods"]["no-claim"] = run_pod(client, "no-claim", node, cdi_dir, 0)
        out["pods"]["env-all"] = run_pod(client, "env-all", node, cdi_dir, 0, env={"NVIDIA_VISIBLE_DEVICES": "all"})
        client.delete("v1", "Pod", "claim", NS)
        client.wait_gone("v1", "Pod", "claim", NS, 60)
        client.create(dra.claim("shared", NS, "gpu.nvidia.com"))
        for name in ("shared-a", "shared-b"):
            client.create(rt.observer_pod(name, NS, IMAGE, node, claims=[{"name": "accel", "resourceClaimName": "shared"}]))
        for name in ("shared-a", "shared-b"):
            phase, log = wl.run_to_completion(client, name, NS, 120)
            out["pods"][name] = {"phase": phase, "seen": rt.parse(log), "log": log}
    finally:
        client.delete("v1", "Namespace", NS)
    out["summary"] = {name: rt.summary(p["seen"]) for name, p in out["pods"].items()}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--node", default="gpu-node-1")
    ap.add_argument("--cdi-dir", type=Path, default=Path("/opt/aic/state/node/cdi"))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    client = get_client({"kubeconfig": args.kubeconfig})
    t0 = time.monotonic()
    try:
        result = observe(client, args.node, args.cdi_dir)
    except ClusterError as exc:
        result = {"error": str(exc)}
    result["duration_s"] = round(time.monotonic() - t0, 1)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, line in (result.get("summary") or {}).items():
        print("%-9s %s" % (name, line))
    print("observations: %s (%.0f s)%s" % (args.out, result["duration_s"], "; ERROR " + result["error"] if "error" in result else ""))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
