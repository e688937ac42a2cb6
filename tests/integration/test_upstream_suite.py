"""upstream_suite: the real kubernetes-sigs/ai-conformance suite against the reference cluster.

The suite is not served by the Go module proxy, so the run needs a checkout: AIC_UPSTREAM_SUITE_SRC,
or ~/.cache/ai-conformance/src/ai-conformance.  Without one the run test is skipped with that reason;
what the module says when it has no source is always tested."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SRC = os.environ.get("AIC_UPSTREAM_SUITE_SRC") or str(Path.home() / ".cache/ai-conformance/src/ai-conformance")


def test_without_a_source_it_says_why_and_runs_nothing(ansible_module, tmp_path):
    res = ansible_module("upstream_suite", output_dir=str(tmp_path / "out"))
    assert res["ran"] is False and res["changed"] is False
    assert res["unavailable"].startswith("no source of the suite: the Go module proxy serves no version of github.com/kubernetes-sigs/ai-conformance")
    assert not (tmp_path / "out").exists()


def test_a_directory_that_is_not_the_suite_is_refused(ansible_module, tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/other\n")
    res = ansible_module("upstream_suite", source=str(tmp_path), output_dir=str(tmp_path / "out"))
    assert res["ran"] is False and "is not a checkout of github.com/kubernetes-sigs/ai-conformance" in res["unavailable"]


def test_a_module_version_the_proxy_does_not_serve_is_reported(ansible_module, tmp_path):
    res = ansible_module("upstream_suite", module_version="v0.0.0-20260101000000-000000000000", output_dir=str(tmp_path / "out"), cache_dir=str(tmp_path / "c"))
    assert res["ran"] is False and "could not be fetched or built through the Go module proxy" in res["unavailable"]


@pytest.mark.skipif(not Path(SRC, "go.mod").is_file(), reason="no checkout of kubernetes-sigs/ai-conformance (the Go module proxy serves none)")
def test_the_real_suite_runs_against_the_reference_cluster(ansible_module, kubeconfig, tmp_path, k8s):
    out = tmp_path / "upstream"
    res = ansible_module(
        "upstream_suite", source=SRC, kubeconfig=kubeconfig, flags={"accelerator-type": "nvidia", "allocation-mode": "dra"}, output_dir=str(out), timeout=600
    )
    assert res["ran"] is True and res["unavailable"] == ""
    assert sorted(p.name for p in out.iterdir()) == ["e2e.log", "junit.xml", "results.json"]
    # Every test the build has ran and has a verdict from its events.
    assert res["verdicts"] and all(v["verdict"] in ("pass", "fail", "skip") for v in res["verdicts"].values())
    if "allocation-mode" not in res["flags_used"][-1]:
        assert "allocation-mode" in res["flags_left_out"]
    # Containers do not run on kwok: the suite's log-reading access test cannot pass here.
    if "secure_accelerator_access" in res["verdicts"]:
        assert res["verdicts"]["secure_accelerator_access"]["verdict"] == "fail"
    # The suite deletes its namespaces.
    assert not [
        n for n in k8s.list("v1", "Namespace")["items"] if n["metadata"]["name"].startswith("ai-conformance-") and not n["metadata"].get("deletionTimestamp")
    ]
