"""The progress callback's table of probe modules: each maps to the requirement it probes, and says what it waits for."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.plugin_utils import waits

REPO = Path(__file__).resolve().parents[4]
MODULES = "ansible_collections.ai_conformance.kubernetes.plugins.modules."


def probe_class(module):
    mod = importlib.import_module(MODULES + module)
    return next(v for v in vars(mod).values() if isinstance(v, type) and getattr(v, "requirement", "") and v.__module__ == mod.__name__)


@pytest.mark.parametrize("module", sorted(waits.PROBES))
def test_each_probe_module_maps_to_its_own_requirement_and_says_what_it_waits_for(module):
    assert probe_class(module).requirement == waits.PROBES[module]
    assert waits.waits_for(module, {})


def tasks_of(items):
    """Every task, those inside blocks (the roles' module_defaults block) included."""
    for task in items or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks_of(task.get(key))


def test_every_probe_task_of_the_domain_roles_is_known_by_module_and_named_after_its_requirement():
    seen = {}
    for tasks in sorted(REPO.glob("roles/*/tasks/main.yml")):
        for task in tasks_of(yaml.safe_load(tasks.read_text())):
            module = next((waits.short_name(k) for k in task if waits.short_name(k) in waits.PROBES), None)
            if module:
                seen[module] = re.match(r"^Probe (\w+)$", task["name"]).group(1)
    assert seen == waits.PROBES


def test_arguments_that_could_not_be_templated_fall_back_to_the_defaults():
    templated = {"scheduler": "kueue", "group_size": 4, "observe_seconds": 12, "timeout": 90}
    assert waits.waits_for("gang_probe", templated) == "kueue to place a group of 4 pods whole, then to hold one that cannot fit at 0 bound for 12s"
    assert waits.limits("gang_probe", templated) == "timeout 90s per wait"
    raw = {"scheduler": "{{ scheduling_gang_scheduler }}", "timeout": "{{ scheduling_timeout }}", "observe_seconds": "soon"}
    assert waits.waits_for("gang_probe", raw) == "the gang scheduler to place a group of 2 pods whole, then to hold one that cannot fit at 0 bound for 10s"
    assert waits.limits("gang_probe", raw) == "timeout 120s per wait"


def test_the_autoscaler_heartbeat_names_both_of_its_time_limits():
    text = waits.waits_for("autoscaler_probe", {"provider": "karpenter", "scale_up_timeout": 120, "scale_down_timeout": 180})
    assert text == "karpenter to add a node for pending nvidia.com/gpu pods (up to 120s), then to remove it (up to 180s)"


def test_only_this_collections_modules_are_probes():
    assert waits.short_name("ai_conformance.kubernetes.gang_probe") == "gang_probe"
    assert waits.short_name("ansible.builtin.debug") == "" and waits.short_name(None) == ""
    assert waits.waits_for("debug", {}) == ""
