# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state and the lines of the conformance_progress callback, apart from Ansible's callback API.

``Progress`` is told when a probe starts, goes to the background and returns, and answers with the
lines to print: ``[3/16] gang_scheduling started``, a finish line with the probe's time and the
run's, heartbeats for probes still running, and the final table.  M in "N of M" is the run's plan
(``conformance_plan``, from the requirement registry); without a plan the lines say only N.  The clock
is injected, so the heartbeat can be tested without waiting.

The final table counts exactly as the evidence bundle does: the rows that
``conformance_summary`` returned when the play ran it, otherwise ``evidence.build_rows`` (the function
behind ``conformance_summary``) over the results seen, for the plan's checklist version.  So the
table and the bundle line count the same requirements: the checklist's own items.  A result for a
requirement the version does not list (``dra_support`` from v1.36 on) is shown as an extra, apart.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.catalog import UnknownVersion
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import is_partial
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.evidence import build_rows
from ansible_collections.ai_conformance.kubernetes.plugins.modules.conformance_summary import with_totals
from ansible_collections.ai_conformance.kubernetes.plugins.plugin_utils.waits import limits, waits_for

PREFIX = "[conformance]"
ORDER = ("pass", "fail", "error", "skip", "not_applicable")
COLORS = {"pass": "green", "fail": "red", "error": "red", "skip": "yellow", "not_applicable": "cyan"}
# A probe whose task condition could not be evaluated is announced this long after it was queued
# unless it was skipped meanwhile (a skipped task comes back at once).
ANNOUNCE_AFTER_S = 2.0


def duration(seconds: float) -> str:
    """4.2s, 3m05s, 1h02m."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return "%.1fs" % seconds
    if seconds < 3600:
        return "%dm%02ds" % (seconds // 60, seconds % 60)
    return "%dh%02dm" % (seconds // 3600, (seconds % 3600) // 60)


def label(result: dict[str, Any]) -> str:
    """The verdict as printed: a pass with undecided checks is a partial pass."""
    return "pass (partial)" if is_partial(result) else result["verdict"]


def clip(value: Any, width: int = 30) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """What a probe would do in check mode (its result's ``check_mode_plan``), one line a fact."""
    pad = " " * 6
    if plan.get("instead"):
        return [pad + "instead  " + plan["instead"]]
    options = ", ".join("%s=%s" % (k, clip(v)) for k, v in sorted((plan.get("options") or {}).items()))
    out = [pad + "create   " + c for c in plan.get("creates") or []] or [pad + "create   its objects (options: %s)" % (options or "none set")]
    out += [pad + "observe  " + o for o in plan.get("observes") or []]
    out += [pad + "negative " + n for n in plan.get("negative") or []]
    where = "namespace %s%s" % (plan.get("namespace"), " (created, then deleted)" if plan.get("namespace_created") else "")
    out.append(pad + "where    " + where + (", timeout %ss per step" % plan["timeout_s"] if plan.get("timeout_s") else ""))
    return out


@dataclass
class Running:
    requirement: str
    module: str
    args: dict[str, Any]
    started: float
    background: bool = False
    last_beat: float = 0.0


class Progress:
    def __init__(self, clock: Callable[[], float] = time.monotonic, reason_width: int = 100) -> None:
        self.clock = clock
        self.reason_width = reason_width
        self.t0 = clock()
        self.version: str | None = None
        self.planned: list[str] = []
        self._plan_seen = False
        self.index: dict[str, int] = {}
        self.pending: dict[str, Running] = {}
        self.running: dict[str, Running] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.summary: dict[str, Any] | None = None
        self.background_beat = 0.0

    # -- helpers ----------------------------------------------------------------------------
    def short(self, text: Any) -> str:
        text = " ".join(str(text).split())
        width = self.reason_width
        return text if not width or len(text) <= width else text[: width - 3] + "..."

    def tag(self, rid: str) -> str:
        if rid not in self.index:
            self.index[rid] = len(self.index) + 1
        # A requirement the plan did not name (a playbook of one's own) still counts in M.
        return "[%d/%d]" % (self.index[rid], max(len(self.planned), len(self.index))) if self.planned else "[%d]" % self.index[rid]

    def elapsed(self) -> str:
        return duration(self.clock() - self.t0)

    # -- the plan ---------------------------------------------------------------------------
    def set_plan(self, plan: dict[str, Any]) -> list[str]:
        """The run's plan: ``conformance_plan`` as conformance.yml sets it ({version, requirements}),
        or what the conformance_plan module returns ({version, plan}).  The same plan again (the
        module's result, then the fact set from it) prints nothing."""
        entries = plan.get("requirements") if "requirements" in plan else plan.get("plan")
        planned = [r["requirement"] for r in entries or []]
        if self._plan_seen and (plan.get("version") or self.version, planned) == (self.version, self.planned):
            return []
        self._plan_seen = True
        self.version = plan.get("version") or self.version
        self.planned = planned
        lanes = Counter(r.get("lane", "serial") for r in entries or [])
        if not self.planned:
            return ["%s plan: no requirement is probed in this run (checklist %s)" % (PREFIX, self.version)]
        return [
            "%s plan: %d requirement(s) to probe for checklist %s (%s)"
            % (PREFIX, len(self.planned), self.version, ", ".join("%d %s" % (n, lane) for lane, n in sorted(lanes.items())))
        ]

    # -- a probe's life ---------------------------------------------------------------------
    def start(self, rid: str, module: str, args: dict[str, Any] | None = None, background: bool = False, announce: bool = True) -> list[str]:
        """A probe task was queued.  ``announce`` False (its condition could not be evaluated)
        holds the start line back ANNOUNCE_AFTER_S; a skip meanwhile (``cancel``) drops it."""
        run = Running(rid, module, dict(args or {}), self.clock(), background)
        if not announce:
            self.pending[rid] = run
            return []
        return self._announce(run)

    def _announce(self, run: Running) -> list[str]:
        self.pending.pop(run.requirement, None)
        self.running[run.requirement] = run
        run.last_beat = self.clock()
        if run.background and not self.background_beat:
            self.background_beat = run.last_beat
        how = "started in the background" if run.background else "started"
        return ["%s %s %s %s (%s, %s)" % (PREFIX, self.tag(run.requirement), run.requirement, how, run.module, limits(run.module, run.args))]

    def cancel(self, rid: str) -> None:
        """The probe's task was skipped: it never ran."""
        self.pending.pop(rid, None)
        self.running.pop(rid, None)

    def to_background(self, rid: str) -> list[str]:
        """An async start came back: the probe runs on as a background job."""
        run = self.pending.get(rid) or self.running.get(rid)
        if run is None or run.background:
            return []
        run.background = True
        if not self.background_beat:
            self.background_beat = self.clock()
        if rid in self.pending:
            return self._announce(run)
        return ["%s %s %s runs on in the background; collected later" % (PREFIX, self.tag(rid), rid)]

    def failed(self, rid: str, msg: str) -> list[str]:
        """The probe's task failed without a result (bad arguments, a crash before the result)."""
        lines = self._announce(self.pending[rid]) if rid in self.pending else []
        self.running.pop(rid, None)
        return lines + ["%s %s %s FAILED without a result: %s" % (PREFIX, self.tag(rid), rid, self.short(msg))]

    def finish(self, result: dict[str, Any]) -> list[tuple[str, str | None]]:
        """A probe's result: its finish line (and, in check mode, what it would have done)."""
        rid = result["requirement"]
        lines: list[tuple[str, str | None]] = [(x, None) for x in (self._announce(self.pending[rid]) if rid in self.pending else [])]
        run = self.running.pop(rid, None)
        self.results[rid] = result
        took = float(result.get("duration_s") or 0) or (self.clock() - run.started if run else 0.0)
        done = sum(1 for r in self.results if r in self.planned) if self.planned else len(self.results)
        of = " of %d" % len(self.planned) if self.planned else ""
        plan = (result.get("observations") or {}).get("check_mode_plan")
        # In check mode the plan's lines below say in full what the reason says in one sentence.
        reason = "check mode: nothing was created; it would:" if isinstance(plan, dict) else self.short(result.get("reason", ""))
        lines.append(
            (
                "%s %s %s %s in %s (%d%s done, %s elapsed): %s"
                % (PREFIX, self.tag(rid), rid, label(result).upper(), duration(took), done, of, self.elapsed(), reason),
                COLORS.get(result["verdict"]),
            )
        )
        if isinstance(plan, dict):
            lines += [(x, None) for x in plan_lines(plan)]
        return lines

    def heartbeat(self, interval: float) -> list[str]:
        """Lines due now: held-back start lines, one line per foreground probe that printed nothing
        for ``interval`` seconds, and one line for the background probes still running."""
        now = self.clock()
        lines: list[str] = []
        for run in [r for r in self.pending.values() if now - r.started >= ANNOUNCE_AFTER_S]:
            lines += self._announce(run)
        if interval <= 0:
            return lines
        for run in self.running.values():
            if run.background or now - run.last_beat < interval:
                continue
            run.last_beat = now
            what = waits_for(run.module, run.args)
            lines.append(
                "%s %s %s still running after %s (%s)%s"
                % (
                    PREFIX,
                    self.tag(run.requirement),
                    run.requirement,
                    duration(now - run.started),
                    limits(run.module, run.args),
                    ": waits for " + what if what else "",
                )
            )
        background = sorted((r for r in self.running.values() if r.background), key=lambda r: r.started)
        if background and now - self.background_beat >= interval:
            self.background_beat = now
            lines.append("%s background: %s still running" % (PREFIX, ", ".join("%s (%s)" % (r.requirement, duration(now - r.started)) for r in background)))
        return lines

    # -- the final table --------------------------------------------------------------------
    def counted(self) -> dict[str, Any] | None:
        """Rows, extras and summary as the bundle counts them (conformance_summary's own output
        when the play ran it), or None when no checklist version is known."""
        if self.summary:
            return self.summary
        if not self.version:
            return None
        try:
            return with_totals(build_rows(list(self.results.values()), self.version))
        except UnknownVersion:
            return None

    def table(self) -> list[tuple[str, str | None]]:
        if not self.results and not self.summary:
            return []
        out = self.counted()
        if out is None:
            return self._seen_only()
        if "line" not in out["summary"]:
            with_totals(out)
        rows = sorted(out["rows"], key=lambda r: ORDER.index(r["verdict"]))
        lines: list[tuple[str, str | None]] = [("\nConformance results, counted as the evidence bundle counts them:", None)]
        for r in rows:
            lines.append(("  %-28s %-6s %-30s %s" % (r["id"], r["level"], r["verdict_label"], self.short(r["reason"])), COLORS.get(r["verdict"])))
        for r in out.get("extras") or []:
            lines.append(("  %-28s %-6s %-30s %s" % (r["id"], "extra", r["verdict_label"], self.short(r["reason"])), COLORS.get(r["verdict"])))
        lines.append(("  " + out["summary"]["line"], None))
        listed = {r["id"] for r in out["rows"]} | {r["id"] for r in out.get("extras") or []}
        for rid in sorted(set(self.results) - listed):
            lines.append(("  not part of checklist %s (left out of the bundle): %s %s" % (out["version"], rid, label(self.results[rid])), None))
        return lines

    def _seen_only(self) -> list[tuple[str, str | None]]:
        lines: list[tuple[str, str | None]] = [
            ("\nConformance results (%d requirement(s) probed; no checklist version known, so not counted against one):" % len(self.results), None)
        ]
        for rid in sorted(self.results, key=lambda r: (ORDER.index(self.results[r]["verdict"]), r)):
            r = self.results[rid]
            lines.append(("  %-28s %-15s %s" % (rid, label(r), self.short(r.get("reason", ""))), COLORS.get(r["verdict"])))
        counts = Counter(r["verdict"] for r in self.results.values())
        partial = sum(1 for r in self.results.values() if is_partial(r))
        lines.append(
            (
                "  "
                + ", ".join("%s %d" % (v, counts.get(v, 0)) for v in ORDER)
                + (" (of the passes, %d partial: checks not decided)" % partial if partial else ""),
                None,
            )
        )
        return lines
