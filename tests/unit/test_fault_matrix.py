"""The fault matrix (issue 22): every MUST of the newest checklist has at least two integration
tests that break the reference cluster and assert FAIL, every SHOULD at least one.

Read from the tests themselves (tests/integration), not from a list kept by hand: a test counts for
the requirement of each probe module it runs (the module's own ``requirement``) when its body
asserts the verdict ``fail``."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog

ROOT = Path(__file__).resolve().parents[2]
FAILS = re.compile(r"""\[?["']verdict["']\]?\s*==\s*["']fail["']""")
MIN_FAULTS = {"MUST": 2, "SHOULD": 1}


def module_requirements() -> dict[str, str]:
    out = {}
    for path in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        m = re.search(r'^\s+requirement = "(\w+)"', path.read_text(), re.M)
        if m:
            out[path.stem] = m.group(1)
    return out


def fault_matrix() -> dict[str, list[str]]:
    by_module = module_requirements()
    matrix: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "tests" / "integration").glob("test_*.py")):
        src = path.read_text()
        for node in ast.parse(src).body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            body = ast.get_source_segment(src, node) or ""
            if not FAILS.search(body):
                continue
            for module in sorted(set(re.findall(r'ansible_module\(\s*"(\w+)"', body))):
                if module in by_module:
                    matrix[by_module[module]].append("%s::%s" % (path.name, node.name))
    return matrix


def test_every_requirement_has_its_faults():
    matrix = fault_matrix()
    short = {
        r.id: (r.level, len(matrix.get(r.id, []))) for r in catalog.requirements(catalog.DEFAULT_VERSION) if len(matrix.get(r.id, [])) < MIN_FAULTS[r.level]
    }
    assert short == {}, "requirements with too few FAIL-asserting fault tests (level, count): %s" % short


def test_the_matrix_reads_real_tests():
    # The reader itself: a probe module with no requirement is ignored, and the count is of tests
    # that assert fail, so a pass-only file adds nothing.
    matrix = fault_matrix()
    assert "test_observability.py::test_discovery_that_scrapes_every_pod_fails" in matrix["ai_service_metrics"]
    assert not any("test_passes_with_both_paths_and_runtime_checks_decided" in t for t in matrix["secure_accelerator_access"])
