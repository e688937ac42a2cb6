#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: render_report
short_description: Write report.html and ctrf-report.json of an evidence bundle from its results.json
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Reads C(results.json) of an evidence bundle (written by the C(ai_conformance.kubernetes.evidence) role) and
    writes beside it C(report.html), a page to look at, and C(ctrf-report.json), the same results in the Common Test
    Report Format (U(https://ctrf.io)) that CI systems read.
  - "C(report.html) is self-contained: inline CSS and inline SVG, no script, no font, no external resource; its
    Content-Security-Policy forbids loading any. It holds the requirement table (verdict, partial passes, level,
    owner, PRODUCT.yaml status, reason, checks not decided, start and duration), the checks not decided, the probe
    timeline, the plots and a link to every file of the bundle."
  - "Plots (matplotlib, as inline SVG): the probe timeline and per-probe durations (each result's C(started) and
    C(duration_s)); the HPA's replicas over time (hpa_probe C(replica_changes)); measured traffic against what was
    declared (gateway_check C(split) against the route weights, inference_pool_probe C(choice),
    disaggregated_inference_probe C(counters)); the autoscaled pool's GPU node count at the moments
    autoscaler_probe measured. A plot whose observations are absent says C(no data recorded) and why; nothing is
    drawn that was not recorded."
  - "C(ctrf-report.json): one test per checklist requirement, as C(junit.xml) has them. C(pass) is C(passed);
    C(fail) and C(error) (the probe could not decide) are C(failed); C(skip) and C(not_applicable) are C(skipped).
    Each test keeps the verdict in C(rawStatus), and the level, owner, category and checks not decided in C(labels)."
  - Without the Python library matplotlib the page is written without plots, each saying why, and the module warns.
  - Talks to no cluster. The output is deterministic, so an unchanged results.json reports no change.
options:
  path:
    description: The evidence bundle directory, holding C(results.json).
    type: path
    required: true
  html:
    description: Write C(report.html).
    type: bool
    default: true
  ctrf:
    description: Write C(ctrf-report.json).
    type: bool
    default: true
  later_files:
    description:
      - Files, relative to O(path), that the caller writes into the bundle after this module (C(SHA256SUMS)). The page
        links them although they do not exist yet.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
requirements:
  - matplotlib (for the plots; the page is written without them when it is missing)
"""

EXAMPLES = r"""
- name: Write report.html and ctrf-report.json beside results.json
  ai_conformance.kubernetes.render_report:
    path: evidence-out/v1.37/my-platform
    later_files: [SHA256SUMS]
    mode: "0644"
  register: report

- name: Show which plots had data
  ansible.builtin.debug:
    msg: "{{ report.plots }}"

- name: Only the CTRF file, for a CI system
  ai_conformance.kubernetes.render_report:
    path: evidence-out/v1.37/my-platform
    html: false
"""

RETURN = r"""
html:
  description: Path of report.html, or null when O(html) is false.
  returned: always
  type: str
  sample: evidence-out/v1.37/my-platform/report.html
ctrf:
  description: Path of ctrf-report.json, or null when O(ctrf) is false.
  returned: always
  type: str
  sample: evidence-out/v1.37/my-platform/ctrf-report.json
plots:
  description: Per plot (timeline, durations, hpa, traffic, autoscaler), the number of data points drawn, or why none was (C(missing)).
  returned: always
  type: dict
  sample: {timeline: {points: 16}, hpa: {points: 3}, autoscaler: {missing: "no data recorded: ..."}}
summary:
  description: The CTRF summary (tests, passed, failed, skipped, pending, other, start and stop in ms since the epoch).
  returned: always
  type: dict
  sample: {tests: 16, passed: 15, failed: 0, skipped: 1, pending: 0, other: 0, start: 1796239078000, stop: 1796239163034}
msg:
  description: What was written.
  returned: always
  type: str
  sample: "report.html (5 plots, 1 without data) and ctrf-report.json for 16 requirements"
"""

import json
import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog, outfile
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import report as rp
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import report_html
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.report_plots import HAS_MATPLOTLIB, MISSING_MATPLOTLIB


def write(module, dest, text):
    return outfile.write_if_changed(module, dest, text, prefix=".render_report-")


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "html": {"type": "bool", "default": True},
            "ctrf": {"type": "bool", "default": True},
            "later_files": {"type": "list", "elements": "str", "default": []},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    p = module.params
    if not os.path.isdir(p["path"]):
        module.fail_json(msg="%s is not a directory (the evidence bundle holding results.json)" % p["path"])
    try:
        built = rp.build(rp.load_results(os.path.join(p["path"], "results.json")))
    except (rp.ReportInputError, catalog.UnknownVersion) as exc:
        module.fail_json(msg=str(exc))
    rows = built["rows"] + built["extras"]
    doc = rp.ctrf(built, rp.timeline(rows))
    changed = False
    out = {"html": None, "ctrf": None, "plots": {}, "summary": doc["results"]["summary"]}
    written = []
    if p["ctrf"]:
        out["ctrf"] = os.path.join(p["path"], rp.CTRF_NAME)
        changed = write(module, out["ctrf"], json.dumps(doc, indent=2, sort_keys=True) + "\n") or changed
        written.append(rp.CTRF_NAME)
    if p["html"]:
        if not HAS_MATPLOTLIB:
            module.warn("%s (Python %s)" % (MISSING_MATPLOTLIB, sys.executable))
        also = list(p["later_files"]) + ([rp.CTRF_NAME] if p["ctrf"] else [])
        page, out["plots"] = report_html.render(built, rp.bundle_files(p["path"], also))
        out["html"] = os.path.join(p["path"], rp.HTML_NAME)
        changed = write(module, out["html"], page) or changed
        empty = sum(1 for v in out["plots"].values() if "missing" in v)
        written.insert(0, "%s (%d plots, %d without data)" % (rp.HTML_NAME, len(out["plots"]), empty))
    what = " and ".join(written) or "nothing (html and ctrf are both false)"
    module.exit_json(changed=changed, msg="%s for %d requirements" % (what, len(built["rows"])), **out)


if __name__ == "__main__":
    main()
