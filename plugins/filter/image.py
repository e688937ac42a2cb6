# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``mirror`` filter: an image (or OCI chart) reference rewritten for a registry mirror.

Also ``mirror_registry``, the same rule for a Helm chart's registry or repository-prefix value
(``docker.io``, ``nvcr.io/nvidia``: the host is always written).  Documented in mirror.yml and
mirror_registry.yml next to this file (a filter's documentation is named after the filter);
the rule itself lives in plugins/module_utils/core/images.py, shared with the probes'
``image_registry`` options."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.images import PLAY_NAMES
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.images import mirror as _mirror
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.images import mirror_registry as _mirror_registry


def mirror(ref: Any, prefix: str | None = "", registry_map: dict[str, Any] | None = None) -> Any:
    """``ref`` under ``registry_map[host]`` or ``prefix``; unchanged when neither applies."""
    try:
        return _mirror(ref, prefix or "", registry_map or {}, PLAY_NAMES)
    except ValueError as exc:
        raise AnsibleFilterError("ai_conformance.kubernetes.mirror: %s" % exc)


def mirror_registry(location: Any, prefix: str | None = "", registry_map: dict[str, Any] | None = None) -> Any:
    """A chart's registry or repository prefix (host first) under its target; unchanged as ``mirror``."""
    try:
        return _mirror_registry(location, prefix or "", registry_map or {}, PLAY_NAMES)
    except ValueError as exc:
        raise AnsibleFilterError("ai_conformance.kubernetes.mirror_registry: %s" % exc)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"mirror": mirror, "mirror_registry": mirror_registry}
