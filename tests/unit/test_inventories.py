"""The example inventories give the run the same values as before they shrank to what differs per
platform.  Each inventory's effective variables are rendered by Ansible itself: a plain play on
that inventory lists the domain roles (and upstream_suite) under ``roles:`` with ``when: false``,
so their defaults are in scope at their real precedence (below the inventory's group_vars) and no
role task runs; one task writes the rendered values to a file.  The snapshot
(tests/unit/fixtures/inventory_snapshot.json) was recorded from the inventories of 136-162 lines,
before they shrank; AIC_RECORD_INVENTORY_SNAPSHOT=1 records it again.  The per-requirement timeouts
(<role>_<requirement>_timeout, added later) were added to it with their domain's <role>_timeout value
of each inventory, which is what their defaults give; so were scheduling_lane, scheduling_background_timeout
and scheduling_alongside_marker (added with cluster_autoscaling's background lane) with the values of
observability's same variables, and an empty marker, and observability_alongside_marker (added with
pod_autoscaling's background lane), empty.

The run's own variables (conformance_*) have no role: conformance.yml reads each with
``| default(<value>)``.  RUN_DEFAULTS are those values, given to the rendering play as the defaults
of a role of its own (the same precedence); test_run_defaults_are_the_playbooks_defaults checks
them against the playbook's text."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.conftest import playbook_env

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "tests" / "unit" / "fixtures" / "inventory_snapshot.json"
# The platform inventories (a fleet inventory is checked by its own tests).
INVENTORIES = ["aks", "eks", "gke", "local", "oke"]
ROLES = ["accelerators", "scheduling", "observability", "networking", "operators", "security", "upstream_suite"]
ALL_DOMAINS = ["accelerators", "scheduling", "observability", "networking", "operators", "security"]
# What conformance.yml takes for a run variable the inventory does not set.  conformance_output_dir:
# the collection's root (here the rendering play's directory stands for it) + /evidence-out.
RUN_DEFAULTS = {
    "conformance_version": "v1.37",
    "conformance_mode": "validate",
    "conformance_concurrency": "lanes",
    "conformance_background_timeout": 1800,
    "conformance_domains": ALL_DOMAINS,
    "conformance_undecided_runtime_checks": "auto",
    "conformance_kubeconfig": "",
    "conformance_context": "",
    "conformance_owners": {},
    "conformance_base": {},
    "conformance_output_dir": "{{ playbook_dir }}/evidence-out",
}


def names():
    """Every role variable and every run variable an inventory sets or sets by default."""
    out = set(RUN_DEFAULTS)
    for role in ROLES:
        out |= set(yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {})
    for inv in INVENTORIES:
        out |= set(yaml.safe_load((REPO / "inventories" / inv / "group_vars" / "all.yml").read_text()))
    return sorted(out)


def effective(inventory, tmp_path, wanted):
    """The rendered values of ``wanted`` on ``inventory``'s host, paths made relative."""
    play_dir = tmp_path / inventory
    (play_dir / "roles" / "run_defaults" / "defaults").mkdir(parents=True)
    (play_dir / "roles" / "run_defaults" / "defaults" / "main.yml").write_text(yaml.safe_dump(RUN_DEFAULTS))
    out = play_dir / "effective.json"
    play = [
        {
            "name": "Render the effective variables",
            "hosts": "all",
            "gather_facts": False,
            "roles": [{"role": "run_defaults"}] + [{"role": "ai_conformance.kubernetes." + r, "when": False} for r in ROLES],
            "tasks": [
                {
                    "name": "Write them",
                    "ansible.builtin.copy": {"content": "{{ dict(_names | zip(query('ansible.builtin.vars', *_names))) | to_nice_json }}", "dest": str(out)},
                    "vars": {"_names": wanted},
                }
            ],
        }
    ]
    (play_dir / "render.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = playbook_env(AIC_UPSTREAM_SUITE_SRC="")
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), str(play_dir / "render.yml"), "-i", str(REPO / "inventories" / inventory)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=120, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    text = out.read_text().replace(str(play_dir), "<collection root>").replace(str(REPO), "<repo>")
    return json.loads(text)


def snapshot():
    return json.loads(SNAPSHOT.read_text())


@pytest.mark.skipif(not os.environ.get("AIC_RECORD_INVENTORY_SNAPSHOT"), reason="records the snapshot only when asked")
def test_record_the_snapshot(tmp_path):
    wanted = names()
    SNAPSHOT.write_text(json.dumps({inv: effective(inv, tmp_path, wanted) for inv in INVENTORIES}, indent=1, sort_keys=True) + "\n")


# Values changed on purpose since the snapshot (issue 23), each the same on every inventory unless it
# sets its own: the probes now find these in the cluster when they are left empty (0 for a port), so
# the reference cluster's inventory no longer names them; the main job on it gave the same verdicts.
DISCOVERED = {
    "networking_pool_listener_port": 0,  # the Gateway's HTTP listener
    "networking_disagg_prefill_metrics_port": 0,  # each phase's vLLM --port, else 8000 / 8200 as before
    "networking_disagg_decode_metrics_port": 0,
}
# The reference cluster's own settings that equal what the probes' auto modes find there: the only
# AI operator served (KubeRay), annotations (no PodMonitor CRD), the only sandbox RuntimeClass (gvisor),
# the upstream suite's auto allocation mode (DRA: DeviceClass and slices), the optional repoUrl, and
# the pool and the disaggregated stack the probes now discover.
LOCAL_NOW_DEFAULT = {
    "operators_operator": "auto",
    "observability_workload_discovery": "auto",
    "security_runtime_class": "",
    "upstream_suite_allocation_mode": "auto",
    "networking_pool_name": "",
    "networking_pool_gateway": "",
    "networking_pool_model": "",
    "networking_disagg_model": "",
    "networking_disagg_gateway": "",
    "networking_disagg_hostname": "",
}


def expected_values(inventory, recorded):
    want = dict(recorded, **{k: v for k, v in DISCOVERED.items() if k in recorded})
    if inventory == "local":
        want.update(LOCAL_NOW_DEFAULT)
        want["conformance_metadata"] = {k: v for k, v in recorded["conformance_metadata"].items() if k != "repoUrl"}
    if inventory == "eks":  # the upstream suite's autoscaler label now follows the named NodePool
        want["upstream_suite_autoscaler_node_pool_label"] = "karpenter.sh/nodepool=gpu"
    return want


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_each_inventory_yields_the_recorded_values(inventory, tmp_path):
    recorded = snapshot()[inventory]
    want = expected_values(inventory, recorded)
    now = effective(inventory, tmp_path, sorted(recorded))
    assert {k: v for k, v in now.items() if v != want[k]} == {}


def test_the_snapshot_covers_every_role_variable_and_every_inventory():
    recorded = snapshot()
    assert sorted(recorded) == INVENTORIES
    for role in ROLES:
        for name in yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()):
            if not name.endswith(("_kubeconfig", "_context", "_run_id")) or role == "upstream_suite":
                assert all(name in values for values in recorded.values()), name


def test_run_defaults_are_the_playbooks_defaults():
    """Every ``conformance_<x> | default(<literal>)`` of the playbook (and the task files it imports) gives the value RUN_DEFAULTS has."""
    files = [REPO / "conformance.yml", REPO / "playbooks" / "conformance.yml", *sorted((REPO / "playbooks" / "tasks").glob("*.yml"))]
    text = "\n".join(p.read_text() for p in files)
    seen = set()
    for name, value in re.findall(r"\b(conformance_\w+) \| default\(([^()]*?)(?:, true)?\)", text):
        if name in RUN_DEFAULTS and not value.startswith(("omit", "playbook_dir", "none")):
            assert ast.literal_eval(value) == RUN_DEFAULTS[name], (name, value)
            seen.add(name)
    assert seen >= {"conformance_version", "conformance_mode", "conformance_concurrency", "conformance_background_timeout", "conformance_domains"}


def test_each_inventory_sets_only_what_differs_from_the_defaults():
    defaults = dict(RUN_DEFAULTS)
    for role in ROLES:
        defaults.update(yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()))
    for inv in INVENTORIES:
        values = yaml.safe_load((REPO / "inventories" / inv / "group_vars" / "all.yml").read_text())
        assert [k for k, v in values.items() if k in defaults and defaults[k] == v] == [], inv


def inventory_lines(inventory):
    """The lines of every file of the inventory's directory, comments included."""
    return sum(len(p.read_text().splitlines()) for p in (REPO / "inventories" / inventory).rglob("*") if p.is_file())


def test_the_example_inventories_are_under_40_lines():
    # Every inventory sets only what its platform changes; the local one the reference cluster's
    # topology (ports, images and timings of its fakes, its PRODUCT.yaml metadata).
    found = sorted(p.name for p in (REPO / "inventories").iterdir() if p.is_dir())
    assert set(INVENTORIES) | {"fleet-example"} <= set(found), found
    for inv in found:
        assert inventory_lines(inv) < 40, (inv, inventory_lines(inv))
