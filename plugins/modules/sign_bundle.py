#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sign_bundle
short_description: Sign an evidence bundle's SHA256SUMS with a cosign-compatible ECDSA P-256 key
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Writes C(SHA256SUMS.sig), the detached signature of the bundle's C(SHA256SUMS) in cosign's C(sign-blob --key)
    format (base64 of an ASN.1 DER ECDSA P-256 / SHA-256 signature), and C(SHA256SUMS.pub), the public key as
    C(cosign.pub) holds it. C(cosign verify-blob --key SHA256SUMS.pub --signature SHA256SUMS.sig SHA256SUMS
    --insecure-ignore-tlog=true) and M(ai_conformance.kubernetes.verify_bundle) both verify it, offline."
  - "The private key is read from O(key): PKCS#8 C(PRIVATE KEY), SEC1 C(EC PRIVATE KEY), passphrase-protected
    C(ENCRYPTED PRIVATE KEY), or cosign's own C(ENCRYPTED SIGSTORE PRIVATE KEY) from C(cosign generate-key-pair)
    (that one needs the Python library PyNaCl). It never leaves the machine the module runs on and is never written
    to the bundle."
  - A signature already there that verifies with this key over the current C(SHA256SUMS) is kept, so a second run
    changes nothing.
  - O(state=absent) removes C(SHA256SUMS.sig) and C(SHA256SUMS.pub) (an unsigned bundle must not keep an earlier
    run's signature). O(state=checked) only loads the key and returns its fingerprint, writing nothing.
  - Needs no network.
options:
  path:
    description: The bundle directory, holding C(SHA256SUMS). Not needed for O(state=checked).
    type: path
  key:
    description: The PEM private key (ECDSA P-256). Required unless O(state=absent).
    type: path
  passphrase:
    description:
      - The key's passphrase, for C(ENCRYPTED PRIVATE KEY) and cosign keys (what E(COSIGN_PASSWORD) held; a cosign key
        made with an empty password needs none).
    type: str
  state:
    description: C(present) signs, C(absent) removes the signature and key, C(checked) only reads the key.
    type: str
    choices: [present, absent, checked]
    default: present
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
  - PyNaCl, only for cosign's encrypted key format
seealso:
  - module: ai_conformance.kubernetes.verify_bundle
"""

EXAMPLES = r"""
- name: Sign a bundle (the evidence role signs through bundle_checksums signature=present when evidence_signing_key is set)
  ai_conformance.kubernetes.sign_bundle:
    path: evidence-out/v1.37/my-platform
    key: /secure/evidence.key
    passphrase: "{{ evidence_key_passphrase }}"
  register: signed

- name: Check a key before a long run
  ai_conformance.kubernetes.sign_bundle:
    key: /secure/cosign.key
    passphrase: "{{ lookup('ansible.builtin.env', 'COSIGN_PASSWORD') }}"
    state: checked
"""

RETURN = r"""
fingerprint:
  description: C(sha256:) and the hex SHA-256 of the public key's DER SubjectPublicKeyInfo; null for O(state=absent).
  returned: always
  type: str
  sample: "sha256:3f0c9d0e4b6f2b1c8d7a5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"
signature:
  description: Path of C(SHA256SUMS.sig).
  returned: when O(state=present)
  type: str
  sample: evidence-out/v1.37/my-platform/SHA256SUMS.sig
public_key:
  description: Path of C(SHA256SUMS.pub).
  returned: when O(state=present)
  type: str
  sample: evidence-out/v1.37/my-platform/SHA256SUMS.pub
msg:
  description: What was done.
  returned: always
  type: str
  sample: "SHA256SUMS signed with key sha256:3f0c..."
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path"},
            "key": {"type": "path", "no_log": False},
            "passphrase": {"type": "str", "no_log": True},
            "state": {"type": "str", "choices": ["present", "absent", "checked"], "default": "present"},
        },
        required_if=[("state", "present", ("path", "key")), ("state", "absent", ("path",)), ("state", "checked", ("key",))],
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] == "absent":
        changed = sb.remove_signature(p["path"], module.check_mode)
        module.exit_json(changed=changed, fingerprint=None, msg="signature removed" if changed else "no signature to remove")
    if not signing.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=signing.CRYPTOGRAPHY_IMP_ERR)
    try:
        with open(p["key"], "rb") as fh:
            pem = fh.read()
        if p["state"] == "checked":
            key = signing.load_private_key(pem, p["passphrase"])
            module.exit_json(changed=False, fingerprint=signing.fingerprint(key), msg="the key is ECDSA P-256 and readable")
        out = sb.sign_tree(p["path"], pem, p["passphrase"], module.check_mode)
    except (signing.SigningError, OSError) as exc:
        module.fail_json(msg="cannot sign with %s: %s" % (p["key"], exc))
    what = "signed" if out["changed"] else "already signed"
    module.exit_json(
        changed=out["changed"],
        msg="%s %s with key %s" % (sb.SUMS, what, out["fingerprint"]),
        fingerprint=out["fingerprint"],
        signature=out["signature"],
        public_key=out["public_key"],
    )


if __name__ == "__main__":
    main()
