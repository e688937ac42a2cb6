# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNCF pre-flight of one item's evidence list, by the rule set of its checklist version.

Legacy rules (v1.33 to v1.36, validate.go @ b2c89690): an entry that is not an http(s) URL must be a
file of that literal name relative to PRODUCT.yaml, so ``file://...#Test`` is not found.

v1.37 rules (the validator's revision for v1.37+, cncf_validator.SOURCE_V137): ``file://``, the
``#Fragment``, a leading ``/`` and the product's own ``vX.Y/<dir>/`` are stripped and the rest must
be a file inside the product directory; a cited ``junit.xml``, ``results.json`` (``go test -json``)
or ``e2e.log`` is parsed: it must be readable in its format and hold no failing test, and the item's
test (its ``#Fragment``, else the auto-tested name) must be in it and pass, and must not be skipped
behind an Implemented item.  An Implemented auto-tested item that cites no test artifact is a
warning.  The name check is made in every artifact cited, each on its own.

Addresses, for the evidence and the metadata (preflight.py) alike: what can be decided offline about
an http(s) value the validator requests (its host never answers: a reserved name of RFC 2606/6761 or
an address that is not globally reachable), about a metadata value that should be a URL, and about
the contact address the written guidance asks for; everything else about a URL needs the network.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import cncf_validator as cv

_MAX_NAMES = 5
URL_FIELDS = ("websiteUrl", "repoUrl", "documentationUrl", "productLogoUrl")
NEVER_RESOLVES = {"invalid": "RFC 6761", "test": "RFC 6761", "example": "RFC 2606"}
DOCUMENTATION_DOMAINS = ("example.com", "example.net", "example.org")
URL_UNCHECKED = "%s must answer below 400 (HEAD, then GET, 30 s): unchecked, it needs the network"
NEEDS_ANSWER = "; the validator requests every http(s) value and needs an answer below 400"


def host_of(url: str) -> str:
    """The host of an http(s) URL ('' when there is none), lower case, without a trailing dot."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".") if parts.scheme in ("http", "https") else ""


def reserved_host(host: str) -> str:
    """Why ``host`` never answers a request from the validator's CI machine, or ''."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if ip.is_global:
            return ""
        kinds = (("loopback", ip.is_loopback), ("link-local", ip.is_link_local), ("unspecified", ip.is_unspecified), ("private", ip.is_private))
        kind = next((k for k, yes in kinds if yes), "not globally routable")
        return "%s is a %s address, not reachable from the validator's CI machine" % (host, kind)
    if host == "localhost" or host.endswith(".localhost"):
        return "%s is the requesting machine itself (RFC 6761), where nothing serves the product" % host
    tld = host.rsplit(".", 1)[-1]
    if tld in NEVER_RESOLVES:
        return "%s is a reserved name (.%s, %s) that never resolves" % (host, tld, NEVER_RESOLVES[tld])
    return ""


def documentation_host(host: str) -> bool:
    return any(host == d or host.endswith("." + d) for d in DOCUMENTATION_DOMAINS)


def url_finding(url: str, where: str, field: str = "") -> dict[str, str]:
    """The finding for an http(s) value the validator requests: rejected when its host can never
    answer, else unchecked (it needs the network); a documentation name is flagged as a placeholder."""
    host, subject = host_of(url), ("%s %s" % (field, url)).strip()
    if not host:
        msg = "%s is not an http(s) URL with a host: the validator requests it, and the request fails" % subject
        return cv.finding("url-malformed", where, msg, cv.REJECTS, advice="write it as https://<host>/<path>")
    why = reserved_host(host)
    if why:
        return cv.finding(
            "url-reserved-host",
            where,
            "%s never answers: %s%s" % (subject, why, NEEDS_ANSWER),
            cv.REJECTS,
            advice="use the product's public URL",
        )
    if documentation_host(host):
        return cv.finding(
            "url-reachable",
            where,
            (URL_UNCHECKED % url) + " (%s is a name kept for documentation, RFC 2606: a placeholder, not the product's address)" % host,
            cv.UNCHECKED,
            guidance="the metadata and evidence name the product's own addresses (instructions); IANA's page on %s may answer, so the request alone may pass"
            % host,
            advice="replace it with the product's own URL",
        )
    return cv.finding("url-reachable", where, URL_UNCHECKED % url, cv.UNCHECKED)


def email_problem(address: str) -> str:
    """What is wrong with a contact address, decided offline, or ''."""
    local, at, domain = address.strip().rpartition("@")
    domain = domain.lower().rstrip(".")
    if not (local and at and domain) or " " in address.strip():
        return "%s is not an email address" % address
    why = reserved_host(domain)
    if why:
        return "%s never receives mail: %s" % (address, why)
    if documentation_host(domain):
        return "%s is on %s, a name kept for documentation (RFC 2606), not the maintainers' domain" % (address, domain)
    return ""


def metadata_address(field: str, val: str) -> list[dict[str, str]]:
    """What is decided offline about a metadata value the validator requests (validate.go requests
    every one that starts with http) or that should be an address (the URL fields, contactEmailAddress)."""
    where = "metadata.%s" % field
    if val.startswith("http"):
        return [url_finding(val, where, field)]
    if field in URL_FIELDS:
        guidance = "instructions: %s is a URL of the product; the validator requests only values that start with http, so nothing checks this one" % field
        msg = "%s %s is not an http(s) URL" % (field, val)
        return [cv.finding("url-not-http", where, msg, cv.ACCEPTS, guidance=guidance, advice="write it as https://<host>/<path>")]
    problem = email_problem(val) if field == "contactEmailAddress" else ""
    if not problem:
        return []
    guidance = "instructions: an email address which can be used to contact maintainers; the validator does not check it"
    advice = "give an address of the maintainers that receives mail"
    return [cv.finding("contact-email", where, "contactEmailAddress " + problem, cv.ACCEPTS, guidance=guidance, advice=advice)]


def check_evidence(rid: str, status: str, evidence: list[str], where: str, product_dir: str, ctx: dict[str, Any]) -> list[dict[str, str]]:
    if ctx["ruleset"]["artifacts"]:
        return check_evidence_v137(rid, status, evidence, where, product_dir, ctx)
    return check_evidence_legacy(evidence, where, product_dir)


def check_evidence_legacy(evidence: list[str], where: str, product_dir: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for link in evidence:
        if cv.is_url(link):
            out.append(url_finding(link, where))
            continue
        exists = os.path.exists(os.path.join(product_dir, link))
        if link.startswith("file://"):
            out.append(
                cv.finding(
                    "evidence-file-uri",
                    where,
                    "evidence %s is looked up as a file named %s next to PRODUCT.yaml" % (link, link),
                    cv.REJECTS if not exists else cv.ACCEPTS,
                    guidance="the v1.37 checklist header gives file://results/junit.xml#TestName as the form for automated tests",
                    advice="cite the plain relative path (junit.xml, e2e.log) and name the test in notes",
                )
            )
        elif not exists:
            out.append(cv.finding("evidence-file", where, "evidence file %s does not exist relative to PRODUCT.yaml" % link, cv.REJECTS))
    return out


def _names(names: list[str]) -> str:
    more = len(names) - _MAX_NAMES
    return ", ".join(names[:_MAX_NAMES]) + (" and %d more" % more if more > 0 else "")


def _tests(full: str, cache: dict[str, Any]) -> dict[str, str] | str:
    """The artifact's tests, or why it cannot be read in its format."""
    if full not in cache:
        try:
            cache[full] = cv.read_artifact(full)
        except cv.ArtifactError as exc:
            cache[full] = str(exc)
        except OSError as exc:
            cache[full] = "cannot be read (%s)" % exc.strerror
    return cache[full]


def check_evidence_v137(rid: str, status: str, evidence: list[str], where: str, product_dir: str, ctx: dict[str, Any]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    artifacts = 0
    for link in evidence:
        if cv.is_url(link):
            out.append(url_finding(link, where))
            continue
        rel, frag = cv.split_evidence(link, ctx.get("path_version"), ctx.get("product_name") or os.path.basename(product_dir))
        why = cv.outside(rel, product_dir)
        if why:
            out.append(
                cv.finding(
                    "evidence-path",
                    where,
                    "evidence %s must resolve inside the product directory: %s" % (link, why),
                    cv.REJECTS,
                    advice="copy the file into the product directory and cite it relative to PRODUCT.yaml",
                )
            )
            continue
        full = os.path.join(product_dir, rel)
        if not os.path.exists(full):
            out.append(
                cv.finding("evidence-file", where, "evidence file %s does not exist relative to PRODUCT.yaml (looked up as %s)" % (link, rel), cv.REJECTS)
            )
            continue
        if not cv.is_artifact(rel):
            continue
        artifacts += 1
        tests = _tests(full, ctx["artifacts"])
        if isinstance(tests, str):
            out.append(
                cv.finding(
                    "test-artifact-invalid",
                    where,
                    "Invalid test artifact %s: %s" % (rel, tests),
                    cv.REJECTS,
                    advice="only junit.xml, results.json (go test -json) and e2e.log (go test -v) are read as test artifacts: "
                    "give any other document another name",
                )
            )
            continue
        bad = cv.failing(tests)
        if bad:
            out.append(
                cv.finding(
                    "test-artifact-failure",
                    where,
                    "test artifact %s has failing tests: %s" % (rel, _names(bad)),
                    cv.REJECTS,
                    advice="cite an artifact that holds only passing tests (the evidence role writes junit/<requirement>/junit.xml per requirement)",
                )
            )
        name = frag or cv.AUTO_TESTED.get(rid)
        if not name:
            continue
        verdict = tests.get(name)
        if verdict is None:
            origin = "its #%s" % frag if frag else "the auto-tested name for %s" % rid
            out.append(cv.finding("test-missing", where, "test %s (%s) is not in %s" % (name, origin, rel), cv.REJECTS))
        elif verdict == "fail":
            out.append(cv.finding("test-failed", where, "test %s failed in %s" % (name, rel), cv.REJECTS))
        elif verdict == "skip" and status == "Implemented":
            out.append(
                cv.finding(
                    "test-skipped",
                    where,
                    "test %s is skipped in %s, behind an Implemented item" % (name, rel),
                    cv.REJECTS,
                    advice="run the test with the flags it needs, or do not claim the item Implemented",
                )
            )
    if status == "Implemented" and rid in cv.AUTO_TESTED and not artifacts:
        out.append(
            cv.finding(
                "auto-tested-no-artifact",
                where,
                "Implemented %s cites no test artifact (junit.xml, results.json or e2e.log) with %s: the validator warns" % (rid, cv.AUTO_TESTED[rid]),
                cv.WARNS,
                advice="cite junit/%s/junit.xml#%s from the evidence bundle, or the upstream suite's artifact where %s passed"
                % (rid, cv.AUTO_TESTED[rid], cv.AUTO_TESTED[rid]),
            )
        )
    return out
