#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fleet_summary
short_description: Write fleet.json and fleet.html, a requirements x clusters matrix of many evidence bundles
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Reads C(results.json) of each cluster's evidence bundle (one inventory host per cluster, see
    C(playbooks/fleet.yml) and C(docs/fleet.md)) and writes into O(dest) C(fleet.json), the matrix as data, and
    C(fleet.html), the same matrix as a page.
  - "Each cell is the cluster's verdict for the requirement (C(pass), C(partial) for a pass with checks not
    decided, C(fail), C(error), C(skip), C(not_applicable)), taken from its bundle only. A cluster given with
    O(clusters[].error), without a bundle, whose bundle holds another run than O(clusters[].run_id), or whose
    results.json cannot be read is a column of C(error) cells with that reason; the other clusters are unaffected."
  - "With O(previous), a fleet.json of an earlier run, the summary lists the cells whose verdict changed (drift),
    and the clusters and requirements added or removed."
  - "C(fleet.html) is self-contained like each bundle's C(report.html) (inline CSS, no script, no external
    resource; its Content-Security-Policy forbids loading any); its cluster headers link each bundle's report.html."
  - Talks to no cluster. C(generated), the time of writing, is in both files, so every run reports a change.
options:
  clusters:
    description: One entry per cluster (inventory host).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The cluster's name (its inventory host name); unique.
        type: str
        required: true
      bundle:
        description: Its evidence bundle directory, holding results.json.
        type: path
      run_id:
        description: The run id the bundle must come from (an older bundle left in the directory is then an error).
        type: str
      error:
        description: Why the run stopped on this cluster before its bundle was written; the column is C(error).
        type: str
      platform:
        description: The platform, shown under the cluster's name.
        type: str
      metadata:
        description: Free-form facts about the cluster (region, pool, owner), shown in the clusters table.
        type: dict
  dest:
    description: The directory to write fleet.json and fleet.html into; created when missing.
    type: path
    required: true
  version:
    description: The checklist version whose requirements are the rows (others a bundle holds follow them).
    type: str
    default: v1.37
  previous:
    description: A fleet.json of an earlier run of the same inventory, for the drift.
    type: path
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
"""

EXAMPLES = r"""
- name: Summarise two clusters, one of which could not be reached
  ai_conformance.kubernetes.fleet_summary:
    dest: fleet-out
    clusters:
      - {name: prod-eu, bundle: fleet-out/prod-eu/v1.37/acme-ai, platform: eks}
      - {name: prod-us, error: "cannot reach the Kubernetes API at https://10.0.0.9:6443", platform: gke}
    previous: fleet-out/fleet.json
    mode: "0644"
"""

RETURN = r"""
json:
  description: Path of fleet.json.
  returned: always
  type: str
  sample: fleet-out/fleet.json
html:
  description: Path of fleet.html.
  returned: always
  type: str
  sample: fleet-out/fleet.html
totals:
  description: "The clusters by outcome: conformant, not_conformant and error (lists of names) and clusters (the count)."
  returned: always
  type: dict
  sample: {clusters: 2, conformant: [prod-eu], not_conformant: [], error: [prod-us]}
drift:
  description: The cells changed since O(previous) (requirement, cluster, was, now, reason), or null without O(previous).
  returned: always
  type: dict
  sample: {changed: [{requirement: gang_scheduling, cluster: prod-eu, was: pass, now: fail, reason: "..."}]}
msg:
  description: One line.
  returned: always
  type: str
  sample: "2 clusters: 1 conformant, 0 not conformant, 1 error (prod-us)"
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog, outfile
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import fleet, fleet_html


def write(module, dest, text):
    return outfile.write_if_changed(module, dest, text, prefix=".fleet_summary-")


def main():
    module = AnsibleModule(
        argument_spec={
            "clusters": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "bundle": {"type": "path"},
                    "run_id": {"type": "str"},
                    "error": {"type": "str"},
                    "platform": {"type": "str"},
                    "metadata": {"type": "dict"},
                },
            },
            "dest": {"type": "path", "required": True},
            "version": {"type": "str", "default": "v1.37"},
            "previous": {"type": "path"},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    p = module.params
    try:
        previous = fleet.load_previous(p["previous"]) if p["previous"] else None
        doc = fleet.build(p["clusters"], p["version"], previous, p["previous"])
    except (fleet.FleetInputError, catalog.UnknownVersion) as exc:
        module.fail_json(msg=str(exc))
    if not module.check_mode:
        try:
            os.makedirs(p["dest"], exist_ok=True)
        except OSError as exc:
            module.fail_json(msg="cannot create the fleet summary directory %s: %s" % (p["dest"], exc.strerror or exc))
    out = {"json": os.path.join(p["dest"], fleet.JSON_NAME), "html": os.path.join(p["dest"], fleet.HTML_NAME)}
    changed = False
    try:
        changed = write(module, out["json"], fleet.to_json(doc)) or changed
        changed = write(module, out["html"], fleet_html.render(doc, p["dest"])) or changed
    except OSError as exc:
        module.fail_json(msg="cannot write the fleet summary to %s: %s" % (p["dest"], exc.strerror or exc))
    module.exit_json(changed=changed, msg=fleet.line(doc), totals=doc["totals"], drift=doc["drift"], **out)


if __name__ == "__main__":
    main()
