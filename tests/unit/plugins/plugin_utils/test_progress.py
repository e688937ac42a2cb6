"""The progress callback's state and lines: N of M from the plan, elapsed times, heartbeats on a fake
clock, check-mode plans, and a final table that counts exactly as the evidence bundle does."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.modules import conformance_summary
from ansible_collections.ai_conformance.kubernetes.plugins.plugin_utils.progress import Progress, duration

PLAN_V137 = {
    "version": "v1.37",
    "requirements": [{"requirement": r, "lane": "serial"} for r in catalog.ids("v1.37")] + [{"requirement": "dra_support", "lane": "serial"}],
}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def result(rid, verdict="pass", reason="ok", duration_s=1.5, **extra):
    out = {
        "requirement": rid,
        "verdict": verdict,
        "reason": reason,
        "observations": {},
        "checks": [{"name": "placed", "ok": True, "detail": "ok", "kind": "api"}] if verdict == "pass" else [],
        "steps": [],
        "negative": [{"case": "forbidden", "outcome": "refused", "refused": True}] if verdict == "pass" else [],
        "owner": "platform",
        "run_id": "r1",
        "started": "",
        "duration_s": duration_s,
    }
    out.update(extra)
    return out


def reference_cluster_results():
    """What the reference cluster gives for v1.37: 16 results, virtualized_accelerator N/A and
    dra_support (a v1.36+ extra) passing."""
    rows = [result(r, "not_applicable" if r == "virtualized_accelerator" else "pass") for r in catalog.ids("v1.37")]
    return rows + [result("dra_support")]


def texts(lines):
    return [line[0] if isinstance(line, tuple) else line for line in lines]


def test_duration_reads_as_seconds_minutes_or_hours():
    assert [duration(s) for s in (4.24, 185, 3725)] == ["4.2s", "3m05s", "1h02m"]


def test_start_and_finish_lines_say_n_of_m_from_the_plan_and_both_elapsed_times():
    clock = Clock()
    p = Progress(clock=clock)
    assert p.set_plan(PLAN_V137) == ["[conformance] plan: 16 requirement(s) to probe for checklist v1.37 (16 serial)"]
    p.start("driver_runtime_management", "driver_runtime_probe", {"timeout": 60})
    p.finish(result("driver_runtime_management"))
    p.start("gpu_sharing", "gpu_sharing_probe", {})
    p.finish(result("gpu_sharing"))
    clock.now += 100
    assert p.start("gang_scheduling", "gang_probe", {"timeout": 90}) == ["[conformance] [3/16] gang_scheduling started (gang_probe, timeout 90s per wait)"]
    clock.now += 34.2
    lines = texts(p.finish(result("gang_scheduling", reason="gang placed whole", duration_s=34.2)))
    assert lines == ["[conformance] [3/16] gang_scheduling PASS in 34.2s (3 of 16 done, 2m14s elapsed): gang placed whole"]


def test_without_a_plan_the_lines_number_the_probes_without_m():
    p = Progress(clock=Clock())
    assert p.start("gang_scheduling", "gang_probe") == ["[conformance] [1] gang_scheduling started (gang_probe, timeout 120s per wait)"]
    assert texts(p.finish(result("gang_scheduling")))[0].startswith("[conformance] [1] gang_scheduling PASS in 1.5s (1 done, ")


def test_a_probe_still_running_gets_a_heartbeat_every_interval_saying_what_it_waits_for():
    clock = Clock()
    p = Progress(clock=clock)
    p.set_plan(PLAN_V137)
    p.start("cluster_autoscaling", "autoscaler_probe", {"provider": "karpenter", "scale_up_timeout": 120, "scale_down_timeout": 180, "timeout": 60})
    clock.now += 29
    assert p.heartbeat(30) == []
    clock.now += 1
    assert p.heartbeat(30) == [
        "[conformance] [1/16] cluster_autoscaling still running after 30.0s (timeout 60s per wait): "
        "waits for karpenter to add a node for pending nvidia.com/gpu pods (up to 120s), then to remove it (up to 180s)"
    ]
    clock.now += 15
    assert p.heartbeat(30) == []
    clock.now += 15
    assert p.heartbeat(30)[0].startswith("[conformance] [1/16] cluster_autoscaling still running after 1m00s")
    p.finish(result("cluster_autoscaling"))
    clock.now += 60
    assert p.heartbeat(30) == []
    assert p.heartbeat(0) == []


def test_background_probes_share_one_heartbeat_line_and_print_their_result_when_collected():
    clock = Clock()
    p = Progress(clock=clock)
    p.set_plan(PLAN_V137)
    assert p.start("ai_inference", "gateway_check", {}, background=True) == [
        "[conformance] [1/16] ai_inference started in the background (gateway_check, timeout 120s per wait)"
    ]
    p.start("robust_controller", "operator_probe", {})
    assert p.to_background("robust_controller") == ["[conformance] [2/16] robust_controller runs on in the background; collected later"]
    p.start("dra_support", "dra_probe", {})
    clock.now += 30
    beat = p.heartbeat(30)
    assert beat[0].startswith("[conformance] [3/16] dra_support still running after 30.0s")
    assert beat[1] == "[conformance] background: ai_inference (30.0s), robust_controller (30.0s) still running"
    lines = texts(p.finish(result("ai_inference", duration_s=31.0)))
    assert lines[0].startswith("[conformance] [1/16] ai_inference PASS in 31.0s (1 of 16 done")
    clock.now += 30
    assert p.heartbeat(30)[-1] == "[conformance] background: robust_controller (1m00s) still running"


def test_a_start_whose_condition_is_unknown_is_held_back_and_dropped_when_the_task_is_skipped():
    clock = Clock()
    p = Progress(clock=clock)
    assert p.start("workload_sandboxing", "sandbox_probe", {}, announce=False) == []
    p.cancel("workload_sandboxing")
    clock.now += 5
    assert p.heartbeat(30) == []
    # Not skipped: announced after a moment, numbered as the first probe that really started.
    p.start("gpu_sharing", "gpu_sharing_probe", {}, announce=False)
    clock.now += 2
    assert p.heartbeat(30) == ["[conformance] [1] gpu_sharing started (gpu_sharing_probe, timeout 120s per wait)"]
    # A quick result announces the start first.
    p.start("dra_support", "dra_probe", {}, announce=False)
    lines = texts(p.finish(result("dra_support")))
    assert lines[0] == "[conformance] [2] dra_support started (dra_probe, timeout 120s per wait)"
    assert lines[1].startswith("[conformance] [2] dra_support PASS")


def test_a_probe_task_that_failed_without_a_result_says_so():
    p = Progress(clock=Clock())
    p.start("gang_scheduling", "gang_probe", {})
    assert p.failed("gang_scheduling", "group_size must be at least 2") == [
        "[conformance] [1] gang_scheduling FAILED without a result: group_size must be at least 2"
    ]
    assert p.running == {}


def test_check_mode_results_show_what_the_probe_would_do():
    p = Progress(clock=Clock())
    plan = {
        "namespace": "aic-gang-scheduling-r1",
        "namespace_created": True,
        "creates": ["group gang-fit"],
        "observes": ["gang-fit bound whole"],
        "negative": ["gang-wait stays unbound"],
        "timeout_s": 120,
    }
    lines = texts(p.finish(result("gang_scheduling", "skip", "check mode: would create ...", 0.0, observations={"check_mode_plan": plan})))
    assert lines[0].endswith("SKIP in 0.0s (1 done, 0.0s elapsed): check mode: nothing was created; it would:")
    assert lines[1:] == [
        "      create   group gang-fit",
        "      observe  gang-fit bound whole",
        "      negative gang-wait stays unbound",
        "      where    namespace aic-gang-scheduling-r1 (created, then deleted), timeout 120s per step",
    ]
    instead = texts(p.finish(result("virtualized_accelerator", "skip", "check mode", 0.0, observations={"check_mode_plan": {"instead": "report N/A"}})))
    assert instead[1:] == ["      instead  report N/A"]


def test_the_final_table_counts_as_the_bundle_does_with_the_extra_apart(run_module):
    """The two totals of issue 24: 16 results on v1.37, dra_support not a v1.37 item.  The table's
    line is the one conformance_summary returns for the bundle: 15 requirements, 14 pass, 1 N/A,
    and dra_support named apart as an extra, not counted."""
    results = reference_cluster_results()
    summary = run_module(conformance_summary.main, {"results": results, "version": "v1.37"}).result
    expected = "15 requirement(s) of checklist v1.37: pass 14, fail 0, error 0, skip 0, not_applicable 1; extra, not counted: dra_support pass"
    assert summary["summary"]["line"] == expected
    assert summary["summary"]["counts"]["pass"] == 14 and summary["summary"]["extras"] == {"dra_support": "pass"}

    # The evidence phase did not run: the callback counts the results it saw, the same way.
    p = Progress(clock=Clock())
    p.set_plan(PLAN_V137)
    for r in results:
        p.finish(r)
    table = texts(p.table())
    assert table[-1] == "  " + expected
    assert len([t for t in table if t.startswith("  ") and (" MUST " in t or " SHOULD " in t)]) == 15
    assert [t.split()[:3] for t in table if t.split()[1:2] == ["extra"]] == [["dra_support", "extra", "pass"]]

    # The evidence phase ran: the callback prints conformance_summary's own rows and line.
    p.summary = summary
    assert texts(p.table())[-1] == "  " + expected


def test_a_partial_pass_is_counted_as_a_pass_and_named_in_the_line():
    undecided = {"name": "container sees only its GPU", "ok": None, "detail": "no node runs containers", "kind": "runtime"}
    p = Progress(clock=Clock())
    p.set_plan(PLAN_V137)
    partial = result("secure_accelerator_access", checks=[{"name": "api", "ok": True, "detail": "ok", "kind": "api"}, undecided])
    assert "PASS (PARTIAL)" in texts(p.finish(partial))[0]
    line = texts(p.table())[-1]
    assert line.startswith("  15 requirement(s) of checklist v1.37: pass 1, fail 0, error 14, ")
    assert "(of the passes, 1 partial: checks not decided)" in line


def test_a_result_outside_the_checklist_is_shown_as_left_out():
    p = Progress(clock=Clock())
    p.set_plan({"version": "v1.33", "requirements": []})
    p.finish(result("gpu_sharing"))
    assert "  not part of checklist v1.33 (left out of the bundle): gpu_sharing pass" in texts(p.table())


def test_without_a_checklist_version_the_table_lists_what_was_seen():
    p = Progress(clock=Clock())
    p.finish(result("gpu_sharing"))
    p.finish(result("gang_scheduling", "fail", "partial placement"))
    table = texts(p.table())
    assert table[0] == "\nConformance results (2 requirement(s) probed; no checklist version known, so not counted against one):"
    assert [t.split()[0] for t in table[1:3]] == ["gpu_sharing", "gang_scheduling"]
    assert table[-1] == "  pass 1, fail 1, error 0, skip 0, not_applicable 0"
    assert Progress(clock=Clock()).table() == []


def test_a_plan_given_twice_prints_once_and_a_changed_plan_prints_again():
    p = Progress(clock=Clock())
    assert p.set_plan(PLAN_V137) != []
    assert p.set_plan(PLAN_V137) == []
    # The conformance_plan module's own shape ({version, plan}) is the same plan.
    assert p.set_plan({"version": "v1.37", "plan": PLAN_V137["requirements"]}) == []
    assert p.set_plan({"version": "v1.37", "plan": PLAN_V137["requirements"][:2]}) == [
        "[conformance] plan: 2 requirement(s) to probe for checklist v1.37 (2 serial)"
    ]
    assert p.planned == [r["requirement"] for r in PLAN_V137["requirements"][:2]]
