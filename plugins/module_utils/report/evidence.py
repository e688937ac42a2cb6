# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From probe results to the rows of the evidence bundle.

Every requirement of the chosen checklist gets exactly one row, in checklist order.  A requirement
with no result (no probe ran, or a probe crashed before returning) gets an explicit ``error``
verdict saying so: the bundle never has a silent gap.  Requirements a version dropped but this
collection still probes (dra_support from v1.36 on) are reported as extras, never as rows.

What PRODUCT.yaml cites for each item (``evidence``) is decided here, by the CNCF validator's rules
of the version (cncf_validator): the evidence page always; the requirement's own
``junit/<requirement>/junit.xml`` (one test case, named as the validator expects: TestGangScheduling
for gang_scheduling) only when that case passed; the upstream suite's junit.xml only when the
requirement's test passed there and no test in it failed.  So no item cites an artifact holding a
failing, erroring or skipped test, and a failing SHOULD cannot sink a passing MUST.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog, registry
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import (
    has_refused_negative,
    is_partial,
    undecided,
    undecided_of,
    validate_result_dict,
)
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import cncf_validator as cv
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up

# PRODUCT.yaml status for each verdict.  Only a pass may claim "Implemented"; a skip or error
# leaves the status empty with a note, for the vendor to decide (the CNCF validator flags an
# empty MUST, which is the honest outcome of an undecided MUST).
STATUS = {"pass": "Implemented", "fail": "Not Implemented", "not_applicable": "N/A", "skip": "", "error": ""}
# The status of a pass that is not proven in full (some checks not decided, or no negative case
# proven refused) unless the submitter accepts it (evidence_accept_partial).  The checklist format
# offers exactly this value (Implemented, Not Implemented, Partially Implemented, N/A): the item is
# not claimed Implemented, and the CNCF validator rejects a MUST that says so, which is the honest
# outcome of a MUST that was not proven in full.
NOT_PROVEN_STATUS = "Partially Implemented"

_SECRET_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1<redacted>"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), "<redacted-jwt>"),
    (re.compile(r"-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----"), "<redacted-pem>"),
    (
        re.compile(r"(?i)((?:token|password|secret|client-key-data|client-certificate-data|certificate-authority-data)\"?\s*[:=]\s*\"?)[^\s\",}]+"),
        r"\1<redacted>",
    ),
    (re.compile(r"\b(arn:aws:[a-z0-9-]+:[a-z0-9-]*:)\d{12}"), r"\1<account>"),
    (re.compile(r"\b\d{12}\.dkr\.ecr\."), "<account>.dkr.ecr."),
]


def redact(value: Any, extra_secrets: list[str] | None = None) -> Any:
    """Remove tokens, certificates, key material and cloud account ids from any nested value."""
    if isinstance(value, dict):
        return {k: redact(v, extra_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, extra_secrets) for v in value]
    if not isinstance(value, str):
        return value
    out = value
    for secret in extra_secrets or []:
        if secret and len(secret) >= 8:
            out = out.replace(secret, "<redacted>")
    for pat, repl in _SECRET_PATTERNS:
        out = pat.sub(repl, out)
    return out


def missing_result(rid: str, owner: str, run_id: str) -> dict[str, Any]:
    return undecided(rid, owner, run_id, "no result was produced for this requirement: no probe ran for it in this run")


def build_rows(
    results: list[dict[str, Any]],
    version: str,
    owners: dict[str, str] | None = None,
    run_id: str = "",
    extra_secrets: list[str] | None = None,
    upstream: dict[str, Any] | None = None,
    accept_partial: bool = False,
) -> dict[str, Any]:
    """Rows for every requirement of ``version``, extras, problems and the summary.

    ``accept_partial`` (the evidence role's evidence_accept_partial): a pass that is not proven in
    full (undecided checks, or no negative case proven refused) keeps ``Implemented`` in
    PRODUCT.yaml, with the acceptance in its notes; without it such a pass is
    ``Partially Implemented`` (NOT_PROVEN_STATUS)."""
    v = catalog.normalize_version(version)
    owners = owners or {}
    by_id: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for r in results:
        rid = (r or {}).get("requirement", "")
        issues = validate_result_dict(r or {})
        if issues:
            problems.append("result for %r is malformed: %s" % (rid or "?", "; ".join(issues)))
            if rid:
                by_id[rid] = undecided(rid, registry.owner(rid, owners), run_id, "the probe returned a malformed result: %s" % "; ".join(issues))
            continue
        if rid in by_id:
            problems.append("two results for %s: the later one is used" % rid)
        # Every result in the bundle carries its undecided checks (a result written before the key
        # existed gets them from its checks).
        clean = redact(r, extra_secrets)
        by_id[rid] = dict(clean, undecided_checks=undecided_of(clean))
    rows = []
    for req in catalog.requirements(v):
        res = by_id.pop(req.id, None) or missing_result(req.id, registry.owner(req.id, owners), run_id)
        if req.id in owners:
            res = dict(res, owner=owners[req.id])
        rows.append(_row(req.to_dict(), res, accept_partial))
    extras = []
    for rid in registry.extras(v):
        if rid in by_id:
            extras.append(_row({"id": rid, "category": registry.record(rid).category, "level": "extra", "description": ""}, by_id.pop(rid), accept_partial))
    for rid in sorted(by_id):
        problems.append("result for %s is not part of checklist %s and was left out" % (rid, v))
    side = upstream_side(rows, upstream, v)
    for row in rows:
        row["evidence"] = cite(row, v)
    counts = {k: 0 for k in ("pass", "fail", "skip", "not_applicable", "error")}
    for row in rows:
        counts[row["verdict"]] += 1
    must_bad = [r["id"] for r in rows if r["level"] == "MUST" and r["verdict"] in ("fail", "error")]
    partial = [r["id"] for r in rows if r["partial"]]
    return {
        "version": v,
        "metadata_keys": catalog.metadata_keys(v),
        "header": catalog.header(v),
        "categories": list(catalog.CATEGORIES),
        "rows": rows,
        "extras": extras,
        "problems": problems,
        "upstream": side,
        "summary": {
            "total": len(rows),
            "counts": counts,
            "must_failed_or_error": must_bad,
            # Partial passes are counted in counts.pass too (a partial pass is a pass); here they
            # are counted apart.  not_proven: passes PRODUCT.yaml does not claim Implemented.
            "partial_pass_count": len(partial),
            "partial_passes": partial,
            "must_partial": [r["id"] for r in rows if r["partial"] and r["level"] == "MUST"],
            "not_proven": [r["id"] for r in rows if r["verdict"] == "pass" and r["status"] != "Implemented"],
            "accepted_partial": [r["id"] for r in rows if r["accepted_partial"]],
            "conformant": not must_bad and all(r["verdict"] in ("pass", "not_applicable") for r in rows if r["level"] == "MUST"),
        },
    }


def upstream_side(rows: list[dict[str, Any]], upstream: dict[str, Any] | None, version: str = catalog.DEFAULT_VERSION) -> dict[str, Any]:
    """The upstream suite beside our verdicts.  A row whose requirement a test of the suite decided
    names the test and its verdict in the notes, and cites the suite's junit.xml only where the
    CNCF validator accepts it: the test passed and no test of the artifact failed (it rejects any
    failing test in a cited artifact).  From v1.37 the citation names the test as its #Fragment;
    before, the validator looks every entry up as a file name, so it is the plain path."""
    upstream = upstream or {}
    ran = bool(upstream.get("ran")) and not upstream.get("unavailable")
    why = upstream.get("unavailable") or ("" if upstream else "the upstream suite phase was not run")
    table = up.compare({r["id"]: r["verdict"] for r in rows}, upstream.get("verdicts") or {}, [r["id"] for r in rows], unavailable="" if ran else why)
    by_id = {t["requirement"]: t for t in table}
    failed = sorted(n for n, v in (upstream.get("tests") or {}).items() if v == "fail")
    for r in rows:
        t = by_id[r["id"]]
        r["upstream"] = t
        if ran and t["test"]:
            if t["upstream"] != "pass":
                not_cited = "its %s did not pass" % t["test"]
            elif "tests" not in upstream:
                not_cited = "the suite's per-test verdicts were not recorded, so it may hold a failing test"
            elif failed:
                not_cited = "it holds failing tests (%s), which the CNCF validator rejects in any cited artifact" % ", ".join(failed[:3]) + (
                    ", ..." if len(failed) > 3 else ""
                )
            else:
                not_cited = ""
                r["upstream_evidence"] = "upstream/junit.xml" + ("#" + t["test"] if cv.ruleset(version)["artifacts"] else "")
            r["notes"] = "%s Upstream suite: %s %s%s%s." % (
                r["notes"].rstrip("."),
                t["test"],
                t["upstream"],
                " (DISAGREES with this collection's verdict; see upstream/comparison.md)" if t["disagree"] else "",
                "; upstream/junit.xml is not cited: %s" % not_cited if not_cited else "",
            )
    return {
        "ran": ran,
        "unavailable": "" if ran else why,
        "built_from": upstream.get("built_from", ""),
        "junit_writer": upstream.get("junit_writer", ""),
        "flags_used": upstream.get("flags_used", []),
        "flags_left_out": upstream.get("flags_left_out", {}),
        "rows": table,
        "disagreements": [t["requirement"] for t in table if t["disagree"]],
    }


def cite(row: dict[str, Any], version: str) -> list[str]:
    """PRODUCT.yaml's evidence list for a row.  An undecided SHOULD cites nothing (the validator
    skips an item whose status and evidence are both empty).  The requirement's own junit.xml is
    cited only when its one test case passed (a partial pass is a passed case), so a cited artifact
    never holds a failing, erroring or skipped test."""
    if row["status"] == "" and row["level"] == "SHOULD":
        return []
    out = [row["evidence_file"]]
    if row["verdict"] == "pass":
        out.append(row["junit_file"] + ("#" + row["case_name"] if cv.ruleset(version)["artifacts"] else ""))
    if row.get("upstream_evidence"):
        out.append(row["upstream_evidence"])
    return out


def _row(req: dict[str, Any], res: dict[str, Any], accept_partial: bool = False) -> dict[str, Any]:
    verdict = res["verdict"]
    status = STATUS[verdict]
    und = undecided_of(res)
    partial = is_partial(res)
    refused = has_refused_negative(res)
    accepted = False
    label = verdict
    if partial:
        label = "pass (partial: %d undecided)" % len(und)
    elif verdict == "pass" and not refused:
        label = "pass (no negative case refused)"
    if verdict == "pass":
        # (short, full) description of each way the pass is not proven in full.
        gaps = []
        if und:
            listing = "; ".join("%s (%s): %s" % (u["name"], u["kind"], u["detail"]) for u in und)
            gaps.append(("%d check(s) not decided" % len(und), "%d check(s) not decided: %s" % (len(und), listing)))
        if not refused:
            gaps.append(("no negative case refused", "no negative case was proven refused"))
        short = ", ".join(g[0] for g in gaps)
        full = "; ".join(g[1] for g in gaps)
        if not gaps:
            notes = res["reason"]
            rule = "pass with every check decided and a negative case refused: Implemented"
        elif accept_partial:
            accepted = True
            notes = "Accepted as Implemented by the submitter (evidence_accept_partial) although not proven in full: %s. %s" % (full, res["reason"])
            rule = "a pass not proven in full (%s), accepted by the submitter (evidence_accept_partial: true): Implemented" % short
        else:
            status = NOT_PROVEN_STATUS
            notes = "Not proven in full: %s. %s" % (full, res["reason"])
            rule = "a pass not proven in full (%s) is not claimed Implemented without evidence_accept_partial: %s" % (short, NOT_PROVEN_STATUS)
    elif verdict == "not_applicable":
        notes = res["reason"]
        rule = "not_applicable: N/A with the justification in the notes"
    else:
        notes = "%s: %s" % ("Not verified" if verdict in ("skip", "error") else "Failed", res["reason"])
        rule = "fail: Not Implemented" if verdict == "fail" else "%s: status left empty for the vendor to decide" % verdict
    return dict(
        req,
        verdict=verdict,
        verdict_label=label,
        partial=partial,
        undecided_checks=und,
        accepted_partial=accepted,
        status_rule=rule,
        reason=res["reason"],
        owner=res["owner"] if "owner" in res else registry.owner(req["id"]),
        status=status,
        notes=notes,
        evidence_file="evidence/%s.md" % req["id"],
        # Its own junit.xml (the file name the CNCF validator parses), holding only its test case.
        junit_file="junit/%s/junit.xml" % req["id"],
        case_name=cv.case_name(req["id"]),
        result=res,
    )
