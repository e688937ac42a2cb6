"""report_plots.hpa_plot: the replica steps, and, when the series carries the HPA's samples of its
metric (report.hpa_series' ``metric_series``), that metric on a second axis with its target dashed."""

from __future__ import annotations

import re

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import report_plots as plots

pytestmark = pytest.mark.skipif(not plots.HAS_MATPLOTLIB, reason="matplotlib is not installed")

SERIES = {"up": [(15.0, 2.0), (30.0, 3.0)], "down": [(15.0, 1.0)], "scale_up_s": 15.0, "scale_down_s": 15.0}
METRIC = {
    "name": "DCGM_FI_DEV_GPU_UTIL",
    "target": 50.0,
    "target_raw": "50",
    "up": [(0.0, 0.0), (5.0, 0.0), (15.0, 95.0), (20.0, 95.0), (35.0, 95.0)],
    "down": [(0.0, 95.0), (15.0, 0.0), (40.0, 0.0)],
}


def markers(svg: str, prefix: str) -> list[int]:
    """The <use> markers inside each group whose id starts with ``prefix``, per group."""
    out = []
    for m in re.finditer(r'<g id="%s\d+">(.*?)</g>' % re.escape(prefix), svg, re.S):
        out.append(m.group(1).count("<use "))
    return out


def test_the_metric_is_drawn_per_phase_with_its_target():
    drawn = plots.hpa_plot(dict(SERIES, metric_series=METRIC))
    svg = drawn["svg"]
    assert drawn["points"] == 3 and drawn["metric_points"] == 8
    assert markers(svg, "hpa-data-") == [2, 1]
    assert markers(svg, "hpa-metric-") == [5, 3]
    assert svg.count('<g id="hpa-target-') == 2
    assert "target 50" in svg and "DCGM_FI_DEV_GPU_UTIL (HPA status.currentMetrics)" in svg
    assert 'aria-label="HPA replicas over time, with the HPA\'s current DCGM_FI_DEV_GPU_UTIL and its target"' in svg


def test_without_samples_only_the_replicas_are_drawn():
    drawn = plots.hpa_plot(dict(SERIES))
    assert drawn["points"] == 3 and "metric_points" not in drawn
    assert "hpa-metric-" not in drawn["svg"] and "hpa-target-" not in drawn["svg"]


def test_a_phase_without_samples_and_no_target_still_draws_the_other():
    drawn = plots.hpa_plot(dict(SERIES, metric_series=dict(METRIC, target=None, target_raw=None, down=[])))
    assert markers(drawn["svg"], "hpa-metric-") == [5] and "hpa-target-" not in drawn["svg"] and drawn["metric_points"] == 5


def test_a_missing_series_says_why():
    assert plots.hpa_plot({"missing": "no data recorded: x"}) == {"missing": "no data recorded: x"}
