"""The images the reference cluster's worker nodes run, built here: no registry is reachable.

Each image is declared in IMAGES as data (its one layer's files, its config), laid out in a temporary
root filesystem and written by aic-mkimage (component node-images) as a docker-archive tarball under
<cache_dir>/images/ that `ctr -n k8s.io images import` registers under its reference.  A stamp of the
inputs' hash (spec, file bytes, aic-mkimage's bytes) makes a warm build a no-op.  Content tags
("v1-" + 12 hex of the spec and file bytes) change with the content: no stale image under an old name.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.refcluster.build import build
from tests.refcluster.config import load_components

Log = Callable[[str], None]


@dataclass(frozen=True)
class ImageSpec:
    repo: str  # the reference without its tag
    tag: str = ""  # a fixed tag; "" derives it from the content
    files: dict[str, str] = field(default_factory=dict)  # path -> "node-images:<binary>" or "deb:<package>:<path>"
    symlinks: dict[str, str] = field(default_factory=dict)  # path -> target
    texts: dict[str, str] = field(default_factory=dict)  # path -> content (mode 0644)
    dirs: dict[str, int] = field(default_factory=dict)  # path -> mode
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    labels: dict[str, str] = field(default_factory=dict)


PROBE_APPLETS = "sh ls wc cat uname echo grep head tail sed env test [ sleep dmesg id stat mkdir true false printf tr cut sort hostname httpd nc".split()

IMAGES: dict[str, ImageSpec] = {
    # The sandbox image under its public name (the probes' pods and containerd's sandbox use it):
    # loaded here, it is present, so the IfNotPresent pull policy pulls nothing.
    "pause": ImageSpec(
        repo="registry.k8s.io/pause",
        tag="3.10",
        files={"pause": "node-images:aic-pause"},
        entrypoint=["/pause"],
        labels={"org.opencontainers.image.title": "aic-pause"},
    ),
    # The probes' shell image.  Its one binary is the static busybox of Debian's busybox-static
    # package: a distribution binary package, acceptable here (it is test tooling, never shipped).
    # A fixed tag: inventories/local names it (conformance_probe_image, every probe pod's image); the
    # stamp still rebuilds and re-imports it when its content changes.
    "probe": ImageSpec(
        repo="localhost/ai-conformance/probe",
        tag="v1",
        files={"bin/busybox": "deb:busybox-static:/bin/busybox"},
        symlinks={"bin/" + a: "busybox" for a in PROBE_APPLETS},
        texts={"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", "etc/group": "root:x:0:\nnobody:x:65534:\n"},
        dirs={"tmp": 0o1777, "dev": 0o755, "proc": 0o555, "sys": 0o555, "root": 0o700},
        cmd=["sh"],
        env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        labels={"org.opencontainers.image.title": "ai-conformance probe (busybox)"},
    ),
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _node_images_bin(name: str, log: Log) -> Path:
    comp = load_components()["node-images"]
    build(comp, log)  # a no-op when built and current
    return comp.bin_dir / name


def _deb_file(package: str, path: str, log: Log) -> Path:
    """A file of a Debian package, installed with apt-get when missing (only as root)."""

    def installed() -> bool:
        q = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True) if shutil.which("dpkg-query") else None
        return bool(q and q.stdout.endswith("install ok installed") and Path(path).is_file())

    if installed():
        return Path(path)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("%s is missing: install the Debian package %s (sudo apt-get install -y %s) and retry" % (path, package, package))
    log("installing the Debian package %s (for %s)" % (package, path))
    env, install = dict(os.environ, DEBIAN_FRONTEND="noninteractive"), ["apt-get", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:  # stale package lists: update, retry once
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
    out = subprocess.run(install, env=env, capture_output=True, text=True)
    if not installed():
        raise RuntimeError("apt-get install %s did not provide %s: %s" % (package, path, (out.stdout + out.stderr).strip()[-800:]))
    return Path(path)


def _source(src: str, log: Log) -> Path:
    kind, _, rest = src.partition(":")
    if kind == "node-images":
        return _node_images_bin(rest, log)
    if kind == "deb":
        return _deb_file(*rest.split(":", 1), log=log)
    raise ValueError("unknown file source %r (node-images:<binary> or deb:<package>:<path>)" % src)


def content_hash(spec: ImageSpec, sources: dict[str, Path]) -> str:
    """Hash of what the image holds: the declared spec and the bytes of each file."""
    h = hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode())
    for dest in sorted(sources):
        h.update(("\0%s\0%s" % (dest, _sha256(sources[dest]))).encode())
    return h.hexdigest()


def image_ref(spec: ImageSpec, digest: str) -> str:
    return "%s:%s" % (spec.repo, spec.tag or "v1-" + digest[:12])


def mkimage_argv(mkimage: Path, spec: ImageSpec, ref: str, rootfs: Path, out: Path) -> list[str]:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())  # Go's spelling
    argv = [str(mkimage), "--ref", ref, "--out", str(out), "--rootfs", str(rootfs), "--arch", arch]
    argv += [a for f, v in (("--entrypoint", spec.entrypoint), ("--cmd", spec.cmd)) if v is not None for a in (f, json.dumps(v))]
    argv += [a for e in spec.env for a in ("--env", e)]
    argv += ["--workdir", spec.workdir] if spec.workdir else []
    return argv + [a for k, v in sorted(spec.labels.items()) for a in ("--label", "%s=%s" % (k, v))]


def assemble_rootfs(spec: ImageSpec, sources: dict[str, Path], root: Path) -> None:
    """Lay the image's files out under root with explicit modes (the umask plays no part)."""

    def parent(rel: str) -> Path:
        p = root
        for part in Path(rel).parent.parts:
            p = p / part
            if not p.is_dir():
                p.mkdir()
                p.chmod(0o755)
        return root / rel

    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    for rel, mode in spec.dirs.items():
        parent(rel).mkdir(exist_ok=True)
        (root / rel).chmod(mode)
    for rel, src in sources.items():
        shutil.copyfile(src, parent(rel))
        (root / rel).chmod(0o755)
    for rel, text in spec.texts.items():
        parent(rel).write_text(text)
        (root / rel).chmod(0o644)
    for rel, target in spec.symlinks.items():
        parent(rel).symlink_to(target)


def _resolve(spec: ImageSpec, log: Log) -> tuple[dict[str, Path], str]:
    sources = {dest: _source(src, log) for dest, src in spec.files.items()}
    return sources, image_ref(spec, content_hash(spec, sources))


def build_images(cache_dir: Path, log: Log = print) -> dict[str, Path]:
    """Build every image of IMAGES (only those whose inputs changed): name -> tarball."""
    out_dir, mkimage, tarballs = cache_dir / "images", _node_images_bin("aic-mkimage", log), {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, spec in IMAGES.items():
        sources, ref = _resolve(spec, log)
        tar, stamp = out_dir / (name + ".tar"), out_dir / (name + ".stamp")
        want = json.dumps({"ref": ref, "inputs": content_hash(spec, sources), "aic-mkimage": _sha256(mkimage)}, sort_keys=True)
        if not (tar.is_file() and stamp.is_file() and stamp.read_text() == want):
            with tempfile.TemporaryDirectory(dir=out_dir, prefix=name + "-rootfs.") as tmp:
                assemble_rootfs(spec, sources, Path(tmp) / "rootfs")
                out = subprocess.run(mkimage_argv(mkimage, spec, ref, Path(tmp) / "rootfs", tar), capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError("aic-mkimage failed for image %s (%s): %s" % (name, ref, (out.stdout + out.stderr).strip()[-1500:]))
            stamp.write_text(want)
            log("built image %s (%s, %d bytes)" % (ref, tar, tar.stat().st_size))
        tarballs[name] = tar
    return tarballs


def probe_image_ref(cache_dir: Path, log: Log = print) -> str:
    """The probe image's reference, as build_images(cache_dir) tags it.  It derives from the content
    alone (the spec and busybox's bytes), so it is known before a build and without Go."""
    return _resolve(IMAGES["probe"], log)[1]


def import_images(ctr: Path, address: str, tarballs: dict[str, Path], namespace: str = "k8s.io", snapshotter: str = "") -> None:
    """`ctr images import` each tarball.  ctr 2.4 imports through the transfer service and unpacks for the
    host platform by default (--no-unpack is false), into overlayfs unless snapshotter names another."""
    if not Path(ctr).is_file():
        raise RuntimeError("ctr not found at %s: build containerd first" % ctr)
    for name, tar in tarballs.items():
        argv = [str(ctr), "--address", address, "-n", namespace, "images", "import"] + (["--snapshotter", snapshotter] if snapshotter else [])
        out = subprocess.run(argv + [str(tar)], capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            tail = "\n    ".join((out.stdout + out.stderr).strip().splitlines()[-15:])
            raise RuntimeError("ctr images import of %s (%s) failed with exit %d:\n    %s" % (name, tar, out.returncode, tail))
