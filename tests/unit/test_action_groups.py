"""meta/runtime.yml's action groups agree with the requirement registry: each domain role's
``<domain>_probes`` group (the role's module_defaults key) holds exactly the probe modules the
registry gives that domain, and the play's ``probes`` group every probe module."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry

REPO = Path(__file__).resolve().parents[2]
GROUPS = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]


@pytest.mark.parametrize("domain", registry.DOMAINS)
def test_each_domain_group_holds_the_registrys_modules_of_that_domain(domain):
    assert sorted(GROUPS["%s_probes" % domain]) == sorted(r.module for r in registry.RECORDS if r.domain == domain)


def test_every_module_of_a_domain_group_is_a_probe_of_that_domain_and_of_the_play_group():
    for name, members in GROUPS.items():
        if name.endswith("_probes"):
            domain = name[: -len("_probes")]
            assert domain in registry.DOMAINS, name
            assert [m for m in members if registry.BY_MODULE.get(m) is None or registry.BY_MODULE[m].domain != domain] == [], name
    # The play's group hands the cluster and the run id to every probe (and to cluster_info and cleanup_run).
    assert set(registry.modules()) <= set(GROUPS["probes"])
    assert set(GROUPS["probes"]) - set(registry.modules()) == {"cluster_info", "cleanup_run"}
