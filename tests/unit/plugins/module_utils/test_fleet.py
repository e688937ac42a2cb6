"""module_utils/fleet.py and fleet_html.py: the matrix, error columns and drift, from results.json
recorded on a real GPU cluster (docs/samples/real-gpu) and copies of it with verdicts changed."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import fleet, fleet_html
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.report_html import CSP

REPO = Path(__file__).resolve().parents[4]
RECORDED = REPO / "docs/samples/real-gpu/evidence/v1.37/real-gpu-h200/results.json"


def bundle(tmp_path, name, edit=None):
    data = json.loads(RECORDED.read_text())
    if edit:
        edit(data)
    d = tmp_path / name / "v1.37" / "product"
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps(data))
    return str(d)


def verdict_of(data, rid, verdict, reason):
    for r in data["requirements"] + data["extras"]:
        if r["requirement"] == rid:
            r["verdict"], r["reason"] = verdict, reason
            r.pop("undecided_checks", None)
            return
    raise AssertionError(rid)


def recorded_rows():
    data = json.loads(RECORDED.read_text())
    return {r["requirement"]: r for r in data["requirements"] + data["extras"]}


def test_the_matrix_has_every_checklist_requirement_in_order_and_each_bundles_verdicts(tmp_path):
    a = bundle(tmp_path, "gpu-a")
    b = bundle(tmp_path, "gpu-b", lambda d: verdict_of(d, "gang_scheduling", "pass", "placed whole"))
    doc = fleet.build([{"name": "gpu-a", "bundle": a, "platform": "oke"}, {"name": "gpu-b", "bundle": b}], "v1.37")
    ids = [r["id"] for r in doc["requirements"]]
    assert ids[: len(catalog.ids("v1.37"))] == catalog.ids("v1.37")
    assert set(ids) >= set(recorded_rows())
    rows = recorded_rows()
    assert doc["matrix"]["gang_scheduling"]["gpu-a"]["verdict"] == rows["gang_scheduling"]["verdict"] == "error"
    assert doc["matrix"]["gang_scheduling"]["gpu-b"] == {"verdict": "pass", "partial": False, "reason": "placed whole"}
    # A partial pass (checks not decided) is shown as such, as report.html does.
    assert fleet.shown(doc["matrix"]["driver_runtime_management"]["gpu-a"]) == "partial"
    assert doc["clusters"][0]["counts"] == json.loads(RECORDED.read_text())["summary"]["counts"]
    assert doc["totals"] == {"clusters": 2, "error": [], "conformant": [], "not_conformant": ["gpu-a", "gpu-b"]}


def test_an_unreachable_cluster_is_an_error_column_and_the_others_keep_their_verdicts(tmp_path):
    a = bundle(tmp_path, "gpu-a")
    reason = "cannot reach the Kubernetes API at https://127.0.0.1:1 to read /version: connection refused"
    doc = fleet.build([{"name": "gpu-a", "bundle": a}, {"name": "down", "error": reason + "\nsecond line"}], "v1.37")
    assert doc["totals"]["error"] == ["down"]
    down = next(c for c in doc["clusters"] if c["name"] == "down")
    assert down["status"] == "error" and down["reason"] == reason
    assert all(doc["matrix"][rid]["down"] == {"verdict": "error", "partial": False, "reason": reason} for rid in doc["matrix"])
    assert doc["matrix"]["gpu_sharing"]["gpu-a"]["verdict"] == recorded_rows()["gpu_sharing"]["verdict"] == "pass"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"bundle": None}, "no evidence bundle was written"),
        ({"bundle": "/nonexistent/bundle"}, "cannot read /nonexistent/bundle/results.json"),
        ({"run_id": "r2612060000-1"}, "holds run r2612021917-83947, not this run's r2612060000-1"),
    ],
)
def test_a_missing_unreadable_or_stale_bundle_is_an_error_with_why(tmp_path, spec, reason):
    entry = dict({"name": "c", "bundle": bundle(tmp_path, "c")}, **spec)
    col = fleet.build([entry], "v1.37")["clusters"][0]
    assert col["status"] == "error" and reason in col["reason"]


def test_bad_entries_are_one_line_errors(tmp_path):
    with pytest.raises(fleet.FleetInputError, match="unique; repeated: c"):
        fleet.build([{"name": "c", "error": "x"}, {"name": "c", "error": "y"}], "v1.37")
    with pytest.raises(fleet.FleetInputError, match="needs a name"):
        fleet.build([{"bundle": "x"}], "v1.37")
    (tmp_path / "prev.json").write_text("[]")
    with pytest.raises(fleet.FleetInputError, match=r"is not a fleet\.json"):
        fleet.load_previous(str(tmp_path / "prev.json"))


def test_drift_lists_the_changed_cells_and_the_clusters_added_and_removed(tmp_path):
    a = bundle(tmp_path, "a")
    old = fleet.build([{"name": "gpu-a", "bundle": a}, {"name": "gone", "error": "x"}], "v1.37")
    old = json.loads(fleet.to_json(old))  # as read back from fleet.json

    def edit(d):
        verdict_of(d, "gpu_sharing", "fail", "two pods saw each other's GPU")
        verdict_of(d, "gang_scheduling", "pass", "ok")

    a2 = bundle(tmp_path, "a2", edit)
    new = fleet.build([{"name": "gpu-a", "bundle": a2}, {"name": "new", "error": "unreachable"}], "v1.37", copy.deepcopy(old), "prev/fleet.json")
    changed = {(c["requirement"], c["cluster"]): (c["was"], c["now"]) for c in new["drift"]["changed"]}
    assert changed == {("gpu_sharing", "gpu-a"): ("pass", "fail"), ("gang_scheduling", "gpu-a"): ("error", "pass")}
    assert new["drift"]["clusters_added"] == ["new"] and new["drift"]["clusters_removed"] == ["gone"]
    assert new["drift"]["previous"] == "prev/fleet.json"
    same = fleet.build([{"name": "gpu-a", "bundle": a}, {"name": "gone", "error": "x"}], "v1.37", old)
    assert same["drift"]["changed"] == []
    assert "0 cell(s) changed" in fleet.line(same)


class Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.tables, self.meta, self.scripts, self.tags = [], 0, [], 0, set()
        self._in_matrix = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "table" and a.get("class") == "matrix":
            self._in_matrix = True
        if tag == "tr" and self._in_matrix:
            self.rows.append([])
        if tag in ("td", "th") and self._in_matrix:
            self.rows[-1].append(a)
        if tag == "meta":
            self.meta.append(a)

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_matrix = False


def test_fleet_html_is_self_contained_with_one_row_per_requirement_and_one_column_per_cluster(tmp_path):
    a = bundle(tmp_path, "gpu-a")
    doc = fleet.build([{"name": "gpu-a", "bundle": a}, {"name": "down", "error": "connection refused"}], "v1.37")
    page = fleet_html.render(doc, str(tmp_path))
    t = Table()
    t.feed(page)
    header, body = t.rows[0], t.rows[1:]
    assert len(header) == 2 + 2  # requirement, level, one per cluster
    assert len(body) == len(doc["requirements"])
    assert all(len(r) == 2 + 2 for r in body)
    assert {"http-equiv": "Content-Security-Policy", "content": CSP} in t.meta
    assert "script" not in t.tags and "img" not in t.tags and "http://" not in page and "https://" not in page
    assert 'href="gpu-a/v1.37/product/report.html"' in page  # the column links its bundle's report
    assert 'title="connection refused"' in page
