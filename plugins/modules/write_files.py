#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: write_files
short_description: Write many files under one directory in one step
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Writes each of O(files) under O(root), creating the directories it needs, and leaves a file whose content is
    already the same untouched.
  - The evidence role writes its per-requirement pages and junit.xml files with it (rendered by the
    C(ansible.builtin.template) lookup), one module call instead of a task per file.
  - Before writing, each directory of O(emptied) is removed with everything it holds and created again, empty.
    C(conformance.yml) marks a bundle incomplete this way in one call, emptying an earlier run's C(partial/)
    and writing C(INCOMPLETE.json).
  - A path that is absolute or climbs out of O(root) with C(..) is refused and nothing is written.
options:
  root:
    description: The directory the files go under.
    type: path
    required: true
  files:
    description: The files, each C(path) (relative to O(root)) and C(content) (text).
    type: list
    elements: dict
    required: true
  mode:
    description: The mode of the files written.
    type: str
    default: "0644"
  directory_mode:
    description:
      - The mode of each directory it creates, O(root) and the directories above it included (as
        M(ansible.builtin.file) with C(state=directory) sets it on each directory it creates). A directory
        that is already there is left as it is.
      - By default the umask decides.
    type: str
  emptied:
    description:
      - Directories (relative to O(root)) to empty before the files are written. Each is removed with what it
        holds and created again, with O(directory_mode) when set. A directory that is not there is created.
      - Like O(files), a path that is absolute, climbs out of O(root) or names O(root) itself is refused before
        anything changes.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Write two pages, creating /tmp/bundle and its subdirectories with mode 0755
  ai_conformance.kubernetes.write_files:
    root: /tmp/bundle
    directory_mode: "0755"
    files:
      - {path: evidence/a.md, content: "# a\n"}
      - {path: junit/a/junit.xml, content: "<testsuites/>\n"}

- name: Empty partial/ (an earlier run's results) and write INCOMPLETE.json, in one call
  ai_conformance.kubernetes.write_files:
    root: /tmp/bundle
    emptied: [partial]
    directory_mode: "0755"
    files:
      - {path: INCOMPLETE.json, content: "{\"reason\": \"the run has not finished\"}\n"}
"""

RETURN = r"""
written:
  description: The paths (relative to O(root)) written, or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [evidence/dra_support.md]
emptied:
  description: The directories of O(emptied) that held something or were not there, or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [partial]
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import outfile


def make_dirs(module, path, mode):
    """Create ``path`` and the directories above it that are missing, each given ``mode`` (when set)."""
    missing = []
    while path and not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for d in reversed(missing):
        try:
            os.mkdir(d)
        except FileExistsError:  # made meanwhile by someone else: theirs, left as it is
            if not os.path.isdir(d):
                raise
            continue
        if mode is not None:
            module.set_mode_if_different(d, mode, False)


def inside(rel):
    """Whether ``rel`` is a relative path below the root (not the root itself, not climbing out)."""
    return bool(rel) and not rel.startswith("/") and ".." not in rel.split("/") and os.path.normpath(rel) != "."


def empty_dir(module, path, mode):
    """Remove ``path`` with what it holds and create it again; whether anything changed."""
    if os.path.isdir(path) and not os.listdir(path):
        return False
    if not module.check_mode:
        if os.path.lexists(path):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        make_dirs(module, path, mode)
    return True


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "required": True},
            "files": {"type": "list", "elements": "dict", "required": True},
            "mode": {"type": "str", "default": "0644"},
            "directory_mode": {"type": "str"},
            "emptied": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    root = module.params["root"]
    wanted = []
    for f in module.params["files"]:
        rel = str(f.get("path") or "")
        if not inside(rel) or "content" not in f:
            module.fail_json(msg="each file needs a relative path inside %s and a content (got path %r)" % (root, rel), written=[], emptied=[])
        wanted.append((rel, str(f["content"])))
    for rel in module.params["emptied"]:
        if not inside(rel.rstrip("/")):
            module.fail_json(msg="each directory to empty needs a relative path inside %s (got %r)" % (root, rel), written=[], emptied=[])
    written = []
    emptied = []
    rel = ""
    try:
        for rel in module.params["emptied"]:
            if empty_dir(module, os.path.join(root, rel.rstrip("/")), module.params["directory_mode"]):
                emptied.append(rel)
        for rel, text in wanted:
            path = os.path.join(root, rel)
            if not module.check_mode:
                try:
                    make_dirs(module, os.path.dirname(path), module.params["directory_mode"])
                except OSError as exc:
                    where = exc.filename or os.path.dirname(path)
                    module.fail_json(msg="cannot create the directory %s: %s" % (where, exc.strerror or exc), written=written, emptied=emptied)
            if outfile.write_if_changed(module, path, text, prefix=".write_files-"):
                written.append(rel)
    except OSError as exc:
        module.fail_json(msg="cannot write %s under %s: %s" % (rel, root, exc.strerror or exc), written=written, emptied=emptied)
    module.exit_json(changed=bool(written or emptied), written=written, emptied=emptied)


if __name__ == "__main__":
    main()
