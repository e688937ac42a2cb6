# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a module's output file: only when its text differs, atomically, check mode honoured, then
the task's file arguments (mode, owner, ...) applied.  Shared by render_report and fleet_summary."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import os
import tempfile
from typing import Any


def write_if_changed(module: Any, dest: str, text: str, prefix: str = ".aic-") -> bool:
    """Write ``text`` to ``dest`` when it differs (atomically, not in check mode); whether it changed."""
    try:
        with open(dest, encoding="utf-8") as fh:
            changed = fh.read() != text
    except OSError:
        changed = True
    if changed and not module.check_mode:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=prefix)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        module.atomic_move(tmp, dest)
    if os.path.exists(dest):
        changed = module.set_fs_attributes_if_different(module.load_file_common_arguments(module.params, path=dest), changed)
    return changed
