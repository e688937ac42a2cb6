# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the CNCF k8s-ai-conformance PR validator reads, per checklist version.

``VERSION_TABLE`` maps each checklist version to the rule set of the ``scripts/validate.go``
revision that checks a PRODUCT.yaml of that version; each rule names its source.  The test
artifacts the newest rule set parses (``junit.xml``, ``results.json`` as ``go test -json``,
``e2e.log``) are read here, and the test name each requirement is checked under is defined here, so
the pre-flight (preflight.py) and the evidence writer (evidence.py) share one definition.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

# Sources of the rules (summarised in shared/reference/cncf-program.md, section b):
# - cncf/k8s-ai-conformance scripts/validate.go at b2c89690 (2026-08-19, main of the mirror):
#   metadata, k8sConformanceUrl, statuses, every MUST Implemented, N/A notes, evidence files
#   looked up literally relative to PRODUCT.yaml.
SOURCE_B2C = "cncf/k8s-ai-conformance scripts/validate.go @ b2c89690 (2026-08-19)"
# - the same file at 122012f2 (stored index, newer than b2c89690): productLogoUrl must be an SVG,
#   EPS or AI file; HTTP 429 counts as reachable.  Not version-gated: it applies to every version.
SOURCE_122 = "cncf/k8s-ai-conformance scripts/validate.go @ 122012f2 (newer than b2c89690)"
# - the later revision for v1.37+ (stored index 2026-12; not yet on the mirror's main of
#   2026-08-19; cncf-program.md section b, "Newest validator for v1.37+"): test artifacts parsed,
#   any failing test in a cited artifact rejected, the #Fragment or auto-tested test must exist
#   and pass (skipped behind Implemented rejected), evidence paths resolved inside the product
#   directory (file://, #..., a leading / and the product's own vX.Y/<dir>/ stripped),
#   cluster_autoscaling may be N/A with a warning.
SOURCE_V137 = "cncf/k8s-ai-conformance scripts/validate.go, revision for v1.37+ (stored index 2026-12)"
# - the written guidance the validator does not enforce: the metadata table of instructions.md.
SOURCE_INSTRUCTIONS = "cncf/k8s-ai-conformance instructions.md (the metadata table)"
# What can be decided about an address offline: names that never resolve in the public DNS, or
# resolve to the validator's own machine (RFC 2606 section 2, RFC 6761 section 6), the names kept for
# documentation (RFC 2606 section 3), and addresses that are not globally reachable (the IANA
# special-purpose address registries, as Python's ipaddress knows them).
SOURCE_NAMES = "RFC 2606, RFC 6761 (reserved names), IANA special-purpose address registries"

# Files the v1.37+ rules parse as test artifacts, by file name; any other cited file is plain evidence.
ARTIFACT_NAMES = ("junit.xml", "results.json", "e2e.log")
# The test checked for an item that cites an artifact without a #Fragment (v1.37+).
AUTO_TESTED = {
    "secure_accelerator_access": "TestSecureAcceleratorAccess",
    "gang_scheduling": "TestGangScheduling",
    "cluster_autoscaling": "TestAcceleratorClusterAutoscaling",
}
_ACRONYMS = {"ai": "AI", "dra": "DRA", "gpu": "GPU"}

# What the validator does about a finding: rejects the PR, prints a warning, accepts it, or
# unchecked (it needs the network: URLs, the CNCF member list).
REJECTS, WARNS, ACCEPTS, UNCHECKED = "rejects", "warns", "accepts", "unchecked"

# Every rule the pre-flight applies, what the validator does about it, and where the rule comes from.
COMMON_RULES = [
    ("path-version", "the path has no vX.Y/ (the schema is chosen from it), or it disagrees with the version checked", SOURCE_B2C),
    ("metadata", "a field other than repoUrl is missing, null or empty (camelCase or snake_case keys)", SOURCE_B2C),
    ("metadata-type", "a metadata value is not a string", SOURCE_B2C),
    ("placeholder", "a metadata value is still [...]", SOURCE_B2C),
    ("k8s-conformance-url", "k8sConformanceUrl is missing or not https://github.com/cncf/k8s-conformance/tree/(main|master)/vX.Y/<product>", SOURCE_B2C),
    ("product-logo", "productLogoUrl is an http(s) URL that does not end in .svg, .eps or .ai", SOURCE_122),
    (
        "url-reserved-host",
        "an http(s) value (metadata or evidence) whose host never answers the validator's request: a reserved name (.invalid, "
        ".test, .example, localhost, .localhost) or an address that is not globally reachable (private, loopback, link-local); "
        "decided offline (%s)" % SOURCE_NAMES,
        SOURCE_122,
    ),
    (
        "url-malformed",
        "a value the validator requests (a metadata value that starts with http, an evidence entry that starts with http:// or https://) "
        "is not an http(s) URL with a host: the request fails",
        SOURCE_122,
    ),
    (
        "url-reachable",
        "an http(s) URL answers 400 or more (429 counts as reachable); needs the network. A host kept for documentation "
        "(example.com, .net, .org) is flagged as a placeholder against the guidance",
        SOURCE_122,
    ),
    (
        "cncf-member",
        "vendorName is not exactly a CNCF member of the landscape; needs the member list, except a placeholder name "
        "(one that contains 'example'), rejected offline",
        SOURCE_B2C,
    ),
    ("url-not-http", "accepted: a websiteUrl, repoUrl, documentationUrl or productLogoUrl that does not start with http is never requested", SOURCE_122),
    ("contact-email", "accepted: contactEmailAddress is not checked; flagged when it is not an address or its domain never receives mail", SOURCE_INSTRUCTIONS),
    ("spec", "a category of the checklist is missing", SOURCE_B2C),
    ("requirement", "a requirement of the checklist is missing (extra ids are ignored)", SOURCE_B2C),
    ("status", "a status outside the four allowed; a SHOULD with empty status and evidence is skipped", SOURCE_B2C),
    ("na-notes", "N/A without notes", SOURCE_B2C),
    ("evidence-type", "evidence is not a list of strings (the file fails to load)", SOURCE_B2C),
]
LEGACY_RULES = [
    ("must-implemented", "a MUST is anything but Implemented (N/A included)", SOURCE_B2C),
    ("evidence-file", "an evidence entry that is not an http(s) URL is not a file of that literal name relative to PRODUCT.yaml", SOURCE_B2C),
    ("evidence-file-uri", "a file://...#Test entry is looked up as a file of that literal name", SOURCE_B2C),
]
V137_RULES = [
    ("must-implemented", "a MUST is anything but Implemented; only cluster_autoscaling may be N/A", SOURCE_V137),
    ("conditional-na", "cluster_autoscaling (a MUST) is N/A: a warning, not a rejection", SOURCE_V137),
    ("evidence-path", "an evidence path (file://, #..., a leading / and the product's own vX.Y/<dir>/ stripped) leaves the product directory", SOURCE_V137),
    ("evidence-file", "an evidence path, so resolved, is not a file", SOURCE_V137),
    ("test-artifact-invalid", "a cited junit.xml, results.json or e2e.log cannot be read in its format (results.json must be go test -json)", SOURCE_V137),
    ("test-artifact-failure", "a cited test artifact holds any failing test (<failure>, <error>, a fail event, --- FAIL, a package-level FAIL)", SOURCE_V137),
    ("test-missing", "the item's test (its #Fragment, else the auto-tested name) is not in the cited artifact", SOURCE_V137),
    ("test-failed", "the item's test failed in the cited artifact", SOURCE_V137),
    ("test-skipped", "the item's test is skipped behind an Implemented item", SOURCE_V137),
    ("auto-tested-no-artifact", "an Implemented auto-tested item cites no test artifact: a warning", SOURCE_V137),
]

RULESETS: dict[str, dict[str, Any]] = {
    "legacy": {"name": "legacy", "source": SOURCE_B2C, "artifacts": False, "na_musts": (), "rules": COMMON_RULES + LEGACY_RULES},
    "v1.37": {"name": "v1.37", "source": SOURCE_V137, "artifacts": True, "na_musts": ("cluster_autoscaling",), "rules": COMMON_RULES + V137_RULES},
}
# Checklist version -> rule set.  A version newer than the table gets the newest rule set.
VERSION_TABLE = {"v1.33": "legacy", "v1.34": "legacy", "v1.35": "legacy", "v1.36": "legacy", "v1.37": "v1.37"}


def finding(rule: str, where: str, message: str, validator: str, guidance: str = "", advice: str = "") -> dict[str, str]:
    return {"rule": rule, "where": where, "message": message, "validator": validator, "guidance": guidance, "advice": advice}


def is_url(value: str) -> bool:
    return value.startswith("http://") or value.startswith("https://")


class ArtifactError(ValueError):
    """A cited test artifact that cannot be read in its format ("Invalid test artifact")."""


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.lstrip("v").split("."))


def ruleset(version: str) -> dict[str, Any]:
    """The rule set a PRODUCT.yaml of checklist ``version`` (vX.Y) is validated with."""
    name = VERSION_TABLE.get(version)
    if name is None:
        newest = max(VERSION_TABLE, key=_vkey)
        name = VERSION_TABLE[newest] if _vkey(version) > _vkey(newest) else "legacy"
    return RULESETS[name]


def rules_applied(version: str) -> list[dict[str, str]]:
    return [{"rule": r, "when": text, "source": src} for r, text, src in ruleset(version)["rules"]]


def case_name(rid: str) -> str:
    """The name our test case of a requirement carries: the validator's auto-tested name where it
    has one (secure_accelerator_access -> TestSecureAcceleratorAccess), else Test + CamelCase."""
    return AUTO_TESTED.get(rid) or "Test" + "".join(_ACRONYMS.get(p, p.capitalize()) for p in rid.split("_"))


def is_artifact(path: str) -> bool:
    return os.path.basename(path) in ARTIFACT_NAMES


# --- evidence paths (v1.37+) ---
_OTHER_PRODUCT = re.compile(r"^v\d+\.\d+/[^/]+/")


def split_evidence(link: str, path_version: str | None, product_name: str) -> tuple[str, str]:
    """(relative path, fragment) of a non-URL evidence entry, the way the v1.37+ rules read it."""
    rel = link[len("file://") :] if link.startswith("file://") else link
    rel, frag = rel.split("#", 1) if "#" in rel else (rel, "")
    rel = rel.lstrip("/")
    own = "%s/%s/" % (path_version, product_name) if path_version else None
    if own and rel.startswith(own):
        rel = rel[len(own) :]
    return rel, frag


def outside(rel: str, product_dir: str) -> str:
    """Why ``rel`` does not resolve inside the product directory, or ''."""
    if _OTHER_PRODUCT.match(rel):
        return "it points into another product's directory"
    root = os.path.normpath(product_dir)
    full = os.path.normpath(os.path.join(root, rel))
    if full != root and not full.startswith(root + os.sep):
        return "it resolves outside the product directory"
    return ""


# --- test artifacts: name -> verdict (pass, fail, skip); package-level failures under "" ---
def read_artifact(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    name = os.path.basename(path)
    if name == "junit.xml":
        return parse_junit(text)
    if name == "results.json":
        return parse_go_test_json(text)
    return parse_e2e_log(text)


def parse_junit(text: str) -> dict[str, str]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ArtifactError("not well-formed XML (%s)" % exc)
    if root.tag not in ("testsuites", "testsuite"):
        raise ArtifactError("the root element is <%s>, not <testsuites> or <testsuite>" % root.tag)
    out: dict[str, str] = {}
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        if suite.find("failure") is not None or suite.find("error") is not None:
            out[""] = "fail"
        for case in suite.findall("testcase"):
            name = case.get("name") or ""
            if case.find("failure") is not None or case.find("error") is not None:
                verdict = "fail"
            elif case.find("skipped") is not None:
                verdict = "skip"
            else:
                verdict = "pass"
            out[name] = "fail" if out.get(name) == "fail" else verdict
    return out


def parse_go_test_json(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    started: set[str] = set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            raise ArtifactError("not a go test -json event stream: line %d is not a JSON event" % n)
        if not isinstance(ev, dict) or "Action" not in ev:
            raise ArtifactError("not a go test -json event stream: line %d has no Action" % n)
        test, action = ev.get("Test") or "", ev.get("Action")
        if action == "run" and test:
            started.add(test)
        if action in ("pass", "fail", "skip"):
            if test or action == "fail":
                out[test] = action
    for test in started - set(out):
        out[test] = "fail"  # no final event: the test did not finish
    return out


_E2E_LINE = re.compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+)")
_E2E_PKG_FAIL = re.compile(r"^FAIL(\s|$)")


def parse_e2e_log(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _E2E_LINE.match(line)
        if m:
            out[m.group(2)] = m.group(1).lower()
        elif _E2E_PKG_FAIL.match(line):
            out[""] = "fail"
    return out


def failing(tests: dict[str, str]) -> list[str]:
    return sorted(("(package)" if n == "" else n) for n, v in tests.items() if v == "fail")
