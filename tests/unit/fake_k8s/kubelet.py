"""Kubelets and container runtimes: a kwok node runs no container (pods just turn Running); a node
whose runtime runs containers executes the two programs the probes run (the observer script of
module_utils/runtime.py and ``uname -r``) from what the node gives the container: the GPUs of its
claims or device-plugin allocation through CDI, and, under fault ``legacy-envvar``, every GPU its
NVIDIA_VISIBLE_DEVICES names (shared/reference/apis.md section 8, tests/refcluster/node/README.md)."""

from __future__ import annotations

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt_mod

from .base import HOST_KERNEL, REFCLUSTER, cond


class KubeletMixin:
    """FakeCluster's kubelets, device plugins and runtimes (``node_runtime``: per node)."""

    def runs_containers(self, node_name: str) -> bool:
        node = self.obj("v1", "Node", node_name) or {}
        return not str(((node.get("status") or {}).get("nodeInfo") or {}).get("containerRuntimeVersion", "")).startswith("kwok")

    def _kubelet(self) -> bool:
        changed = False
        for pod in self.all("v1", "Pod"):
            node = (pod.get("spec") or {}).get("nodeName")
            st = pod.setdefault("status", {})
            if not node or st.get("phase") in ("Running", "Succeeded", "Failed"):
                continue
            uid = pod["metadata"]["uid"]
            short = self.assign_device_plugin(pod, node)
            if short and self.runs_containers(node):  # kwok runs no device plugin: only real kubelets admit
                msg = "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. Requested: %d, Available: %d, which is unexpected"
                st.update(phase="Failed", reason="UnexpectedAdmissionError", message=msg % short)
                self.touch(pod)
                changed = True
                continue
            if "dra-plugin-withdraws-on-prepare" in self.faults:
                self.withdraw_slices(pod, node)
            st.update(phase="Running", podIP="10.244.%d.%d" % (next(self.uids) % 250, next(self.uids) % 250), startTime=self.iso())
            cond(pod, "Ready", "True", now=self.iso())
            self.touch(pod)
            changed = True
            if self.runs_containers(node) and (pod["spec"].get("restartPolicy") == "Never"):
                log = self.execute(pod, node)
                if log is not None and pod["spec"]["containers"][0].get("command") == rt_mod.HOLD_COMMAND:
                    self.after(1.0, lambda uid=uid, log=log: self.logs.__setitem__(uid, log))  # reports, then runs on
                elif log is not None:
                    self.after(2.0, lambda uid=uid, log=log: self._finish(uid, log))
        return changed

    def _finish(self, uid: str, log: str) -> None:
        for pod in self.all("v1", "Pod"):
            if pod["metadata"]["uid"] == uid:
                self.logs[uid] = log
                pod["status"]["phase"] = "Succeeded"
                cond(pod, "Ready", "False", "PodCompleted", now=self.iso())
                self.touch(pod)

    def node_gpus(self, node: str) -> list[dict[str, Any]]:
        """The node's GPUs (uuid, minor, model): its runtime inventory, else its DRA slice."""
        if self.node_runtime.get(node, {}).get("gpus"):
            return self.node_runtime[node]["gpus"]
        out = []
        for d in self.devices():
            a = d.get("attributes") or {}
            if d["node"] == node and "uuid" in a:
                out.append({"uuid": a["uuid"]["string"], "minor": a.get("minor", {}).get("int", 0), "model": a.get("productName", {}).get("string", "")})
        return sorted(out, key=lambda g: g["minor"])

    def assign_device_plugin(self, pod: dict[str, Any], node: str) -> tuple[int, int] | None:
        """The device plugin's Allocate: which GPUs (by UUID) the container of a pod requesting
        nvidia.com/gpu gets, among the node's GPUs no running pod holds, or, when the node's plugin
        time-slices (its runtime's ``replicas``), that fewer than ``replicas`` running pods hold
        (least used first).  (requested, available) when it cannot give what was requested."""
        want = int(self.pod_requests(pod).get("nvidia.com/gpu", 0))
        if not want:
            return None
        replicas = int(self.node_runtime.get(node, {}).get("replicas", 1))
        uses: dict[str, int] = {}
        for p in self.all("v1", "Pod"):
            if not self.terminal(p) and p["metadata"]["uid"] != pod["metadata"]["uid"]:
                for u in self.dp_assigned.get(p["metadata"]["uid"], []):
                    uses[u] = uses.get(u, 0) + 1
        free = sorted((uses.get(g["uuid"], 0), i, g["uuid"]) for i, g in enumerate(self.node_gpus(node)) if uses.get(g["uuid"], 0) < replicas)
        got = [u for _n, _i, u in free][:want]
        self.dp_assigned[pod["metadata"]["uid"]] = got
        return (want, len(got)) if len(got) < want else None

    def execute(self, pod: dict[str, Any], node: str) -> str | None:
        """What the container prints, for the programs the probes run; None for any other (it runs on)."""
        rtm = self.node_runtime.get(node, {})
        c = pod["spec"]["containers"][0]
        handler = "runc"
        if pod["spec"].get("runtimeClassName"):
            handler = (self.obj("node.k8s.io/v1", "RuntimeClass", pod["spec"]["runtimeClassName"]) or {}).get("handler", "runc")
        kernel = rtm.get("handlers", {}).get(handler, rtm.get("kernel", HOST_KERNEL))
        if c.get("command") == ["uname", "-r"]:
            return kernel + "\n"
        if c.get("command") not in (rt_mod.OBSERVE_COMMAND, rt_mod.HOLD_COMMAND):
            return None
        node_gpus = rtm.get("gpus", [])
        # What the resource framework grants: the claims' devices (CDI) and the device plugin's
        # Allocate; both also set NVIDIA_VISIBLE_DEVICES to those UUIDs, over the image's value.
        granted = self.claim_gpus(pod) + self.dp_assigned.get(pod["metadata"]["uid"], [])
        env = {e["name"]: e.get("value", "") for e in c.get("env") or []}
        image_env = "all" if str(c.get("image", "")).startswith("nvcr.io/nvidia/") else None  # CUDA images set it
        asked = env.get("NVIDIA_VISIBLE_DEVICES", image_env)
        visible = ",".join(granted) if granted else asked
        given = list(granted)
        if "legacy-envvar" in rtm.get("faults", ()) and visible:  # the runtime injects what the env names
            given += [g["uuid"] for g in node_gpus if visible == "all" or g["uuid"] in visible.split(",")]
        if "all-devices" in rtm.get("faults", ()) and granted:
            given = [g["uuid"] for g in node_gpus]
        seen = [g for g in node_gpus if g["uuid"] in set(given)]
        lines = ["aic.devices=%s" % "".join("nvidia%d " % g["minor"] for g in seen), "aic.visible_env=%s" % (visible if visible is not None else "<unset>")]
        if seen:
            lines += ["aic.smi_rc=0"] + ["aic.smi=%s, %s" % (g["uuid"], rtm.get("driver_version", REFCLUSTER["driver_version"])) for g in seen]
        else:
            lines.append("aic.smi_rc=127")
        lines += ["aic.kernel=%s" % kernel, "aic.done=1"]
        return "\n".join(lines) + "\n"
