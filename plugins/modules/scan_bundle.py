#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: scan_bundle
short_description: Scan every file of an evidence bundle for secrets, naming file, line and kind
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Reads every file under O(path) line by line and looks for credentials that must never reach an evidence
    bundle, a CNCF submission or an AWX artifact.
  - "Kinds found: JSON Web Tokens (ServiceAccount tokens, C(eyJ...)), OpenShift tokens (C(sha256~...)), bearer tokens,
    PEM private keys (client keys, signing keys), kubeconfig credential fields (C(client-key-data),
    C(client-certificate-data), C(token), C(password)), AWS access key ids (C(AKIA)/C(ASIA)) and secret access keys,
    GCP service-account JSON key files, Azure client secrets and storage account keys, Authorization, Cookie and
    API-key headers with their values, and passwords inside URLs."
  - A value that is already redacted or a placeholder (C(<redacted>), C($TOKEN), C({{ token }}), C(***)) is not a finding.
  - Each finding names the file (relative to O(path)), the line and the kind; the value itself is never returned or printed.
  - Reads files only, needs no network and no cluster; check mode scans all the same.
options:
  path:
    description: The bundle directory (C(<output>/<version>/<product>)); every regular file under it is scanned.
    type: path
    required: true
  fail_on_findings:
    description: Fail the task when anything is found. When false, the result lists the findings in RV(findings).
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
seealso:
  - module: ai_conformance.kubernetes.verify_bundle
"""

EXAMPLES = r"""
- name: Fail when the bundle holds a secret
  ai_conformance.kubernetes.scan_bundle:
    path: evidence-out/v1.37/my-platform

- name: List what a bundle from elsewhere holds, without failing
  ai_conformance.kubernetes.scan_bundle:
    path: /tmp/received-bundle
    fail_on_findings: false
  register: scan

- name: Show the findings (file, line, kind)
  ansible.builtin.debug:
    msg: "{{ scan.findings | map(attribute='file') | list }}"
  when: scan.findings | length > 0
"""

RETURN = r"""
clean:
  description: Whether no secret was found.
  returned: always
  type: bool
  sample: true
scanned:
  description: How many files were read.
  returned: always
  type: int
  sample: 58
findings:
  description: One entry per secret found (per kind and line); never the value.
  returned: always
  type: list
  elements: dict
  contains:
    file:
      description: The file, relative to O(path).
      type: str
      sample: evidence/dra_support.md
    line:
      description: The line, from 1.
      type: int
      sample: 42
    kind:
      description: C(jwt), C(openshift_token), C(bearer_token), C(private_key), C(kubeconfig_credential),
        C(aws_access_key_id), C(aws_secret_access_key), C(gcp_service_account_key), C(azure_client_secret),
        C(http_auth_header) or C(url_credentials).
      type: str
      sample: jwt
    what:
      description: The kind in words.
      type: str
      sample: a JSON Web Token, such as a ServiceAccount token (eyJ...)
  sample: []
msg:
  description: The verdict in one line; on findings, each one's file, line and kind.
  returned: always
  type: str
  sample: "58 files scanned, no secret found"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import secret_scan


def main():
    module = AnsibleModule(
        argument_spec={"path": {"type": "path", "required": True}, "fail_on_findings": {"type": "bool", "default": True}},
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        findings, scanned = secret_scan.scan_tree(path)
    except OSError as exc:
        module.fail_json(msg=secret_scan.scan_error(path, exc), clean=False, scanned=0, findings=[])
    out = {"clean": not findings, "scanned": scanned, "findings": [f.as_dict() for f in findings]}
    if findings:
        out["msg"] = secret_scan.refusal(path, findings)
        if module.params["fail_on_findings"]:
            module.fail_json(**out)
    else:
        out["msg"] = "%d files scanned, no secret found" % scanned
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
