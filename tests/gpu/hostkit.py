"""Host helpers for the single-node GPU cluster (tests/gpu/start_node.py): the GPU check, cgroups
(v2 on the GPU machine, v1 for a rehearsal here), an address for the node on the loopback device,
mount facts, and a tiny API client on the standard library (the GPU machine has no kubectl).

Standard library only: this runs under the GPU machine's python3 before any wheel is installed.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CGROUP = Path("/sys/fs/cgroup")
# ioctls of <linux/sockios.h>: the classic alias interface ("lo:aic"), no iproute2 needed.
SIOCSIFADDR, SIOCSIFNETMASK, SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8916, 0x891C, 0x8913, 0x8914
IFF_UP = 0x1
OVERLAYFS = "overlay"


def gpu_problem(driver_root: Path, dev_dir: Path) -> str | None:
    """One line saying why this host has no usable NVIDIA GPU, or None."""
    missing = []
    if not (dev_dir / "nvidiactl").exists():
        missing.append("%s missing" % (dev_dir / "nvidiactl"))
    if not (driver_root / "bin" / "nvidia-smi").is_file() and not shutil.which("nvidia-smi"):
        missing.append("nvidia-smi not found (neither %s nor on PATH)" % (driver_root / "bin" / "nvidia-smi"))
    if missing:
        return "no NVIDIA GPU here: %s; this script runs on the GPU machine (tests/gpu/README.md)" % " and ".join(missing)
    return None


def cgroup_v2() -> bool:
    return (CGROUP / "cgroup.controllers").is_file()


def v1_hierarchies() -> list[Path]:
    if not CGROUP.is_dir():
        return []
    return sorted(d for d in CGROUP.iterdir() if d.is_dir() and d.name != "unified" and (d / "cgroup.procs").is_file())


def _enable_controllers(d: Path) -> None:
    """Delegate every controller d has to its children (a cgroup v2 parent must, before kubelet
    creates kubepods below it).  Controllers the kernel refuses are left out, one by one."""
    for c in (d / "cgroup.controllers").read_text().split():
        try:
            (d / "cgroup.subtree_control").write_text("+%s" % c)
        except OSError:
            pass


def make_cgroups(pods_root: str, daemons: str) -> None:
    """The kubelet's cgroup root (pods go below it) and, on v2, a sibling for the daemons: v2 lets a
    cgroup either hold processes or delegate controllers, not both."""
    if cgroup_v2():
        _enable_controllers(CGROUP)
        for name in (pods_root, daemons):
            (CGROUP / name).mkdir(exist_ok=True)
        _enable_controllers(CGROUP / pods_root)
        return
    for h in v1_hierarchies():
        d = h / pods_root
        if not d.is_dir():
            d.mkdir()
            if h.name == "cpuset":  # a new v1 cpuset cgroup starts empty: give it the parent's
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (d / f).write_text((h / f).read_text())


def join_cgroup(name: str, pid: int) -> None:
    if cgroup_v2():
        (CGROUP / name / "cgroup.procs").write_text(str(pid))


def _procs(root: Path) -> list[int]:
    return [int(x) for f in root.rglob("cgroup.procs") for x in f.read_text().split()] if root.is_dir() else []


def kill_cgroups(names: list[str]) -> list[str]:
    """Kill every process below the named cgroups (all v1 hierarchies, or v2) and remove them."""
    roots = [CGROUP / n for n in names] if cgroup_v2() else [h / n for h in v1_hierarchies() for n in names]
    done = []
    for _attempt in range(10):
        pids = {p for r in roots for p in _procs(r)}
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.3)
    for r in roots:
        if r.is_dir():
            for d in sorted((p for p in r.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True) + [r]:
                try:
                    d.rmdir()
                except OSError:
                    pass
            done.append("cgroup %s" % r)
    return done


def kill_marked(marker: str, value: str) -> list[int]:
    """SIGKILL every process whose environment carries marker=value (the daemons and the shims they
    started, which left their process groups)."""
    want = ("%s=%s" % (marker, value)).encode()
    killed = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if want in (d / "environ").read_bytes().split(b"\0"):
                os.kill(int(d.name), signal.SIGKILL)
                killed.append(int(d.name))
        except OSError:
            pass
    return killed


def _ifreq(name: str, payload: bytes = b"") -> bytes:
    return struct.pack("16s", name.encode()) + payload.ljust(24, b"\0")


def _sockaddr(ip: str) -> bytes:
    return struct.pack("HH4s", socket.AF_INET, 0, socket.inet_aton(ip))


def add_loopback_address(ip: str, label: str = "lo:aic") -> None:
    """Put ip/32 on the loopback device (alias ``label``), bringing lo up first (a fresh network
    namespace has it down).  kubelet refuses 127.0.0.0/8 as node IP, and the GPU machine may
    have no other interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, _ifreq("lo"))[:18])[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, _ifreq("lo", struct.pack("H", flags | IFF_UP)))
        try:
            fcntl.ioctl(s, SIOCSIFADDR, _ifreq(label, _sockaddr(ip)))
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        fcntl.ioctl(s, SIOCSIFNETMASK, _ifreq(label, _sockaddr("255.255.255.255")))


def remove_loopback_address(label: str = "lo:aic") -> bool:
    """Bringing an alias down deletes its address.  False when there was none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            fcntl.ioctl(s, SIOCSIFFLAGS, _ifreq(label, struct.pack("H", 0)))
            return True
        except OSError:
            return False


def fstype(path: Path) -> str:
    """The filesystem type of the mount holding path (from /proc/self/mountinfo)."""
    best, kind = "", ""
    p = str(path.resolve())
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _sep, right = line.partition(" - ")
        mnt = left.split()[4]
        if (p == mnt or p.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
            best, kind = mnt, right.split()[0]
    return kind


class Api:
    """Just enough of the Kubernetes API for start_node: admin client certificate, JSON in and out."""

    def __init__(self, server: str, pki: Path, user: str = "admin") -> None:
        self.server = server.rstrip("/")
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / ("%s.crt" % user)), str(pki / ("%s.key" % user)))

    def call(self, method: str, path: str, body: Any = None, timeout: float = 10) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method, headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode(errors="replace"))
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, (json.loads(raw) if raw[:1] == b"{" else raw.decode(errors="replace"))
        except (OSError, ValueError) as exc:
            return 0, str(exc)

    def get(self, path: str) -> Any:
        status, obj = self.call("GET", path)
        return obj if status == 200 else None


def http_ok(url: str, timeout: float = 3) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, ValueError):
        return False


FAKE_GPUS = {  # rehearsal only: the recorded H100's identity (tests/refcluster/fixtures/SOURCE.md)
    "node": "gpu-node-1",
    "driver_version": "580.159.04",
    "cuda_version": "13.0",
    "gpus": [
        {
            "minor": 0,
            "uuid": "GPU-a764fc88-d7a8-ffd6-863f-cdb649c54382",
            "pci_bus_id": "00000000:00:06.0",
            "product": "NVIDIA H100 80GB HBM3",
            "brand": "NVIDIA",
            "architecture": "Hopper",
            "memory_mib": 81559,
            "cc_major": 9,
            "cc_minor": 0,
        }
    ],
}
SMI_WRAPPER = """#!/bin/sh
# Rehearsal only: the FAKE nvidia-smi of tests/refcluster/node/nvidiasmi, its inventory beside it.
d=${0%/*}
AIC_FAKE_NVIDIA_GPUS=$d/../gpus.json exec "$d/nvidia-smi.real" "$@"
"""


def make_fake_driver(driver_root: Path, dev_dir: Path, fake_smi: Path) -> None:
    """A stand-in for the driver on a machine without a GPU (start_node.py --rehearsal): device
    nodes made with mknod (opening them gives ENXIO: no driver), the fake nvidia-smi, an empty lib64."""
    (driver_root / "bin").mkdir(parents=True, exist_ok=True)
    (driver_root / "lib64").mkdir(exist_ok=True)
    dev_dir.mkdir(parents=True, exist_ok=True)
    for name, major, minor in (("nvidia0", 195, 0), ("nvidiactl", 195, 255), ("nvidia-uvm", 238, 0)):
        if not (dev_dir / name).exists():
            os.mknod(dev_dir / name, 0o666 | 0o020000, os.makedev(major, minor))
    shutil.copyfile(fake_smi, driver_root / "bin" / "nvidia-smi.real")
    (driver_root / "bin" / "nvidia-smi").write_text(SMI_WRAPPER)
    for f in ("nvidia-smi", "nvidia-smi.real"):
        (driver_root / "bin" / f).chmod(0o755)
    (driver_root / "gpus.json").write_text(json.dumps(FAKE_GPUS, indent=1) + "\n")


def _run(argv: list[str], env: dict[str, str] | None = None) -> str:
    import subprocess

    try:
        out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {})))
        return ("rc=%d\n" % out.returncode) + out.stdout + out.stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "failed: %s" % exc


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError as exc:
        return "unreadable: %s" % exc


def host_facts(driver_root: Path, root: Path) -> dict[str, Any]:
    """What start_node relies on, read without changing anything (the first device call prints it)."""
    import importlib.metadata as md
    import platform

    smi, lib64 = str(driver_root / "bin" / "nvidia-smi"), {"LD_LIBRARY_PATH": str(driver_root / "lib64")}
    devs = {}
    for p in sorted(Path("/dev").glob("nvidia*")):
        st = p.stat()
        devs[p.name] = "%s %d:%d" % ("char" if (st.st_mode & 0o170000) == 0o020000 else "other", os.major(st.st_rdev), os.minor(st.st_rdev))
    pkgs = {}
    for name in (
        "ansible-core",
        "kubernetes",
        "jinja2",
        "markupsafe",
        "pyyaml",
        "packaging",
        "requests",
        "urllib3",
        "certifi",
        "idna",
        "charset-normalizer",
        "six",
        "python-dateutil",
        "cryptography",
        "cffi",
        "pydantic",
        "typing-extensions",
        "resolvelib",
    ):
        try:
            pkgs[name] = md.version(name)
        except md.PackageNotFoundError:
            pkgs[name] = None
    pci = {}
    for d in sorted(Path("/proc/driver/nvidia/gpus").glob("*")) if Path("/proc/driver/nvidia/gpus").is_dir() else []:
        link = Path("/sys/bus/pci/devices") / d.name
        pci[d.name] = {"information": _read(str(d / "information")), "sysfs": os.path.realpath(link) if link.exists() else None}
    return {
        "python": sys.version,
        "platform": platform.platform(),
        "os_release": _read("/etc/os-release").splitlines()[:2],
        "euid": os.geteuid(),
        "nproc": os.cpu_count(),
        "cgroup_v2": cgroup_v2(),
        "cgroup_root_controllers": _read(str(CGROUP / "cgroup.controllers")).strip(),
        "cgroup_root_subtree_control": _read(str(CGROUP / "cgroup.subtree_control")).strip(),
        "self_cgroup": _read("/proc/self/cgroup").strip(),
        "tools": {t: shutil.which(t) for t in ("unshare", "nsenter", "mount", "ip", "iptables", "xz", "tar", "nvidia-smi", "modprobe")},
        "fstypes": {p: fstype(Path(p)) for p in ("/", "/opt", "/var/lib", "/run", "/tmp") if Path(p).exists()},
        "root_dir": str(root),
        "dev_nvidia": devs,
        "driver_root": sorted(x.name for x in driver_root.glob("*")) if driver_root.is_dir() else None,
        "driver_bin": sorted(x.name for x in (driver_root / "bin").glob("*")) if (driver_root / "bin").is_dir() else None,
        "proc_driver_version": _read("/proc/driver/nvidia/version").strip(),
        "pci": pci,
        "smi_query": _run([smi, "--query-gpu=index,uuid,name,pci.bus_id,driver_version,memory.total,compute_cap", "--format=csv,noheader,nounits"], lib64),
        "smi_header": _run([smi], lib64).splitlines()[:12],
        "smi_q_head": [ln for ln in _run([smi, "-q"], lib64).splitlines() if " : " in ln][:40],
        "python_packages": pkgs,
        "pip": _run([sys.executable, "-m", "pip", "--version"]).strip(),
    }
