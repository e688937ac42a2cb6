"""What the real worker nodes need from, and leave on, this host: the checks that decide whether
they can run here, the private mount that holds their namespaces, and the cleanup that removes
their processes, cgroups, mounts, bridges and directories (tests/refcluster/runtime_nodes.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.refcluster import node_proxy
from tests.refcluster.config import STATE
from tests.refcluster.fakes import gpus as gpumod

NODES = gpumod.RUNTIME_NODES
NS_DIR = STATE / "ns"
HOST_DIRS_FILE = STATE / "nodes" / "host-dirs.json"
# Host paths every node sees as its own (bind mounts inside its mount namespace).
BIND_PATHS = ("/var/lib/kubelet", "/var/log/pods", "/var/log/containers", "/var/lib/cni", "/run/containerd", "/run/netns")


CGROUP_ROOT = Path("/sys/fs/cgroup")
NET_ROOT = Path("/sys/class/net")


def cgroup_hierarchies() -> list[Path]:
    """The cgroup v1 hierarchies of this host (kubelet needs a cgroup root in each)."""
    base = CGROUP_ROOT
    return sorted(d for d in base.iterdir() if d.is_dir() and d.name != "unified" and (d / "cgroup.procs").is_file()) if base.is_dir() else []


def host_problem(binaries: dict[str, Path]) -> str | None:
    """Why this host cannot run the real nodes (None: it can)."""
    if os.geteuid() != 0:
        return "not root (kubelet and containerd need root)"
    for tool in ("unshare", "nsenter", "mount", "umount", "ip"):
        if not shutil.which(tool):
            return "the %s command is missing (util-linux / iproute2)" % tool
    have = {d.name for d in cgroup_hierarchies()}
    if (CGROUP_ROOT / "cgroup.controllers").is_file():
        return "cgroup v2 hosts are not wired up in the harness yet (this machine class boots cgroup v1)"
    missing = [c for c in ("cpu", "cpuacct", "cpuset", "memory", "pids", "devices") if c not in have]
    if missing:
        return "cgroup v1 controllers missing: %s" % ", ".join(missing)
    missing_bins = [str(p) for p in binaries.values() if not p.is_file()]
    if missing_bins:
        return "not built: %s (make cluster-build)" % ", ".join(missing_bins)
    probe = STATE / "nodes" / ".mknod-check"
    probe.parent.mkdir(parents=True, exist_ok=True)
    try:
        probe.unlink(missing_ok=True)
        os.mknod(probe, 0o600 | 0o020000, os.makedev(gpumod.NVIDIA_MAJOR, 0))
        probe.unlink()
    except OSError as exc:
        return "cannot create device nodes in %s: %s" % (probe.parent, exc)
    return None


def mknod(path: Path, minor: int) -> None:
    if not path.exists():
        os.mknod(path, 0o666 | 0o020000, os.makedev(gpumod.NVIDIA_MAJOR, minor))


def is_mountpoint(p: Path) -> bool:
    try:
        return any(line.split()[4] == str(p) for line in Path("/proc/self/mountinfo").read_text().splitlines())
    except OSError:
        return False


def prepare_host() -> None:
    """The private mount that holds the namespace files, and the host directories the binds need
    (recorded, so cleanup removes exactly the ones created here)."""
    NS_DIR.mkdir(parents=True, exist_ok=True)
    if not is_mountpoint(NS_DIR):
        subprocess.run(["mount", "--bind", str(NS_DIR), str(NS_DIR)], check=True)
        subprocess.run(["mount", "--make-private", str(NS_DIR)], check=True)
    created = json.loads(HOST_DIRS_FILE.read_text()) if HOST_DIRS_FILE.is_file() else []
    for p in BIND_PATHS:
        if not Path(p).exists():
            Path(p).mkdir(parents=True)
            created.append(p)
    HOST_DIRS_FILE.parent.mkdir(parents=True, exist_ok=True)
    HOST_DIRS_FILE.write_text(json.dumps(created))


def node_pids() -> set[int]:
    """Processes of the real nodes that left the supervisor's tree: containers (by cgroup) and the
    containerd shims (they carry the harness's marker in their environment)."""
    pids = {int(x) for h in cgroup_hierarchies() for n in NODES if (h / n).is_dir() for f in (h / n).rglob("cgroup.procs") for x in f.read_text().split()}
    marker = ("AIC_REFCLUSTER_STATE=%s" % STATE).encode()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if b"containerd-shim" in (d / "cmdline").read_bytes() and marker in (d / "environ").read_bytes().split(b"\0"):
                    pids.add(int(d.name))
            except OSError:
                continue
    return pids


def cleanup_host() -> list[str]:
    """Remove everything the nodes left on the host: processes in their cgroups, the cgroups, the
    namespace mounts, the CNI bridges and the host dirs created for the binds.  Idempotent; the
    harness's ``down`` calls it whether or not the supervisor ended cleanly."""
    done = []
    for name in NODES:
        for _ in range(3):
            pids = [int(x) for h in cgroup_hierarchies() if (h / name).is_dir() for f in (h / name).rglob("cgroup.procs") for x in f.read_text().split()]
            if not pids:
                break
            for pid in set(pids):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.3)
        for h in cgroup_hierarchies():
            root = h / name
            if root.is_dir():
                for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True) + [root]:
                    try:
                        d.rmdir()
                    except OSError:
                        pass
                done.append("cgroup %s" % root)
    for i, name in enumerate(NODES):
        ns = NS_DIR / name
        if is_mountpoint(ns):
            subprocess.run(["umount", str(ns)], check=False)
            done.append("namespace %s" % name)
        bridge = "aic-rt%d" % (i + 1)
        if (NET_ROOT / bridge).exists():
            subprocess.run(["ip", "link", "delete", bridge], check=False)
            done.append("bridge %s" % bridge)
    done += node_proxy.cleanup()
    if is_mountpoint(NS_DIR):
        subprocess.run(["umount", str(NS_DIR)], check=False)
    if HOST_DIRS_FILE.is_file():
        for p in reversed(json.loads(HOST_DIRS_FILE.read_text())):
            try:
                Path(p).rmdir()
                done.append("dir %s" % p)
            except OSError:
                pass
        HOST_DIRS_FILE.unlink()
    return done
