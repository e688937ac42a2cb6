#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cleanup_run
short_description: Delete what interrupted conformance runs left behind
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Probes delete their own objects, also on failure. A run killed mid-way (a cancelled AWX job, a
    lost connection) can leave some; this module deletes every object labelled
    C(app.kubernetes.io/managed-by=ai-conformance), or only those of one O(run_id).
  - Only labelled objects of the kinds the probes create are touched; nothing else is listed or deleted.
  - In check mode it lists what it would delete.
  - With O(run_id), it then waits up to O(wait_timeout) seconds for the run's namespaces to be gone.
    Each probe deletes its own namespace and leaves it terminating in the background (the namespace
    controller starts only after a grace period), so the end of a run is where that is awaited.
  - A pod that Kueue holds with its finalizer (a pod group of a killed gang probe) is first marked
    non-retriable, Kueue's documented way to end its group, as the probe would have done.
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
options:
  run_id:
    description: Only objects of this run; empty means every run.
    type: str
    default: ""
  wait_timeout:
    description:
      - Seconds to wait for the namespaces of O(run_id) to be gone after the sweep; V(0) looks once.
      - Namespaces still terminating then are returned in RV(terminating) with a warning; the module
        does not fail for them.
    type: int
    default: 120
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Remove leftovers of every interrupted run
  ai_conformance.kubernetes.cleanup_run:

- name: Show what one run left, without deleting
  ai_conformance.kubernetes.cleanup_run:
    run_id: r2611230101-ab12
  check_mode: true
"""

RETURN = r"""
deleted:
  description: The objects deleted (in check mode, those that would be).
  returned: always
  type: list
  elements: dict
  sample: [{apiVersion: v1, kind: Namespace, name: aic-dra-support-r2611230101-ab12, namespace: null, run_id: r2611230101-ab12}]
terminating:
  description: Namespaces of O(run_id) still terminating after O(wait_timeout) (empty without O(run_id) and in check mode).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import auth_argspec, client_or_fail, new_module
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import await_namespaces, sweep


def main():
    spec = auth_argspec()
    spec["run_id"] = {"type": "str", "default": ""}
    spec["wait_timeout"] = {"type": "int", "default": 120}
    module = new_module(spec)
    client = client_or_fail(module)
    run_id = module.params["run_id"] or None
    terminating = []
    try:
        out = sweep(client, run_id, dry_run=module.check_mode)
        if run_id and not module.check_mode:
            terminating = await_namespaces(client, run_id, max(0, module.params["wait_timeout"]))
    except (ClusterError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    if terminating:
        waited = module.params["wait_timeout"]
        module.warn("%d namespace(s) of run %s still terminating after %ss: %s" % (len(terminating), run_id, waited, ", ".join(terminating)))
    module.exit_json(changed=bool(out), deleted=out, terminating=terminating)


if __name__ == "__main__":
    main()
