"""A single-node Kubernetes cluster on the GPU machine, for the accelerator probes on a real GPU.

    python3 tests/gpu/start_node.py start   # prints the kubeconfig path once the node is Ready
    python3 tests/gpu/start_node.py stop    # stops everything, removes its cgroups and address
    python3 tests/gpu/start_node.py facts   # what the host offers (no change to it)

Runs ON the GPU machine, from the repo checkout the device tool copies there, after the bundle of
`make gpu-bundle` was unpacked into --root (default /opt/aic; tests/gpu/unpack.py).  It starts etcd,
kube-apiserver, kube-controller-manager and kube-scheduler (the flags of
tests/refcluster/components.yaml, localhost only), containerd (runc, CNI bridge, CDI), imports the
pause and probe images, the kubelet (cgroupfs; the node registers with the nvidia.com/gpu taint of
tests/refcluster/manifests/node/kubelet.yaml), the DRA kubelet plugin in real mode, and the
DeviceClass gpu.nvidia.com; it waits for the node to be Ready and its ResourceSlice published.

A supervisor process owns them all, in a mount namespace of its own in which the kubelet's and
containerd's host paths are bind mounts of the state dir (as tests/refcluster/runtime_nodes.py does).
Without an NVIDIA GPU it refuses in one line, having started nothing.  --rehearsal runs the same
path on a machine without a GPU, for development only: fake device nodes and the fake nvidia-smi
(tests/refcluster/node) stand in for the driver, inside a network namespace of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.gpu import hostkit as hk  # noqa: E402

NODE = "gpu-node-1"
NODE_IP = "10.250.0.1"  # on lo (alias lo:aic); the PKI's kubelet serving certificate names it
DAEMONS_CGROUP = NODE + ".daemons"
BRIDGE, SUBNET = "aic-gpu0", "10.89.100.0/24"
SOCKET = "/run/containerd/containerd.sock"
BIND_PATHS = ("/var/lib/kubelet", "/var/log/pods", "/var/log/containers", "/var/lib/cni", "/run/containerd", "/run/netns")
MARKER = "AIC_GPU_NODE_STATE"
TEMPLATES = REPO / "tests" / "refcluster" / "manifests" / "node"
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
# tests/refcluster/fakes/dra_driver.py device_class(): the class the NVIDIA DRA driver's chart installs.
DEVICE_CLASS = {
    "apiVersion": "resource.k8s.io/v1",
    "kind": "DeviceClass",
    "metadata": {"name": "gpu.nvidia.com", "labels": {"app.kubernetes.io/managed-by": "ai-conformance-gpu-node"}},
    "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'"}}]},
}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


class Layout:
    def __init__(self, root: Path, rehearsal: bool) -> None:
        self.root, self.rehearsal = root, rehearsal
        self.bin, self.cni, self.pki = root / "bin", root / "cni", root / "pki"
        self.state = root / "state"
        self.logs = self.state / "logs"
        self.node = self.state / "node"
        self.pidfile, self.readyfile = self.state / "supervisor.pid", self.state / "ready.json"
        fake = self.state / "rehearsal"
        self.driver_root = fake / "nvidia" if rehearsal else Path(os.environ.get("AIC_GPU_DRIVER_ROOT", "/usr/local/nvidia"))
        self.dev_dir = fake / "dev" if rehearsal else Path("/dev")

    def kubeconfig(self) -> Path:
        return self.pki / "admin.kubeconfig"


def components() -> tuple[dict, dict]:
    import yaml  # PyYAML: in the GPU machine's image, and in .venv here

    raw = yaml.safe_load((REPO / "tests" / "refcluster" / "components.yaml").read_text())
    return raw["components"], {k: int(v) for k, v in raw["ports"].items()}


def log(msg: str) -> None:
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def render_configs(lay: Layout, ports: dict[str, int], taint: bool) -> dict[str, str]:
    """containerd.toml, the CNI conflist and kubelet.yaml of the node, from the reference cluster's
    templates (tests/refcluster/manifests/node).  containerd unpacks images with the native
    snapshotter where the state dir is on overlayfs (overlay on overlay fails)."""
    import string

    snap = "native" if hk.fstype(lay.node) == hk.OVERLAYFS else "overlayfs"
    v = {
        "node": NODE, "short": "gpu", "node_dir": str(lay.node), "socket": SOCKET, "runc": str(lay.bin / "runc"),
        "cni_bin": str(lay.cni), "bridge": BRIDGE, "subnet": SUBNET, "pause_image": "registry.k8s.io/pause:3.10",
        "host_ip": NODE_IP, "kubelet_port": ports["node_kubelet"], "healthz_port": ports["node_kubelet_healthz"],
        "pki": str(lay.pki), "extra_runtimes": "", "taints": json.dumps([GPU_TAINT] if taint else []),
    }  # fmt: skip
    ctd = string.Template((TEMPLATES / "containerd.toml").read_text()).substitute(v)
    if snap == "native":
        head = "[plugins.'io.containerd.cri.v1.images']\n"
        ctd = ctd.replace(head, head + '  snapshotter = "native"\n')
    (lay.node / "cni" / "net.d").mkdir(parents=True, exist_ok=True)
    (lay.node / "containerd.toml").write_text(ctd)
    (lay.node / "cni" / "net.d" / "10-gpu.conflist").write_text(string.Template((TEMPLATES / "cni.conflist").read_text()).substitute(v))
    (lay.node / "kubelet.yaml").write_text(string.Template((TEMPLATES / "kubelet.yaml").read_text()).substitute(v))
    return {"snapshotter": snap}


class Supervisor:
    def __init__(self, lay: Layout, taint: bool) -> None:
        self.lay, self.taint = lay, taint
        self.comps, self.ports = components()
        self.procs: dict[str, subprocess.Popen] = {}
        self.api = hk.Api("https://127.0.0.1:%d" % self.ports["apiserver"], lay.pki)
        self.stopping = False

    # -- processes -------------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        full = dict(os.environ, **(env or {}))
        full[MARKER] = str(self.lay.state)
        out = (self.lay.logs / ("%s.log" % name)).open("ab")
        self.procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full, start_new_session=True)
        log("started %s (pid %d)" % (name, self.procs[name].pid))

    def wait(self, name: str, ok, timeout_s: float = 90) -> None:
        deadline, proc = time.monotonic() + timeout_s, self.procs[name]
        while not ok():
            if proc.poll() is not None:
                tail = (self.lay.logs / ("%s.log" % name)).read_text(errors="replace").splitlines()[-8:]
                raise RuntimeError("%s exited with %s: %s" % (name, proc.returncode, " | ".join(tail)))
            if time.monotonic() > deadline:
                raise RuntimeError("%s not ready after %d s (log %s)" % (name, timeout_s, self.lay.logs / ("%s.log" % name)))
            time.sleep(0.3)

    def stop_proc(self, name: str, grace_s: float = 10) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    # -- the steps -------------------------------------------------------------------------------
    def control_plane(self) -> None:
        fmt = {"state": str(self.lay.state), "pki": str(self.lay.pki), "ports": self.ports}
        for name in CONTROL_PLANE:
            run = self.comps[name]["run"]
            self.spawn(name, [str(self.lay.bin / name)] + [a.format(**fmt) for a in run["args"]])
            ready = run["ready"]
            if name == "kube-apiserver":
                self.wait(name, lambda: self.api.call("GET", "/readyz")[0] == 200)
            else:
                url = (ready.get("http") or ready.get("https")).format(**fmt)
                self.wait(name, lambda u=url: hk.http_ok(u))

    def render(self) -> dict[str, str]:
        return render_configs(self.lay, self.ports, self.taint)

    def containerd(self, snapshotter: str) -> None:
        env = {"PATH": "%s:%s" % (self.lay.bin, os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))}
        self.spawn("containerd", [str(self.lay.bin / "containerd"), "--config", str(self.lay.node / "containerd.toml")], env)
        ctr = [str(self.lay.bin / "ctr"), "--address", SOCKET, "-n", "k8s.io"]
        self.wait("containerd", lambda: subprocess.run(ctr + ["version"], check=False, capture_output=True).returncode == 0, 60)
        for tar in sorted((self.lay.root / "images").glob("*.tar")):
            snap = ["--snapshotter", snapshotter] if snapshotter == "native" else []
            out = subprocess.run(ctr + ["images", "import"] + snap + [str(tar)], check=False, capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                raise RuntimeError("ctr images import %s: %s" % (tar.name, (out.stdout + out.stderr).strip()[-400:]))
            log("imported %s" % tar.name)

    def kubelet(self) -> None:
        kc = self.lay.pki / ("node-%s.kubeconfig" % NODE)
        argv = [str(self.lay.bin / "kubelet"), "--config=%s" % (self.lay.node / "kubelet.yaml"), "--kubeconfig=%s" % kc]
        self.spawn("kubelet", argv + ["--hostname-override=%s" % NODE, "--node-ip=%s" % NODE_IP, "--v=1"])
        self.wait("kubelet", lambda: self.api.get("/api/v1/nodes/%s" % NODE) is not None, 120)

    def dra_plugin(self) -> None:
        ready = self.lay.state / "dra-plugin.ready"
        ready.unlink(missing_ok=True)
        lib64 = self.lay.driver_root / "lib64"
        argv = [str(self.lay.bin / "fake-gpu-kubelet-plugin"), "--mode=real", "--node-name", NODE, "--kubeconfig", str(self.lay.kubeconfig())]
        argv += ["--cdi-dir", str(self.lay.node / "cdi"), "--driver-root", str(self.lay.driver_root), "--dev-dir", str(self.lay.dev_dir)]
        argv += ["--ld-library-path", str(lib64)] if lib64.is_dir() else []
        env = {"AIC_FAKE_NVIDIA_DEV": str(self.lay.dev_dir)} if self.lay.rehearsal else {}
        self.spawn("dra-plugin", argv + ["--ready-file", str(ready)], env)
        self.wait("dra-plugin", ready.is_file, 90)

    def device_class(self) -> None:
        status, body = self.api.call("POST", "/apis/resource.k8s.io/v1/deviceclasses", DEVICE_CLASS)
        if status not in (201, 409):
            raise RuntimeError("create DeviceClass gpu.nvidia.com: HTTP %s %s" % (status, body))

    def node_ready(self) -> tuple[bool, list]:
        node = self.api.get("/api/v1/nodes/%s" % NODE) or {}
        conds = {c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []}
        slices = (self.api.get("/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName%3D" + NODE) or {}).get("items") or []
        devices = [d for s in slices if s["spec"].get("driver") == "gpu.nvidia.com" for d in s["spec"].get("devices") or []]
        return conds.get("Ready") == "True" and bool(devices), devices

    # -- life ------------------------------------------------------------------------------------
    def start(self) -> dict:
        t0 = time.monotonic()
        for sub in ("logs", "node/cni/net.d", "node/cni/ipam", "node/cdi") + tuple("binds" + p for p in BIND_PATHS):
            (self.lay.state / sub).mkdir(parents=True, exist_ok=True)
        created = [p for p in BIND_PATHS if not Path(p).exists()]
        for p in created:
            Path(p).mkdir(parents=True)
        (self.lay.state / "host-dirs.json").write_text(json.dumps(created))
        for p in BIND_PATHS:  # this process is alone in a private mount namespace (start's unshare)
            subprocess.run(["mount", "--bind", str(self.lay.state / ("binds" + p)), p], check=True)
        hk.add_loopback_address(NODE_IP)
        hk.make_cgroups(NODE, DAEMONS_CGROUP)
        hk.join_cgroup(DAEMONS_CGROUP, os.getpid())
        self.control_plane()
        facts = self.render()
        self.containerd(facts["snapshotter"])
        self.kubelet()
        self.device_class()
        self.dra_plugin()
        deadline = time.monotonic() + 120
        while not (state := self.node_ready())[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("node %s not Ready with a published ResourceSlice after 120 s" % NODE)
            time.sleep(1)
        attrs = [{"name": d["name"], "attributes": {k: next(iter(v.values())) for k, v in d.get("attributes", {}).items()}} for d in state[1]]
        return {"kubeconfig": str(self.lay.kubeconfig()), "node": NODE, "start_s": round(time.monotonic() - t0, 1), "devices": attrs, **facts}

    def teardown(self) -> None:
        for name in ("dra-plugin", "kubelet"):  # the plugin deletes its ResourceSlices on SIGTERM
            self.stop_proc(name)
        hk.kill_cgroups([NODE])  # the pods' processes, before containerd goes
        for name in ("containerd", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            self.stop_proc(name)
        log("stopped")


def supervise(args: argparse.Namespace) -> int:
    lay = Layout(Path(args.root), args.rehearsal)
    sup = Supervisor(lay, not args.no_taint)
    signal.signal(signal.SIGTERM, lambda s, f: setattr(sup, "stopping", True))
    signal.signal(signal.SIGINT, lambda s, f: setattr(sup, "stopping", True))
    try:
        info = sup.start()
        lay.readyfile.write_text(json.dumps(info, indent=1) + "\n")
        log("ready in %.1f s: %s" % (info["start_s"], json.dumps(info["devices"])))
        while not sup.stopping:
            dead = [n for n, p in sup.procs.items() if p.poll() is not None]
            if dead:
                log("exited: %s" % ", ".join(dead))
                return 1
            time.sleep(0.5)
        return 0
    except Exception as exc:  # one readable line; start prints it
        log("FAILED: %s: %s" % (exc.__class__.__name__, exc))
        (lay.state / "failed").write_text("%s: %s\n" % (exc.__class__.__name__, exc))
        return 1
    finally:
        sup.teardown()


def start(args: argparse.Namespace) -> int:
    lay = Layout(Path(args.root), args.rehearsal)
    if not args.rehearsal:
        problem = hk.gpu_problem(lay.driver_root, lay.dev_dir)
        if problem:
            print(problem, flush=True)
            return 3
    missing = [str(p) for p in [lay.bin / n for n in BINARIES] + [lay.cni / "bridge", lay.pki / "ca.crt"] if not p.exists()]
    if os.geteuid() != 0 or missing or not all(shutil.which(t) for t in ("unshare", "mount")):
        why = "not root" if os.geteuid() != 0 else ("unpack the bundle first: missing %s" % ", ".join(missing[:4]) if missing else "unshare or mount missing")
        print("cannot start the GPU node: %s" % why, flush=True)
        return 2
    if lay.pidfile.is_file() and Path("/proc/%s" % lay.pidfile.read_text().strip()).exists():
        print("already running (supervisor pid %s): stop it first" % lay.pidfile.read_text().strip(), flush=True)
        return 2
    if lay.state.exists():
        shutil.rmtree(lay.state)
    lay.logs.mkdir(parents=True)
    if args.rehearsal:
        hk.make_fake_driver(lay.driver_root, lay.dev_dir, Path(args.rehearsal))
    ns = ["--mount", "--propagation", "private"] + (["--net"] if args.rehearsal else [])
    argv = ["unshare"] + ns + ["--", sys.executable, str(Path(__file__).resolve()), "_supervise", "--root", args.root]
    argv += (["--rehearsal", args.rehearsal] if args.rehearsal else []) + (["--no-taint"] if args.no_taint else [])
    with (lay.logs / "supervisor.log").open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    lay.pidfile.write_text(str(proc.pid))
    deadline = time.monotonic() + args.timeout
    while not lay.readyfile.is_file():
        failed = lay.state / "failed"
        if proc.poll() is not None or failed.is_file() or time.monotonic() > deadline:
            why = (
                failed.read_text().strip()
                if failed.is_file()
                else "supervisor exited %s" % proc.poll()
                if proc.poll() is not None
                else "not ready after %d s" % args.timeout
            )
            print("GPU node failed to start: %s (logs: %s)" % (why, lay.logs), flush=True)
            stop(args)
            return 1
        time.sleep(0.5)
    info = json.loads(lay.readyfile.read_text())
    print("GPU node %s ready in %s s; kubeconfig: %s" % (NODE, info["start_s"], info["kubeconfig"]), flush=True)
    return 0


def status(args: argparse.Namespace) -> int:
    """0 when the supervisor runs and the node was ready (its ready.json), else 1."""
    lay = Layout(Path(args.root), False)
    pid = lay.pidfile.read_text().strip() if lay.pidfile.is_file() else ""
    if pid and Path("/proc/%s" % pid).exists() and lay.readyfile.is_file():
        print(lay.readyfile.read_text().strip(), flush=True)
        return 0
    print("not running", flush=True)
    return 1


def stop(args: argparse.Namespace) -> int:
    """Stop the supervisor (it tears down what it started), then remove whatever is left: processes
    carrying the marker, the cgroups, the node address and the CNI bridge.  Idempotent."""
    lay = Layout(Path(args.root), args.rehearsal)
    if lay.pidfile.is_file():
        pid = int(lay.pidfile.read_text().strip() or 0)
        try:
            os.kill(pid, signal.SIGTERM)
            for _tick in range(120):
                os.kill(pid, 0)
                time.sleep(0.5)
        except OSError:
            pass
        lay.pidfile.unlink()
    killed = hk.kill_marked(MARKER, str(lay.state))
    left = hk.kill_cgroups([NODE, DAEMONS_CGROUP])
    dirs = lay.state / "host-dirs.json"
    for d in reversed(json.loads(dirs.read_text()) if dirs.is_file() else []):
        try:
            Path(d).rmdir()
            left.append("dir %s" % d)
        except OSError:
            pass
    dirs.unlink(missing_ok=True)
    if hk.remove_loopback_address():
        left.append("address %s" % NODE_IP)
    if Path("/sys/class/net/%s" % BRIDGE).exists() and shutil.which("ip"):
        subprocess.run(["ip", "link", "delete", BRIDGE], check=False)
        left.append("bridge %s" % BRIDGE)
    print("GPU node stopped; removed %s" % (", ".join(left + (["%d stray processes" % len(killed)] if killed else [])) or "nothing left behind"), flush=True)
    return 0


BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "containerd",
    "ctr",
    "containerd-shim-runc-v2",
    "runc",
    "fake-gpu-kubelet-plugin",
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["start", "stop", "status", "facts", "_supervise"])
    ap.add_argument("--root", default=os.environ.get("AIC_GPU_ROOT", "/opt/aic"), help="where the bundle was unpacked (default /opt/aic)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds start waits for the node")
    ap.add_argument("--no-taint", action="store_true", help="register the node without the nvidia.com/gpu taint")
    ap.add_argument("--rehearsal", metavar="FAKE_NVIDIA_SMI", help="development only: no GPU, the fake nvidia-smi of tests/refcluster/node")
    args = ap.parse_args()
    if args.command == "facts":
        lay = Layout(Path(args.root), False)
        print(json.dumps(hk.host_facts(lay.driver_root, lay.root), indent=1), flush=True)
        return 0
    return {"start": start, "stop": stop, "status": status, "_supervise": supervise}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
