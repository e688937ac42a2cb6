#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: bundle_checksums
short_description: Write the SHA256SUMS of an evidence bundle in one step, optionally scanning it for secrets first and signing it after
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Writes C(SHA256SUMS) in O(path) in C(sha256sum) format, one C(<sha256>  <relative path>) line per bundle file,
    sorted by path, as M(ai_conformance.kubernetes.verify_bundle) and C(sha256sum -c) read it.
  - Bundle files are every file under O(path) but C(SHA256SUMS), its signature files (C(SHA256SUMS.sig),
    C(SHA256SUMS.pub)), C(INCOMPLETE.json) and C(partial/), the marks of an unfinished run.
  - One module call for the whole bundle, instead of one task per file.
  - "With O(scan_secrets), every file under O(path) is first scanned for secrets as M(ai_conformance.kubernetes.scan_bundle)
    scans it: a finding fails the task naming file, line and kind (never the value) and nothing is written, so a
    bundle that holds a secret is never checksummed."
  - "After writing, O(signature) decides what becomes of C(SHA256SUMS.sig) and C(SHA256SUMS.pub):
    C(present) signs C(SHA256SUMS) with O(signing_key) as M(ai_conformance.kubernetes.sign_bundle) signs it (a signature
    there that verifies with this key over the new C(SHA256SUMS) is kept), C(absent) removes them (an unsigned bundle
    must not keep an earlier run's signature), C(keep) leaves them as they are."
  - The evidence role seals its bundle this way, in one task (scan, sums, signature).
options:
  path:
    description: The bundle directory (C(<output>/<version>/<product>)).
    type: path
    required: true
  scan_secrets:
    description: Scan every file under O(path) for secrets first; a finding fails the task and nothing is written.
    type: bool
    default: false
  signature:
    description: What to do with the signature files once C(SHA256SUMS) is written.
    type: str
    choices: [keep, present, absent]
    default: keep
  signing_key:
    description:
      - The PEM private key (ECDSA P-256) that signs C(SHA256SUMS), in a format M(ai_conformance.kubernetes.sign_bundle)
        reads; required with O(signature=present).
    type: path
  passphrase:
    description: The passphrase of O(signing_key), for C(ENCRYPTED PRIVATE KEY) and cosign keys.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - cryptography (the Python library; Ansible depends on it), only with O(signature=present)
  - PyNaCl, only for cosign's encrypted key format
seealso:
  - module: ai_conformance.kubernetes.verify_bundle
  - module: ai_conformance.kubernetes.sign_bundle
  - module: ai_conformance.kubernetes.scan_bundle
"""

EXAMPLES = r"""
- name: Sum the bundle's files
  ai_conformance.kubernetes.bundle_checksums:
    path: evidence-out/v1.37/my-platform

- name: Scan the bundle for secrets, sum its files and sign SHA256SUMS, in one step
  ai_conformance.kubernetes.bundle_checksums:
    path: evidence-out/v1.37/my-platform
    scan_secrets: true
    signature: present
    signing_key: /secure/evidence.key
    passphrase: "{{ lookup('ansible.builtin.env', 'COSIGN_PASSWORD') }}"

- name: Sum an unsigned bundle's files and remove an earlier run's signature
  ai_conformance.kubernetes.bundle_checksums:
    path: evidence-out/v1.37/my-platform
    signature: absent
"""

RETURN = r"""
files:
  description: How many files SHA256SUMS lists.
  returned: always
  type: int
  sample: 58
path:
  description: The SHA256SUMS file.
  returned: always
  type: str
  sample: evidence-out/v1.37/my-platform/SHA256SUMS
scanned:
  description: How many files were scanned for secrets.
  returned: when O(scan_secrets) is true
  type: int
  sample: 58
findings:
  description: One entry per secret found (C(file), C(line), C(kind), C(what)), as M(ai_conformance.kubernetes.scan_bundle) returns them; never the value.
  returned: when O(scan_secrets) is true
  type: list
  elements: dict
  sample: []
fingerprint:
  description: C(sha256:) and the hex SHA-256 of the signing key's public key; null unless O(signature=present).
  returned: always
  type: str
  sample: "sha256:3f0c9d0e4b6f2b1c8d7a5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"
msg:
  description: What was done.
  returned: always
  type: str
  sample: "no secret in the 58 files scanned; SHA256SUMS lists 58 files; SHA256SUMS signed with key sha256:3f0c..."
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import secret_scan, signing
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb


def scan(module, path):
    """Scan the bundle for secrets as scan_bundle does (its messages); fail, writing nothing, on a finding."""
    try:
        findings, scanned = secret_scan.scan_tree(path)
    except OSError as exc:
        module.fail_json(msg=secret_scan.scan_error(path, exc), scanned=0, findings=[], files=0, path=os.path.join(path, sb.SUMS))
    out = {"scanned": scanned, "findings": [f.as_dict() for f in findings]}
    if findings:
        module.fail_json(msg=secret_scan.refusal(path, findings), files=0, path=os.path.join(path, sb.SUMS), **out)
    return out


def sign(module, path, sums_changed):
    """Sign SHA256SUMS as sign_bundle does; its result. In check mode, a SHA256SUMS that would change needs a new signature."""
    p = module.params
    if not signing.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=signing.CRYPTOGRAPHY_IMP_ERR)
    try:
        with open(p["signing_key"], "rb") as fh:
            pem = fh.read()
        if module.check_mode and sums_changed:
            return {"changed": True, "fingerprint": signing.fingerprint(signing.load_private_key(pem, p["passphrase"]))}
        return sb.sign_tree(path, pem, p["passphrase"], module.check_mode)
    except (signing.SigningError, OSError) as exc:
        module.fail_json(msg="cannot sign with %s: %s" % (p["signing_key"], exc))


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "scan_secrets": {"type": "bool", "default": False},
            "signature": {"type": "str", "choices": ["keep", "present", "absent"], "default": "keep"},
            "signing_key": {"type": "path", "no_log": False},
            "passphrase": {"type": "str", "no_log": True},
        },
        required_if=[("signature", "present", ("signing_key",))],
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.isdir(path):
        module.fail_json(msg="the bundle directory %s does not exist" % path, files=0, path=path)
    scanned = scan(module, path) if module.params["scan_secrets"] else {}
    try:
        out = sb.write_sums(path, module.check_mode)
    except OSError as exc:
        module.fail_json(msg="cannot write SHA256SUMS in %s: %s" % (path, exc.strerror or exc), files=0, path=path)
    said = ["no secret in the %d files scanned" % scanned["scanned"]] if scanned else []
    said.append("%s lists %d files" % (sb.SUMS, out["files"]))
    out.update(scanned, fingerprint=None)
    if module.params["signature"] == "present":
        signed = sign(module, path, out["changed"])
        out.update(changed=out["changed"] or signed["changed"], fingerprint=signed["fingerprint"])
        said.append("%s %s with key %s" % (sb.SUMS, "signed" if signed["changed"] else "already signed", signed["fingerprint"]))
    elif module.params["signature"] == "absent":
        try:
            removed = sb.remove_signature(path, module.check_mode)
        except OSError as exc:
            module.fail_json(msg="cannot remove the signature in %s: %s" % (path, exc.strerror or exc), **out)
        out["changed"] = out["changed"] or removed
        said.append("signature removed" if removed else "no signature to remove")
    module.exit_json(msg="; ".join(said), **out)


if __name__ == "__main__":
    main()
