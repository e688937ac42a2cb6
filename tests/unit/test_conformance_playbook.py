"""conformance.yml hands undecided_runtime_checks to every probe, and to no module that would refuse it."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
OPTION = "undecided_runtime_checks"
PREFIX = "ai_conformance.kubernetes."


def accepts_probe_options(module_name):
    mod = importlib.import_module("ansible_collections.ai_conformance.kubernetes.plugins.modules.%s" % module_name)
    doc = yaml.safe_load(mod.DOCUMENTATION)
    return "ai_conformance.kubernetes.auth.PROBE" in (doc.get("extends_documentation_fragment") or []) or OPTION in (doc.get("options") or {})


def test_every_member_of_the_probes_group_accepts_the_option_or_has_it_omitted():
    group = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]["probes"]
    defaults = yaml.safe_load((REPO / "conformance.yml").read_text())[0]["module_defaults"]
    assert OPTION in defaults["group/%sprobes" % PREFIX]
    # module_defaults hands a group's keys to every member whatever its argspec: a member without
    # the option must have it overridden with omit, or its task fails with "Unsupported parameters".
    for name in group:
        if accepts_probe_options(name):
            assert PREFIX + name not in defaults, name
        else:
            assert defaults.get(PREFIX + name, {}).get(OPTION) == "{{ omit }}", name
    assert not accepts_probe_options("cluster_info") and accepts_probe_options("dra_probe")


def test_every_inventory_documents_the_policy():
    for inv in sorted((REPO / "inventories").glob("*/group_vars/all.yml")):
        assert yaml.safe_load(inv.read_text()).get("conformance_" + OPTION) == "auto", inv


def test_the_policy_is_checked_with_the_other_run_inputs_and_the_gate_names_partial_passes():
    tasks = yaml.safe_load((REPO / "conformance.yml").read_text())[0]
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
