"""make bench's breakdown (tests/bench/breakdown.py) from a bundle's results and the task times of
its callback; the callback itself loaded by a real ansible-playbook run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.modules import gang_probe
from tests.bench import breakdown as bd
from tests.unit import fakecluster as fc

REPO = Path(__file__).resolve().parents[2]


def timing(start, wall, phases, spans=(), total=0):
    named = dict.fromkeys(bd.PHASES, 0.0)
    named.update(phases)
    named["other"] = round(wall - sum(v for k, v in named.items() if k != "other"), 3)
    return {
        "started_epoch": start,
        "wall_s": wall,
        "phases_s": named,
        "spans": list(spans),
        "spans_dropped": 0,
        "api_requests": {"total": total, "by_verb": {"GET": total}, "retries": 0},
    }


def result(req, verdict, t):
    return {"requirement": req, "verdict": verdict, "observations": {"timing": t}}


T0 = 1_800_000_000.0
WAIT = {"phase": "wait", "what": "Pod ns/p until is_bound", "start": 1.0, "end": 5.0, "seconds": 4.0, "outcome": "met", "timeout_s": 60}
NESTED = {"phase": "wait", "what": "ServiceAccount ns/default to be created", "start": 0.1, "end": 0.2, "seconds": 0.1, "outcome": "met", "nested": True}
# dra_support runs 10-20 s in the foreground; robust_controller 12-40 s as a background job; a
# later probe 50-55 s.  The play runs 0-70 s.
BUNDLE = {
    "version": "v1.37",
    "requirements": [
        result("dra_support", "pass", timing(T0 + 10, 10.0, {"setup": 1.0, "wait": 4.0, "cleanup": 2.0}, [NESTED, WAIT], total=40)),
        result("robust_controller", "pass", timing(T0 + 12, 28.0, {"wait": 20.0}, total=100)),
        result("gang_scheduling", "fail", timing(T0 + 50, 5.0, {"observe": 3.0}, total=10)),
        {"requirement": "ai_inference", "verdict": "error", "observations": {}},  # no timing: left out
    ],
}
TASKS = [
    {"event": "task", "task": "Gather the cluster facts", "action": "ai_conformance.kubernetes.cluster_info", "start": T0 + 1, "end": T0 + 9, "async": False},
    {"event": "task", "task": "start", "action": "ai_conformance.kubernetes.operator_probe", "start": T0 + 11, "end": T0 + 11.5, "async": True},
    {"event": "task", "task": "DRA", "action": "ai_conformance.kubernetes.dra_probe", "start": T0 + 9.5, "end": T0 + 21, "async": False},
    {"event": "task", "task": "gang", "action": "ai_conformance.kubernetes.gang_probe", "start": T0 + 49, "end": T0 + 56, "async": False},
    {"event": "task", "task": "Evidence bundle", "action": "ansible.builtin.template", "start": T0 + 58, "end": T0 + 69, "async": False},
]


def test_rows_play_and_timeline():
    rows = bd.probe_rows(BUNDLE, TASKS)
    assert [r["requirement"] for r in rows] == ["dra_support", "robust_controller", "gang_scheduling"]
    dra, ray, gang = rows
    assert dra["lane"] == "foreground" and dra["task_wall_s"] == 11.5 and dra["ansible_overhead_s"] == 1.5
    assert ray["lane"] == "background" and ray["ansible_overhead_s"] == 1.0  # the job started 1 s after its task
    assert gang["ansible_overhead_s"] == 2.0
    assert dra["waits"] == [
        {"condition": "ServiceAccount ns/default to be created", "seconds": 0.1, "outcome": "met", "nested": True},
        {"condition": "Pod ns/p until is_bound", "seconds": 4.0, "outcome": "met", "nested": False},
    ]
    play = bd.play_breakdown(rows, TASKS, T0, T0 + 70)
    # Probes cover 10-40 and 50-55: 35 s of 70.
    assert play["wall_s"] == 70.0 and play["probes_running_s"] == 35.0 and play["outside_probes_s"] == 35.0
    assert (play["before_first_probe_s"], play["between_probes_s"], play["after_last_probe_s"]) == (10.0, 10.0, 15.0)
    assert [t["task"] for t in play["slowest_tasks_outside_probes"]] == ["Evidence bundle", "Gather the cluster facts"]
    assert play["api_requests"]["total"] == 150 and play["api_requests"]["within_target"] is True
    assert play["probe_phase_totals_s"]["wait"] == 24.0
    tl = bd.timeline(rows, TASKS, T0)
    assert {"requirement": "dra_support", "phase": "probe", "what": "pass", "start": 10.0, "end": 20.0} in tl
    assert {"requirement": "dra_support", "phase": "wait", "what": "Pod ns/p until is_bound", "start": 11.0, "end": 15.0} in tl
    assert {"requirement": "", "phase": "ansible", "what": "Evidence bundle", "start": 58.0, "end": 69.0} in tl
    assert not [x for x in tl if x["phase"] == "ansible" and x["what"] == "DRA"]  # a probe's task is the probe's row
    assert tl == sorted(tl, key=lambda x: (x["start"], x["end"]))
    text = bd.table(rows, play)
    assert "dra_support" in text and "play 70.0s: probes running 35.0s" in text and "API requests 150" in text


def test_over_the_api_target_is_reported():
    many = {"version": "v1.37", "requirements": [result("dra_support", "pass", timing(T0, 1.0, {}, total=3001))]}
    play = bd.play_breakdown(bd.probe_rows(many, []), [], T0, T0 + 2)
    assert play["api_requests"]["within_target"] is False


def test_union_of_overlapping_intervals():
    assert bd.union_seconds([]) == 0
    assert bd.union_seconds([(0, 10), (5, 12), (20, 21), (20.5, 20.7)]) == 13


def test_upstream_ratio_for_the_requirements_both_cover():
    stream = "\n".join(
        json.dumps(e)
        for e in [
            {"Action": "run", "Test": "TestGangScheduling"},
            {"Action": "pass", "Test": "TestGangScheduling", "Elapsed": 50.0},
            {"Action": "fail", "Test": "TestRobustCRDControllerOperation", "Elapsed": 84.0},
            {"Action": "pass", "Test": "TestAIServiceMetrics", "Elapsed": 30.0},  # we ran no such probe here
        ]
    )
    rows = bd.probe_rows(BUNDLE, TASKS)
    cmp = bd.upstream_comparison(stream, rows)
    assert [(c["requirement"], c["upstream_s"], c["ours_s"], c["ratio_upstream_over_ours"]) for c in cmp["requirements"]] == [
        ("gang_scheduling", 50.0, 5.0, 10.0),
        ("robust_controller", 84.0, 28.0, 3.0),
    ]
    assert cmp["upstream_total_s"] == 134.0 and cmp["ours_total_s"] == 33.0 and cmp["ratio_upstream_over_ours"] == 4.06


def test_the_bundle_results_are_told_from_an_upstream_stream(tmp_path):
    (tmp_path / ".upstream").mkdir()
    (tmp_path / ".upstream" / "results.json").write_text('{"Action": "pass"}\n{"Action": "pass"}\n')
    assert bd.find_bundle_results(tmp_path) is None
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "results.json").write_text(json.dumps(BUNDLE))
    assert bd.find_bundle_results(tmp_path) == tmp_path / "bundle" / "results.json"


def test_a_real_probe_timing_fits_the_breakdown(run_module, monkeypatch):
    r = fc.run_probe(run_module, monkeypatch, gang_probe, fc.native_gang(fc.reference_cluster(dra=False)))
    rows = bd.probe_rows({"version": "v1.37", "requirements": [dict(r)]}, [])
    assert len(rows) == 1 and rows[0]["probe_wall_s"] == r["observations"]["timing"]["wall_s"]
    assert rows[0]["observe_windows"][0]["seconds"] >= 10
    assert abs(sum(rows[0]["phases_s"].values()) - rows[0]["probe_wall_s"]) <= 0.01


@pytest.mark.skipif(not (REPO / ".build" / "collections").is_dir(), reason="make install links the collection into .build/collections")
def test_the_callback_records_each_task_with_its_times(tmp_path):
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - name: first\n      ansible.builtin.command: sleep 1\n      changed_when: false\n"
        "    - name: second\n      ansible.builtin.debug: {msg: hi}\n"
    )
    out = tmp_path / "tasks.jsonl"
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
        ANSIBLE_CALLBACK_PLUGINS=str(REPO / "tests" / "bench" / "callback"),
        AIC_BENCH_TASKS=str(out),
    )
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), str(play), "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=120, check=False)
    assert res.returncode == 0, res.stdout[-2000:]
    tasks, start, end = bd.read_tasks(out)
    assert [(t["task"], t["action"], t["status"]) for t in tasks] == [("first", "ansible.builtin.command", "ok"), ("second", "ansible.builtin.debug", "ok")]
    assert start <= tasks[0]["start"] and tasks[0]["end"] - tasks[0]["start"] >= 1.0 and tasks[1]["end"] <= end


def test_make_bench_imports_in_a_fresh_interpreter():
    # make bench runs `python -m tests.bench.run` alone: no test harness puts the collection on the
    # path for it (it once failed at import, when breakdown began to read module_utils).
    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, "-c", "import tests.bench.run"], cwd=str(repo), env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
