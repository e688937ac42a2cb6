# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Matches PROMETHEUS_ARGSPEC in plugins/module_utils/core/metrics.py.
    DOCUMENTATION = r"""
options:
  prometheus_url:
    description:
      - Base URL of the Prometheus HTTP API, reached directly from the controller.
      - Mutually exclusive with O(prometheus_service); when neither is set, a Prometheus Service
        is discovered by its labels in any namespace.
    type: str
  prometheus_service:
    description:
      - C(namespace/name[:port]) of the Prometheus Service, reached through the API server's
        service proxy with the module's credentials.
    type: str
  prometheus_token:
    description: Bearer token for O(prometheus_url).
    type: str
  prometheus_validate_certs:
    description: Verify the TLS certificate of O(prometheus_url).
    type: bool
    default: true
"""
