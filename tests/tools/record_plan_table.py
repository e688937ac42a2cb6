"""Record what conformance.yml's own Jinja planned, for tests/unit/plugins/module_utils/test_registry_plan.py.

Before the playbook asked ai_conformance.kubernetes.conformance_plan for its plan, the plan was Jinja
in conformance.yml: the "Plan the run" task over the play's ``_conformance_probes`` table, and the
selection errors of the "Stop on bad input" task (those about conformance_domains, conformance_owners
and conformance_requirements).  This script renders those expressions with
ansible-core's own templar, from conformance.yml as of commit 783685d (the last one before the
switch), for a matrix of inputs, and writes tests/unit/fixtures/plan_table.json: one entry per case,
the Jinja's answer as it came out.  The registry's plan must give the same answers.

    .venv/bin/python tests/tools/record_plan_table.py [--commit 783685d]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "unit" / "fixtures" / "plan_table.json"
VERSIONS = ["v1.33", "v1.34", "v1.35", "v1.36", "v1.37"]
CONCURRENCY = ["lanes", "serial"]
DOMAINS = [None, ["networking"], ["scheduling", "security"], ["accelerators", "observability", "networking"], [], ["networking", "gpus"]]
REQUIREMENTS = [
    None,
    [],
    ["gang_scheduling"],
    ["ai_inference"],
    ["pod_autoscaling", "workload_sandboxing"],
    ["dra_support", "high_performance_networking"],
    ["gpu_magic", "robust_controller"],
]
SELECTION = re.compile(r"^conformance_(domains|owners|requirements)\b")
# Each planned probe is written as a list of these (the keys the Jinja's entries had).
PLAN_KEYS = ("requirement", "domain", "lane", "since")
ALL_PHASES = ["deploy", "probe", "upstream", "cleanup", "evidence"]
# Phases and owners are varied on a few cases only: they act apart from the rest.
EXTRA = [
    {"version": "v1.37", "concurrency": "lanes", "domains": None, "requirements": None, "phases": ["evidence"], "owners": {}},
    {"version": "v1.36", "concurrency": "serial", "domains": None, "requirements": ["ai_inference"], "phases": ["probe"], "owners": {}},
    {"version": "v1.37", "concurrency": "lanes", "domains": None, "requirements": None, "phases": ALL_PHASES,
     "owners": {"gpu_sharing": "vendor", "bogus_req": "base", "Gpu": "product", "robust_controller": "base"}},
]  # fmt: skip


def trust(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trust(x) for x in value]
    if isinstance(value, dict):
        return {k: trust(v) for k, v in value.items()}
    return value


def render(play, case):
    tasks = {t["name"]: t for t in play["pre_tasks"]}
    plan_task, stop_task = tasks["Plan the run"], tasks["Stop on bad input, one line per bad value"]
    variables = trust(dict(play["vars"]))
    variables.update(
        conformance_run_id="r1",
        conformance_version=case["version"],
        conformance_concurrency=case["concurrency"],
        conformance_owners=case["owners"],
        _conformance_phases=case["phases"],
        _conformance_checked={},
        _conformance_role_checks={},
    )
    if case["domains"] is not None:
        variables["conformance_domains"] = case["domains"]
    if case["requirements"] is not None:
        variables["conformance_requirements"] = case["requirements"]
    variables.update(trust(plan_task["vars"]))
    variables.update(trust(stop_task["vars"]))
    templar = Templar(loader=DataLoader(), variables=variables)
    plan = templar.template(trust(plan_task["ansible.builtin.set_fact"]["conformance_plan"]))
    assert all(sorted(row) == sorted(PLAN_KEYS) for row in plan["requirements"]), plan["requirements"]
    return {
        "plan": [[row[k] for k in PLAN_KEYS] for row in plan["requirements"]],
        "concurrency": plan["concurrency"],
        "lane_domains": templar.template(variables["_conformance_lane_domains"]),
        # Only the errors about the selection (the run's other inputs are not the plan's concern).
        "errors": [e for e in templar.template(variables["_conformance_input_errors"]) if SELECTION.match(e)],
    }


def cases():
    for version, concurrency, domains, requirements in itertools.product(VERSIONS, CONCURRENCY, DOMAINS, REQUIREMENTS):
        yield {"version": version, "concurrency": concurrency, "domains": domains, "requirements": requirements, "phases": ALL_PHASES, "owners": {}}
    yield from EXTRA


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="783685d")
    args = parser.parse_args()
    text = subprocess.run(["git", "show", "%s:conformance.yml" % args.commit], cwd=REPO, capture_output=True, text=True, check=True).stdout
    play = yaml.safe_load(text)[0]
    table = [{"input": case, "jinja": render(play, case)} for case in cases()]
    OUT.write_text("[\n" + ",\n".join(json.dumps(row) for row in table) + "\n]\n")
    print("%d cases written to %s" % (len(table), OUT.relative_to(REPO)))


if __name__ == "__main__":
    main()
