# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: conformance_progress
type: aggregate
short_description: One live line per requirement, and a final verdict table
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Prints a line as soon as a probe module returns a result (requirement, verdict, duration, reason),
    and at the end of the play a table of every requirement seen with the run's counts.
  - A pass with checks that were not decided is printed as C(pass (partial)) and counted apart.
  - Probes of the background lane print their line when C(probe_job) collects them (one loop item
    each); the duration printed is the probe's own.
  - Reads only the structured C(result) the probe modules return; task output is not parsed.
  - The summary the play hands to AWX with C(ansible.builtin.set_stats) is printed too.
  - Enable with C(ANSIBLE_CALLBACKS_ENABLED=ai_conformance.kubernetes.conformance_progress).
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
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = ai_conformance.kubernetes.conformance_progress
# [callback_conformance_progress]
# reason_width = 0
#
# or for one run:
# ANSIBLE_CALLBACKS_ENABLED=ai_conformance.kubernetes.conformance_progress ansible-playbook conformance.yml
"""

from ansible.plugins.callback import CallbackBase

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import is_partial

ORDER = ("pass", "fail", "error", "skip", "not_applicable")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ai_conformance.kubernetes.conformance_progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.seen = {}

    def _short(self, text):
        width = self.get_option("reason_width")
        text = " ".join(str(text).split())
        return text if not width or len(text) <= width else text[: width - 3] + "..."

    def record(self, res):
        """Keep and print one probe result; returns the printed line or None for other tasks."""
        result = res.get("result") if isinstance(res, dict) else None
        if not isinstance(result, dict) or "requirement" not in result or "verdict" not in result:
            return None
        self.seen[result["requirement"]] = result
        line = "[conformance] %-28s %-15s %6.1fs  %s" % (
            result["requirement"],
            self._label(result).upper(),
            float(result.get("duration_s") or 0),
            self._short(result.get("reason", "")),
        )
        self._display.display(line, color=self._color(result["verdict"]))
        return line

    @staticmethod
    def _label(result):
        """The verdict as printed: a pass with undecided checks is shown as a partial pass."""
        return "pass (partial)" if is_partial(result) else result["verdict"]

    @staticmethod
    def _color(verdict):
        return {"pass": "green", "fail": "red", "error": "red", "skip": "yellow", "not_applicable": "cyan"}.get(verdict)

    def v2_runner_on_ok(self, result):
        self.record(result._result)

    def v2_runner_item_on_ok(self, result):
        # Looped tasks: the collection of background probes (probe_job) returns one result per item.
        self.record(result._result)

    def v2_playbook_on_stats(self, stats):
        if self.seen:
            self._display.display("\nConformance results (%d requirement(s) probed):" % len(self.seen))
            for rid in sorted(self.seen, key=lambda r: (ORDER.index(self.seen[r]["verdict"]), r)):
                r = self.seen[rid]
                self._display.display("  %-28s %-15s %s" % (rid, self._label(r), self._short(r.get("reason", ""))), color=self._color(r["verdict"]))
            counts = {v: sum(1 for r in self.seen.values() if r["verdict"] == v) for v in ORDER}
            partial = sum(1 for r in self.seen.values() if is_partial(r))
            line = ", ".join("%s %d" % (k, v) for k, v in counts.items())
            self._display.display("  " + line + (" (of the passes, %d partial: checks not decided)" % partial if partial else ""))
        custom = getattr(stats, "custom", {}) or {}
        run = custom.get("_run", {}).get("conformance")
        if run:
            self._display.display("AWX summary: %s" % run)
