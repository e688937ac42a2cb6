"""The worker nodes' image tooling (tests/refcluster/images.py): declarations, content tags, rootfs
layout, aic-mkimage's command line and ctr's.  When the node-images component is built, aic-mkimage
writes real tarballs whose manifest, config and layer are checked here; otherwise those tests skip."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.refcluster import build, images
from tests.refcluster.config import load_components

PROBE = images.IMAGES["probe"]
PAUSE = images.IMAGES["pause"]


def _fake_busybox(tmp_path: Path, content: bytes = b"\x7fELF fake busybox") -> Path:
    f = tmp_path / "busybox"
    f.write_bytes(content)
    return f


def test_declared_images():
    assert images.image_ref(PAUSE, "0" * 64) == "registry.k8s.io/pause:3.10"
    assert PAUSE.entrypoint == ["/pause"] and PAUSE.files == {"pause": "node-images:aic-pause"}
    for applet in "sh ls wc cat uname echo grep head tail sed env test [ sleep dmesg id stat mkdir true false printf tr cut sort".split():
        assert PROBE.symlinks["bin/" + applet] == "busybox"
    assert PROBE.files == {"bin/busybox": "deb:busybox-static:/bin/busybox"}
    assert PROBE.entrypoint is None and PROBE.cmd == ["sh"]
    assert PROBE.dirs["tmp"] == 0o1777 and {"dev", "proc", "sys"} <= set(PROBE.dirs)
    assert "nobody:x:65534:65534:" in PROBE.texts["etc/passwd"] and "root:x:0:0:" in PROBE.texts["etc/passwd"]
    assert "nobody:x:65534:" in PROBE.texts["etc/group"]


def test_content_tag_follows_spec_and_bytes(tmp_path):
    bb = _fake_busybox(tmp_path)
    derived = dataclasses.replace(PROBE, tag="")
    h = images.content_hash(derived, {"bin/busybox": bb})
    assert h == images.content_hash(derived, {"bin/busybox": bb})
    assert images.image_ref(PROBE, h) == "localhost/ai-conformance/probe:v1"  # the fixed tag inventories/local names
    ref = images.image_ref(derived, h)
    assert ref == "localhost/ai-conformance/probe:v1-" + h[:12]
    assert images.content_hash(dataclasses.replace(PROBE, env=["A=1"]), {"bin/busybox": bb}) != h
    bb.write_bytes(b"another busybox")
    assert images.content_hash(PROBE, {"bin/busybox": bb}) != h


def test_probe_image_ref_needs_no_build(tmp_path, monkeypatch):
    bb = _fake_busybox(tmp_path)
    monkeypatch.setattr(images, "_source", lambda src, log: bb)
    ref = images.probe_image_ref(tmp_path)
    assert ref == images.image_ref(PROBE, images.content_hash(PROBE, {"bin/busybox": bb}))


def test_unknown_source_and_missing_package(monkeypatch):
    with pytest.raises(ValueError, match="unknown file source"):
        images._source("http://example.invalid/busybox", print)
    monkeypatch.setattr(images.shutil, "which", lambda name: None)
    monkeypatch.setattr(images.os, "geteuid", lambda: 1000)
    with pytest.raises(RuntimeError, match=r"install the Debian package busybox-static"):
        images._source("deb:busybox-static:/nonexistent/busybox", print)


def test_mkimage_argv():
    argv = images.mkimage_argv(Path("/b/aic-mkimage"), PAUSE, "registry.k8s.io/pause:3.10", Path("/r"), Path("/o.tar"))
    assert argv[:7] == ["/b/aic-mkimage", "--ref", "registry.k8s.io/pause:3.10", "--out", "/o.tar", "--rootfs", "/r"]
    assert argv[argv.index("--entrypoint") + 1] == '["/pause"]' and "--cmd" not in argv
    argv = images.mkimage_argv(Path("/b/aic-mkimage"), PROBE, "x/y:z", Path("/r"), Path("/o.tar"))
    assert "--entrypoint" not in argv and argv[argv.index("--cmd") + 1] == '["sh"]'
    assert argv[argv.index("--env") + 1].startswith("PATH=") and "--arch" in argv


def test_assemble_rootfs_modes_ignore_umask(tmp_path):
    old = os.umask(0o077)
    try:
        images.assemble_rootfs(PROBE, {"bin/busybox": _fake_busybox(tmp_path)}, tmp_path / "root")
    finally:
        os.umask(old)
    root = tmp_path / "root"
    mode = {rel: stat.S_IMODE((root / rel).lstat().st_mode) for rel in ("bin", "etc", "tmp", "bin/busybox", "etc/passwd", "proc")}
    assert mode == {"bin": 0o755, "etc": 0o755, "tmp": 0o1777, "bin/busybox": 0o755, "etc/passwd": 0o644, "proc": 0o555}
    assert os.readlink(root / "bin" / "sh") == "busybox" and os.readlink(root / "bin" / "[") == "busybox"


def _fake_ctr(tmp_path: Path, rc: int) -> Path:
    ctr = tmp_path / "ctr"
    ctr.write_text('#!/bin/sh\necho "$@" >> %s/argv\nfor i in 1 2 3; do echo "line $i"; done\nexit %d\n' % (tmp_path, rc))
    ctr.chmod(0o755)
    return ctr


def test_import_images_command_line(tmp_path):
    images.import_images(_fake_ctr(tmp_path, 0), "/run/c.sock", {"pause": Path("/i/pause.tar"), "probe": Path("/i/probe.tar")})
    assert (tmp_path / "argv").read_text().splitlines() == [
        "--address /run/c.sock -n k8s.io images import /i/pause.tar",
        "--address /run/c.sock -n k8s.io images import /i/probe.tar",
    ]


def test_import_images_failure_carries_output(tmp_path):
    with pytest.raises(RuntimeError, match=r"(?s)import of probe \(/i/probe.tar\) failed with exit 3.*line 3"):
        images.import_images(_fake_ctr(tmp_path, 3), "/run/c.sock", {"probe": Path("/i/probe.tar")}, snapshotter="native")
    assert "--snapshotter native" in (tmp_path / "argv").read_text()
    with pytest.raises(RuntimeError, match="ctr not found"):
        images.import_images(tmp_path / "absent", "/run/c.sock", {})


# ---- with the built aic-mkimage -------------------------------------------------------------------


def _built_bin(name: str) -> Path:
    comp = load_components()["node-images"]
    if not build.is_built(comp):
        pytest.skip("component node-images is not built (python -m tests.refcluster.build node-images)")
    return comp.bin_dir / name


def _read_archive(path: Path) -> tuple[dict, dict, dict[str, tarfile.TarInfo]]:
    with tarfile.open(path) as tf:
        (manifest,) = json.load(tf.extractfile("manifest.json"))
        config = json.load(tf.extractfile(manifest["Config"]))
        (layer_name,) = manifest["Layers"]
        layer = gzip.decompress(tf.extractfile(layer_name).read())
    with tarfile.open(fileobj=io.BytesIO(layer)) as lt:
        members = {m.name: m for m in lt.getmembers()}
    return manifest, config, members


def test_mkimage_writes_importable_archive(tmp_path):
    mkimage = _built_bin("aic-mkimage")
    spec = dataclasses.replace(PROBE, labels={"a": "b"}, workdir="/tmp")
    images.assemble_rootfs(spec, {"bin/busybox": _fake_busybox(tmp_path)}, tmp_path / "root")
    outs = []
    for i in (1, 2):
        outs.append(tmp_path / ("img%d.tar" % i))
        argv = images.mkimage_argv(mkimage, spec, "localhost/ai-conformance/test:v1", tmp_path / "root", outs[-1])
        subprocess.run(argv + ["--arch", "amd64"], check=True, capture_output=True)
    assert outs[0].read_bytes() == outs[1].read_bytes(), "a rebuild must give the same bytes"
    manifest, config, members = _read_archive(outs[0])
    assert manifest["RepoTags"] == ["localhost/ai-conformance/test:v1"]
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["Cmd"] == ["sh"] and config["config"]["WorkingDir"] == "/tmp" and config["config"]["Labels"] == {"a": "b"}
    assert config["config"]["Env"] == PROBE.env and len(config["rootfs"]["diff_ids"]) == 1
    want = {"bin/", "bin/busybox", "etc/", "etc/passwd", "etc/group", "tmp/", "dev/", "proc/", "sys/", "root/"}
    want |= {"bin/" + a for a in images.PROBE_APPLETS}
    assert set(members) == {n.rstrip("/") for n in want}
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert members["tmp"].mode == 0o1777 and members["bin/busybox"].mode == 0o755
    assert all(m.uid == 0 and m.gid == 0 for m in members.values())


def test_build_images_end_to_end(tmp_path, monkeypatch):
    _built_bin("aic-pause")
    with monkeypatch.context() as m:  # never install from a unit test: skip when busybox-static is absent
        m.setattr(images.os, "geteuid", lambda: 1000)
        try:
            images._source(PROBE.files["bin/busybox"], print)
        except RuntimeError as exc:
            pytest.skip(str(exc))
    logs: list[str] = []
    tarballs = images.build_images(tmp_path, log=logs.append)
    assert set(tarballs) == {"pause", "probe"} and len([x for x in logs if x.startswith("built image")]) == 2
    assert images.build_images(tmp_path, log=logs.append) == tarballs and len(logs) == 2, "a warm build is a no-op"
    manifest, config, members = _read_archive(tarballs["pause"])
    assert manifest["RepoTags"] == ["registry.k8s.io/pause:3.10"] and config["config"]["Entrypoint"] == ["/pause"]
    assert set(members) == {"pause"} and members["pause"].mode == 0o755
    manifest, config, members = _read_archive(tarballs["probe"])
    assert manifest["RepoTags"] == [images.probe_image_ref(tmp_path)]
    assert (config["os"], config["architecture"]) == ("linux", "amd64") and members["bin/busybox"].size > 500_000
