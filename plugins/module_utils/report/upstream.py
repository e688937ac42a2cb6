# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upstream kubernetes-sigs/ai-conformance suite: its artifacts and its verdicts beside ours.

The suite is a Go ``testing`` package (``github.com/kubernetes-sigs/ai-conformance/test``) that
writes no files; vendors attach ``e2e.log`` (``go test -v``), ``results.json`` (``go test -json``,
the test2json event stream) and ``junit.xml``.  The suite runs through gotestsum
(gotest.tools/gotestsum, ``--raw-command``) when it is installed, and gotestsum writes the stream and
the JUnit file; without it (an air-gapped controller with no Go module cache) ``junit()`` writes the
JUnit file from the stream.  This module reads each top-level test's verdict from the events (``Action`` pass/fail/skip), and puts
them beside this collection's verdicts per requirement.  A disagreement is flagged, never resolved.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import shutil
import subprocess
from typing import Any
from xml.sax.saxutils import escape, quoteattr

PACKAGE = "github.com/kubernetes-sigs/ai-conformance/test"

# Top-level upstream tests and the requirement each one verifies (cncf-program.md, section c).
TESTS = {
    "TestSecureAcceleratorAccess": "secure_accelerator_access",
    "TestGangScheduling": "gang_scheduling",
    "TestAcceleratorClusterAutoscaling": "cluster_autoscaling",
    "TestRobustCRDControllerOperation": "robust_controller",
    "TestAcceleratorPerformanceMetrics": "accelerator_metrics",
    "TestAIServiceMetrics": "ai_service_metrics",
    "TestAcceleratorDriverRuntimeManagement": "driver_runtime_management",
    "TestWorkloadSandboxing": "workload_sandboxing",
}
_FLAG_LINE = re.compile(r"^\s+-([A-Za-z][\w.-]*)")
# Where tests/tools/build_gotestsum.sh leaves its builds, under the cache root (~/.cache/ai-conformance).
GOTESTSUM_BUILDS = "tools/gotestsum-v*/bin/gotestsum"
BUILTIN_WRITER = "ai_conformance.kubernetes (plugins/module_utils/report/upstream.py junit())"


def defined_flags(usage: str) -> list[str]:
    """Flag names a Go test binary defines, from its ``-help`` usage (``  -name type`` lines),
    without the testing package's own ``test.*`` flags."""
    names = [m.group(1) for m in (_FLAG_LINE.match(line) for line in usage.splitlines()) if m]
    return sorted({n for n in names if not n.startswith("test.")})


def flag_args(flags: dict[str, Any], defined: list[str]) -> tuple[list[str], dict[str, str]]:
    """``-name=value`` for every set flag the binary defines; the others come back with the reason
    they were left out (an older suite lacks them, and an unknown flag aborts the whole run)."""
    args, left_out = [], {}
    for name, value in sorted(flags.items()):
        if value in (None, ""):
            continue
        if name not in defined:
            left_out[name] = "this build of the suite does not define -%s" % name
            continue
        args.append("-%s=%s" % (name, value))
    return args, left_out


def parse_events(text: str) -> list[dict[str, Any]]:
    """The test2json stream, one JSON object a line; a line that is not JSON (a build error printed
    around it) is kept as package output so nothing is lost."""
    events = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            ev = {"Action": "output", "Package": PACKAGE, "Output": line + "\n"}
        if isinstance(ev, dict):
            events.append(ev)
    return events


def tests_from(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """test name (``TestX`` or ``TestX/Sub``) -> {verdict, elapsed, output}."""
    out: dict[str, dict[str, Any]] = {}
    for ev in events:
        name = ev.get("Test")
        if not name:
            continue
        t = out.setdefault(name, {"verdict": "running", "elapsed": 0.0, "output": []})
        action = ev.get("Action")
        if action == "output":
            t["output"].append(ev.get("Output", ""))
        elif action in ("pass", "fail", "skip"):
            t["verdict"] = action
            t["elapsed"] = float(ev.get("Elapsed") or 0.0)
    for t in out.values():
        if t["verdict"] == "running":
            t["verdict"] = "fail"  # the binary died or timed out mid-test
            t["output"].append("(no final event: the test did not finish)\n")
    return out


def e2e_log(events: list[dict[str, Any]]) -> str:
    """What ``go test -v`` printed: the output events in order."""
    return "".join(ev.get("Output", "") for ev in events if ev.get("Action") == "output")


def junit(events: list[dict[str, Any]], suite: str = PACKAGE) -> str:
    """One testsuite, one testcase per test and subtest (the shape vendors attach)."""
    tests = tests_from(events)
    counts = {k: sum(1 for t in tests.values() if t["verdict"] == k) for k in ("fail", "skip")}
    total = sum(t["elapsed"] for n, t in tests.items() if "/" not in n)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<testsuites>",
        '  <testsuite name=%s tests="%d" failures="%d" errors="0" skipped="%d" time="%.3f">'
        % (quoteattr(suite), len(tests), counts["fail"], counts["skip"], total),
    ]
    for name in sorted(tests):
        t = tests[name]
        body = escape("".join(t["output"]))
        lines.append('    <testcase classname=%s name=%s time="%.3f">' % (quoteattr(suite), quoteattr(name), t["elapsed"]))
        if t["verdict"] == "fail":
            lines.append('      <failure message="Failed">%s</failure>' % body)
        elif t["verdict"] == "skip":
            lines.append('      <skipped message="Skipped">%s</skipped>' % body)
        else:
            lines.append("      <system-out>%s</system-out>" % body)
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)


def verdicts(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """requirement -> {test, verdict, failed_subtests} for the top-level tests that ran."""
    tests = tests_from(events)
    out = {}
    for name, rid in TESTS.items():
        if name in tests:
            subs = sorted(n.split("/", 1)[1] for n, t in tests.items() if n.startswith(name + "/") and t["verdict"] == "fail")
            out[rid] = {"test": name, "verdict": tests[name]["verdict"], "failed_subtests": subs}
    return out


def compare(ours: dict[str, str], theirs: dict[str, dict[str, Any]], requirement_ids: list[str], unavailable: str = "") -> list[dict[str, Any]]:
    """One row per requirement: our verdict, the upstream verdict, and whether they disagree.

    Two decided verdicts disagree when one passed and the other failed.  A skip, an error, an
    N/A or a requirement upstream does not cover is not comparable; it is shown, never merged."""
    covered = set(TESTS.values())
    rows = []
    for rid in requirement_ids:
        mine = ours.get(rid, "error")
        up = theirs.get(rid)
        if unavailable:
            upstream, test, note = "not run", "", unavailable
        elif up is None:
            upstream, test = ("not run", "") if rid in covered else ("not covered", "")
            note = "the suite has no test for it" if rid not in covered else "this build of the suite has no such test, or it was not selected"
        else:
            upstream, test = up["verdict"], up["test"]
            note = "failed: %s" % ", ".join(up["failed_subtests"]) if up["failed_subtests"] else ""
        decided = {mine, upstream} <= {"pass", "fail"}
        rows.append({"requirement": rid, "ours": mine, "upstream": upstream, "test": test, "disagree": decided and mine != upstream, "note": note})
    return rows


def _build_version(path: str) -> tuple[int, ...]:
    found = re.search(r"gotestsum-v(\d+(?:\.\d+)*)", path)
    return tuple(int(x) for x in found.group(1).split(".")) if found else ()


def find_gotestsum(choice: str, cache_root: str) -> tuple[str | None, str]:
    """The gotestsum to run the suite through, or None and why not.

    ``choice``: ``auto`` (``gotestsum`` on PATH, else the newest build of tests/tools/build_gotestsum.sh
    under ``cache_root``), ``none`` (the built-in writer), or the path of a gotestsum binary."""
    if choice == "none":
        return None, "gotestsum is turned off (gotestsum: none)"
    if choice != "auto":
        return (choice, "") if os.path.isfile(choice) and os.access(choice, os.X_OK) else (None, "gotestsum %s is not an executable file" % choice)
    on_path = shutil.which("gotestsum")
    if on_path:
        return on_path, ""
    builds = [b for b in glob.glob(os.path.join(os.path.expanduser(cache_root), GOTESTSUM_BUILDS)) if os.access(b, os.X_OK)]
    if builds:
        return max(builds, key=_build_version), ""
    return None, "gotestsum is not installed (not on PATH, no build under %s; tests/tools/build_gotestsum.sh builds it)" % os.path.join(cache_root, "tools")


def gotestsum_version(gotestsum: str) -> str:
    """``v1.13.0`` from ``gotestsum --version``; empty when it cannot say."""
    try:
        res = subprocess.run([gotestsum, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return ""
    found = re.search(r"v\d+\.\d+\.\d+\S*", res.stdout)
    return found.group(0) if found else ""


def through_gotestsum(gotestsum: str, json_path: str, junit_path: str, command: list[str]) -> list[str]:
    """``command`` (which prints a test2json stream) run by gotestsum, which writes the stream to
    ``json_path`` and JUnit to ``junit_path`` and prints what ``go test -v`` would."""
    return [gotestsum, "--raw-command", "--format", "standard-verbose", "--jsonfile", json_path, "--junitfile", junit_path, "--"] + command
