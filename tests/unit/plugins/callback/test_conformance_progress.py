from __future__ import annotations

from pathlib import Path

from ansible.plugins.loader import callback_loader, init_plugin_loader

init_plugin_loader([str(Path(__file__).resolve().parents[4] / ".build" / "collections")])


class Display:
    def __init__(self):
        self.lines = []

    def display(self, msg, color=None, **kw):
        self.lines.append((msg, color))


class Stats:
    custom = {"_run": {"conformance": {"counts": {"pass": 1}, "conformant": False}}}


def make():
    cb = callback_loader.get("ai_conformance.kubernetes.conformance_progress")
    cb._display = Display()
    cb.set_options(direct={"reason_width": 30})
    return cb


def test_one_line_per_probe_result_and_nothing_for_other_tasks():
    cb = make()
    assert cb.record({"changed": False, "msg": "unrelated task"}) is None
    line = cb.record(
        {"result": {"requirement": "dra_support", "verdict": "pass", "duration_s": 21.44, "reason": "claim allocated gpu-0 on node 1 of 2 and more"}}
    )
    assert line == "[conformance] dra_support                  PASS              21.4s  claim allocated gpu-0 on no..."
    assert cb._display.lines[-1][1] == "green"


def test_final_table_orders_by_severity_and_shows_the_awx_summary():
    cb = make()
    cb.record({"result": {"requirement": "gpu_sharing", "verdict": "pass", "reason": "ok"}})
    cb.record({"result": {"requirement": "gang_scheduling", "verdict": "fail", "reason": "partial placement"}})
    cb.record({"result": {"requirement": "virtualized_accelerator", "verdict": "not_applicable", "reason": "no hypervisor"}})
    cb._display.lines.clear()
    cb.v2_playbook_on_stats(Stats())
    text = [line[0] for line in cb._display.lines]
    rows = [t.split()[0] for t in text if t.startswith("  ") and "%" not in t][:3]
    assert rows == ["gpu_sharing", "gang_scheduling", "virtualized_accelerator"]
    assert "  pass 1, fail 1, error 0, skip 0, not_applicable 1" in text
    assert text[-1].startswith("AWX summary: {'counts'")


class TaskResult:
    def __init__(self, res):
        self._result = res


def test_collected_background_probes_print_one_line_per_loop_item():
    cb = make()
    cb.v2_runner_item_on_ok(TaskResult({"result": {"requirement": "robust_controller", "verdict": "error", "reason": "stopped at its time limit"}}))
    cb.v2_runner_item_on_ok(TaskResult({"conformance_domain": "networking", "msg": "included"}))
    assert [line[0].split()[1:3] for line in cb._display.lines] == [["robust_controller", "ERROR"]]
    assert cb.seen["robust_controller"]["verdict"] == "error"


def test_a_pass_with_undecided_checks_is_printed_and_counted_as_partial():
    cb = make()
    undecided = {"name": "pod without request sees no accelerator", "ok": None, "detail": "no node runs containers", "kind": "runtime"}
    line = cb.record({"result": {"requirement": "secure_accelerator_access", "verdict": "pass", "reason": "partial: 1 of 5", "checks": [undecided]}})
    assert "PASS (PARTIAL)" in line
    cb.record({"result": {"requirement": "dra_support", "verdict": "pass", "reason": "ok", "checks": [dict(undecided, ok=True)]}})
    cb._display.lines.clear()
    cb.v2_playbook_on_stats(Stats())
    text = [line[0] for line in cb._display.lines]
    assert "  pass 2, fail 0, error 0, skip 0, not_applicable 0 (of the passes, 1 partial: checks not decided)" in text
    assert any(t.startswith("  secure_accelerator_access") and "pass (partial)" in t for t in text)
