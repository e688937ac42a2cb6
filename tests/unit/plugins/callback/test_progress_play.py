"""The conformance_progress callback in a real play: the domain roles' probes in check mode, in lanes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.conftest import closed_port, kubeconfig_text, playbook_env

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    kc = tmp_path_factory.mktemp("progress") / "kubeconfig"
    kc.write_text(kubeconfig_text("https://127.0.0.1:%d" % closed_port()))
    env = playbook_env(AIC_PROGRESS_REASON_WIDTH="0")
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(Path(__file__).with_name("progress_play.yml")),
        "-i",
        "localhost,",
        "--check",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-e",
        "kubeconfig=%s" % kc,
    ]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO), env=env, timeout=180, check=False)
    assert res.returncode == 0, res.stdout[-3000:]
    return [line for line in res.stdout.splitlines() if line.startswith(("[conformance]", "      ", "  "))]


def started(lines):
    return [line for line in lines if " started" in line]


def test_each_probe_that_runs_gets_one_start_line_numbered_n_of_m(lines):
    assert started(lines) == [
        "[conformance] [1/7] ai_inference started in the background (gateway_check, timeout 120s per wait)",
        "[conformance] [2/7] disaggregated_inference started in the background (disaggregated_inference_probe, timeout 120s per wait)",
        "[conformance] [3/7] advanced_inference_ingress started in the background (inference_pool_probe, timeout 120s per wait)",
        "[conformance] [4/7] workload_sandboxing started in the background (sandbox_probe, timeout 120s per wait)",
        "[conformance] [5/7] high_performance_networking started (network_dra_probe, timeout 120s per wait)",
        # The task's arguments as the play templates them (scheduling_timeout: 77).
        "[conformance] [6/7] gang_scheduling started (gang_probe, timeout 77s per wait)",
        "[conformance] [7/7] cluster_autoscaling started (autoscaler_probe, timeout 77s per wait)",
    ]


def test_each_result_line_counts_the_planned_requirements_done_and_shows_the_check_mode_plan(lines):
    done = [line for line in lines if re.match(r"^\[conformance\] \[\d/7\] \w+ SKIP in ", line)]
    assert [re.search(r"\((\d) of 7 done", line).group(1) for line in done] == ["1", "2", "3", "4", "5", "6", "7"]
    # The background probes' lines come when probe_job collects them, after the serial lane.
    assert [line.split()[2] for line in done][1:5] == ["ai_inference", "disaggregated_inference", "advanced_inference_ingress", "workload_sandboxing"]
    gang = lines.index(next(line for line in done if " gang_scheduling " in line))
    assert lines[gang].endswith("check mode: nothing was created; it would:")
    assert lines[gang + 1].startswith("      create   group gang-fit: 3 Pods x 1 nvidia.com/gpu")
    assert "      negative gang-wait (3 Pods, 2 nvidia.com/gpu free) stays at 0 bound for 10s while the control Pod fits" in lines
    assert any(line.startswith("      where    namespace aic-gang-scheduling-") and line.endswith("timeout 77s per step") for line in lines)


def test_the_final_table_counts_the_checklist_as_the_bundle_does(lines):
    assert lines[-1] == "  15 requirement(s) of checklist v1.37: pass 0, fail 0, error 8, skip 7, not_applicable 0"
    assert any(re.match(r"^  gang_scheduling +MUST +skip +check mode: would create in its own namespace", line) for line in lines)
