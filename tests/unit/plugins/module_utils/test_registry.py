"""The requirement registry against the checklists, the probe modules and the domain roles."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import basic

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog, registry

REPO = Path(__file__).resolve().parents[4]
MODULES = "ansible_collections.ai_conformance.kubernetes.plugins.modules."
CHECKLISTS = sorted((REPO / "tests" / "fixtures" / "checklists").glob("AIConformance-1.*.yaml"))


def checklist_items():
    for path in CHECKLISTS:
        doc = yaml.safe_load(path.read_text())
        for category, items in doc["spec"].items():
            for item in items:
                yield path.name, category, item["id"], item["level"]


def test_every_item_of_every_official_checklist_maps_to_a_record_of_its_category():
    items = list(checklist_items())
    assert {item[0] for item in items} >= {"AIConformance-1.%d.yaml" % n for n in range(33, 38)}
    for name, category, rid, level in items:
        rec = registry.record(rid)
        assert rec.category == category, (name, rid)
        version = "v" + re.search(r"(1\.\d+)", name).group(1)
        assert rec.level(version) == level, (name, rid)
        assert rec.probed_for(version), (name, rid)
    assert {rid for _n, _c, rid, _l in items} == set(registry.BY_ID)


@pytest.mark.parametrize("rec", registry.RECORDS, ids=lambda r: r.id)
def test_every_record_names_an_existing_probe_module_whose_probe_is_its_requirement(rec):
    assert (REPO / "plugins" / "modules" / (rec.module + ".py")).is_file()
    mod = importlib.import_module(MODULES + rec.module)
    # The module's probe class (its own, or imported from the module_utils that hold its logic).
    assert {v.requirement for v in vars(mod).values() if isinstance(v, type) and getattr(v, "requirement", "")} == {rec.id}
    assert registry.requirement_of(rec.module) == rec.id


def test_records_are_consistent():
    assert len(registry.RECORDS) == len(registry.BY_ID) == len(registry.BY_MODULE) == 16
    for rec in registry.RECORDS:
        assert rec.domain in registry.DOMAINS and rec.lane in registry.LANES and rec.owner in registry.OWNERS
        assert catalog.normalize_version(rec.first) in catalog.versions()
    # In run order: the lanes one after the other.
    lanes = [registry.LANES.index(r.lane) for r in registry.RECORDS]
    assert lanes == sorted(lanes)
    assert registry.conditional_musts() == ("cluster_autoscaling", "pod_autoscaling")  # run order


def test_first_last_and_levels_come_from_the_checklists():
    dra = registry.record("dra_support")
    assert (dra.first, dra.last, dra.since) == ("v1.33", "v1.35", "1.33")
    assert [dra.level(v) for v in catalog.versions()] == ["SHOULD", "MUST", "MUST", "extra", "extra"]
    gpu = registry.record("gpu_sharing")
    assert (gpu.first, gpu.last, gpu.since) == ("v1.35", "v1.37", "1.33")
    assert gpu.level("v1.34") is None and gpu.level("v1.35") == "SHOULD"
    sandbox = registry.record("workload_sandboxing")
    assert (sandbox.first, sandbox.since, sandbox.probed_for("v1.36")) == ("v1.37", "1.37", False)
    assert registry.record("gang_scheduling").category == "schedulingOrchestration"
    with pytest.raises(catalog.UnknownRequirement):
        registry.record("gpu_magic")


def test_extras_are_the_probed_requirements_a_later_checklist_dropped():
    assert [registry.extras(v) for v in catalog.versions()] == [[], [], [], ["dra_support"], ["dra_support"]]


def test_owner_is_the_runs_override_else_the_records():
    assert registry.owner("gpu_sharing") == "platform"
    assert registry.owner("gpu_sharing", {"gpu_sharing": "base"}) == "base"
    assert registry.owner("gpu_magic") == "platform"


# -- options: what the domain roles pass -----------------------------------------------------------
class _Spec(Exception):
    def __init__(self, spec):
        super().__init__("argument spec")
        self.spec = spec


def module_options(module, monkeypatch):
    def capture(self, argument_spec, **kwargs):
        raise _Spec(argument_spec)

    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    with pytest.raises(_Spec) as info:
        importlib.import_module(MODULES + module).main()
    return set(info.value.spec)


def role_probe_tasks(role):
    """{requirement: (module args, inherited module_defaults)} of the role's "Probe <id>" tasks, blocks included."""
    found = {}

    def walk(tasks, defaults):
        for task in tasks or []:
            inherited = dict(defaults)
            for group in (task.get("module_defaults") or {}).values():
                inherited.update(group)
            if "block" in task:
                walk(task["block"], inherited)
                continue
            named = re.match(r"^Probe (\w+)$", task.get("name", ""))
            if named:
                module = next(k for k in task if k.startswith("ai_conformance.kubernetes."))
                found[named.group(1)] = (module.rsplit(".", 1)[1], task[module] or {}, inherited)

    walk(yaml.safe_load((REPO / "roles" / role / "tasks" / "main.yml").read_text()), {})
    return found


def expected_value(opt):
    if opt.none_or_auto:
        return "{{ 'none' if %s == 'none' else 'auto' }}" % opt.var
    return "{{ %s%s }}" % (opt.var, " | default(omit, true)" if opt.omit_empty else "")


@pytest.mark.parametrize("rec", registry.RECORDS, ids=lambda r: r.id)
def test_the_options_are_those_the_domain_role_passes_and_the_module_accepts(rec, monkeypatch):
    tasks = role_probe_tasks(rec.domain)
    assert rec.id in tasks, "the %s role has no task 'Probe %s'" % (rec.domain, rec.id)
    module, args, inherited = tasks[rec.id]
    assert module == rec.module
    passed = dict(inherited, **args)
    assert {o.name: expected_value(o) for o in rec.options} == passed
    assert {o.name for o in rec.options} <= module_options(rec.module, monkeypatch)
    # Every variable has its default in the role's defaults, the one place defaults live.
    defaults = yaml.safe_load((REPO / "roles" / rec.domain / "defaults" / "main.yml").read_text())
    assert [o.var for o in rec.options if o.var not in defaults] == []
