# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence bundle's integrity, offline: every file against SHA256SUMS (``sha256sum`` format,
as the evidence role writes it), and SHA256SUMS against its detached signature SHA256SUMS.sig
(cosign ``sign-blob --key`` format, module_utils ``signing``) with a public key: one given by the
verifier (trusted: it says who signed) or the bundle's own SHA256SUMS.pub (it says only that the
files are what that key signed).  Used by the modules verify_bundle and sign_bundle."""

from __future__ import absolute_import, annotations, division, print_function

import hashlib
import json
import os
import re
import tempfile
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.signing import SigningError

__metaclass__ = type

SUMS = "SHA256SUMS"
SIG = "SHA256SUMS.sig"
PUB = "SHA256SUMS.pub"
# Written after SHA256SUMS, so never listed in it.
NOT_SUMMED = (SUMS, SIG, PUB)
_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
# conformance.yml writes it when the probe phase starts and removes it (with partial/, the probes'
# results as each finished) once the bundle is written and uploaded: a directory holding it is the
# partial evidence of a run that was interrupted or is still running, never a complete bundle.
INCOMPLETE = "INCOMPLETE.json"
PARTIAL = "partial"


def incomplete(root: str) -> str | None:
    """One line saying why the bundle in ``root`` is incomplete (its INCOMPLETE.json), or None."""
    path = os.path.join(root, INCOMPLETE)
    if not os.path.lexists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    run = "run %s" % doc["run_id"] if doc.get("run_id") else "its run"
    started = " (started %s)" % doc["started"] if doc.get("started") else ""
    return "%s is present: %s%s has not finished, interrupted or still running; %s holds partial evidence, not a complete bundle" % (
        INCOMPLETE,
        run,
        started,
        root,
    )


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_sums(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(hex, relative path) per line of a ``sha256sum`` file, and the lines that are not such a line
    (a path that is absolute or climbs out with ``..`` is not)."""
    entries: list[tuple[str, str]] = []
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        found = _LINE.match(line)
        path = found.group(2) if found else ""
        if not found or path.startswith("/") or ".." in path.split("/"):
            bad.append("%s line %d is not '<sha256>  <relative path>': %r" % (SUMS, number, line[:120]))
            continue
        entries.append((found.group(1).lower(), path))
    return entries, bad


def bundle_files(root: str) -> list[str]:
    """Every file under ``root`` (relative, ``/``-separated, sorted) but SHA256SUMS and its signature."""
    found = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            rel = os.path.relpath(os.path.join(top, name), root).replace(os.sep, "/")
            if rel not in NOT_SUMMED:
                found.append(rel)
    return sorted(found)


def sums_text(root: str) -> str:
    """SHA256SUMS for the bundle in ``root``, as ``sha256sum`` writes it: one ``<hex>  <path>`` line
    per bundle file.  INCOMPLETE.json and partial/ (the marks of an unfinished run)
    and the signature files are not bundle files."""
    lines = []
    # Case-insensitive order, as the evidence role's Jinja ``sort`` wrote it before (PRODUCT.yaml
    # among the p's): the same bundle gives the same SHA256SUMS.
    for rel in sorted(bundle_files(root), key=lambda r: (r.lower(), r)):
        if rel == INCOMPLETE or rel.startswith(PARTIAL + "/"):
            continue
        lines.append("%s  %s\n" % (sha256_file(os.path.join(root, rel)), rel))
    return "".join(lines)


def write_sums(root: str, check_mode: bool = False) -> dict[str, Any]:
    """Write ``root``/SHA256SUMS; returns changed and the number of files listed."""
    text = sums_text(root)
    path = os.path.join(root, SUMS)
    changed = not os.path.isfile(path) or _read(path) != text.encode()
    if changed and not check_mode:
        _write(path, text.encode())
    return {"changed": changed, "files": text.count("\n"), "path": path}


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def check_signature(root: str, sums: bytes, public_key: str | None, required: bool) -> dict[str, Any]:
    """The signature part of ``verify_tree``: status, key source, fingerprint and the problems."""
    out: dict[str, Any] = {"signature": "absent", "key_source": None, "fingerprint": None, "bundle_key_matches": None, "problems": []}
    sig_path, pub_path = os.path.join(root, SIG), os.path.join(root, PUB)
    if not os.path.exists(sig_path):
        if required:
            out["problems"].append("%s is absent: the bundle is not signed, and a signature is required" % SIG)
        return out
    if public_key:
        out["key_source"] = "given"
        key = signing.load_public_key(_read(public_key))
        if os.path.exists(pub_path):
            try:
                out["bundle_key_matches"] = signing.fingerprint(signing.load_public_key(_read(pub_path))) == signing.fingerprint(key)
            except SigningError:
                out["bundle_key_matches"] = False
    elif os.path.exists(pub_path):
        out["key_source"] = "bundle"
        key = signing.load_public_key(_read(pub_path))
    else:
        out["signature"] = "not checked"
        out["problems"].append("%s is present but there is no key to check it with: give public_key (%s is absent)" % (SIG, PUB))
        return out
    out["fingerprint"] = signing.fingerprint(key)
    if signing.verify(sums, _read(sig_path), key):
        out["signature"] = "verified"
    else:
        out["signature"] = "invalid"
        out["problems"].append("%s does not verify with key %s: %s was changed after it was signed, or another key signed it" % (SIG, out["fingerprint"], SUMS))
    return out


def verify_tree(root: str, public_key: str | None = None, require_signature: bool = False, allow_unlisted: bool = False) -> dict[str, Any]:
    """Check a bundle directory offline.  A directory holding INCOMPLETE.json is refused at once
    (partial evidence of an unfinished run).  ``verified`` is true when every listed file is there with
    its sum, no file is unlisted (unless ``allow_unlisted``), and the signature verifies where there
    is one (a signature is required when ``require_signature`` or ``public_key`` is given).  Every
    problem is one line naming the file."""
    signing.require_cryptography()
    sums_path = os.path.join(root, SUMS)
    out: dict[str, Any] = {"path": root, "checked": 0, "mismatched": [], "missing": [], "unlisted": [], "problems": []}
    if not os.path.isdir(root):
        raise SigningError("%s is not a directory (the evidence bundle holding %s)" % (root, SUMS))
    unfinished = incomplete(root)
    if unfinished:
        out.update(signature="not checked", key_source=None, fingerprint=None, bundle_key_matches=None, verified=False)
        out["problems"].append(unfinished)
        out["msg"] = "bundle NOT verified: " + unfinished
        return out
    if not os.path.exists(sums_path):
        out.update(signature="not checked", key_source=None, fingerprint=None, bundle_key_matches=None, verified=False)
        out["problems"].append("%s is missing: there is nothing to verify the files against" % SUMS)
        out["msg"] = out["problems"][0]
        return out
    sums = _read(sums_path)
    sig = check_signature(root, sums, public_key, require_signature or bool(public_key))
    out.update({k: v for k, v in sig.items() if k != "problems"})
    out["problems"].extend(sig["problems"])
    entries, bad = parse_sums(sums.decode("utf-8", errors="replace"))
    out["problems"].extend(bad)
    listed = set()
    for expected, rel in entries:
        listed.add(rel)
        path = os.path.join(root, *rel.split("/"))
        if not os.path.isfile(path):
            out["missing"].append(rel)
            out["problems"].append("%s: listed in %s but missing" % (rel, SUMS))
            continue
        out["checked"] += 1
        actual = sha256_file(path)
        if actual != expected:
            out["mismatched"].append(rel)
            out["problems"].append("%s: changed since %s was written (sha256 %s, listed %s)" % (rel, SUMS, actual, expected))
    out["unlisted"] = [rel for rel in bundle_files(root) if rel not in listed]
    if not allow_unlisted:
        out["problems"].extend("%s: not listed in %s (added after the sums were written)" % (rel, SUMS) for rel in out["unlisted"])
    out["verified"] = not out["problems"]
    out["msg"] = summary(out)
    return out


def summary(out: dict[str, Any]) -> str:
    """One line: what was verified, or every problem."""
    if out["problems"]:
        return "bundle NOT verified: " + "; ".join(out["problems"])
    if out["signature"] == "verified":
        whose = "the given key" if out["key_source"] == "given" else "the bundle's own %s (integrity only: compare its fingerprint with the signer's key)" % PUB
        signed = "; %s verified with %s %s" % (SIG, whose, out["fingerprint"])
    else:
        signed = "; unsigned (no %s): the sums show that no file changed by accident, not who wrote them" % SIG
    return "%d files match %s%s" % (out["checked"], SUMS, signed)


def _write(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".sign_bundle-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def sign_tree(root: str, key_pem: bytes, passphrase: str | None = None, check_mode: bool = False) -> dict[str, Any]:
    """Write SHA256SUMS.sig and SHA256SUMS.pub for ``root``'s SHA256SUMS.  A signature already there
    that verifies with this key over the current SHA256SUMS is kept (ECDSA signatures differ on each
    run), so signing again changes nothing."""
    key = signing.load_private_key(key_pem, passphrase)
    sums_path = os.path.join(root, SUMS)
    if not os.path.isfile(sums_path):
        raise SigningError("%s is missing in %s: write the sums first" % (SUMS, root))
    sums = _read(sums_path)
    sig_path, pub_path = os.path.join(root, SIG), os.path.join(root, PUB)
    pub = signing.public_pem(key)
    changed = False
    if not (os.path.isfile(sig_path) and signing.verify(sums, _read(sig_path), key)):
        changed = True
        if not check_mode:
            _write(sig_path, signing.sign(sums, key))
    if not (os.path.isfile(pub_path) and _read(pub_path) == pub):
        changed = True
        if not check_mode:
            _write(pub_path, pub)
    return {"changed": changed, "fingerprint": signing.fingerprint(key), "signature": sig_path, "public_key": pub_path}


def remove_signature(root: str, check_mode: bool = False) -> bool:
    """Remove SHA256SUMS.sig and SHA256SUMS.pub (an unsigned run must not leave an earlier run's)."""
    changed = False
    for name in (SIG, PUB):
        path = os.path.join(root, name)
        if os.path.lexists(path):
            changed = True
            if not check_mode:
                os.remove(path)
    return changed
