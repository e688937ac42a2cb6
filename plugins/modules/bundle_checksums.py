#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: bundle_checksums
short_description: Write the SHA256SUMS of an evidence bundle in one step
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Writes C(SHA256SUMS) in O(path) in C(sha256sum) format, one C(<sha256>  <relative path>) line per bundle file,
    sorted by path, as M(ai_conformance.kubernetes.verify_bundle) and C(sha256sum -c) read it.
  - Bundle files are every file under O(path) but C(SHA256SUMS), its signature files (C(SHA256SUMS.sig),
    C(SHA256SUMS.pub)), C(INCOMPLETE.json) and C(partial/), the marks of an unfinished run.
  - One module call for the whole bundle, instead of one task per file.
options:
  path:
    description: The bundle directory (C(<output>/<version>/<product>)).
    type: path
    required: true
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
  - module: ai_conformance.kubernetes.sign_bundle
"""

EXAMPLES = r"""
- name: Sum the bundle's files
  ai_conformance.kubernetes.bundle_checksums:
    path: evidence-out/v1.37/my-platform
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
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb


def main():
    module = AnsibleModule(argument_spec={"path": {"type": "path", "required": True}}, supports_check_mode=True)
    path = module.params["path"]
    if not os.path.isdir(path):
        module.fail_json(msg="the bundle directory %s does not exist" % path, files=0, path=path)
    try:
        out = sb.write_sums(path, module.check_mode)
    except OSError as exc:
        module.fail_json(msg="cannot write SHA256SUMS in %s: %s" % (path, exc.strerror or exc), files=0, path=path)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
