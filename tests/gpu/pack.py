"""Pack what a single-node cluster on the GPU machine needs into parts the device tool can carry.

    .venv/bin/python -m tests.gpu.pack            # make gpu-bundle: parts under .build/gpu-bundle/
    .venv/bin/python -m tests.gpu.pack --list     # what would be packed, and whether each input is there
    .venv/bin/python -m tests.gpu.pack --stage D  # the unpacked tree in D, uncompressed (rehearsal)

Each part is ``aic-gpu-part-K-of-N.tar.xz``: one solid xz stream (x86 filter, a dictionary as large
as the part, so the Kubernetes binaries share their common code) holding PART.json (its files, their
sha256, how to unpack it), MANIFEST.json (the whole bundle: every file's sha256 and part, the
versions) and the files under their place below the bundle root (/opt/aic on the GPU machine).  A
part is at most --max-part-mib (60 MiB: the device tool carries 64 MiB a call, the repo included).
Inputs: the reference cluster's binaries (tests/refcluster/components.yaml, built into
~/.cache/ai-conformance), its two images (tests/refcluster/images.py), a PKI made here for node
gpu-node-1 (tests/refcluster/pki.py) and the wheels the GPU machine lacks to run ansible-playbook.
Packed parts are cached by content: a second run with the same inputs compresses nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from tests.refcluster import pki as pkimod
from tests.refcluster.config import CACHE, REPO, load_components, load_raw

OUT = REPO / ".build" / "gpu-bundle"
NODE, NODE_IP = "gpu-node-1", "10.250.0.1"  # as tests/gpu/start_node.py
# bundle path -> (component, binary).  Order matters: it is the order in the solid streams, and the
# Kubernetes binaries side by side compress best.
BINARIES = {
    "bin/kube-apiserver": ("kubernetes", "kube-apiserver"),
    "bin/kube-controller-manager": ("kubernetes", "kube-controller-manager"),
    "bin/kube-scheduler": ("kubernetes", "kube-scheduler"),
    "bin/kubelet": ("kubelet", "kubelet"),
    "bin/fake-gpu-kubelet-plugin": ("fake-gpu-node", "fake-gpu-kubelet-plugin"),
    "bin/etcd": ("etcd", "etcd"),
    "bin/containerd": ("containerd", "containerd"),
    "bin/ctr": ("containerd", "ctr"),
    "bin/containerd-shim-runc-v2": ("containerd-shim", "containerd-shim-runc-v2"),
    "bin/runc": ("runc", "runc"),
    "cni/bridge": ("cni-plugins", "bridge"),
    "cni/host-local": ("cni-plugins", "host-local"),
    "cni/loopback": ("cni-plugins", "loopback"),
}
# Wheels for CPython 3.12 manylinux x86_64 that the GPU machine's image lacks (KINDS.md's package
# list) for ansible-core and the kubernetes client: the versions .venv runs (requirements/), with
# these pins where .venv lacks one.  Already there and used as they are: jinja2, markupsafe, pyyaml,
# packaging, requests, certifi, idna, charset-normalizer, six, python-dateutil.
WHEELS = {
    "ansible-core": "2.19.14", "resolvelib": "1.2.1", "cryptography": "50.0.2", "cffi": "2.1.1", "pycparser": "3.12",
    "kubernetes": "37.0.2", "pydantic": "2.14.4", "pydantic_core": "2.50.5", "annotated-types": "0.8.0",
    "typing-inspection": "0.4.5", "typing_extensions": "4.16.0", "urllib3": "2.8.0", "websocket-client": "1.9.2",
    "requests-oauthlib": "2.0.0", "oauthlib": "4.0.1", "durationpy": "0.11",
}  # fmt: skip
PLATFORMS = ["manylinux_2_%d_x86_64" % n for n in (34, 28, 27, 17)] + ["manylinux2014_x86_64", "manylinux1_x86_64"]
# Estimated packed/raw ratio, to plan the parts.  Measured here: the 13 binaries, 434 MiB, pack to
# 53.5 MiB in one solid stream (0.123; 0.2 to 0.24 compressed one by one); wheels are zip files.
RATIO = {"bin": 0.125, "cni": 0.125, "images": 0.45, "pki": 0.6, "wheels": 1.0}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wheel_pins() -> dict[str, str]:
    import importlib.metadata as md

    pins = {}
    for name, fallback in WHEELS.items():
        try:
            pins[name] = md.version(name)
        except md.PackageNotFoundError:
            pins[name] = fallback
    return pins


def inputs(build: bool) -> tuple[dict[str, Path | None], dict[str, str]]:
    """bundle path -> source file (None: not there and not made in --list mode), and versions."""
    comps, raw = load_components(), load_raw()
    files: dict[str, Path | None] = {}
    versions = {"kubernetes": raw["kubernetes_version"]}
    for dest, (comp, binary) in BINARIES.items():
        src = comps[comp].bin_dir / binary
        versions[comp] = comps[comp].build["version"]
        files[dest] = src if src.is_file() else None
    from tests.refcluster import images

    if build:
        for name, tar in images.build_images(CACHE).items():
            files["images/%s.tar" % name] = tar
    else:
        for name in images.IMAGES:
            tar = CACHE / "images" / ("%s.tar" % name)
            files["images/%s.tar" % name] = tar if tar.is_file() else None
    versions["images"] = {name: "%s:%s" % (spec.repo, spec.tag or "<content tag>") for name, spec in images.IMAGES.items()}
    pki_dir = OUT / "pki"
    if build:
        make_pki(pki_dir)
    for p in sorted(pki_dir.glob("*")) if (pki_dir / "complete").is_file() else []:
        if p.is_file() and p.suffix in (".crt", ".key", ".pub", ".kubeconfig"):
            files["pki/%s" % p.name] = p
    if not (pki_dir / "complete").is_file():
        files["pki/*"] = None
    pins = wheel_pins()
    versions["wheels"] = pins
    wheel_dir = OUT / "wheels"
    if build:
        download_wheels(wheel_dir, pins)
    for name, ver in pins.items():
        found = (
            [w for w in wheel_dir.glob("*.whl") if w.name.lower().startswith("%s-%s-" % (name.replace("-", "_").lower(), ver))] if wheel_dir.is_dir() else []
        )
        files["wheels/%s" % (found[0].name if found else "%s-%s (download)" % (name, ver))] = found[0] if found else None
    return files, versions


def make_pki(d: Path) -> None:
    """The node's PKI: the reference cluster's (pki.make_pki), the apiserver on 127.0.0.1:<its port>,
    plus the kubelet certificates of gpu-node-1 at its address."""
    server = "https://127.0.0.1:%d" % int(load_raw()["ports"]["apiserver"])
    pkimod.make_pki(d, server)
    pkimod.ensure_node_certs(d, server, NODE, NODE_IP)


def download_wheels(d: Path, pins: dict[str, str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    want = ["%s==%s" % kv for kv in pins.items()]
    argv = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:", "--python-version", "3.12"]
    argv += ["--implementation", "cp"] + [a for p in PLATFORMS for a in ("--platform", p)] + ["-d", str(d)] + want
    out = subprocess.run(argv, check=False, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("pip download failed: %s" % (out.stdout + out.stderr).strip()[-800:])


def plan(files: dict[str, Path], max_bytes: int) -> list[list[str]]:
    """Parts in file order, each with an estimated packed size under max_bytes (wheels last)."""
    parts: list[list[str]] = [[]]
    est = 0.0
    for dest, src in files.items():
        size = src.stat().st_size * RATIO[dest.split("/")[0]]
        if parts[-1] and est + size > max_bytes * 0.97:
            parts.append([])
            est = 0.0
        parts[-1].append(dest)
        est += size
    return parts


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def write_part(path: Path, k: int, n: int, members: list[str], files: dict[str, Path], manifest: dict) -> None:
    entries = [
        {"path": m, "sha256": manifest["files"][m]["sha256"], "size": manifest["files"][m]["size"], "mode": manifest["files"][m]["mode"]} for m in members
    ]
    head = {"bundle": manifest["bundle"], "part": k, "parts": n, "files": entries, "unpack": "python3 tests/gpu/unpack.py %s --root /opt/aic" % path.name}
    raw = sum(e["size"] for e in entries)
    dict_mib = max(8, min(1024, 1 << (raw >> 20).bit_length()))
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        xz = subprocess.Popen(["xz", "-T1", "--x86", "--lzma2=preset=9e,dict=%dMiB" % dict_mib, "-c"], stdin=subprocess.PIPE, stdout=fh)
        with tarfile.open(fileobj=xz.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, "PART.json", json.dumps(head, indent=1).encode())
            _add_bytes(tar, "MANIFEST.json", json.dumps(manifest, indent=1).encode())
            for m in members:
                info = tar.gettarinfo(str(files[m]), arcname=m)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime, info.mode = 0, manifest["files"][m]["mode"]
                with files[m].open("rb") as src:
                    tar.addfile(info, src)
        xz.stdin.close()
        if xz.wait() != 0:
            raise SystemExit("xz failed on %s" % path.name)
    tmp.rename(path)


def pack(files: dict[str, Path], versions: dict, max_mib: int) -> list[Path]:
    max_bytes = max_mib << 20
    manifest = {"bundle": "", "node": NODE, "node_ip": NODE_IP, "versions": versions, "files": {}}
    for dest, src in files.items():
        manifest["files"][dest] = {"sha256": sha256(src), "size": src.stat().st_size, "mode": 0o755 if dest.split("/")[0] in ("bin", "cni") else 0o644}
    manifest["bundle"] = hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()[:16]
    groups = plan(files, max_bytes)
    cache = OUT / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    while True:
        n, out = len(groups), []
        for k, members in enumerate(groups, 1):
            for m in members:
                manifest["files"][m]["part"] = k
        manifest["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for k, members in enumerate(groups, 1):
            key = hashlib.sha256(json.dumps([k, groups, manifest["bundle"]]).encode()).hexdigest()[:20]
            cached = cache / ("%s.tar.xz" % key)
            if not cached.is_file():
                t0 = time.monotonic()
                write_part(cached, k, n, members, files, manifest)
                print("  packed part %d/%d in %.0f s" % (k, n, time.monotonic() - t0), flush=True)
            out.append(cached)
        too_big = [i for i, p in enumerate(out) if p.stat().st_size > max_bytes]
        if not too_big:
            break
        i = too_big[0]  # move its last file on and pack again (the estimate was off)
        if len(groups[i]) == 1:
            raise SystemExit("%s alone packs to more than %d MiB" % (groups[i][0], max_mib))
        if i + 1 == len(groups):
            groups.append([])
        groups[i + 1].insert(0, groups[i].pop())
    for old in OUT.glob("aic-gpu-part-*.tar.xz"):
        old.unlink()
    final = []
    for k, src in enumerate(out, 1):
        dst = OUT / ("aic-gpu-part-%d-of-%d.tar.xz" % (k, len(out)))
        shutil.copyfile(src, dst)
        final.append(dst)
    manifest["parts"] = [{"name": p.name, "size": p.stat().st_size, "sha256": sha256(p), "files": list(groups[i])} for i, p in enumerate(final)]
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return final


def stage(files: dict[str, Path], root: Path) -> None:
    """The unpacked tree without compressing (for a rehearsal here): symlinks to the inputs."""
    for dest, src in files.items():
        p = root / dest
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink() or p.exists():
            p.unlink()
        p.symlink_to(src.resolve())
    files_meta = {d: {"sha256": sha256(s), "size": s.stat().st_size, "part": 0} for d, s in files.items()}
    (root / "MANIFEST.json").write_text(json.dumps({"bundle": "staged", "node": NODE, "files": files_meta}, indent=1) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="list the inputs and check each is there or buildable; pack nothing")
    ap.add_argument("--stage", metavar="DIR", help="lay the bundle out uncompressed in DIR (symlinks), for a rehearsal")
    ap.add_argument("--max-part-mib", type=int, default=60)
    ap.add_argument("--carry", metavar="DIR", help="also copy part K into DIR/K/ (the folders named in the device tool's carry)")
    args = ap.parse_args()
    files, versions = inputs(build=not args.list)
    missing = [d for d, s in files.items() if s is None]
    if args.list:
        comps = load_components()
        for dest, src in files.items():
            size = "%9.1f MiB" % (src.stat().st_size / 2**20) if src else "  missing"
            print("%-58s %s  %s" % (dest, size, src or "(made by make gpu-bundle)"))
        unbuildable = [d for d in missing if d.startswith(("bin/", "cni/")) and not comps[BINARIES[d][0]].build.get("module")]
        raw = sum(s.stat().st_size for s in files.values() if s)
        print("%d inputs, %.0f MiB raw; %d to build or download; versions %s" % (len(files), raw / 2**20, len(missing), json.dumps(versions, sort_keys=True)))
        return 1 if unbuildable else 0
    if missing:
        raise SystemExit("not built: %s (make cluster-build)" % ", ".join(missing))
    if args.stage:
        stage(files, Path(args.stage))
        print("staged %d files in %s" % (len(files), args.stage))
        return 0
    parts = pack(files, versions, args.max_part_mib)
    total = 0
    for p in parts:
        total += p.stat().st_size
        print("%s  %.1f MiB" % (p, p.stat().st_size / 2**20))
        if args.carry:
            d = Path(args.carry) / p.name.split("-")[3]
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
            shutil.copyfile(p, d / p.name)
    raw = sum(s.stat().st_size for s in files.values())
    print("%d parts, %.1f MiB packed (%.0f MiB raw, %d files); manifest %s" % (len(parts), total / 2**20, raw / 2**20, len(files), OUT / "MANIFEST.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
