"""Where the main job's time goes, from what it already wrote: each probe's ``observations.timing``
(module_utils/timing.py) in the bundle's results.json, and the task times of the bench's callback
(tests/bench/callback/bench_tasks.py).  Nothing here runs a probe.

Per requirement: setup, waiting (each wait's condition), observing (each window), cleanup, the
probe's other time, its wall time, the Ansible overhead around it (the task's wall minus the probe's
for a task that runs it; start-up for a background job) and its API requests.  For the play:
the wall time, the time at least one probe ran (the union of the probes' intervals: the critical
path through the lanes) and the rest, Ansible's and the other phases', split into before the first
probe, between probes and after the last one, with the slowest tasks outside the probes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up
from ansible_collections.ai_conformance.kubernetes.plugins.plugin_utils.waits import COLLECTION, PROBES

PHASES = ("connect", "setup", "wait", "observe", "cleanup", "evidence", "other")
API_TARGET = 3000


def find_bundle_results(out_dir: Path) -> Path | None:
    """The bundle's results.json under the main job's output directory (not an upstream suite's
    test2json stream, which has the same name)."""
    for path in sorted(Path(out_dir).rglob("results.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("requirements"), list) and "version" in data:
            return path
    return None


def read_tasks(path: Path) -> tuple[list[dict[str, Any]], float | None, float | None]:
    """(task records, play start, play end) from the callback's JSON lines."""
    tasks, start, end = [], None, None
    if not Path(path).is_file():
        return tasks, start, end
    for line in Path(path).read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "play_start":
            start = rec["time"] if start is None else start
        elif rec.get("event") == "play_end":
            end = rec["time"]
        elif rec.get("event") == "task":
            tasks.append(rec)
    return tasks, start, end


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def _requirement_of(action: str) -> str:
    return PROBES.get(action[len(COLLECTION) :], "") if action.startswith(COLLECTION) else ""


def probe_rows(results: dict[str, Any], tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per requirement whose result carries a timing."""
    by_req = {}
    for t in tasks:
        req = _requirement_of(t.get("action") or "")
        if req and t.get("status") != "skipped":
            by_req.setdefault(req, t)
    rows = []
    for res in list(results.get("requirements") or []) + list(results.get("extras") or []):
        timing = (res.get("observations") or {}).get("timing")
        if not isinstance(timing, dict):
            continue
        spans = timing.get("spans") or []
        start = float(timing["started_epoch"])
        row = {
            "requirement": res.get("requirement"),
            "verdict": res.get("verdict"),
            "start_epoch": start,
            "end_epoch": start + float(timing["wall_s"]),
            "probe_wall_s": timing["wall_s"],
            "phases_s": {k: (timing.get("phases_s") or {}).get(k, 0.0) for k in PHASES},
            "waits": [
                {"condition": s["what"], "seconds": s["seconds"], "outcome": s.get("outcome"), "nested": bool(s.get("nested"))}
                for s in spans
                if s["phase"] == "wait"
            ],
            "observe_windows": [{"what": s["what"], "seconds": s["seconds"]} for s in spans if s["phase"] == "observe"],
            "api_requests": timing.get("api_requests") or {},
            "spans": spans,
        }
        task = by_req.get(row["requirement"])
        if task:
            row["lane"] = "background" if task.get("async") else "foreground"
            row["task_wall_s"] = round(task["end"] - task["start"], 3)
            # A background job's task returns at once: its overhead is the job's start-up.
            row["ansible_overhead_s"] = round(start - task["start"] if task.get("async") else row["task_wall_s"] - row["probe_wall_s"], 3)
        rows.append(row)
    return sorted(rows, key=lambda r: r["start_epoch"])


def timeline(rows: list[dict[str, Any]], tasks: list[dict[str, Any]], t0: float) -> list[dict[str, Any]]:
    """{requirement, phase, what, start, end} in seconds after ``t0`` (the play's start): each probe
    whole (phase ``probe``), its spans, and the play's tasks that run no probe (phase ``ansible``)."""
    out = []
    for r in rows:
        base = r["start_epoch"] - t0
        out.append(
            {"requirement": r["requirement"], "phase": "probe", "what": r["verdict"], "start": round(base, 3), "end": round(base + r["probe_wall_s"], 3)}
        )
        for s in r["spans"]:
            item = {
                "requirement": r["requirement"],
                "phase": s["phase"],
                "what": s["what"],
                "start": round(base + s["start"], 3),
                "end": round(base + s["end"], 3),
            }
            if s.get("nested"):
                item["nested"] = True
            out.append(item)
    for t in tasks:
        if not _requirement_of(t.get("action") or ""):
            out.append({"requirement": "", "phase": "ansible", "what": t["task"], "start": round(t["start"] - t0, 3), "end": round(t["end"] - t0, 3)})
    return sorted(out, key=lambda x: (x["start"], x["end"]))


def play_breakdown(rows: list[dict[str, Any]], tasks: list[dict[str, Any]], play_start: float, play_end: float) -> dict[str, Any]:
    intervals = [(r["start_epoch"], r["end_epoch"]) for r in rows]
    wall = play_end - play_start
    probing = union_seconds(intervals)
    first = min((s for s, _e in intervals), default=play_end)
    last = max((e for _s, e in intervals), default=play_end)
    outside = [t for t in tasks if not _requirement_of(t.get("action") or "")]
    slowest = sorted(outside, key=lambda t: t["end"] - t["start"], reverse=True)[:10]
    api_total = sum((r["api_requests"] or {}).get("total", 0) for r in rows)
    return {
        "wall_s": round(wall, 1),
        "probes_running_s": round(probing, 1),
        "outside_probes_s": round(wall - probing, 1),
        "before_first_probe_s": round(first - play_start, 1),
        "between_probes_s": round((last - first) - probing, 1) if intervals else 0.0,
        "after_last_probe_s": round(play_end - last, 1),
        "task_count": len(tasks),
        "slowest_tasks_outside_probes": [{"task": t["task"], "action": t["action"], "seconds": round(t["end"] - t["start"], 2)} for t in slowest],
        "probe_phase_totals_s": {k: round(sum(r["phases_s"][k] for r in rows), 1) for k in PHASES},
        "api_requests": {
            "total": api_total,
            "by_verb": _sum_verbs(rows),
            "retries": sum((r["api_requests"] or {}).get("retries", 0) for r in rows),
            "target": API_TARGET,
            "within_target": api_total <= API_TARGET,
            "counted": "the probes' own requests (observations.timing.api_requests); modules that are not probes "
            "(cluster_info, preflight, cleanup_run, the evidence role) are not counted",
        },
    }


def _sum_verbs(rows: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        for verb, n in ((r["api_requests"] or {}).get("by_verb") or {}).items():
            out[verb] = out.get(verb, 0) + n
    return dict(sorted(out.items()))


def upstream_comparison(test2json: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Wall time per requirement both cover: the upstream suite's top-level test (its test2json
    Elapsed) against our probe's wall time."""
    tests = up.tests_from(up.parse_events(test2json))
    ours = {r["requirement"]: r for r in rows}
    both = []
    for test, req in sorted(up.TESTS.items()):
        if test in tests and req in ours:
            theirs_s, ours_s = tests[test]["elapsed"], ours[req]["probe_wall_s"]
            both.append(
                {
                    "requirement": req,
                    "upstream_test": test,
                    "upstream_s": theirs_s,
                    "upstream_verdict": tests[test]["verdict"],
                    "ours_s": ours_s,
                    "ours_verdict": ours[req]["verdict"],
                    "ratio_upstream_over_ours": round(theirs_s / ours_s, 2) if ours_s else None,
                }
            )
    total_theirs = sum(b["upstream_s"] for b in both)
    total_ours = sum(b["ours_s"] for b in both)
    return {
        "requirements": both,
        "upstream_total_s": round(total_theirs, 1),
        "ours_total_s": round(total_ours, 1),
        "ratio_upstream_over_ours": round(total_theirs / total_ours, 2) if total_ours else None,
    }


def table(rows: list[dict[str, Any]], play: dict[str, Any]) -> str:
    head = "%-28s %-8s %6s %6s %6s %6s %6s %6s %6s %5s  %s" % (
        "requirement",
        "verdict",
        "wall",
        "setup",
        "wait",
        "observe",
        "clean",
        "other",
        "ansib",
        "reqs",
        "slowest wait",
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        p = r["phases_s"]
        top = [w for w in r["waits"] if not w["nested"]]
        slow = max(top, key=lambda w: w["seconds"], default=None)
        lines.append(
            "%-28s %-8s %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f %6s %5s  %s"
            % (
                r["requirement"][:28],
                r["verdict"],
                r["probe_wall_s"],
                p["connect"] + p["setup"],
                p["wait"],
                p["observe"],
                p["cleanup"],
                p["other"] + p["evidence"],
                "%.1f" % r["ansible_overhead_s"] if "ansible_overhead_s" in r else "-",
                (r["api_requests"] or {}).get("total", "-"),
                "%.1fs %s" % (slow["seconds"], slow["condition"][:70]) if slow else "",
            )
        )
    lines.append(
        "play %.1fs: probes running %.1fs, outside probes %.1fs (before %.1f, between %.1f, after %.1f); API requests %d (target <= %d)"
        % (
            play["wall_s"],
            play["probes_running_s"],
            play["outside_probes_s"],
            play["before_first_probe_s"],
            play["between_probes_s"],
            play["after_last_probe_s"],
            play["api_requests"]["total"],
            API_TARGET,
        )
    )
    return "\n".join(lines)
