"""The conformance_progress callback as Ansible loads it: what each event prints."""

from __future__ import annotations

import time
from pathlib import Path

from ansible.plugins.loader import callback_loader, init_plugin_loader

init_plugin_loader([str(Path(__file__).resolve().parents[4] / ".build" / "collections")])


class Display:
    def __init__(self):
        self.lines = []

    def display(self, msg, color=None, **kw):
        self.lines.append((msg, color))

    def warning(self, msg, **kw):
        self.lines.append(("[WARNING]: " + msg, "purple"))


class Stats:
    custom = {"_run": {"conformance": {"counts": {"pass": 1}, "conformant": False}}}


class Task:
    def __init__(self, action, name="", args=None, uuid="t1"):
        self.action = action
        self.resolved_action = action
        self._name = name
        self.args = args or {}
        self._uuid = uuid
        self.when = []

    def get_name(self):
        return self._name


class TaskResult:
    def __init__(self, res, task=None):
        self._result = res
        self._task = task or Task("ansible.builtin.debug")


def make(**options):
    cb = callback_loader.get("ai_conformance.kubernetes.conformance_progress")
    cb._display = Display()
    cb.set_options(direct=dict({"reason_width": 30, "heartbeat_interval": 0}, **options))
    return cb


def probe_result(rid, verdict, reason="ok", **extra):
    return {"result": dict({"requirement": rid, "verdict": verdict, "reason": reason, "duration_s": 21.44}, **extra)}


def shown(cb):
    return [line[0] for line in cb._display.lines]


def test_one_line_per_probe_result_and_nothing_for_other_tasks():
    cb = make()
    cb.record({"changed": False, "msg": "unrelated task"})
    assert shown(cb) == []
    cb.record(probe_result("dra_support", "pass", "claim allocated gpu-0 on node 1 of 2 and more"))
    assert shown(cb)[0].startswith("[conformance] [1] dra_support PASS in 21.4s (1 done, ")
    assert shown(cb)[0].endswith("): claim allocated gpu-0 on no...")
    assert cb._display.lines[-1][1] == "green"


def test_the_plan_gives_m_and_a_probe_task_start_gives_its_start_line():
    cb = make()
    plan = {"version": "v1.37", "requirements": [{"requirement": "gang_scheduling", "lane": "last"}, {"requirement": "cluster_autoscaling", "lane": "last"}]}
    cb.v2_runner_on_ok(TaskResult({"ansible_facts": {"conformance_plan": plan}}))
    # No play is known here, so the task's condition cannot be evaluated: the start line is held back.
    task = Task("ai_conformance.kubernetes.gang_probe", "Probe gang_scheduling", {"timeout": 90})
    cb.v2_runner_on_start(None, task)
    cb.v2_runner_on_ok(TaskResult(probe_result("gang_scheduling", "fail", "partial placement"), task))
    assert shown(cb) == [
        "[conformance] plan: 2 requirement(s) to probe for checklist v1.37 (2 last)",
        "[conformance] [1/2] gang_scheduling started (gang_probe, timeout 90s per wait)",
        shown(cb)[2],
    ]
    assert shown(cb)[2].startswith("[conformance] [1/2] gang_scheduling FAIL in 21.4s (1 of 2 done, ")


def test_a_skipped_probe_task_prints_nothing():
    cb = make()
    task = Task("ai_conformance.kubernetes.sandbox_probe", "Probe workload_sandboxing")
    cb.v2_runner_on_start(None, task)
    cb.v2_runner_on_skipped(TaskResult({"skipped": True}, task))
    cb.progress.clock = lambda: time.monotonic() + 10
    cb.tick()
    assert shown(cb) == []


def test_an_async_start_is_a_background_probe_collected_later():
    cb = make()
    task = Task("ai_conformance.kubernetes.gateway_check", "Probe ai_inference")
    cb.v2_runner_on_start(None, task)
    cb.v2_runner_on_ok(TaskResult({"ansible_job_id": "j1.2", "started": 1, "finished": 0}, task))
    assert shown(cb) == ["[conformance] [1] ai_inference started in the background (gateway_check, timeout 120s per wait)"]
    cb.v2_runner_item_on_ok(TaskResult(probe_result("ai_inference", "error", "stopped at its time limit"), Task("ai_conformance.kubernetes.probe_job")))
    assert shown(cb)[-1].startswith("[conformance] [1] ai_inference ERROR in 21.4s")


def test_a_failed_probe_task_and_bad_input_are_one_line_each():
    cb = make()
    task = Task("ai_conformance.kubernetes.gang_probe", "Probe gang_scheduling")
    cb.v2_runner_on_start(None, task)
    cb.v2_runner_on_failed(TaskResult({"failed": True, "msg": "group_size must be at least 2"}, task))
    bad = {"failed": True, "ansible_loop_var": "conformance_bad_input", "msg": "value of conformance_mode must be one of: deploy, validate, got: probe"}
    cb.v2_runner_item_on_failed(TaskResult(bad))
    cb.v2_runner_item_on_failed(TaskResult({"failed": True, "ansible_loop_var": "item", "msg": "unrelated"}))
    assert shown(cb) == [
        "[conformance] [1] gang_scheduling started (gang_probe, timeout 120s per wait)",
        "[conformance] [1] gang_scheduling FAILED without a result: group_size must be at least 2",
        "[conformance] bad input: value of conformance_mode must be one of: deploy, validate, got: probe",
    ]


def test_the_final_table_uses_the_rows_conformance_summary_returned_and_shows_the_awx_summary():
    cb = make()
    cb.record(probe_result("gpu_sharing", "pass"))
    summary = {
        "version": "v1.37",
        "rows": [
            {"id": "gpu_sharing", "level": "SHOULD", "verdict": "pass", "verdict_label": "pass", "reason": "ok"},
            {"id": "gang_scheduling", "level": "MUST", "verdict": "error", "verdict_label": "error", "reason": "no result"},
        ],
        "extras": [],
        "summary": {"line": "2 requirement(s) of checklist v1.37: pass 1, fail 0, error 1, skip 0, not_applicable 0"},
    }
    cb.v2_runner_on_ok(TaskResult(summary, Task("ai_conformance.kubernetes.conformance_summary")))
    cb._display.lines.clear()
    cb.v2_playbook_on_stats(Stats())
    text = shown(cb)
    assert [t.split()[0] for t in text[1:3]] == ["gpu_sharing", "gang_scheduling"]
    assert text[3] == "  2 requirement(s) of checklist v1.37: pass 1, fail 0, error 1, skip 0, not_applicable 0"
    assert text[-1].startswith("AWX summary: {'counts'")


def test_a_pass_with_undecided_checks_is_printed_as_partial():
    cb = make()
    undecided = {"name": "pod without request sees no accelerator", "ok": None, "detail": "no node runs containers", "kind": "runtime"}
    cb.record(probe_result("secure_accelerator_access", "pass", "partial: 1 of 5", checks=[undecided]))
    assert "PASS (PARTIAL)" in shown(cb)[0]


def test_the_timer_thread_prints_a_heartbeat_for_a_probe_still_running():
    cb = make(heartbeat_interval=1)
    task = Task("ai_conformance.kubernetes.hpa_probe", "Probe pod_autoscaling", {"metric": "DCGM_FI_DEV_GPU_UTIL", "scale_timeout": 200})
    cb.v2_runner_on_start(None, task)
    cb.v2_playbook_on_start(None)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any("still running" in t for t in shown(cb)):
        time.sleep(0.1)
    cb.v2_playbook_on_stats(Stats())
    beats = [t for t in shown(cb) if "still running" in t]
    assert beats, shown(cb)
    assert beats[0].startswith("[conformance] [1] pod_autoscaling still running after ")
    assert beats[0].endswith("(timeout 120s per wait): waits for the HPA on DCGM_FI_DEV_GPU_UTIL to scale 1 -> 3 -> 1 replicas (up to 200s each way)")
    cb._thread.join(3)
    assert not cb._thread.is_alive()


def test_the_plan_modules_result_is_the_plan_and_the_fact_set_from_it_is_not_printed_again():
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry

    cb = make()
    out = registry.plan("v1.36", requirements=["ai_inference"], concurrency="serial")
    cb.v2_runner_on_ok(TaskResult(dict(out, changed=False), Task("ai_conformance.kubernetes.conformance_plan", "Plan the run")))
    cb.v2_runner_on_ok(TaskResult({"ansible_facts": {"conformance_plan": {"version": "v1.36", "requirements": out["plan"]}}}))
    assert shown(cb) == ["[conformance] plan: 4 requirement(s) to probe for checklist v1.36 (4 serial)"]
    # Another module's "plan" key is not the run's plan.
    cb.v2_runner_on_ok(TaskResult({"plan": [{"requirement": "x"}]}, Task("ai_conformance.kubernetes.probe_job", "Collect")))
    assert len(shown(cb)) == 1


def test_every_probe_task_is_known_by_its_module_from_the_registry():
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry

    cb = make()
    for rec in registry.RECORDS:
        assert cb._requirement(Task("ai_conformance.kubernetes." + rec.module, "")) == (rec.module, rec.id)
    assert cb._requirement(Task("ai_conformance.kubernetes.conformance_plan", "Plan the run")) == ("conformance_plan", None)
