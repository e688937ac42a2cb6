"""The real-GPU run's tooling, checked where CI runs (no GPU): tests/gpu/.

The packer lists its inputs without packing, the start script refuses in one line without a GPU and
starts nothing, a part round-trips through pack and unpack with its checksums, and the node's
configs render from the reference cluster's templates with the GPU taint and the DeviceClass of the
fake DRA driver.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.gpu import hostkit, pack, start_node, unpack  # noqa: E402


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=False, cwd=str(REPO), capture_output=True, text=True, timeout=60, **kwargs)


def test_pack_list_names_every_input_and_packs_nothing(tmp_path):
    before = sorted(pack.OUT.glob("aic-gpu-part-*")) if pack.OUT.is_dir() else []
    out = run([sys.executable, "-m", "tests.gpu.pack", "--list"])
    assert out.returncode == 0, out.stdout + out.stderr
    listed = {line.split()[0] for line in out.stdout.splitlines()[:-1]}
    assert set(pack.BINARIES) <= listed
    assert {"images/pause.tar", "images/probe.tar"} <= listed
    assert any(x.startswith("pki/") for x in listed)
    assert sum(x.startswith("wheels/") for x in listed) == len(pack.WHEELS)
    assert "inputs" in out.stdout.splitlines()[-1] and '"containerd": "v2.4.2"' in out.stdout
    assert (sorted(pack.OUT.glob("aic-gpu-part-*")) if pack.OUT.is_dir() else []) == before


@pytest.mark.skipif(Path("/dev/nvidiactl").exists(), reason="this machine has an NVIDIA GPU")
def test_start_refuses_in_one_line_without_a_gpu(tmp_path):
    env = dict(os.environ, AIC_GPU_DRIVER_ROOT=str(tmp_path / "no-driver"), PATH="/usr/bin:/bin")
    out = run([sys.executable, "tests/gpu/start_node.py", "start", "--root", str(tmp_path / "aic")], env=env)
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert out.returncode == 3
    assert lines == [
        "no NVIDIA GPU here: /dev/nvidiactl missing and nvidia-smi not found (neither %s/no-driver/bin/nvidia-smi nor on PATH); "
        "this script runs on the GPU machine (tests/gpu/README.md)" % tmp_path
    ]
    assert not (tmp_path / "aic").exists()  # nothing started, nothing written


def test_stop_without_a_node_is_a_no_op(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("stop reads cgroups and the loopback device as root")
    out = run([sys.executable, "tests/gpu/start_node.py", "stop", "--root", str(tmp_path / "aic")])
    assert out.returncode == 0 and "nothing left behind" in out.stdout, out.stdout + out.stderr


@pytest.mark.skipif(not shutil.which("xz"), reason="xz is needed to pack")
def test_part_round_trip(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    files = {"bin/tool": src / "tool", "pki/ca.crt": src / "ca.crt"}
    files["bin/tool"].write_bytes(b"\x7fELF" + os.urandom(3000))
    files["pki/ca.crt"].write_text("-----BEGIN CERTIFICATE-----\n")
    manifest = {
        "bundle": "b1",
        "files": {
            d: {"sha256": pack.sha256(p), "size": p.stat().st_size, "mode": 0o755 if d.startswith("bin/") else 0o644, "part": 1} for d, p in files.items()
        },
    }
    part = tmp_path / "aic-gpu-part-1-of-1.tar.xz"
    pack.write_part(part, 1, 1, list(files), files, manifest)
    root = tmp_path / "aic"
    assert unpack.check(root) == ["MANIFEST.json (no part unpacked yet)"]
    head = unpack.unpack(part, root)
    assert head["part"] == 1 and [f["path"] for f in head["files"]] == ["bin/tool", "pki/ca.crt"]
    assert (root / "bin/tool").read_bytes() == files["bin/tool"].read_bytes() and os.access(root / "bin/tool", os.X_OK)
    assert unpack.check(root) == []
    (root / "pki/ca.crt").unlink()
    assert unpack.check(root) == ["pki/ca.crt (part 1)"]
    # A part whose file does not match PART.json's sha256 is refused.
    manifest["files"]["pki/ca.crt"]["sha256"] = "0" * 64
    bad = tmp_path / "bad.tar.xz"
    pack.write_part(bad, 1, 1, list(files), files, manifest)
    with pytest.raises(SystemExit, match="does not match its sha256"):
        unpack.unpack(bad, tmp_path / "other")


def test_plan_keeps_parts_under_the_limit(tmp_path):
    files = {}
    for i, mib in enumerate((200, 200, 200, 100)):
        p = tmp_path / ("b%d" % i)
        with p.open("wb") as fh:
            fh.truncate(mib << 20)
        files["bin/b%d" % i] = p
    groups = pack.plan(files, 60 << 20)
    assert [len(g) for g in groups] == [2, 2] and [d for g in groups for d in g] == list(files)


def test_node_configs_render_with_the_gpu_taint(tmp_path, monkeypatch):
    lay = start_node.Layout(tmp_path, False)
    lay.node.mkdir(parents=True)
    ports = start_node.components()[1]
    facts = start_node.render_configs(lay, ports, taint=True)
    kubelet = (lay.node / "kubelet.yaml").read_text()
    assert "registerWithTaints: %s" % json.dumps([start_node.GPU_TAINT]) in kubelet
    assert "cgroupRoot: /gpu-node-1" in kubelet and "address: 10.250.0.1" in kubelet and "cgroupDriver: cgroupfs" in kubelet
    ctd = (lay.node / "containerd.toml").read_text()
    assert 'cdi_spec_dirs = ["%s/cdi"]' % lay.node in ctd and "restrict_oom_score_adj = true" in ctd and "SystemdCgroup = false" in ctd
    assert json.loads((lay.node / "cni/net.d/10-gpu.conflist").read_text())["plugins"][0]["bridge"] == "aic-gpu0"
    assert facts["snapshotter"] == ("native" if hostkit.fstype(lay.node) == "overlay" else "overlayfs")
    monkeypatch.setattr(hostkit, "fstype", lambda p: "overlay")
    assert start_node.render_configs(lay, ports, taint=False) == {"snapshotter": "native"}
    assert 'snapshotter = "native"' in (lay.node / "containerd.toml").read_text()
    assert "registerWithTaints: []" in (lay.node / "kubelet.yaml").read_text()


def test_device_class_is_the_fake_drivers():
    from tests.refcluster.fakes import dra_driver

    assert start_node.DEVICE_CLASS["spec"] == dra_driver.device_class()["spec"]


def test_gpu_problem_names_what_is_missing(tmp_path):
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev/nvidiactl").touch()
    (tmp_path / "drv/bin").mkdir(parents=True)
    (tmp_path / "drv/bin/nvidia-smi").touch()
    assert hostkit.gpu_problem(tmp_path / "drv", tmp_path / "dev") is None
    assert "nvidiactl missing" in hostkit.gpu_problem(tmp_path / "drv", tmp_path / "nodev")


def test_runner_and_inventory():
    assert run(["bash", "-n", "tests/gpu/run_on_device.sh"]).returncode == 0
    import yaml

    gv = yaml.safe_load((REPO / "tests/gpu/inventory/group_vars/all.yml").read_text())
    assert gv["accelerators_probe_image"] == "localhost/ai-conformance/probe:v1"
    assert gv["conformance_domains"] == ["accelerators"] and gv["upstream_suite_enabled"] is False
    hosts = yaml.safe_load((REPO / "tests/gpu/inventory/hosts.yml").read_text())
    assert hosts["all"]["hosts"]["gpu-node"]["ansible_connection"] == "local"
