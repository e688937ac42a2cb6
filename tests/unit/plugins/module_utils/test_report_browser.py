"""report.html in a real browser: headless Chromium (the Debian chromium package, which `make unit`
installs; Playwright's own browser download is not used) driven by Playwright, loading the page the
render_report module wrote through file://.  The page must load with no console error, no failed
and no other request, show one table row per requirement, and draw the recorded data in each plot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.modules import render_report
from tests.unit.plugins.module_utils.test_report import PLOTS, enriched, recorded, write_bundle

CHROMIUM = os.environ.get("AIC_CHROMIUM") or shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM,
    reason="no chromium browser on PATH (Debian: apt-get install chromium, which `make unit` does as root; or set AIC_CHROMIUM)",
)

# Per plot: the data elements drawn (bars are paths, line markers are <use>) and the largest
# rendered size among them, as the browser laid them out.
DRAWN = """() => Array.from(document.querySelectorAll('svg.plot')).map(svg => {
  const name = svg.dataset.plot;
  const marks = Array.from(svg.querySelectorAll('g[id^="' + name + '-data-"] path, g[id^="' + name + '-data-"] use'));
  const boxes = marks.map(m => m.getBoundingClientRect());
  return {name, marks: marks.length, uses: marks.filter(m => m.tagName === 'use').length,
          width: Math.max(0, ...boxes.map(b => b.width)), height: Math.max(0, ...boxes.map(b => b.height)),
          shown: svg.getBoundingClientRect().width > 0 && svg.getBoundingClientRect().height > 0};
})"""
METRIC = """(prefix) => { const gs = Array.from(document.querySelectorAll('svg[data-plot="hpa"] g[id^="' + prefix + '"]'));
  return {groups: gs.length, uses: gs.reduce((n, g) => n + g.querySelectorAll('use').length, 0),
          width: gs.every(g => g.getBoundingClientRect().width > 0)}; }"""
ROWS = """(id) => Array.from(document.querySelectorAll('#' + id + ' tbody tr')).map(tr => [tr.dataset.requirement, tr.dataset.verdict])"""
NO_DATA = """() => Array.from(document.querySelectorAll('p.no-data')).map(p => [p.dataset.plot, p.innerText, p.offsetHeight > 0])"""
LINKS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href).filter(h => !h.includes('#'))"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


def open_report(browser, bundle: Path, name: str = "report.html") -> tuple[object, dict[str, list[str]]]:
    """The page loaded from file://, and what happened while it loaded."""
    seen: dict[str, list[str]] = {"console": [], "errors": [], "failed": [], "requests": []}
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.on("console", lambda m: seen["console"].append("%s: %s" % (m.type, m.text)) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append("%s %s" % (r.url, r.failure)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto((bundle / name).as_uri(), wait_until="load")
    return page, seen


def write_report(run_module, bundle: Path) -> dict:
    res = run_module(render_report.main, {"path": str(bundle), "later_files": ["SHA256SUMS"], "mode": "0644"})
    assert not res.failed, res.result
    (bundle / "SHA256SUMS").write_text("")  # the role writes it next
    return res.result


def check_page(page, seen, data, bundle: Path) -> dict[str, dict]:
    assert seen["requests"] == [(bundle / "report.html").as_uri()], seen["requests"]
    assert seen["console"] == [] and seen["errors"] == [] and seen["failed"] == []
    assert page.evaluate(ROWS, "requirements-table") == [[r["requirement"], r["verdict"]] for r in data["requirements"]]
    assert page.evaluate(ROWS, "extras-table") == [[r["requirement"], r["verdict"]] for r in data["extras"]]
    # Every link opens a file of the bundle.
    links = page.evaluate(LINKS)
    assert links and all(Path(unquote(urlparse(h).path)).is_file() for h in links), [h for h in links if not Path(unquote(urlparse(h).path)).is_file()]
    assert {Path(unquote(urlparse(h).path)).relative_to(bundle).as_posix() for h in links} >= {"results.json", "ctrf-report.json", "SHA256SUMS"}
    drawn = {d["name"]: d for d in page.evaluate(DRAWN)}
    for d in drawn.values():
        assert d["shown"] and d["marks"] > 0 and d["width"] + d["height"] > 0, d
    return drawn


def test_the_recorded_report_renders_with_its_data_and_says_what_was_not_recorded(browser, run_module, tmp_path):
    data = recorded()
    bundle = write_bundle(tmp_path, data)
    out = write_report(run_module, bundle)
    page, seen = open_report(browser, bundle)
    try:
        drawn = check_page(page, seen, data, bundle)
        started = [r for r in data["requirements"] + data["extras"] if r["started"]]
        assert sorted(drawn) == ["durations", "timeline"]
        assert drawn["timeline"]["marks"] >= len(started) and out["plots"]["timeline"] == {"points": len(started)}
        no_data = {name: (text, visible) for name, text, visible in page.evaluate(NO_DATA)}
        assert sorted(no_data) == ["autoscaler", "hpa", "traffic"]
        assert all(text.startswith("no data recorded: ") and visible for text, visible in no_data.values())
    finally:
        page.close()


def test_every_plot_draws_what_the_probes_recorded(browser, run_module, monkeypatch, tmp_path):
    data = enriched(run_module, monkeypatch)
    bundle = write_bundle(tmp_path, data)
    out = write_report(run_module, bundle)
    page, seen = open_report(browser, bundle)
    try:
        drawn = check_page(page, seen, data, bundle)
        assert sorted(drawn) == sorted(PLOTS) and page.evaluate(NO_DATA) == []
        obs = {r["requirement"]: r["observations"] for r in data["requirements"]}
        # One marker per recorded replica change, and per measured autoscaler moment.
        assert drawn["hpa"]["uses"] == len(obs["pod_autoscaling"]["replica_changes"]) == out["plots"]["hpa"]["points"]
        # The HPA's current metric: a line with a marker per sample on each phase, and the target dashed.
        sampled = [s for s in obs["pod_autoscaling"]["metric_samples"] if s["phase"] in ("up", "down")]
        assert page.evaluate(METRIC, "hpa-metric-") == {"groups": 2, "uses": len(sampled), "width": True}
        assert page.evaluate(METRIC, "hpa-target-")["groups"] == 2
        assert drawn["autoscaler"]["uses"] == out["plots"]["autoscaler"]["points"] == 4
        # A declared and a measured bar per backend of the split.
        assert drawn["traffic"]["marks"] == 2 * len(obs["ai_inference"]["split"]["shares"])
        assert page.locator("#plot-traffic svg text", has_text="HTTPRoute split").count() == 1
    finally:
        page.close()


def test_the_browser_checks_see_a_broken_page(browser, tmp_path):
    """What check_page asserts is absent is seen when it is there: a missing file, a script error."""
    (tmp_path / "report.html").write_text('<!DOCTYPE html><html><body><img src="missing.png"><script>undefined_name()</script></body></html>')
    page, seen = open_report(browser, tmp_path)
    try:
        assert seen["requests"][1:] == [(tmp_path / "missing.png").as_uri()] and seen["failed"] and seen["errors"]
    finally:
        page.close()
