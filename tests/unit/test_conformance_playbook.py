"""conformance.yml hands undecided_runtime_checks to every probe, and to no module that would refuse it."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
OPTION = "undecided_runtime_checks"
PREFIX = "ai_conformance.kubernetes."


def documentation(module_name):
    mod = importlib.import_module("ansible_collections.ai_conformance.kubernetes.plugins.modules.%s" % module_name)
    return yaml.safe_load(mod.DOCUMENTATION)


def accepts_probe_options(module_name):
    doc = documentation(module_name)
    return "ai_conformance.kubernetes.auth.PROBE" in (doc.get("extends_documentation_fragment") or []) or OPTION in (doc.get("options") or {})


def accepts(module_name, option):
    """Whether the module takes ``option``: its own options, the probe options or the connection's."""
    doc = documentation(module_name)
    if option in (doc.get("options") or {}):
        return True
    fragments = doc.get("extends_documentation_fragment") or []
    frag = importlib.import_module("ansible_collections.ai_conformance.kubernetes.plugins.doc_fragments.auth").ModuleDocFragment
    return (PREFIX + "auth.PROBE" in fragments and option in yaml.safe_load(frag.PROBE)["options"]) or (
        PREFIX + "auth" in fragments and option in yaml.safe_load(frag.DOCUMENTATION)["options"]
    )


def test_every_member_of_the_probes_group_accepts_the_option_or_has_it_omitted():
    group = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]["probes"]
    defaults = yaml.safe_load((REPO / "playbooks" / "conformance.yml").read_text())[0]["module_defaults"]
    assert OPTION in defaults["group/%sprobes" % PREFIX]
    # module_defaults hands a group's keys to every member whatever its argspec: a member without
    # the option must have it overridden with omit, or its task fails with "Unsupported parameters".
    for name in group:
        if accepts_probe_options(name):
            assert PREFIX + name not in defaults, name
        else:
            assert defaults.get(PREFIX + name, {}).get(OPTION) == "{{ omit }}", name
    assert not accepts_probe_options("cluster_info") and accepts_probe_options("dra_probe")
    # The same for every key of the group: the cluster and the run id come from here.
    assert {"kubeconfig", "context", "run_id"} <= set(defaults["group/%sprobes" % PREFIX])
    for key in defaults["group/%sprobes" % PREFIX]:
        for name in group:
            assert accepts(name, key) or defaults.get(PREFIX + name, {}).get(key) == "{{ omit }}", (name, key)
    assert not accepts("cluster_info", "run_id") and accepts("cleanup_run", "run_id") and accepts("gang_probe", "run_id")


def role_probe_tasks(tasks, blocks=()):
    """(task, the module_defaults of its blocks) for every task of a role's task list."""
    for task in tasks:
        if "block" in task:
            yield from role_probe_tasks(task["block"], (*blocks, task.get("module_defaults") or {}))
        else:
            yield task, blocks


def test_each_domain_role_hands_its_probes_the_cluster_and_run_id_once_through_its_own_action_group():
    groups = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]
    domains = ["accelerators", "scheduling", "observability", "networking", "operators", "security"]
    probes = [m for m in groups["probes"] if m not in ("cluster_info", "cleanup_run")]
    # Every probe module is in exactly one domain's group, and the domain groups hold only probes.
    assert sorted(m for d in domains for m in groups[d + "_probes"]) == sorted(probes)
    for role in domains:
        tasks = yaml.safe_load((REPO / "roles" / role / "tasks" / "main.yml").read_text())
        modules = []
        for task, blocks in role_probe_tasks(tasks):
            action = next((k for k in task if k.startswith(PREFIX)), None)
            if action is None or action == PREFIX + "conformance_plan":
                # The role alone asks the registry what to probe (a planner, no probe: no cluster).
                continue
            modules.append(action[len(PREFIX) :])
            # No task passes the plumbing itself ...
            assert not {"kubeconfig", "context", "run_id", "owner"} & set(task[action]), (role, task["name"])
            # ... its block does, from the role's variables (their defaults: the run's, roles/<role>/defaults).
            given = [b["group/%s%s_probes" % (PREFIX, role)] for b in blocks if "group/%s%s_probes" % (PREFIX, role) in b]
            assert given and given[-1] == {
                "kubeconfig": "{{ %s_kubeconfig | default(omit, true) }}" % role,
                "context": "{{ %s_context | default(omit, true) }}" % role,
                "run_id": "{{ %s_run_id | default(omit, true) }}" % role,
                "owner": "{{ %s_owner }}" % role,
            }, (role, task["name"])
        assert modules == groups[role + "_probes"], role
    # A role block's group is its own key: the play's probes group (undecided_runtime_checks) still applies.
    assert all("%s_probes" % d != "probes" for d in domains)


def test_the_policy_defaults_to_auto_and_no_platform_inventory_changes_it():
    frag = importlib.import_module("ansible_collections.ai_conformance.kubernetes.plugins.doc_fragments.auth").ModuleDocFragment
    assert yaml.safe_load(frag.PROBE)["options"][OPTION]["default"] == "auto"
    for inv in ("aks", "eks", "gke", "local", "oke"):
        values = yaml.safe_load((REPO / "inventories" / inv / "group_vars" / "all.yml").read_text())
        assert values.get("conformance_" + OPTION, "auto") == "auto", inv


def test_the_policy_is_checked_with_the_other_run_inputs_and_the_gate_names_partial_passes():
    tasks = yaml.safe_load((REPO / "playbooks" / "conformance.yml").read_text())[0]
    check = next(t for t in tasks["pre_tasks"] if t["name"] == "Check the run's inputs")["ansible.builtin.validate_argument_spec"]
    # The run's inputs are checked against one spec, each bad value on its own line
    # (tests/unit/test_conformance_preflight.py runs the playbook with bad values).
    assert check["argument_spec"] == "{{ _conformance_input_spec }}"
    spec = tasks["vars"]["_conformance_input_spec"]
    assert spec["conformance_undecided_runtime_checks"] == {"type": "str", "choices": ["auto", "fail", "allow"]}
    gate = next(t for t in tasks["tasks"] if t["name"] == "Fail when a MUST requirement failed or could not be decided")
    # A partial pass is a pass for the gate; the message names the partial MUSTs.
    assert gate["ansible.builtin.assert"]["that"] == "evidence_summary.must_failed_or_error | length == 0"
    assert "evidence_summary.must_partial" in gate["vars"]["_conformance_must_partial"]
    assert "_conformance_partial_note" in gate["ansible.builtin.assert"]["success_msg"]
