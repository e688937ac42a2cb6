# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNCF pre-flight: what the k8s-ai-conformance PR validator would reject in a PRODUCT.yaml.

The rules mirror cncf/k8s-ai-conformance ``scripts/validate.go`` (summarised with its source in
shared/reference/cncf-program.md, section b).  Which revision's rules apply depends on the
checklist version: the table is ``cncf_validator.VERSION_TABLE`` (v1.33 to v1.36: the rules of
validate.go @ b2c89690; v1.37: the newer revision that parses test artifacts), and every rule names
its source in ``cncf_validator``.  The pre-flight adds what the written guidance (instructions,
FAQ, the checklist's own header) asks for where the validator is silent or disagrees.  Each finding
says what the validator does (``rejects``, ``warns``, ``accepts``, ``unchecked`` when it needs the
network) and, where they differ, what the guidance says and what to do.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import os
import re
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog, registry
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import cncf_validator as cv
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.preflight_evidence import NEEDS_ANSWER, check_evidence, metadata_address

# validate.go: metadataFields (repoUrl optional), the version regex, the k8s-conformance URL form.
REQUIRED_METADATA = (
    "kubernetesVersion",
    "platformName",
    "platformVersion",
    "vendorName",
    "websiteUrl",
    "documentationUrl",
    "productLogoUrl",
    "description",
    "contactEmailAddress",
    "k8sConformanceUrl",
)
OPTIONAL_METADATA = ("repoUrl",)
PATH_VERSION = re.compile(r"(?:^|/)(v\d+\.\d+)/")
K8S_CONFORMANCE_URL = re.compile(r"^https://github\.com/cncf/k8s-conformance/tree/(master|main)/v\d+\.\d+/[^/]+/?$")
UNSUPPORTED = re.compile(r"(?i)\b(not supported|unsupported|we don'?t support|does not support)\b")

REJECTS, WARNS, ACCEPTS, UNCHECKED = cv.REJECTS, cv.WARNS, cv.ACCEPTS, cv.UNCHECKED
finding = cv.finding
LOGO_EXTENSIONS = (".svg", ".eps", ".ai")


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def check_metadata(md: Any, version: str, members: list[str] | None) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    if not isinstance(md, dict):
        return [finding("metadata", "metadata", "the 'metadata' section is missing", REJECTS, advice="copy the metadata block of the checklist")]
    template = catalog.metadata_keys(version)
    for field in REQUIRED_METADATA + OPTIONAL_METADATA:
        required = field in REQUIRED_METADATA
        key = field if field in md else snake(field) if snake(field) in md else None
        val = md.get(key) if key else None
        if val is None:
            if not required:
                continue
            if field == "k8sConformanceUrl" and field not in template:
                out.append(
                    finding(
                        "k8s-conformance-url",
                        "metadata.k8sConformanceUrl",
                        "k8sConformanceUrl is missing",
                        REJECTS,
                        guidance="the %s checklist template has no k8sConformanceUrl field" % version,
                        advice="add it anyway: the validator requires it for every version (https://github.com/cncf/k8s-conformance/tree/main/vX.Y/<product>)",
                    )
                )
            else:
                out.append(finding("metadata", "metadata.%s" % field, "required metadata field %s (or %s) is missing" % (field, snake(field)), REJECTS))
            continue
        if not isinstance(val, str):
            out.append(
                finding(
                    "metadata-type",
                    "metadata.%s" % field,
                    "metadata field %s is a %s, not a string" % (field, type(val).__name__),
                    REJECTS,
                    advice='quote the value (e.g. kubernetesVersion: "v1.37")',
                )
            )
            continue
        if not val.strip():
            if required:
                out.append(finding("metadata", "metadata.%s" % field, "metadata field %s is empty" % field, REJECTS))
            continue
        if val.startswith("[") and val.endswith("]"):
            out.append(finding("placeholder", "metadata.%s" % field, "metadata field %s still has the placeholder %s" % (field, val), REJECTS))
            continue
        if field == "k8sConformanceUrl":
            if not K8S_CONFORMANCE_URL.match(val):
                out.append(
                    finding(
                        "k8s-conformance-url",
                        "metadata.k8sConformanceUrl",
                        "k8sConformanceUrl %s is not of the form https://github.com/cncf/k8s-conformance/tree/(main|master)/vX.Y/<product>" % val,
                        REJECTS,
                    )
                )
                continue
            kv = str(md.get("kubernetesVersion") or md.get("kubernetes_version") or "")
            url_v = re.search(r"/(v\d+\.\d+)/", val)
            if kv and url_v and not kv.lstrip("v").startswith(url_v.group(1).lstrip("v")):
                out.append(
                    finding(
                        "k8s-conformance-version",
                        "metadata.k8sConformanceUrl",
                        "k8sConformanceUrl is for %s but kubernetesVersion is %s" % (url_v.group(1), kv),
                        ACCEPTS,
                        guidance="certification is per product and configuration: the base must be conformant at the version certified",
                        advice="point at the k8s-conformance submission of the Kubernetes version in kubernetesVersion",
                    )
                )
        if field == "productLogoUrl" and val.startswith("http") and not val.lower().endswith(LOGO_EXTENSIONS):
            out.append(
                finding(
                    "product-logo",
                    "metadata.productLogoUrl",
                    "productLogoUrl must link to an SVG, EPS, or AI file: %s" % val,
                    REJECTS,
                    advice="link the logo as .svg (the landscape takes SVG only)",
                )
            )
        out += metadata_address(field, val)
    return out + _vendor(md, members)


def _vendor(md: dict[str, Any], members: list[str] | None) -> list[dict[str, str]]:
    """vendorName against the CNCF members: decided when the member list is given; without it only
    a placeholder name is decided (empty and [...] are rejected by the metadata rules already)."""
    raw = md["vendorName"] if "vendorName" in md else md.get("vendor_name")
    vendor = raw.strip() if isinstance(raw, str) else ""
    where, advice = "metadata.vendorName", "use the organisation name exactly as https://landscape.cncf.io/members lists it"
    if not vendor:
        return []
    if members is not None:
        return (
            [] if vendor in members else [finding("cncf-member", where, "vendorName %r is not a CNCF member of the landscape" % vendor, REJECTS, advice=advice)]
        )
    if vendor.startswith("[") and vendor.endswith("]"):
        return []
    if "example" in vendor.lower():
        msg = "vendorName %r is a placeholder (it contains 'example'), not a CNCF member's name; the member list itself was not read" % vendor
        return [finding("cncf-member", where, msg, REJECTS, advice=advice)]
    msg = "vendorName %r must exactly match a CNCF member of the landscape: unchecked, the member list needs the network"
    msg += " (checked offline: not empty, not a [...] placeholder, no 'example' in it)"
    return [finding("cncf-member", where, msg % vendor, UNCHECKED)]


def check_requirement(req: catalog.Requirement, item: dict[str, Any], product_dir: str, ctx: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Findings for one checklist item.  ``ctx``: the rule set (``ruleset``), the version in the
    path (``path_version``) and a cache of parsed test artifacts (``artifacts``); by default the
    legacy rules."""
    ctx = ctx if ctx is not None else {"ruleset": cv.RULESETS["legacy"], "path_version": None, "artifacts": {}}
    rs = ctx["ruleset"]
    out: list[dict[str, str]] = []
    where = "spec.%s.%s" % (req.category, req.id)
    status = item.get("status") or ""
    evidence = item.get("evidence")
    notes = str(item.get("notes") or "")
    if evidence is not None and not (isinstance(evidence, list) and all(isinstance(e, str) for e in evidence)):
        return [
            finding(
                "evidence-type",
                where,
                "evidence is not a list of strings",
                REJECTS,
                advice="write evidence as a YAML list; a single string makes the validator fail to load the file",
            )
        ]
    evidence = [e for e in evidence or [] if e]
    if item.get("description") not in (None, req.description) or item.get("level") not in (None, req.level):
        out.append(
            finding(
                "unchanged",
                where,
                "description or level differs from the %s checklist" % req.level,
                ACCEPTS,
                guidance="id, description and level must be copied unchanged from the checklist",
                advice="copy them from the checklist file of this version",
            )
        )
    if req.level == "SHOULD" and not status and not evidence:
        return out + [finding("should-empty", where, "SHOULD item left empty: the validator skips it", ACCEPTS)]
    if status not in catalog.STATUSES:
        out.append(finding("status", where, "status %r is not one of %s" % (status, ", ".join(catalog.STATUSES)), REJECTS))
    if req.level == "MUST" and status != "Implemented":
        out.append(_must_not_implemented(req, status, where, rs))
    if status == "N/A":
        if not notes.strip():
            out.append(finding("na-notes", where, "N/A without notes", REJECTS, advice="say why the requirement's context does not apply"))
        elif UNSUPPORTED.search(notes):
            out.append(
                finding(
                    "na-justification",
                    where,
                    "the N/A justification says the feature is unsupported",
                    ACCEPTS,
                    guidance="FAQ: the justification cannot be 'we don't support this feature'",
                    advice="explain why the requirement's context does not apply to the platform",
                )
            )
    if req.level == "MUST" and status == "Implemented" and not evidence:
        out.append(
            finding(
                "must-evidence",
                where,
                "MUST requirement without evidence",
                ACCEPTS,
                guidance="instructions: status, evidence and notes must be filled for every MUST",
                advice="cite the evidence file or a public URL",
            )
        )
    return out + check_evidence(req.id, status, evidence, where, product_dir, ctx)


def _must_not_implemented(req: catalog.Requirement, status: str, where: str, rs: dict[str, Any]) -> dict[str, str]:
    if status == "N/A" and req.id in rs["na_musts"]:
        return finding(
            "conditional-na",
            where,
            "MUST requirement %s is N/A: the validator warns (a conditional MUST whose context does not apply)" % req.id,
            WARNS,
            advice="keep the justification in notes; the reviewers read it",
        )
    # A MUST that applies only if the platform has the feature ("If the platform provides/supports ...").
    if status == "N/A" and req.id in registry.conditional_musts():
        return finding(
            "must-implemented",
            where,
            "MUST requirement %s is N/A" % req.id,
            REJECTS,
            guidance="the FAQ allows N/A with a justification when the requirement's context does not apply (e.g. no autoscaler on-prem)",
            advice="keep the justification in notes and raise the N/A with the reviewers (conformance@cncf.io) before the PR: "
            "the validator fails every MUST that is not Implemented%s" % (" (from v1.37 on, cluster_autoscaling excepted)" if rs["na_musts"] else ""),
        )
    if status == "Partially Implemented":
        # What the evidence role writes for a pass not proven in full (checks not decided, or no
        # negative case refused): say how to get it proven, or accepted.
        return finding(
            "must-implemented",
            where,
            "MUST requirement %s has status %r; it must be Implemented" % (req.id, status),
            REJECTS,
            advice="its notes say what was not proven: run the probe where its checks can be decided, "
            "or set evidence_accept_partial: true to submit it as Implemented with that in the notes",
        )
    return finding("must-implemented", where, "MUST requirement %s has status %r; it must be Implemented" % (req.id, status), REJECTS)


def check_product(
    product: Any, path: str, version: str | None = None, members: list[str] | None = None, url_check: Callable[[str], str | None] | None = None
) -> dict[str, Any]:
    """Every finding for one PRODUCT.yaml, and whether the validator would accept it."""
    findings: list[dict[str, str]] = []
    m = PATH_VERSION.search(path.replace(os.sep, "/"))
    path_version = m.group(1) if m else None
    if not path_version:
        findings.append(finding("path-version", path, "the version cannot be read from the path", REJECTS, advice="submit it as vX.Y/<product>/PRODUCT.yaml"))
    chosen = catalog.normalize_version(version or path_version)
    rs = cv.ruleset(chosen)
    if path_version and version and catalog.normalize_version(version) != path_version:
        findings.append(finding("path-version", path, "the path says %s but the product is for %s" % (path_version, chosen), REJECTS))
    if not isinstance(product, dict):
        findings.append(finding("yaml", path, "the file is not a YAML mapping with metadata and spec", REJECTS))
        return summarise(findings, chosen)
    findings += check_metadata(product.get("metadata"), chosen, members)
    spec = product.get("spec")
    if not isinstance(spec, dict):
        findings.append(finding("spec", "spec", "the 'spec' section is missing", REJECTS))
        return summarise(findings, chosen)
    product_dir = os.path.dirname(os.path.abspath(path))
    ctx = {"ruleset": rs, "path_version": path_version, "product_name": os.path.basename(product_dir), "artifacts": {}}
    reqs = catalog.requirements(chosen)
    for cat in sorted({r.category for r in reqs}):
        if not isinstance(spec.get(cat), list):
            findings.append(finding("spec", "spec.%s" % cat, "spec category %s is missing" % cat, REJECTS))
    for req in reqs:
        items = {i.get("id"): i for i in spec.get(req.category) or [] if isinstance(i, dict)}
        if req.id not in items:
            if isinstance(spec.get(req.category), list):
                findings.append(finding("requirement", "spec.%s" % req.category, "requirement %s is missing" % req.id, REJECTS))
            continue
        findings += check_requirement(req, items[req.id], product_dir, ctx)
    known = {r.id for r in reqs}
    for cat, items in sorted(spec.items()):
        for item in items or []:
            if isinstance(item, dict) and item.get("id") not in known:
                findings.append(finding("extra-id", "spec.%s.%s" % (cat, item.get("id")), "not in the %s checklist: ignored" % chosen, ACCEPTS))
    if url_check is not None:
        for f in findings:
            if f["rule"] == "url-reachable":
                url = f["message"].split(" ", 1)[0]
                err = url_check(url)
                f["validator"] = REJECTS if err else ACCEPTS
                f["message"] = "%s: %s" % (url, err or "reachable")
    return summarise(findings, chosen)


def summarise(findings: list[dict[str, str]], version: str) -> dict[str, Any]:
    rejected = [f for f in findings if f["validator"] == REJECTS]
    rs = cv.ruleset(version)
    return {
        "version": version,
        # The rule set applied (cncf_validator.VERSION_TABLE) and each rule with its source.
        "ruleset": {"name": rs["name"], "source": rs["source"]},
        "rules": cv.rules_applied(version),
        "findings": findings,
        "would_reject": bool(rejected),
        "rejections": len(rejected),
        "validator_warnings": [f for f in findings if f["validator"] == WARNS],
        # Every finding that carries guidance is a place where the validator and the written
        # guidance disagree (it rejects what they allow, or accepts what they forbid).
        "conflicts": [f for f in findings if f["guidance"]],
        "unchecked": [f for f in findings if f["validator"] == UNCHECKED],
        # The same verdict, metadata apart from the rest (the spec: statuses, notes, evidence, test
        # artifacts; and the file's path): what the probes decide is kept apart from what was typed in.
        "sections": {part: _section([f for f in findings if _part(f) == part], limit) for part, limit in (("evidence", 5), ("metadata", 0))},
    }


def _part(f: dict[str, str]) -> str:
    return "metadata" if f["where"] == "metadata" or f["where"].startswith("metadata.") else "evidence"


def _label(f: dict[str, str], open_only: bool = False) -> str:
    """A finding's message without the validator's rule (the finding has it), prefixed with the field
    or requirement it is about when it does not name it; ``open_only``: what a check that needs the
    network leaves open."""
    where = f["where"]
    subject = where.split(".", 1)[1] if where.startswith("metadata.") else where.rsplit(".", 1)[1] if where.startswith("spec.") else where
    if open_only and f["rule"] == "url-reachable":
        return "%s %s (reachability)" % (subject, f["message"].split(" ", 1)[0])
    if open_only and f["rule"] == "cncf-member":
        return "%s (CNCF membership)" % subject
    msg = f["message"].replace(NEEDS_ANSWER, "")
    return msg if subject in msg else "%s: %s" % (subject, msg)


def _join(items: list[str], limit: int) -> str:
    more = len(items) - limit if limit else 0
    return "; ".join(items[:limit] if more > 0 else items) + (" and %d more" % more if more > 0 else "")


def _section(findings: list[dict[str, str]], limit: int) -> dict[str, Any]:
    """One part's verdict: what the validator rejects, what it lets through against the written
    guidance, and what needs the network; ``verdict`` says all three in one line."""
    rejected = [_label(f) for f in findings if f["validator"] == REJECTS]
    conflicts = [_label(f) for f in findings if f["guidance"] and f["validator"] != REJECTS]
    unchecked = [_label(f, open_only=True) for f in findings if f["validator"] == UNCHECKED]
    line = ["rejected: " + _join(rejected, limit) if rejected else "nothing the validator would reject"]
    if conflicts:
        line.append("not rejected by the validator, against the written guidance: " + _join(conflicts, limit))
    if unchecked:
        line.append("unchecked (needs the network): " + _join(unchecked, limit))
    return {
        "would_reject": bool(rejected),
        "rejections": len(rejected),
        "rejected": rejected,
        "conflicts": conflicts,
        "unchecked": unchecked,
        "verdict": " | ".join(line),
    }
