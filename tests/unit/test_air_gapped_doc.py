"""docs/air-gapped.md lists every image and OCI chart the collection uses, one line each with the
variable or option that sets it and its original reference: this test reads them from the code
(role defaults and vars, module option defaults, module_utils constants, the chart locations the
deploy roles rewrite) and fails naming each one the page does not list, so a new image variable
cannot ship undocumented."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "air-gapped.md"
# host/path[:tag][@digest] with a tag or digest, or a Docker Hub user/name:tag.
IMAGE = re.compile(r"^[a-z0-9][a-z0-9.:-]*(/[a-z0-9._-]+)+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$")
CONSTANT = re.compile(r'^([A-Z_]*IMAGE)\s*=\s*"([^"]+)"', re.M)
CHART_LOCATION = re.compile(r"'([a-z0-9.-]+(?:/[a-z0-9._-]+)*)' \| ai_conformance\.kubernetes\.mirror_registry")


def _strings(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, path + (str(key),))
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, path)
    elif isinstance(node, str):
        yield path, node


def used():
    """(name, original) for every image and OCI chart the code names."""
    found = set()
    for role in sorted((REPO / "roles").iterdir()):
        for part in ("defaults", "vars"):
            f = role / part / "main.yml"
            if not f.exists():
                continue
            text = f.read_text()
            for path, value in _strings(yaml.safe_load(text) or {}):
                name = path[0]
                if value.startswith("oci://"):
                    found.add((name, value))
                elif name.endswith("_image") and IMAGE.match(value) and ":" in value.rsplit("/", 1)[-1]:
                    found.add((name, value))
            if part == "defaults":
                # An image split into <x>_image_registry and <x>_image_repository (a chart's fields).
                values = yaml.safe_load(text) or {}
                for key, registry in values.items():
                    repo_key = key[: -len("_registry")] + "_repository"
                    if key.endswith("_image_registry") and registry and isinstance(values.get(repo_key), str) and values[repo_key]:
                        found.add((repo_key, "%s/%s" % (registry, values[repo_key])))
            for location in CHART_LOCATION.findall(text):
                found.add(("%s chart values" % role.name, location))
    for f in sorted((REPO / "plugins" / "modules").glob("*.py")):
        text = f.read_text()
        doc = yaml.safe_load(text.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0]) if 'DOCUMENTATION = r"""' in text else {}
        for option, spec in (doc.get("options") or {}).items():
            if option.endswith("image") and isinstance(spec.get("default"), str) and spec["default"]:
                found.add(("%s %s" % (f.stem, option), spec["default"]))
    for f in sorted((REPO / "plugins" / "module_utils").glob("**/*.py")):
        for constant, value in CONSTANT.findall(f.read_text()):
            if IMAGE.match(value):
                found.add(("%s.%s" % (f.stem, constant), value))
    return sorted(found)


def test_every_image_and_oci_chart_is_listed_with_its_original():
    lines = DOC.read_text().splitlines()
    entries = used()
    assert len(entries) > 20, entries  # the scan itself found the known ones
    missing = ["%s: %s" % e for e in entries if not any(e[0] in line and "`%s`" % e[1] in line for line in lines)]
    assert missing == [], "docs/air-gapped.md does not list: " + "; ".join(missing)


if __name__ == "__main__":  # print the table rows to paste
    for name, original in used():
        print("| `%s` | `%s` |" % (name, original))
