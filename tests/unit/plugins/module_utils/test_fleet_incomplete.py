"""The fleet summary shows a cluster whose bundle directory holds INCOMPLETE.json (an interrupted or
still running run) as ``error: incomplete run``, even where an earlier run's results.json is there."""

from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import fleet
from tests.unit.plugins.module_utils.test_fleet import RECORDED, bundle


def test_a_bundle_marked_incomplete_is_an_error_column_and_its_neighbours_keep_their_verdicts(tmp_path):
    done, cut = bundle(tmp_path, "gpu-a"), bundle(tmp_path, "gpu-b")
    run_id = json.loads(RECORDED.read_text())["run_id"]
    (Path(cut) / "INCOMPLETE.json").write_text(json.dumps({"run_id": "r2612060300-7", "started": "2026-12-06T03:00:00Z"}))
    doc = fleet.build([{"name": "gpu-a", "bundle": done, "run_id": run_id}, {"name": "gpu-b", "bundle": cut}], "v1.37")
    cols = {c["name"]: c for c in doc["clusters"]}
    assert cols["gpu-a"]["status"] == "ok"
    assert cols["gpu-b"]["status"] == "error" and cols["gpu-b"]["reason"].startswith("incomplete run: INCOMPLETE.json is present: run r2612060300-7")
    assert {cells["gpu-b"]["verdict"] for cells in doc["matrix"].values()} == {"error"}
    assert doc["totals"]["error"] == ["gpu-b"] and "gpu-b" not in doc["totals"]["not_conformant"]
    # The run's own error (its failed step) stays the reason where the play gave one.
    again = fleet.build([{"name": "gpu-b", "bundle": cut, "error": "cluster_info failed"}], "v1.37")
    assert again["clusters"][0]["reason"] == "cluster_info failed"
