"""verify_bundle refuses the partial evidence of an unfinished run: a bundle directory holding
INCOMPLETE.json (conformance.yml's marker, written when the probe phase starts) fails with one line,
even where every summed file matches."""

from __future__ import annotations

import json

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb
from ansible_collections.ai_conformance.kubernetes.plugins.modules import verify_bundle
from tests.unit.plugins.module_utils.test_signing import make_bundle

MARKER = {
    "run_id": "r2612060300-42",
    "started": "2026-12-06T03:00:00Z",
    "plan": ["gang_scheduling"],
    "reason": "the run has not finished: interrupted or still running",
}


def test_a_bundle_with_incomplete_json_is_refused_in_one_line(run_module, tmp_path):
    root = make_bundle(tmp_path / "v1.37" / "product")
    assert not run_module(verify_bundle.main, {"path": str(root)}).failed
    # An earlier run's complete bundle, then a run that started over it and was interrupted.
    (root / sb.INCOMPLETE).write_text(json.dumps(MARKER))
    (root / "partial").mkdir()
    (root / "partial" / "gang_scheduling.json").write_text("{}")
    res = run_module(verify_bundle.main, {"path": str(root), "allow_unlisted": True})
    assert res.failed and res.result["verified"] is False
    assert res.result["problems"] == [
        "INCOMPLETE.json is present: run r2612060300-42 (started 2026-12-06T03:00:00Z) has not finished, interrupted or still running; "
        "%s holds partial evidence, not a complete bundle" % root
    ]
    assert res.result["msg"] == "bundle NOT verified: " + res.result["problems"][0] and "\n" not in res.result["msg"]
    quiet = run_module(verify_bundle.main, {"path": str(root), "fail_on_error": False})
    assert not quiet.failed and quiet.result["verified"] is False


def test_an_unreadable_marker_still_marks_the_bundle_incomplete(tmp_path):
    root = make_bundle(tmp_path / "b")
    (root / sb.INCOMPLETE).write_text("{not json")
    out = sb.verify_tree(str(root))
    assert not out["verified"] and out["problems"] == [
        "INCOMPLETE.json is present: its run has not finished, interrupted or still running; %s holds partial evidence, not a complete bundle" % root
    ]
    assert sb.incomplete(str(tmp_path)) is None
