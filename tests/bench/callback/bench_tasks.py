# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench's task timing: one JSON line per task result (and one at the start and end of the
play) in the file named by AIC_BENCH_TASKS, with wall-clock start and end, so tests/bench/run.py
can place Ansible's own time (task start-up, module transfer, fact gathering, the phases around the
probes) on the probes' timeline.  Loaded only by the bench (ANSIBLE_CALLBACK_PLUGINS); it writes
nothing when AIC_BENCH_TASKS is unset."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_tasks
type: aggregate
short_description: Task start and end times for make bench
description:
  - Writes one JSON line per task result to the file named by the environment variable AIC_BENCH_TASKS.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_tasks"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("AIC_BENCH_TASKS") or ""
        self._started = {}

    def _write(self, record):
        if not self._path:
            return
        with open(self._path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def v2_playbook_on_start(self, playbook):
        self._write({"event": "play_start", "time": time.time()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.time()

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _result(self, result, status):
        task = result._task
        now = time.time()
        res = result._result or {}
        self._write(
            {
                "event": "task",
                "task": task.get_name(),
                "action": task.action,
                "host": result._host.get_name(),
                "status": status,
                "start": self._started.get(task._uuid, now),
                "end": now,
                "async": bool(res.get("ansible_job_id")),
            }
        )

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._write({"event": "play_end", "time": time.time()})
