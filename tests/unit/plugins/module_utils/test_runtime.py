"""What a container reports about itself, parsed; which node the runtime checks use."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import runtime as rt

# Recorded from the reference cluster's real node refcluster-rt-1 (a pod with one DRA GPU running
# the observer script in the probe image; the fake nvidia-smi prints the real tool's CSV format,
# shared/reference/fixtures/h100/query.csv).
LOG_ONE_GPU = (
    "aic.devices=nvidia1 \n"  # tr turns each name's newline into a space
    "aic.visible_env=GPU-c97cb62a-a463-5026-b2d0-75ec3e263019\n"
    "aic.smi_rc=0\n"
    "aic.smi=GPU-c97cb62a-a463-5026-b2d0-75ec3e263019, 580.159.04\n"
    "aic.kernel=6.18.44-fc-v1045\n"
    "aic.done=1\n"
)
LOG_NONE = "aic.devices=\naic.visible_env=<unset>\naic.smi_rc=127\naic.kernel=6.18.0\naic.done=1\n"
# nvidia-smi present (injected) but no device visible: what the real tool prints then.
LOG_NO_DEVICE = "aic.devices=\naic.visible_env=all\naic.smi_rc=6\naic.smi=No devices were found\naic.kernel=6.18.0\naic.done=1\n"


def node(name, runtime="containerd://2.4.2", ready=True):
    return {
        "metadata": {"name": name},
        "status": {"nodeInfo": {"containerRuntimeVersion": runtime}, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_parse_one_gpu():
    seen = rt.parse(LOG_ONE_GPU)
    assert seen["devices"] == ["nvidia1"] and seen["complete"]
    assert rt.uuids(seen) == ["GPU-c97cb62a-a463-5026-b2d0-75ec3e263019"]
    assert seen["gpus"][0]["driver_version"] == "580.159.04"
    assert rt.sees_nothing(seen)[0] is False


def test_parse_nothing_visible_and_absent_tool():
    for log in (LOG_NONE, LOG_NO_DEVICE):
        ok, what = rt.sees_nothing(rt.parse(log))
        assert ok, what
    assert rt.parse(LOG_NONE)["visible_env"] is None
    assert "nvidia-smi absent" in rt.summary(rt.parse(LOG_NONE))
    assert rt.parse(LOG_NO_DEVICE)["gpus"] == [] and rt.parse(LOG_NO_DEVICE)["smi_output"] == ["No devices were found"]


def test_a_device_node_alone_is_not_nothing():
    # A runtime that injects the device node but no nvidia-smi must still count as seeing a GPU.
    ok = rt.sees_nothing(rt.parse("aic.devices=nvidia0 \naic.smi_rc=127\naic.done=1\n"))[0]
    assert ok is False


def test_an_unfinished_report_is_never_nothing():
    ok, what = rt.sees_nothing(rt.parse("aic.devices=\n"))
    assert ok is False and "did not report" in what


def test_pick_node_skips_kwok_not_ready_and_non_candidates():
    nodes = [node("a", "kwok://fake"), node("b", ready=False), node("c"), node("d")]
    assert rt.pick_node(nodes)["metadata"]["name"] == "c"
    assert rt.pick_node(nodes, ["a", "b", "d"])["metadata"]["name"] == "d"
    assert rt.pick_node(nodes, ["a", "b"]) is None
    why = rt.no_node_reason("auto", [nodes[0]], "accelerators")
    assert "a (kwok://fake)" in why and why.startswith("skipped:")
    assert rt.no_node_reason("never", nodes, "x") == "skipped: runtime_checks is never"


def test_observer_pod_is_pinned_tolerates_gpu_taint_and_unprivileged():
    pod = rt.observer_pod("p", "ns", "img", "n1", limits={"nvidia.com/gpu": "1"})
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/hostname": "n1"}
    assert spec["tolerations"] == rt.GPU_TOLERATIONS
    c = spec["containers"][0]
    assert c["command"][:2] == ["sh", "-c"] and c["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.skipif(subprocess.run(["sh", "-c", "command -v ls grep sed tr uname"], capture_output=True, check=False).returncode != 0, reason="no POSIX tools")
def test_the_script_runs_in_a_plain_shell(tmp_path):
    # The observer script itself, run here: no /dev/nvidiaN and no nvidia-smi on this machine.
    out = subprocess.run(rt.OBSERVE_COMMAND, capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
    seen = rt.parse(out.stdout)
    assert seen["complete"] and seen["smi_rc"] == 127 and seen["kernel"]
    assert rt.sees_nothing(seen)[0] is True
