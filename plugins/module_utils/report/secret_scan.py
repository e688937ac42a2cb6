# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets in the files of an evidence bundle: found by kind, file and line, never shown.

``scan_tree(root)`` reads every file under ``root`` line by line and returns one ``Finding`` per
secret: the file (relative to ``root``), the line, and the kind (``KINDS`` says what each is).  A
finding never carries the value.  ``redact_text`` and ``redact_headers`` blank the same values out
where a probe records text or headers it did not write itself.

Why not detect-secrets (PyPI): its detectors that fit a bundle (AWS keys, JWT, private keys) are a
third of what is needed here (kubeconfig fields, GCP service-account JSON, Azure client secrets,
Authorization/Cookie/X-Api-Key headers, credentials in URLs are not among them), and its entropy
detectors flag every line of SHA256SUMS and the recorded sample bundles (16 false positives in
docs/samples alone); its last release is from 2024.  The patterns below are each specific to one
credential format, so that a finding is a real secret and a clean bundle scans clean.

A value that is already a placeholder (``<redacted>``, ``$TOKEN``, ``{{ token }}``, ``***``) is
not a secret: redacting a value is how a probe makes its evidence pass this scan.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import base64
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

# kind -> what it is, in the words of the failure message.
KINDS: dict[str, str] = {
    "gcp_service_account_key": "the private key of a GCP service account JSON key file",
    "private_key": "a PEM private key (a client key, a signing key)",
    "kubeconfig_credential": "a kubeconfig credential field (client-key-data, client-certificate-data, token, password)",
    "aws_access_key_id": "an AWS access key id (AKIA/ASIA)",
    "aws_secret_access_key": "an AWS secret access key",
    "azure_client_secret": "an Azure client secret or storage account key",
    "http_auth_header": "an Authorization, Cookie or API-key header with its value",
    "url_credentials": "a password inside a URL (scheme://user:password@host)",
    "jwt": "a JSON Web Token, such as a ServiceAccount token (eyJ...)",
    "openshift_token": "an OpenShift OAuth token (sha256~...)",
    "bearer_token": "a bearer token",
}

REDACTED = "<redacted>"

# The header names whose values are credentials (lower case).
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "x-auth-token", "private-token", "x-amz-security-token"}
)

_SCHEMES = r"(?:bearer|basic|token|digest|negotiate|apikey|aws4-hmac-sha256)"
_TOKEN_CHARS = r"[A-Za-z0-9._~+/=-]"
_PLACEHOLDER_START = ("<", "$", "{", "*", "%", "(", "[")
_PLACEHOLDER_WORDS = ("redact", "xxxx", "example", "placeholder", "changeme", "your-", "your_")
_PLACEHOLDER_VALUES = frozenset({"password", "passwd", "secret", "token", "none", "null", "true", "false"})

_PEM = r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
_PEM_BLOCK = re.compile(_PEM + r"[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")


def _jwt_header_ok(value: str) -> bool:
    """A JWT's first part is base64url JSON with an alg: anything else shaped like one is not."""
    head = value.split(".", 1)[0]
    try:
        doc = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, TypeError):
        return False
    return isinstance(doc, dict) and "alg" in doc


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    group: int = 0  # the group that holds the secret value (0: the whole match)
    valid: Callable[[str], bool] | None = None


# Most specific first: a match that overlaps an earlier rule's on the same line is not reported again
# (the private key of a GCP key file is one finding, not also a PEM one).
_RULES: tuple[_Rule, ...] = (
    _Rule("gcp_service_account_key", re.compile(r"\"private_key\"\s*:\s*\"(" + _PEM + r")")),
    _Rule("gcp_service_account_key", re.compile(r"\"private_key_id\"\s*:\s*\"([0-9a-f]{40})\"")),
    _Rule("private_key", re.compile(_PEM)),
    _Rule(
        "kubeconfig_credential",
        re.compile(
            r"(?<![\w-])[\"']?(?:client-key-data|client-certificate-data|token|id-token|refresh-token|access-token|password)[\"']?\s*[:=]\s*[\"']?"
            r"(%s{8,})(?![\w(])" % _TOKEN_CHARS
        ),
        1,
    ),
    _Rule("aws_access_key_id", re.compile(r"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])"), 1),
    _Rule(
        "aws_secret_access_key",
        re.compile(r"(?i)(?:aws_?secret_?access_?key|secret_?access_?key)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"),
        1,
    ),
    # Microsoft Entra ID client secrets (3 characters, a digit, Q~, then 31 to 34 more), the
    # AZURE_CLIENT_SECRET / clientSecret settings, and storage account keys in connection strings.
    _Rule("azure_client_secret", re.compile(r"(?<![\w~.-])([\w~.-]{3}\dQ~[\w~.-]{31,34})(?![\w~.-])"), 1),
    _Rule("azure_client_secret", re.compile(r"(?i)(?<![\w-])(?:azure_client_secret|client_?secret)[\"']?\s*[:=]\s*[\"']?([^\s\"',}]{8,})"), 1),
    _Rule("azure_client_secret", re.compile(r"AccountKey=([A-Za-z0-9+/]{86}==)"), 1),
    _Rule(
        "http_auth_header",
        re.compile(
            r"(?i)(?<![\w-])[\"']?(?:%s)[\"']?\s*[:=]\s*[\"']?(?:%s\s+)?(?!%s\b)([^\s\"'<>${}*,;]{6,})" % ("|".join(sorted(SECRET_HEADERS)), _SCHEMES, _SCHEMES)
        ),
        1,
    ),
    _Rule("url_credentials", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@\"'<>]+:([^\s/@\"'<>]+)@[\w.-]"), 1),
    _Rule("jwt", re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}"), 0, _jwt_header_ok),
    _Rule("openshift_token", re.compile(r"sha256~[A-Za-z0-9_-]{20,}")),
    _Rule("bearer_token", re.compile(r"(?i)\bbearer\s+(?!%s\b)(%s{20,})" % (_SCHEMES, _TOKEN_CHARS)), 1),
)


def is_placeholder(value: str) -> bool:
    """A value that stands for a secret without being one: redacted, a variable, a template."""
    low = value.lower()
    return value.startswith(_PLACEHOLDER_START) or low in _PLACEHOLDER_VALUES or any(w in low for w in _PLACEHOLDER_WORDS) or len(set(value)) <= 2


@dataclass(frozen=True)
class Finding:
    """One secret: where it is and what kind; never its value."""

    path: str
    line: int
    kind: str

    def describe(self) -> str:
        return "%s line %d: %s (%s)" % (self.path, self.line, self.kind, KINDS[self.kind])

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.path, "line": self.line, "kind": self.kind, "what": KINDS[self.kind]}


def _matches(line: str) -> Iterator[tuple[_Rule, re.Match[str]]]:
    taken: list[tuple[int, int]] = []
    for rule in _RULES:
        for m in rule.pattern.finditer(line):
            value = m.group(rule.group)
            if not value or is_placeholder(value) or (rule.valid is not None and not rule.valid(value)):
                continue
            start, end = m.span()
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            yield rule, m


def scan_lines(lines: Iterator[str] | list[str], name: str) -> list[Finding]:
    """The findings of these lines (numbered from 1), one per kind and line."""
    out: list[Finding] = []
    for number, line in enumerate(lines, 1):
        kinds = []
        for rule, _m in _matches(line):
            if rule.kind not in kinds:
                kinds.append(rule.kind)
        out.extend(Finding(name, number, k) for k in kinds)
    return out


def scan_text(text: str, name: str = "<text>") -> list[Finding]:
    return scan_lines(text.splitlines(), name)


def scan_file(path: str, name: str | None = None) -> list[Finding]:
    """The findings of one file, read as UTF-8 (bytes that are not are replaced, not skipped)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        return scan_lines((line.rstrip("\r\n") for line in f), name or path)


def scan_tree(root: str) -> tuple[list[Finding], int]:
    """(findings, files scanned) of every regular file under ``root``, in path order."""
    if not os.path.isdir(root):
        raise FileNotFoundError("%s is not a directory" % root)
    files = []
    for here, dirs, names in os.walk(root):
        dirs.sort()
        files.extend(os.path.join(here, n) for n in names if os.path.isfile(os.path.join(here, n)))
    out: list[Finding] = []
    for path in sorted(files):
        out.extend(scan_file(path, os.path.relpath(path, root).replace(os.sep, "/")))
    return out, len(files)


def summary(findings: list[Finding], limit: int = 20) -> str:
    """One line naming each finding's file, line and kind (the first ``limit`` of them)."""
    shown = "; ".join(f.describe() for f in findings[:limit])
    more = " and %d more" % (len(findings) - limit) if len(findings) > limit else ""
    return "%d secret(s) found (values not shown): %s%s" % (len(findings), shown, more)


def scan_error(path: str, exc: OSError) -> str:
    """The one line when the bundle at ``path`` cannot be read for the scan."""
    return "cannot scan the bundle %s for secrets: %s" % (path, exc.strerror or exc)


def refusal(path: str, findings: list[Finding]) -> str:
    """The one line that refuses the evidence bundle at ``path`` for its ``findings``."""
    return "the evidence bundle %s holds secrets: %s; redact them where they are captured, then rerun" % (path, summary(findings))


def redact_text(text: str) -> str:
    """The text with every value the scanner would report replaced by ``<redacted>`` (PEM private
    keys whole, from BEGIN to END)."""
    text = _PEM_BLOCK.sub(REDACTED, text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        out = line
        for s, e in sorted(((m.start(rule.group), m.end(rule.group)) for rule, m in _matches(line)), reverse=True):
            out = out[:s] + REDACTED + out[e:]
        lines[i] = out
    return "\n".join(lines)


def redact_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """Captured HTTP headers with the credential ones (Authorization, Cookie, X-Api-Key...) blanked."""
    return {k: (REDACTED if str(k).lower() in SECRET_HEADERS else redact_text(v) if isinstance(v, str) else v) for k, v in headers.items()}
