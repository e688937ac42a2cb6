"""The catalog must equal the official checklists, byte for byte where PRODUCT.yaml needs it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "checklists"
SHARED = Path(__file__).resolve().parents[5] / "shared" / "reference" / "checklists"
FILES = sorted(FIXTURES.glob("AIConformance-1.*.yaml"))


def _version(path: Path) -> str:
    return "v" + re.search(r"(1\.\d+)", path.name).group(1)


def test_every_reference_checklist_is_in_the_catalog():
    assert [_version(p) for p in FILES] == catalog.versions()
    assert len(FILES) >= 5


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_catalog_matches_official_checklist(path):
    doc = yaml.safe_load(path.read_text())
    v = _version(path)
    official = [(cat, it["id"], it["level"], it["description"]) for cat, items in doc["spec"].items() for it in items]
    ours = [(r.category, r.id, r.level, r.description) for r in catalog.requirements(v)]
    assert ours == official
    assert catalog.metadata_keys(v) == list(doc["metadata"].keys())
    assert path.read_text().startswith(catalog.header(v))


def test_known_version_facts():
    # From the program's change log (shared/reference/cncf-program.md): counts of items and MUSTs.
    counts = {v: (len(catalog.requirements(v)), sum(r.level == "MUST" for r in catalog.requirements(v))) for v in catalog.versions()}
    assert counts == {"v1.33": (9, 8), "v1.34": (9, 9), "v1.35": (12, 9), "v1.36": (14, 8), "v1.37": (15, 8)}
    assert catalog.requirement("v1.33", "dra_support").level == "SHOULD"
    assert "dra_support" not in catalog.ids("v1.36")
    assert "makes they available" in catalog.requirement("v1.37", "accelerator_metrics").description


def test_version_normalisation_and_errors():
    assert catalog.normalize_version("1.35") == "v1.35"
    assert catalog.normalize_version("v1.34.7") == "v1.34"
    assert catalog.normalize_version(None) == catalog.DEFAULT_VERSION == "v1.37"
    with pytest.raises(catalog.UnknownVersion, match=r"unknown checklist version 'v1.99' \(known: v1.33, v1.34, v1.35, v1.36, v1.37\)"):
        catalog.normalize_version("v1.99")
    with pytest.raises(catalog.UnknownRequirement):
        catalog.requirement("v1.36", "dra_support")


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/reference is not beside this checkout")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_vendored_copies_equal_shared_reference(path):
    assert path.read_bytes() == (SHARED / path.name).read_bytes()
