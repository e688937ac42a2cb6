"""conformance.yml's first tasks: bad input stops the run before anything is deployed or probed, one
line per bad value; example metadata is warned about at the start; the run's plan matches the roles.

The playbook tests run ansible-playbook --check against a kubeconfig whose server is a closed port,
so nothing can reach a cluster; each run takes a few seconds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry
from tests.unit.conftest import closed_port, kubeconfig_text, playbook_env

REPO = Path(__file__).resolve().parents[2]
PLAY = yaml.safe_load((REPO / "playbooks" / "conformance.yml").read_text())[0]
TASKS = {t["name"]: t for t in PLAY["pre_tasks"]}


def role_spec(role):
    return yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def literal(values):
    """The values that are not templates (a template is checked where it is used)."""
    return {k: v for k, v in values.items() if not (isinstance(v, str) and "{{" in v)}


def validate(spec, values):
    plain = {k: {kk: vv for kk, vv in v.items() if kk not in ("description", "required")} for k, v in spec.items()}
    return ArgumentSpecValidator(plain).validate(values).error_messages


def probe_tasks(tasks):
    """The tasks of a task list, those inside blocks included."""
    for task in tasks:
        yield from probe_tasks(task["block"]) if "block" in task else [task]


# -- static: the plan, the roles' defaults, the inventories ---------------------------------------
def role_probes(role):
    """(requirement, module, lane, gate) of each "Probe <id>" task of a domain role, in task order:
    the lane its ``when`` names, and whether it is gated on the plan."""
    found = []
    for task in probe_tasks(yaml.safe_load((REPO / "roles" / role / "tasks" / "main.yml").read_text())):
        named = re.match(r"^Probe (\w+)$", task["name"])
        if not named:
            continue
        when = task.get("when") if isinstance(task.get("when"), list) else [task.get("when") or ""]
        lane = "background" if any("'background'" in w for w in when) else "last" if any("'last'" in w for w in when) else "serial"
        module = next(k for k in task if k.startswith("ai_conformance.kubernetes.")).rsplit(".", 1)[1]
        found.append((named.group(1), module, lane, "'%s' in _%s_planned" % (named.group(1), role) in when, " ".join(when)))
    return found


@pytest.mark.parametrize("role", registry.DOMAINS)
def test_the_probe_tasks_of_each_domain_role_are_the_registrys_records(role):
    found = role_probes(role)
    # The same requirements, each with the registry's module and lane, ...
    records = [r for r in registry.RECORDS if r.domain == role]
    assert sorted((rid, module, lane) for rid, module, lane, _g, _w in found) == sorted((r.id, r.module, r.lane) for r in records)
    # ... each probed only when the plan names it (the run's, or the registry's for the role alone),
    # and no version test of the role's own: the registry says which checklist has which requirement.
    assert [rid for rid, _m, _l, gated, _w in found if not gated] == []
    assert [rid for rid, _m, _l, _g, when in found if "version" in when] == []
    # The play plans from the registry and keeps no table of its own.
    assert "_conformance_probes" not in PLAY["vars"] and "_conformance_asked" not in PLAY["vars"]


def test_a_role_alone_asks_the_registry_for_its_own_domain_only():
    for role in registry.DOMAINS:
        tasks = yaml.safe_load((REPO / "roles" / role / "tasks" / "main.yml").read_text())
        asks = [t for t in tasks if "ai_conformance.kubernetes.conformance_plan" in t]
        assert len(asks) == 1, role
        assert asks[0]["ai_conformance.kubernetes.conformance_plan"]["domains"] == [role]
        assert asks[0]["when"] == "conformance_plan is not defined"
        block = next(t for t in tasks if "block" in t)
        assert "conformance_plan.requirements if conformance_plan is defined else _%s_plan.plan" % role in block["vars"]["_%s_planned" % role]


@pytest.mark.parametrize("role", sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists()))
def test_each_roles_defaults_are_documented_and_valid_for_its_argument_spec(role):
    spec = role_spec(role)
    defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    assert set(defaults) == set(spec)
    assert validate(spec, literal(defaults)) == []


@pytest.mark.parametrize("inventory", sorted(p.parent.parent.name for p in (REPO / "inventories").glob("*/group_vars/all.yml")))
def test_each_example_inventory_passes_the_early_checks(inventory):
    values = yaml.safe_load((REPO / "inventories" / inventory / "group_vars" / "all.yml").read_text())
    spec = PLAY["vars"]["_conformance_input_spec"]
    assert validate(spec, literal({k: v for k, v in values.items() if k in spec})) == []
    assert set(values.get("conformance_domains", [])) <= set(PLAY["vars"]["_conformance_all_domains"])
    roles = {p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists()}
    for role in roles:
        spec = role_spec(role)
        mine = literal({k: v for k, v in values.items() if k in spec})
        assert validate(spec, mine) == [], (inventory, role)


def test_no_combined_assert_hides_which_input_is_wrong():
    """Every check names its variable on its own line: a loop of one failure per bad value."""
    stop = TASKS["Stop on bad input, one line per bad value"]
    assert stop["loop_control"]["loop_var"] == "conformance_bad_input"
    assert all("ansible.builtin.assert" not in t for t in PLAY["pre_tasks"])
    names = [t["name"] for t in PLAY["pre_tasks"]]
    assert names.index("Stop on bad input, one line per bad value") < names.index("Gather the cluster facts the probes branch on")
    assert names.index("Plan the run") < names.index("Gather the cluster facts the probes branch on")


# -- the playbook itself ----------------------------------------------------------------------------
def run_play(tmp_path, *args):
    kc = tmp_path / "kubeconfig"
    kc.write_text(kubeconfig_text("https://127.0.0.1:%d" % closed_port()))
    env = playbook_env(ANSIBLE_STDOUT_CALLBACK="default")
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "conformance.yml",
        "-i",
        "inventories/local",
        "--check",
        "-e",
        "conformance_kubeconfig=%s" % kc,
        "-e",
        "conformance_output_dir=%s" % (tmp_path / "out"),
        *args,
    ]
    # One stream, so that a warning's place among the tasks is kept.
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO), env=env, timeout=120, check=False)
    return res.returncode, res.stdout


BAD = {
    "conformance_version": "v1.99",
    "conformance_mode": "probe",
    "conformance_domains": ["scheduling", "gpus"],
    "conformance_background_timeout": 0,
    "conformance_owners": {"gpu_sharing": "vendor"},
    "conformance_product": "My_Product",
    "conformance_metadata": {"platformName": "[Platform Name]", "vendorName": "", "websiteUrl": "https://docs.vendor.com/ai"},
    "scheduling_timeout": "soon",
    "scheduling_gang_scheduler": "slurm",
    # The accelerators domain is not probed in this run: its variables are not its concern.
    "accelerators_owner": "nobody",
}
EXPECTED = [
    "conformance_version must be one of v1.33, v1.34, v1.35, v1.36, v1.37 (got v1.99)",
    "conformance_mode must be one of deploy, validate (got probe)",
    "argument 'scheduling_timeout' is of type str and we were unable to convert to int: \"'soon'\" cannot be converted to an int",
    "scheduling_gang_scheduler must be one of auto, kueue, volcano, kai, native (got slurm)",
    "conformance_domains must be a list of accelerators, scheduling, observability, networking, operators, security (got ['scheduling', 'gpus'])",
    "conformance_background_timeout must be at least 1, the seconds a background probe may run (got 0)",
    "conformance_owners.gpu_sharing must be platform, product or base (got vendor)",
    "conformance_product must be lowercase letters, digits and dashes, the product directory of the CNCF submission (got My_Product)",
    "conformance_metadata.platformVersion is missing: PRODUCT.yaml needs it",
    "conformance_metadata.documentationUrl is missing: PRODUCT.yaml needs it",
    "conformance_metadata.description is missing: PRODUCT.yaml needs it",
    "conformance_metadata.contactEmailAddress is missing: PRODUCT.yaml needs it",
    "conformance_metadata.k8sConformanceUrl is missing: PRODUCT.yaml needs it",
    "conformance_metadata.vendorName is empty: PRODUCT.yaml needs it",
    "conformance_metadata.platformName is still the placeholder [Platform Name]: set the product's own value",
]


def test_bad_input_stops_the_run_with_one_line_per_bad_value_and_nothing_else_runs(tmp_path):
    rc, out = run_play(tmp_path, "-e", json.dumps(BAD))
    assert rc != 0
    bad = [line[len("[conformance] bad input: ") :] for line in out.splitlines() if line.startswith("[conformance] bad input: ")]
    assert bad == EXPECTED, out[-4000:]
    # Ansible's own output names each one on its own line too.
    for msg in EXPECTED:
        assert "Task failed: Action failed: %s\n" % msg in out
    assert "accelerators_owner" not in out
    # The example address is warned about before the run stops.
    assert "[WARNING]: conformance_metadata.websiteUrl is an example address (https://docs.vendor.com/ai)" in out
    assert "TASK [Plan the run]" not in out and "TASK [Gather the cluster facts" not in out and "[conformance] plan:" not in out


def test_good_input_warns_about_example_metadata_plans_the_run_then_stops_at_the_unreachable_cluster(tmp_path):
    rc, out = run_play(tmp_path)
    assert rc != 0
    assert "[conformance] bad input" not in out
    warned = re.findall(r"\[WARNING\]: (conformance_metadata\.\w+) is an example address", out)
    assert warned == ["conformance_metadata.websiteUrl", "conformance_metadata.documentationUrl",
                      "conformance_metadata.productLogoUrl", "conformance_metadata.contactEmailAddress"]  # fmt: skip
    assert out.index("[WARNING]: conformance_metadata.websiteUrl") < out.index("TASK [Gather the cluster facts")
    assert "[conformance] plan: 16 requirement(s) to probe for checklist v1.37 (8 background, 1 last, 7 serial)" in out
    assert re.search(r'fatal: \[refcluster\]: FAILED! => \{.*"msg": "cannot reach the Kubernetes API at https://127\.0\.0\.1:\d+', out)


def test_a_run_without_the_evidence_phase_does_not_check_the_metadata(tmp_path):
    extra = {"conformance_metadata": {}, "conformance_concurrency": "serial", "conformance_version": "v1.35"}
    rc, out = run_play(tmp_path, "--tags", "probe", "-e", json.dumps(extra))
    assert rc != 0 and "[conformance] bad input" not in out and "[WARNING]: conformance_metadata" not in out
    assert "[conformance] plan: 12 requirement(s) to probe for checklist v1.35 (12 serial)" in out
    assert "TASK [Gather the cluster facts" in out


def test_a_bad_upload_setting_stops_the_run_before_anything_runs(tmp_path):
    # The upload runs last, after the bundle; its settings are checked first, with the others.
    rc, out = run_play(tmp_path, "-e", json.dumps({"bundle_upload_destination": "ftp"}))
    assert rc != 0
    bad = [line[len("[conformance] bad input: ") :] for line in out.splitlines() if line.startswith("[conformance] bad input: ")]
    assert len(bad) == 1 and "bundle_upload_destination" in bad[0] and "ftp" in bad[0], out[-3000:]
    assert "TASK [Gather the cluster facts" not in out
