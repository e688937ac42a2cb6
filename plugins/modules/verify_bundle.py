#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: verify_bundle
short_description: Verify an evidence bundle offline against its SHA256SUMS and signature
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Checks every file of an evidence bundle (written by the C(ai_conformance.kubernetes.evidence) role) against its
    C(SHA256SUMS), and C(SHA256SUMS) against its detached signature C(SHA256SUMS.sig) where there is one.
  - "The signature is cosign's C(sign-blob --key) format: base64 of an ASN.1 DER ECDSA P-256 / SHA-256 signature
    over the bytes of C(SHA256SUMS). C(cosign verify-blob --key <key> --signature SHA256SUMS.sig SHA256SUMS
    --insecure-ignore-tlog=true) accepts the same files."
  - "With O(public_key), the key you trust (obtained from the submitter, not from the bundle), a valid signature
    proves who wrote the sums. Without it the bundle's own C(SHA256SUMS.pub) is used: that proves only that the sums
    are what that key signed, since whoever changed the bundle could have replaced key and signature too. Compare
    the returned RV(fingerprint) with the submitter's."
  - Each problem names its file. A file changed by one byte is named with its actual and listed sums; a changed
    C(SHA256SUMS) fails the signature; a file listed but missing, or present but not listed, is named too.
  - A directory holding C(INCOMPLETE.json) is refused with one line and nothing else is checked. conformance.yml writes
    it when its probe phase starts, with the probes' results in C(partial/), and removes both once the bundle is
    written and uploaded, so such a directory is the partial evidence of a run that was interrupted or is still
    running, never a complete bundle.
  - Reads files only, needs no network and no cluster; check mode changes nothing either way.
options:
  path:
    description: The bundle directory, holding C(SHA256SUMS) (C(<output>/<version>/<product>)).
    type: path
    required: true
  public_key:
    description:
      - The PEM public key (C(-----BEGIN PUBLIC KEY-----), as C(cosign.pub)) to verify C(SHA256SUMS.sig) with.
      - When set, the signature is required.
      - When unset, the bundle's own C(SHA256SUMS.pub) is used where there is a signature.
    type: path
  require_signature:
    description: Fail when the bundle has no C(SHA256SUMS.sig).
    type: bool
    default: false
  allow_unlisted:
    description: Accept files that C(SHA256SUMS) does not list (by default each is a problem, named).
    type: bool
    default: false
  fail_on_error:
    description: Fail the task when the bundle does not verify. When false, the result says so in RV(verified) and RV(problems).
    type: bool
    default: true
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
  - cryptography (the Python library; Ansible depends on it)
seealso:
  - module: ai_conformance.kubernetes.sign_bundle
"""

EXAMPLES = r"""
- name: Verify a bundle with the submitter's public key
  ai_conformance.kubernetes.verify_bundle:
    path: evidence-out/v1.37/my-platform
    public_key: keys/my-platform-evidence.pub

- name: Check the sums and the bundle's own signature, and report instead of failing
  ai_conformance.kubernetes.verify_bundle:
    path: evidence-out/v1.37/my-platform
    fail_on_error: false
  register: bundle

- name: Show what does not match
  ansible.builtin.debug:
    msg: "{{ bundle.problems }}"
  when: not bundle.verified
"""

RETURN = r"""
verified:
  description: Whether every file matched, nothing was unlisted (unless allowed) and the signature verified where required or present.
  returned: always
  type: bool
  sample: true
checked:
  description: How many files listed in C(SHA256SUMS) were found and hashed.
  returned: always
  type: int
  sample: 42
mismatched:
  description: Files whose SHA-256 differs from the one listed.
  returned: always
  type: list
  elements: str
  sample: [evidence/gang_scheduling.md]
missing:
  description: Files listed in C(SHA256SUMS) that are not there.
  returned: always
  type: list
  elements: str
  sample: []
unlisted:
  description: Files in the bundle that C(SHA256SUMS) does not list (C(SHA256SUMS.sig) and C(SHA256SUMS.pub) never count).
  returned: always
  type: list
  elements: str
  sample: []
signature:
  description: C(verified), C(invalid), C(absent), or C(not checked) (no key to check with, or no C(SHA256SUMS)).
  returned: always
  type: str
  sample: verified
key_source:
  description: C(given) (O(public_key)), C(bundle) (the bundle's C(SHA256SUMS.pub)), or null when no signature was checked.
  returned: always
  type: str
  sample: given
fingerprint:
  description: C(sha256:) and the hex SHA-256 of the verifying key's DER SubjectPublicKeyInfo.
  returned: always
  type: str
  sample: "sha256:3f0c9d0e4b6f2b1c8d7a5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"
bundle_key_matches:
  description: With O(public_key), whether the bundle's C(SHA256SUMS.pub) is that same key; null otherwise.
  returned: always
  type: bool
  sample: true
problems:
  description: One line per problem, each naming its file.
  returned: always
  type: list
  elements: str
  sample: ["evidence/gang_scheduling.md: changed since SHA256SUMS was written (sha256 9a..., listed 41...)"]
msg:
  description: The verdict in one line.
  returned: always
  type: str
  sample: "42 files match SHA256SUMS; SHA256SUMS.sig verified with the given key sha256:3f0c..."
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.signing_bundle import verify_tree


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "public_key": {"type": "path"},
            "require_signature": {"type": "bool", "default": False},
            "allow_unlisted": {"type": "bool", "default": False},
            "fail_on_error": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    if not signing.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=signing.CRYPTOGRAPHY_IMP_ERR)
    p = module.params
    try:
        out = verify_tree(p["path"], p["public_key"], p["require_signature"], p["allow_unlisted"])
    except (signing.SigningError, OSError) as exc:
        module.fail_json(msg="cannot verify %s: %s" % (p["path"], exc), verified=False)
    if not out["verified"] and p["fail_on_error"]:
        module.fail_json(**out)
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
