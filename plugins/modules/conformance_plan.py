#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: conformance_plan
short_description: Plan a conformance run from the requirement registry
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Returns which requirements a run probes, with which module, in which lane and in which order,
    for a checklist version, the domains, optionally a list of requirements, the concurrency and the
    run's phases. The answer comes from the requirement registry
    (C(plugins/module_utils/core/registry.py)), the one place the collection records each requirement's
    domain role, probe module, lane and the first checklist version it is probed for.
  - The order is the run's, the background lane, then the serial lane, then the last lane; within a
    lane, by domain role and by the role's probes. With O(concurrency=serial) every entry's lane is
    C(serial) and the order stays the same.
  - A requirement-limited run (O(requirements) given) plans every probe of the domain-role lanes
    that probe the requirements asked for, since a domain role runs every probe of the lane it is
    included for.
  - Requirements the version's checklist does not list and the run does not probe for it are left
    out; so are the requirements of domains not in O(domains). Nothing is planned when O(phases)
    does not include C(probe).
  - Problems with the selection (an unknown domain or requirement id, a requirement the version does
    not have or whose domain is left out, an empty list, a bad owner) are returned in RV(errors), one
    line each, worded as conformance.yml words its input errors; the module does not fail on them,
    so that the caller can list them with its other input errors.
  - Pure computation; talks to no cluster.
options:
  version:
    description: Checklist version, for example V(v1.37) (V(1.37) and V(v1.37.2) are read as V(v1.37)).
    type: str
    default: v1.37
  domains:
    description: The domain roles to probe (the others' requirements are not planned).
    type: list
    elements: str
    default: [accelerators, scheduling, observability, networking, operators, security]
  requirements:
    description:
      - Requirement ids to probe; leave it out to probe every requirement of the version.
      - The plan then holds every probe of the domain-role lanes that probe them.
    type: list
    elements: str
  concurrency:
    description: V(lanes) runs the probes that share nothing in the background beside the others; V(serial) runs one probe at a time.
    type: str
    choices: [lanes, serial]
    default: lanes
  phases:
    description: The phases the run's tags select; without V(probe) the plan is empty.
    type: list
    elements: str
    default: [deploy, probe, upstream, cleanup, evidence]
  owners:
    description: The run's owning layer per requirement id (conformance_owners), only checked here (see RV(errors)).
    type: dict
    default: {}
  run_id:
    description:
      - The run id (conformance_run_id), checked here (see RV(errors)); left out, a new one is made
        (C(r<yymmddhhmm>-<4 hex>)), the only place a run of conformance.yml gets its id.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""

EXAMPLES = r"""
- name: Plan the run
  ai_conformance.kubernetes.conformance_plan:
    version: "{{ conformance_version | default('v1.37') }}"
    domains: "{{ conformance_domains | default(omit) }}"
    requirements: "{{ conformance_requirements | default(omit) }}"
    concurrency: "{{ conformance_concurrency | default('lanes') }}"
    phases: "{{ ansible_run_tags }}"
  register: planned

- name: Probe the domains whose probes run one at a time
  ansible.builtin.include_role:
    name: "ai_conformance.kubernetes.{{ domain }}"
  loop: "{{ planned.lane_domains.serial }}"
  loop_control:
    loop_var: domain
"""

RETURN = r"""
version:
  description: The checklist version, normalised.
  returned: always
  type: str
  sample: v1.37
concurrency:
  description: O(concurrency) as given.
  returned: always
  type: str
  sample: lanes
plan:
  description: The requirements the run probes, in the run's order.
  returned: always
  type: list
  elements: dict
  contains:
    requirement:
      description: The requirement id of the checklist.
      type: str
    domain:
      description: The domain role that probes it.
      type: str
    module:
      description: The probe module (ai_conformance.kubernetes.<module>).
      type: str
    lane:
      description: C(background), C(serial) or C(last); C(serial) for every entry when O(concurrency=serial).
      type: str
    since:
      description: The first checklist version the requirement is probed for, without the C(v) (C(1.33)).
      type: str
    level:
      description:
        - C(MUST) or C(SHOULD) in the version's checklist; C(extra) where the version dropped it and it
          is still probed (reported apart in the bundle); null where the checklist does not list it
          (the bundle leaves its result out).
      type: str
  sample:
    - {requirement: ai_inference, domain: networking, module: gateway_check, lane: background, since: "1.33", level: MUST}
    - {requirement: gang_scheduling, domain: scheduling, module: gang_probe, lane: last, since: "1.33", level: MUST}
lane_domains:
  description:
    - The domain roles to include per lane, each once, in the order of the registry; computed from the
      requirements asked for (all when O(requirements) is left out), before O(domains) and the
      version are applied, as conformance.yml has always done (its include loops apply them).
  returned: always
  type: dict
  contains:
    background:
      description: Domains with a probe in the background lane.
      type: list
      elements: str
    serial:
      description: Domains with a probe in the serial lane.
      type: list
      elements: str
    last:
      description: Domains with a probe in the last lane.
      type: list
      elements: str
  sample: {background: [networking, observability, operators, security], serial: [accelerators, observability, networking], last: [scheduling]}
run_id:
  description: O(run_id) as given, or the new run id when it was left out.
  returned: always
  type: str
  sample: r2612060514-3fa2
errors:
  description: One line per problem with the selection, worded as conformance.yml's input errors; empty when there is none.
  returned: always
  type: list
  elements: str
  sample: ["conformance_requirements names gpu_magic, which is not a requirement of any checklist"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.catalog import UnknownVersion
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import new_run_id, validate_run_id


def main():
    module = AnsibleModule(
        argument_spec={
            "version": {"type": "str", "default": "v1.37"},
            "domains": {"type": "list", "elements": "str", "default": list(registry.DOMAINS)},
            "requirements": {"type": "list", "elements": "str"},
            "concurrency": {"type": "str", "choices": list(registry.CONCURRENCIES), "default": "lanes"},
            "phases": {"type": "list", "elements": "str", "default": list(registry.PHASES)},
            "owners": {"type": "dict", "default": {}},
            "run_id": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        out = registry.plan(p["version"], p["domains"], p["requirements"], p["concurrency"], p["phases"], p["owners"])
    except UnknownVersion as exc:
        module.fail_json(msg=str(exc))
    out["run_id"] = new_run_id() if p["run_id"] is None else p["run_id"]
    try:
        validate_run_id(out["run_id"])
    except ValueError:
        out["errors"].append(
            "conformance_run_id must be 1-32 lowercase letters, digits or dashes, starting and ending with a letter or digit (got %s)" % out["run_id"]
        )
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
