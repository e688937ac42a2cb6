#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: conformance_summary
short_description: Turn probe results into one row per checklist requirement
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Takes the results the probe modules returned and the checklist version, and returns one row per
    requirement of that checklist in checklist order, with the PRODUCT.yaml status and notes that
    follow from each verdict, the owning layer, and a summary.
  - A requirement without a result gets an explicit C(error) row saying no probe ran for it. A
    malformed result becomes an C(error) row naming what is wrong. Nothing is silently left out.
  - A partial pass (verdict C(pass) with checks not decided, listed in the result's
    C(undecided_checks)) is counted as a pass and also apart, in C(partial_pass_count) and
    C(partial_passes) of RV(summary); its row's C(verdict_label) gives the number of checks not
    decided.
  - A pass that is not proven in full (checks not decided, or no negative case proven refused) gets
    the PRODUCT.yaml status C(Partially Implemented), unless O(accept_partial) is set.
  - Results for requirements the version no longer lists (C(dra_support) from v1.36 on) are
    returned as RV(extras), not as rows, and are not counted in RV(summary) (its C(extras) names them
    apart). The C(line) of RV(summary) says the counts in one line; the progress callback prints the same line,
    so the run's screen and the bundle count the same requirements.
  - Tokens, certificates, key material and cloud account ids are redacted from the returned results.
  - Pure computation; talks to no cluster.
options:
  results:
    description: Probe results (the C(result) each probe module returns).
    type: list
    elements: dict
    default: []
  version:
    description: Checklist version, for example V(v1.37).
    type: str
    default: v1.37
  owners:
    description: Owning layer per requirement id (platform, product or base), overriding what the results say.
    type: dict
    default: {}
  run_id:
    description: Run id recorded on rows for requirements without a result.
    type: str
    default: ""
  secrets:
    description: Additional literal strings (tokens from the inventory) to redact wherever they appear.
    type: list
    elements: str
    default: []
  upstream:
    description: The result of M(ai_conformance.kubernetes.upstream_suite); its verdicts are put beside ours per requirement.
    type: dict
  accept_partial:
    description:
      - Keep the PRODUCT.yaml status C(Implemented) for a pass that is not proven in full (checks
        not decided, or no negative case proven refused); its notes then say that the submitter
        accepted it and what was not proven.
      - When false, such a pass gets C(Partially Implemented), with the same facts in its notes.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""

EXAMPLES = r"""
- name: Summarise the results of this run
  ai_conformance.kubernetes.conformance_summary:
    results: "{{ conformance_results }}"
    version: v1.37
    owners: {secure_accelerator_access: base}
  register: summary

- name: Fail when a MUST failed or could not be decided
  ansible.builtin.assert:
    that: summary.summary.must_failed_or_error | length == 0
"""

RETURN = r"""
version:
  description: Normalised checklist version.
  returned: always
  type: str
  sample: v1.37
metadata_keys:
  description: The metadata keys of that version's official PRODUCT.yaml template.
  returned: always
  type: list
  elements: str
  sample: [kubernetesVersion, platformName]
header:
  description: The comment header of that version's official template.
  returned: always
  type: str
  sample: "# Kubernetes AI Conformance Checklist - v1.37"
categories:
  description: The checklist categories in template order.
  returned: always
  type: list
  elements: str
  sample: [accelerators, networking]
rows:
  description: One row per requirement, in checklist order.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: gang_scheduling, category: schedulingOrchestration, level: MUST, verdict: pass, verdict_label: pass, partial: false,
       undecided_checks: [], accepted_partial: false, status_rule: "pass with every check decided and a negative case refused: Implemented",
       status: Implemented, owner: platform, reason: gang placed whole, notes: gang placed whole, evidence_file: evidence/gang_scheduling.md,
       description: "...", result: {}}
extras:
  description: Rows for probed requirements that the version does not list.
  returned: always
  type: list
  elements: dict
  sample: []
problems:
  description: Inconsistencies in the input (malformed, duplicated or unknown results).
  returned: always
  type: list
  elements: str
  sample: ["two results for dra_support: the later one is used"]
upstream:
  description: The upstream suite beside our verdicts (ran, unavailable, rows with ours, upstream, test and disagree, disagreements).
  returned: always
  type: dict
  sample: {ran: false, unavailable: the upstream suite phase was not run, rows: [], disagreements: []}
summary:
  description:
    - Counts by verdict (a partial pass counts as a pass), the MUST requirements that failed or errored, and whether every MUST
      passed or is N/A.
    - C(partial_pass_count) and C(partial_passes) count the partial passes apart, C(must_partial) names the MUST ones,
      C(not_proven) the passes PRODUCT.yaml does not claim Implemented, C(accepted_partial) those O(accept_partial) kept Implemented.
    - Only the checklist's own requirements are counted. C(extras) maps each extra (a requirement the version does not
      list) to its verdict; C(line) is the counts and the extras in one line.
  returned: always
  type: dict
  sample: {total: 15, counts: {pass: 1, fail: 0, skip: 0, not_applicable: 0, error: 14}, must_failed_or_error: [ai_inference],
           partial_pass_count: 1, partial_passes: [secure_accelerator_access], must_partial: [secure_accelerator_access],
           not_proven: [secure_accelerator_access], accepted_partial: [], conformant: false, extras: {dra_support: pass},
           line: "15 requirement(s) of checklist v1.37: pass 1, fail 0, error 14, skip 0, not_applicable 0; extra, not counted: dra_support pass"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.catalog import UnknownVersion
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.evidence import build_rows

# The order verdicts are counted in, on the bundle's line and the progress callback's.
VERDICTS = ("pass", "fail", "error", "skip", "not_applicable")


def with_totals(out):
    """Add ``extras`` and ``line`` to the summary of ``build_rows``'s output (and return it): the
    counts cover the checklist's own requirements only, the extras are named apart.  The progress
    callback calls this too, so the run's final table and the bundle say the same totals."""
    summary = out["summary"]
    summary["extras"] = {r["id"]: r["verdict_label"] for r in out["extras"]}
    partial = summary.get("partial_pass_count") or 0
    summary["line"] = "%d requirement(s) of checklist %s: %s%s%s" % (
        summary["total"],
        out["version"],
        ", ".join("%s %d" % (v, summary["counts"].get(v, 0)) for v in VERDICTS),
        " (of the passes, %d partial: checks not decided)" % partial if partial else "",
        "; extra, not counted: %s" % ", ".join("%s %s" % kv for kv in summary["extras"].items()) if summary["extras"] else "",
    )
    return out


def main():
    module = AnsibleModule(
        argument_spec={
            "results": {"type": "list", "elements": "dict", "default": []},
            "version": {"type": "str", "default": "v1.37"},
            "owners": {"type": "dict", "default": {}},
            "run_id": {"type": "str", "default": ""},
            "secrets": {"type": "list", "elements": "str", "default": [], "no_log": True},
            "upstream": {"type": "dict"},
            "accept_partial": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    bad_owner = {k: v for k, v in p["owners"].items() if v not in registry.OWNERS}
    if bad_owner:
        module.fail_json(msg="owners must map requirement ids to %s; got %s" % (", ".join(registry.OWNERS[:-1]) + " or " + registry.OWNERS[-1], bad_owner))
    try:
        out = build_rows(p["results"], p["version"], p["owners"], p["run_id"], p["secrets"], p["upstream"], p["accept_partial"])
    except UnknownVersion as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **with_totals(out))


if __name__ == "__main__":
    main()
