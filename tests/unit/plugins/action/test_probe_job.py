"""probe_job collects real async jobs (no cluster): each way a background job can end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    out = tmp_path_factory.mktemp("probe_job") / "collected.json"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"))
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(Path(__file__).with_name("probe_job.yml")),
        "-i",
        "localhost,",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-e",
        "out_file=%s" % out,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=300, check=False)
    assert res.returncode == 0, res.stdout[-3000:]
    return json.loads(out.read_text()), json.loads(Path(str(out) + ".bad").read_text()), json.loads(Path(str(out) + ".files").read_text())


def test_a_finished_probe_job_gives_the_probes_own_result(collected):
    rows = collected[0]
    assert rows[0]["requirement"] == "robust_controller"
    assert rows[0]["verdict"] == "skip"  # the probe ran in check mode: its own result, not an error
    assert rows[0]["run_id"] == "unit-probe-job"
    assert rows[0]["started"]


@pytest.mark.parametrize(
    ("index", "requirement", "reason"),
    [
        (1, "robust_controller", "ended without a result"),
        (2, "ai_inference", "stopped at its time limit"),
        (3, "ai_service_metrics", "still running after"),
        (4, "gang_scheduling", "could not find job"),
    ],
)
def test_a_job_without_a_result_is_an_error_result_for_its_requirement(collected, index, requirement, reason):
    rows = collected[0]
    row = rows[index]
    assert (row["requirement"], row["verdict"], row["owner"]) == (requirement, "error", "product")
    assert reason in row["reason"]


def test_bad_arguments_fail_in_one_line(collected):
    bad = collected[1]
    assert bad["failed"] is True
    assert bad["msg"] == "probe_job: timeout must be >= 0 and poll_interval >= 1 (got 1860, 0)"


def test_a_finished_jobs_status_file_is_removed_and_a_running_ones_kept(collected):
    # probe_job reads and removes the file with a shell command of its own (async_status's work
    # without its module run): the finished probe's file is gone, the still-running job's is not.
    assert collected[2] == [False, True]
