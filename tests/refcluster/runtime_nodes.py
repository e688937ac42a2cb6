"""Real worker nodes of the reference cluster: kubelet, containerd, runc and CNI on this host.

Run by the harness as the component ``runtime-nodes``, a supervisor.  Each node
(``refcluster-rt-1``, ``refcluster-rt-2``) is a mount namespace of its own in which the host's
kubelet/containerd paths (/var/lib/kubelet, /run/containerd, ...) are bind mounts of the node's
state dir, so two kubelets share one host without sharing a device-plugin socket, a checkpoint or a
CNI cache.  Per node: containerd (runc, CNI bridge, CDI), the images imported from tarballs built
here (no registry), kubelet (cgroupfs, its own cgroup root), and the FAKE GPU agents of
``fake-gpu-node``: the DRA kubelet plugin and the device plugin, which hand containers harmless
character devices /dev/nvidiaN and a fake nvidia-smi through CDI.  Both nodes share the host's
network namespace, so one kube-proxy (nftables mode, node_proxy.py) routes Services for both.

Where the host cannot run containers (not root, no cgroups, no mknod, a binary missing) the
supervisor prints one line saying what is missing, reports ready with ``skipped`` and the cluster
runs kwok nodes only: the probes then record their runtime checks as not decided, with that reason.

Faults are injected through a control file (``breaker.node_fault`` in the integration tests):
{"dra_fault": "none|all-devices|stopped", "device_plugin_fault": "none|all-devices|stopped",
 "runtime": "runc|legacy-nvidia", "sandbox_runtime": "runsc|runc"}; the supervisor restarts what the change touches and writes the
applied control back once the nodes are ready again.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import string
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.refcluster import node_host as nh
from tests.refcluster import node_proxy
from tests.refcluster import pki as pkimod
from tests.refcluster.config import PKI, REPO, STATE, ensure_collection_path, host_ip, load_components, ports
from tests.refcluster.fakes import gpus as gpumod

NODES = gpumod.RUNTIME_NODES
TEMPLATES = REPO / "tests" / "refcluster" / "manifests" / "node"
CONTROL = STATE / "run" / "runtime-nodes.control"
APPLIED = STATE / "run" / "runtime-nodes.applied"
SOCKET = "/run/containerd/containerd.sock"
DEFAULT_CONTROL = {"dra_fault": "none", "device_plugin_fault": "none", "runtime": "runc", "sandbox_runtime": "runsc"}
MARKER_ENV = "AIC_REFCLUSTER_STATE"


def _bins() -> dict[str, Path]:
    comps = load_components()
    b = {n: comps[n].bin_dir for n in ("containerd", "containerd-shim", "runc", "cni-plugins", "kubelet", "fake-gpu-node", "gvisor")}
    return {
        "gvisor_dir": b["gvisor"],
        "runsc": b["gvisor"] / "runsc",
        "containerd": b["containerd"] / "containerd",
        "shim_dir": b["containerd-shim"],
        "ctr": b["containerd"] / "ctr",
        "runc": b["runc"] / "runc",
        "cni_bin": b["cni-plugins"],
        "kubelet": b["kubelet"] / "kubelet",
        "kube_proxy": b["kubelet"] / "kube-proxy",
        "dra": b["fake-gpu-node"] / "fake-gpu-kubelet-plugin",
        "dp": b["fake-gpu-node"] / "fake-gpu-device-plugin",
        "smi": b["fake-gpu-node"] / "nvidia-smi",
        "legacy": b["fake-gpu-node"] / "fake-nvidia-container-runtime",
    }


class Node:
    def __init__(self, name: str, idx: int) -> None:
        self.name, self.idx = name, idx
        self.dir = STATE / "nodes" / name
        self.ns = nh.NS_DIR / name
        self.spec = gpumod.RUNTIME_NODE_SPECS[name]
        self.bridge = "aic-rt%d" % (idx + 1)
        self.kubelet_port = ports()["node_kubelet"] + 10 * idx
        self.healthz_port = ports()["node_kubelet_healthz"] + 10 * idx

    def in_ns(self, cmd: list[str]) -> list[str]:
        return ["nsenter", "--mount=%s" % self.ns, "--"] + cmd

    def prepare(self, bins: dict[str, Path], control: dict[str, str]) -> None:
        for sub in ("containerd", "cni/net.d", "cni/ipam", "cdi", "dev", "logs") + tuple("binds" + p for p in nh.BIND_PATHS):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        inv = gpumod.runtime_node_inventory(self.name)
        (self.dir / "gpus.json").write_text(json.dumps(inv, indent=1) + "\n")
        for g in inv["gpus"]:
            nh.mknod(self.dir / "dev" / ("nvidia%d" % g["minor"]), g["minor"])
        nh.mknod(self.dir / "dev" / "nvidiactl", gpumod.NVIDIACTL_MINOR)
        (self.dir / "fake-nvcr.json").write_text(
            json.dumps({"runc": str(bins["runc"]), "gpus": str(self.dir / "gpus.json"), "dev_dir": str(self.dir / "dev"), "nvidia_smi": str(bins["smi"])})
        )
        self.render_containerd(bins, control)
        values = self.values(bins)
        (self.dir / "cni" / "net.d" / "10-refcluster.conflist").write_text(string.Template((TEMPLATES / "cni.conflist").read_text()).substitute(values))
        (self.dir / "kubelet.yaml").write_text(string.Template((TEMPLATES / "kubelet.yaml").read_text()).substitute(values))
        pkimod.ensure_node_certs(PKI, "https://127.0.0.1:%d" % ports()["apiserver"], self.name, host_ip())
        for h in nh.cgroup_hierarchies():
            d = h / self.name
            if not d.is_dir():
                d.mkdir()
                if h.name == "cpuset":  # a new cpuset cgroup starts empty: give it the parent's
                    for f in ("cpuset.cpus", "cpuset.mems"):
                        (d / f).write_text((h / f).read_text())
        self.make_namespace()

    def values(self, bins: dict[str, Path]) -> dict[str, Any]:
        return {
            "node": self.name,
            "short": "rt-%d" % (self.idx + 1),
            "node_dir": str(self.dir),
            "socket": SOCKET,
            "runc": str(bins["runc"]),
            "cni_bin": str(bins["cni_bin"]),
            "bridge": self.bridge,
            "subnet": "10.89.%d.0/24" % (self.idx + 1),
            "pause_image": "registry.k8s.io/pause:3.10",
            "host_ip": host_ip(),
            "kubelet_port": self.kubelet_port,
            "healthz_port": self.healthz_port,
            "pki": str(PKI),
            "extra_runtimes": "",
            "taints": json.dumps(self.spec["taints"]),
        }

    def render_containerd(self, bins: dict[str, Path], control: dict[str, str]) -> None:
        values = self.values(bins)
        if control.get("runtime") == "legacy-nvidia":  # fault: a runtime that honours NVIDIA_VISIBLE_DEVICES
            values["runc"] = str(bins["legacy"])
        values["extra_runtimes"] = self.runsc_block(bins, control)
        (self.dir / "containerd.toml").write_text(string.Template((TEMPLATES / "containerd.toml").read_text()).substitute(values))

    def runsc_block(self, bins: dict[str, Path], control: dict[str, str]) -> str:
        """The CRI handler ``runsc`` (gVisor, when built): the sandbox RuntimeClass's handler.  Fault
        ``sandbox_runtime: runc`` maps the same handler name to plain runc (a look-alike sandbox)."""
        if not bins["runsc"].is_file():
            return ""
        key = "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc"
        if control.get("sandbox_runtime") == "runc":
            opts = 'BinaryName = "%s"\n        SystemdCgroup = false' % bins["runc"]
            return '    %s]\n      runtime_type = "io.containerd.runc.v2"\n      %s.options]\n        %s\n' % (key, key, opts)
        conf = self.dir / "runsc.toml"
        conf.write_text('binary_name = "%s"\nroot = "%s"\n' % (bins["runsc"], self.dir / "runsc"))
        opts = 'TypeUrl = "io.containerd.runsc.v1.options"\n        ConfigPath = "%s"' % conf
        return '    %s]\n      runtime_type = "io.containerd.runsc.v1"\n      %s.options]\n        %s\n' % (key, key, opts)

    def make_namespace(self) -> None:
        """A persistent mount namespace (bound to a file under STATE/ns) with the node's binds."""
        if nh.is_mountpoint(self.ns):
            return
        self.ns.touch()
        script = "; ".join("mount --bind %s %s" % (self.dir / ("binds" + p), p) for p in nh.BIND_PATHS)
        subprocess.run(["unshare", "--mount=%s" % self.ns, "--propagation", "private", "--", "sh", "-ec", script], check=True, capture_output=True, text=True)


class Supervisor:
    """Starts and keeps the nodes' processes; tears them down on SIGTERM."""

    def __init__(self) -> None:
        self.bins = _bins()
        self.nodes = [Node(n, i) for i, n in enumerate(NODES)]
        self.procs: dict[str, subprocess.Popen] = {}
        self.control = dict(DEFAULT_CONTROL)
        ensure_collection_path()
        from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import get_client

        self.client = get_client({"kubeconfig": str(PKI / "admin.kubeconfig")})

    def spawn(self, node: Node, what: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        key = "%s/%s" % (node.name, what)
        full = dict(os.environ, **(env or {}))
        full[MARKER_ENV] = str(STATE)
        log = (STATE / "logs" / ("%s-%s.log" % (node.name, what))).open("ab")
        self.procs[key] = subprocess.Popen(node.in_ns(cmd), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full, start_new_session=True)

    def kill(self, node: Node, what: str, grace_s: float = 5) -> None:
        proc = self.procs.pop("%s/%s" % (node.name, what), None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def wait(self, node: Node, what: str, ok: Any, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        proc = self.procs["%s/%s" % (node.name, what)]
        while not ok():
            if proc.poll() is not None:
                log = STATE / "logs" / ("%s-%s.log" % (node.name, what))
                raise RuntimeError("%s of %s exited: %s" % (what, node.name, " | ".join(log.read_text(errors="replace").splitlines()[-6:])))
            if time.monotonic() > deadline:
                raise RuntimeError("%s of %s not ready after %d s" % (what, node.name, timeout_s))
            time.sleep(0.2)

    def ctr(self, node: Node, args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(node.in_ns([str(self.bins["ctr"]), "--address", SOCKET, "-n", "k8s.io"] + args), capture_output=True, text=True)

    def start_containerd(self, node: Node) -> None:
        path = "%s:%s:%s" % (self.bins["shim_dir"], self.bins["gvisor_dir"], os.environ.get("PATH", "/usr/bin:/bin"))
        env = {"PATH": path, "AIC_FAKE_NVCR_CONFIG": str(node.dir / "fake-nvcr.json")}
        self.spawn(node, "containerd", [str(self.bins["containerd"]), "--config", str(node.dir / "containerd.toml")], env)
        self.wait(node, "containerd", lambda: self.ctr(node, ["version"]).returncode == 0)

    def start_agents(self, node: Node) -> None:
        d = node.dir
        common = ["--gpus", str(d / "gpus.json"), "--dev-dir", str(d / "dev"), "--cdi-dir", str(d / "cdi"), "--nvidia-smi", str(self.bins["smi"])]
        started = []
        for what, binary, fault in (("dra-plugin", "dra", "dra_fault"), ("device-plugin", "dp", "device_plugin_fault")):
            ready = node.dir / ("%s.ready" % what)
            ready.unlink(missing_ok=True)
            if self.control[fault] == "stopped":
                if what == "dra-plugin":
                    self.withdraw_slices(node)
                continue
            extra = ["--node-name", node.name, "--kubeconfig", str(PKI / "admin.kubeconfig")] if what == "dra-plugin" else []
            self.spawn(node, what, [str(self.bins[binary])] + common + extra + ["--fault", self.control[fault], "--ready-file", str(ready)])
            started.append(what)
        for what in started:
            self.wait(node, what, (node.dir / ("%s.ready" % what)).is_file)

    def withdraw_slices(self, node: Node) -> None:
        """The DRA plugin stopped: its node's ResourceSlices go, as the kubelet wipes an unregistered
        driver's slices (after a grace period the fault does not wait for)."""
        for sl in self.client.list("resource.k8s.io/v1", "ResourceSlice", field_selector="spec.nodeName=%s" % node.name)["items"]:
            self.client.delete("resource.k8s.io/v1", "ResourceSlice", sl["metadata"]["name"])

    def node_ready(self, node: Node) -> bool:
        live = self.client.get("v1", "Node", node.name)
        conds = {c["type"]: c["status"] for c in ((live or {}).get("status") or {}).get("conditions") or []}
        gpus = ((live or {}).get("status") or {}).get("allocatable", {}).get("nvidia.com/gpu", "0")
        return conds.get("Ready") == "True" and (gpus != "0" or not node.spec["gpus"])

    def start_node(self, node: Node, tarballs: dict[str, Path]) -> None:
        node.prepare(self.bins, self.control)
        self.start_containerd(node)
        for name, tar in sorted(tarballs.items()):
            out = self.ctr(node, ["images", "import", str(tar)])
            if out.returncode != 0:
                raise RuntimeError("importing image %s into %s failed: %s" % (name, node.name, (out.stdout + out.stderr).strip()[-300:]))
        cmd = [
            str(self.bins["kubelet"]),
            "--config=%s" % (node.dir / "kubelet.yaml"),
            "--kubeconfig=%s" % (PKI / ("node-%s.kubeconfig" % node.name)),
            "--hostname-override=%s" % node.name,
            "--node-ip=%s" % host_ip(),
            "--v=1",
        ]
        self.spawn(node, "kubelet", cmd)
        self.wait(node, "kubelet", lambda: self.client.get("v1", "Node", node.name) is not None, 90)
        n = node.spec["gpus"]
        labels = gpumod.gfd_labels(gpumod.gpus_for_node(node.name, n, gpumod.recorded_gpu(), gpumod.load_pools()["hgx_bus_numbers"], False))
        labels.update(node.spec["labels"])
        labels.update({"refcluster.ai-conformance.io/pool": "rt-gpu" if n else "rt-sandbox", "node.kubernetes.io/instance-type": "refcluster.rt-%dgpu" % n})
        self.client.patch("v1", "Node", node.name, {"metadata": {"labels": labels}})  # what GPU feature discovery does
        if n:
            self.start_agents(node)
        self.wait(node, "kubelet", lambda: self.node_ready(node), 90)

    def start_proxy(self) -> str | None:
        """kube-proxy for both nodes (node_proxy.py); returns why it was not started, or None."""
        why = node_proxy.problem(self.bins["kube_proxy"])
        if why:
            print("kube-proxy not started: %s; Services are not routed from the real nodes' pods" % why, flush=True)
            return why
        node = self.nodes[0]
        pkimod.ensure_client(PKI, "https://127.0.0.1:%d" % ports()["apiserver"], "kube-proxy", "/CN=system:kube-proxy")
        port = ports()
        values = {"pki": PKI, "node": node.name, "host_ip": host_ip(), "healthz_port": port["node_proxy_healthz"], "metrics_port": port["node_proxy_metrics"]}
        conf = node_proxy.render(TEMPLATES / "kube-proxy.yaml", STATE / "nodes" / "kube-proxy.yaml", values)
        node_proxy.enable_forwarding()
        self.spawn(node, "kube-proxy", [str(self.bins["kube_proxy"]), "--config=%s" % conf, "--v=1"])
        self.wait(node, "kube-proxy", lambda: _http_ok("http://127.0.0.1:%d/healthz" % values["healthz_port"]), 60)
        return None

    def apply_control(self, want: dict[str, str]) -> None:
        old, self.control = self.control, dict(DEFAULT_CONTROL, **want)
        for node in self.nodes:
            if (old["runtime"], old.get("sandbox_runtime")) != (self.control["runtime"], self.control.get("sandbox_runtime")):
                node.render_containerd(self.bins, self.control)
                self.kill(node, "containerd")
                self.start_containerd(node)
            if node.spec["gpus"] and (old["dra_fault"], old["device_plugin_fault"]) != (self.control["dra_fault"], self.control["device_plugin_fault"]):
                self.kill(node, "dra-plugin")
                self.kill(node, "device-plugin")
                self.start_agents(node)
        APPLIED.write_text(json.dumps(self.control))

    def teardown(self) -> None:
        for node in self.nodes:
            for what in ("kube-proxy", "device-plugin", "dra-plugin", "kubelet"):
                self.kill(node, what, 3)
        for node in self.nodes:
            try:
                self.client.delete("v1", "Node", node.name)
            except Exception as exc:  # the apiserver may already be gone at down
                print("could not delete node %s: %s" % (node.name, exc), flush=True)
        nh.cleanup_host()  # every container process, by cgroup, before containerd goes
        for node in self.nodes:
            self.kill(node, "containerd", 3)
        print("runtime nodes down: %s" % (", ".join(nh.cleanup_host()) or "nothing left behind"), flush=True)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ready-file", required=True)
    args = ap.parse_args()
    ready = Path(args.ready_file)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda s, f: stopping.append(s))
    signal.signal(signal.SIGINT, lambda s, f: stopping.append(s))
    bins = _bins()
    problem = nh.host_problem({k: p for k, p in bins.items() if k not in ("shim_dir", "cni_bin", "gvisor_dir", "runsc", "kube_proxy")})
    if problem:
        print("runtime nodes not started: %s; the cluster runs kwok nodes only and runtime checks stay undecided" % problem, flush=True)
        ready.write_text(json.dumps({"nodes": [], "skipped": problem}))
        while not stopping:
            time.sleep(1)
        return 0
    sup = Supervisor()
    try:
        from tests.refcluster import images

        t0 = time.monotonic()
        nh.cleanup_host()  # leftovers of a run that was killed
        nh.prepare_host()
        tarballs = images.build_images(Path(os.environ.get("AIC_CACHE", str(Path.home() / ".cache" / "ai-conformance"))))
        with concurrent.futures.ThreadPoolExecutor(len(sup.nodes)) as pool:
            for fut in [pool.submit(sup.start_node, node, tarballs) for node in sup.nodes]:
                fut.result()
        services = sup.start_proxy()
        ready.write_text(json.dumps({"nodes": list(NODES), "skipped": None, "services_not_routed": services, "start_s": round(time.monotonic() - t0, 1)}))
        print("runtime nodes ready in %.1f s: %s" % (time.monotonic() - t0, ", ".join(NODES)), flush=True)
        seen = 0.0
        while not stopping:
            if CONTROL.is_file() and CONTROL.stat().st_mtime != seen:
                seen = CONTROL.stat().st_mtime
                sup.apply_control(json.loads(CONTROL.read_text() or "{}"))
            dead = [k for k, p in sup.procs.items() if p.poll() is not None]
            if dead:
                print("runtime node processes exited: %s" % ", ".join(dead), flush=True)
                return 1
            time.sleep(0.5)
    except Exception as exc:  # one readable line in the log; the harness shows its tail
        print("runtime nodes failed: %s: %s" % (exc.__class__.__name__, exc), flush=True)
        return 1
    finally:
        sup.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
