# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: conformance_progress
type: aggregate
short_description: Live progress of a conformance run, and a final table counted as the bundle counts
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Prints the run's plan (the result of M(ai_conformance.kubernetes.conformance_plan), or a
    C(conformance_plan) fact, that conformance.yml computes before any probe runs), then a line
    when each requirement's probe starts (C([3/16] gang_scheduling started)), numbered N of M
    where M is the number of requirements the plan probes.
  - Prints a line when each probe returns its result, with its verdict, its own time, how many of
    the planned requirements are done and the time since the playbook started. A pass with checks
    that were not decided is printed as C(pass (partial)).
  - Every O(heartbeat_interval) seconds, for each probe still running, a heartbeat line says for how
    long, its time limits and what it waits for, as the probe's task arguments tell (a probe module
    cannot stream output while it runs); probes of the background lane get one line together.
    They print their result line when C(probe_job) collects them.
  - In check mode each probe's result carries what it would create, observe and try (its
    C(check_mode_plan)); the lines below its result show it.
  - Bad input found by conformance.yml's first tasks is printed one line per bad value.
  - At the end, a table of the checklist's requirements counted exactly as the evidence bundle
    counts them (the rows M(ai_conformance.kubernetes.conformance_summary) returned, or the same
    function over the results seen when the evidence phase did not run). Results for requirements
    the checklist version does not list (C(dra_support) from v1.36 on) are shown apart as extras and
    not counted.
  - Reads only the structured results the modules return and the tasks' own arguments; task output
    is not parsed. The summary the play hands to AWX with C(ansible.builtin.set_stats) is printed too.
requirements:
  - enable in the callbacks_enabled setting
options:
  reason_width:
    description: Characters of each reason to print; 0 prints them whole.
    type: int
    default: 100
    env:
      - name: AIC_PROGRESS_REASON_WIDTH
    ini:
      - section: callback_conformance_progress
        key: reason_width
  heartbeat_interval:
    description: Seconds between two heartbeat lines for a probe that is still running; 0 prints none.
    type: int
    default: 30
    env:
      - name: AIC_PROGRESS_HEARTBEAT
    ini:
      - section: callback_conformance_progress
        key: heartbeat_interval
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = ai_conformance.kubernetes.conformance_progress
# [callback_conformance_progress]
# reason_width = 0
# heartbeat_interval = 60
#
# or for one run:
# ANSIBLE_CALLBACKS_ENABLED=ai_conformance.kubernetes.conformance_progress ansible-playbook conformance.yml
"""

import re
import threading

from ansible.plugins.callback import CallbackBase

try:
    from ansible.template import Templar
except ImportError:  # pragma: no cover - every supported ansible-core has it
    Templar = None

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.registry import modules
from ansible_collections.ai_conformance.kubernetes.plugins.plugin_utils.progress import Progress
from ansible_collections.ai_conformance.kubernetes.plugins.plugin_utils.waits import short_name

# The loop variable of conformance.yml's task that stops on bad input, one item per bad value.
BAD_INPUT_LOOP_VAR = "conformance_bad_input"
_PROBE_NAME = re.compile(r"^Probe (\w+)")
# Probe module -> the requirement it probes, from the requirement registry.
PROBES = modules()
# The module whose result is the run's plan (as is a conformance_plan fact).
PLANNER = "conformance_plan"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ai_conformance.kubernetes.conformance_progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._progress = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None
        self._play = None
        self._tasks = {}  # task uuid -> requirement, for the probe tasks started

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def progress(self):
        if self._progress is None:
            self._progress = Progress(reason_width=self.get_option("reason_width"))
        return self._progress

    def _show(self, lines, color=None):
        for line in lines:
            text, tint = line if isinstance(line, tuple) else (line, color)
            self._display.display(text, color=tint)

    def tick(self):
        """Print what is due (held-back start lines, heartbeats); the timer thread calls it."""
        with self._lock:
            self._show(self.progress.heartbeat(self.get_option("heartbeat_interval")))

    def _beat(self):
        while not self._stop.wait(1.0):
            try:
                self.tick()
            except Exception as exc:  # pylint: disable=broad-except
                # The run matters more than its progress lines: stop the heartbeat, say why.
                self._display.warning("conformance_progress: heartbeat stopped: %s" % exc)
                return

    def _start_timer(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="conformance-progress", daemon=True)
            self._thread.start()

    def _requirement(self, task):
        module = short_name(getattr(task, "resolved_action", None) or task.action)
        if module not in PROBES:
            return module, None
        named = _PROBE_NAME.match(task.get_name() or "")
        return module, named.group(1) if named else PROBES[module]

    def _inspect(self, host, task):
        """(condition, arguments, background) of a probe task as the worker will see them:
        condition None where it could not be evaluated, arguments untemplated where they could
        not be templated."""
        args, cond, background = dict(task.args or {}), None, False
        try:
            variables = self._play.get_variable_manager().get_vars(play=self._play, host=host, task=task)
            templar = Templar(loader=self._play.get_loader(), variables=variables)
        except Exception:  # pylint: disable=broad-except
            return cond, args, background
        try:
            if hasattr(templar, "evaluate_conditional"):
                cond = all(templar.evaluate_conditional(c) for c in task.when or [])
            else:  # ansible-core before 2.19
                cond = task.evaluate_conditional(templar, variables)
        except Exception:  # pylint: disable=broad-except
            cond = None
        try:
            args = templar.template(args)
        except Exception:  # pylint: disable=broad-except
            pass
        try:
            background = int(templar.template(task.async_val) or 0) > 0 and int(templar.template(task.poll) or 0) == 0
        except Exception:  # pylint: disable=broad-except
            background = False
        return cond, args, background

    # -- playbook events --------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        self.progress.t0 = self.progress.clock()
        if self.get_option("heartbeat_interval") > 0:
            self._start_timer()

    def v2_playbook_on_play_start(self, play):
        self._play = play

    def v2_runner_on_start(self, host, task):
        module, rid = self._requirement(task)
        if rid is None:
            return
        cond, args, background = self._inspect(host, task) if self._play is not None and Templar is not None else (None, dict(task.args or {}), False)
        if cond is False:
            return
        with self._lock:
            self._tasks[task._uuid] = rid
            self._show(self.progress.start(rid, module, args, background, announce=cond is True))

    def v2_runner_on_skipped(self, result):
        rid = self._tasks.pop(result._task._uuid, None)
        if rid:
            with self._lock:
                self.progress.cancel(rid)

    def record(self, res, task=None):
        """Take one task result: a plan, the summary rows or a probe result."""
        if not isinstance(res, dict):
            return
        with self._lock:
            plan = (res.get("ansible_facts") or {}).get("conformance_plan")
            if isinstance(plan, dict):
                self._show(self.progress.set_plan(plan))
            elif task is not None and short_name(getattr(task, "resolved_action", None) or task.action) == PLANNER and isinstance(res.get("plan"), list):
                self._show(self.progress.set_plan(res))
            if task is not None and short_name(getattr(task, "resolved_action", None) or task.action) == "conformance_summary" and "rows" in res:
                self.progress.summary = res
            result = res.get("result")
            if isinstance(result, dict) and "requirement" in result and "verdict" in result:
                self._show(self.progress.finish(result))
            elif task is not None and res.get("ansible_job_id") and task._uuid in self._tasks:
                self._show(self.progress.to_background(self._tasks[task._uuid]))

    def v2_runner_on_ok(self, result):
        self.record(result._result, result._task)

    def v2_runner_item_on_ok(self, result):
        # Looped tasks: the collection of background probes (probe_job) returns one result per item.
        self.record(result._result, result._task)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        rid = self._tasks.pop(result._task._uuid, None)
        if rid:
            with self._lock:
                self._show(self.progress.failed(rid, result._result.get("msg", "")), color="red")

    def v2_runner_item_on_failed(self, result):
        res = result._result
        if res.get("ansible_loop_var") == BAD_INPUT_LOOP_VAR:
            self._display.display("[conformance] bad input: %s" % res.get("msg", ""), color="red")

    def v2_playbook_on_stats(self, stats):
        self._stop.set()
        with self._lock:
            self._show(self.progress.table())
        custom = getattr(stats, "custom", {}) or {}
        run = custom.get("_run", {}).get("conformance")
        if run:
            self._display.display("AWX summary: %s" % run)
