"""The requirement tables of docs/requirements/ are what the registry renders, and each requirement's
page names the module and role the registry has."""

from __future__ import annotations

import re

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry
from tests.tools import gen_requirement_docs as gen


def test_the_committed_tables_are_not_stale():
    assert gen.README.read_text() == gen.rendered_readme(), "docs/requirements/README.md is stale: run tests/tools/gen_requirement_docs.py"
    assert gen.OPTIONS.read_text() == gen.options(), "docs/requirements/options.md is stale: run tests/tools/gen_requirement_docs.py"


def test_a_changed_record_makes_the_table_stale(monkeypatch):
    rec = registry.record("gang_scheduling")
    monkeypatch.setattr(registry, "RECORDS", tuple(r if r is not rec else type(rec)(**dict(vars(rec), lane="serial")) for r in registry.RECORDS))
    assert gen.README.read_text() != gen.rendered_readme()
    assert (
        "| [gang_scheduling](gang_scheduling.md) | schedulingOrchestration | MUST | MUST | MUST | MUST | MUST | scheduling | `gang_probe` | serial |"
        in gen.table()
    )


@pytest.mark.parametrize("rec", registry.RECORDS, ids=lambda r: r.id)
def test_each_requirement_page_names_the_registrys_module_and_role(rec):
    text = (gen.DOCS / (rec.id + ".md")).read_text()
    named = re.search(r"^Module: `ai_conformance\.kubernetes\.(\w+)`, run by the `(\w+)` role", text, re.M)
    assert named and named.groups() == (rec.module, rec.domain)
