"""report.html and ctrf-report.json, rendered from the recorded results.json of the real-GPU run
(docs/samples/real-gpu) and from that recording with the results hpa_probe, gateway_check and
autoscaler_probe return against the fake cluster (the recording has none of their observations)."""

from __future__ import annotations

import copy
import json
import re
import shutil
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import report as rp
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import report_html, report_plots
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.evidence import build_rows
from ansible_collections.ai_conformance.kubernetes.plugins.modules import render_report
from tests.unit.plugins.module_utils.test_evidence_bundle import role_tasks
from tests.unit.plugins.modules import test_autoscaler_probe, test_gateway_check, test_hpa_probe

REPO = Path(__file__).resolve().parents[4]
SAMPLE = REPO / "docs" / "samples" / "real-gpu" / "evidence" / "v1.37" / "real-gpu-h200"
PLOTS = ("timeline", "durations", "hpa", "traffic", "autoscaler")
# Attributes that make a browser fetch something.
FETCHING = {"href", "src", "srcset", "action", "poster", "data", "formaction", "xlink:href", "background"}


def recorded() -> dict:
    return json.loads((SAMPLE / "results.json").read_text())


def results_json(results: list[dict], version: str = "v1.37", run_id: str = "recorded") -> dict:
    """What roles/evidence/templates/results.json.j2 writes for ``results``."""
    out = build_rows(results, version, run_id=run_id)
    return {
        "version": out["version"],
        "run_id": run_id,
        "summary": out["summary"],
        "problems": out["problems"],
        "upstream": out["upstream"],
        "requirements": [r["result"] for r in out["rows"]],
        "extras": [r["result"] for r in out["extras"]],
    }


def probed(run_module, monkeypatch) -> dict[str, dict]:
    """The results the plotted probes return against the fake cluster, by requirement."""
    out = {}
    for test_module in (test_hpa_probe, test_gateway_check, test_autoscaler_probe):
        with monkeypatch.context() as m:
            r = dict(test_module.probe(run_module, m, test_module.cluster()))
        assert r["verdict"] == "pass", r["reason"]
        out[r["requirement"]] = r
    return out


def enriched(run_module, monkeypatch) -> dict:
    data = recorded()
    fresh = probed(run_module, monkeypatch)
    # The fake cluster's results start now: place them one after the other after the recorded run,
    # so that the timeline reads as one run.
    t = max(rp.parse_time(r["started"]).timestamp() + r["duration_s"] for r in data["requirements"] + data["extras"] if r["started"])
    for r in fresh.values():
        r["started"] = datetime.fromtimestamp(round(t) + 2, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        t = round(t) + 2 + r["duration_s"]
    results = [fresh.get(r["requirement"], r) for r in data["requirements"] + data["extras"]]
    return results_json(results)


def write_bundle(root: Path, data: dict) -> Path:
    """A bundle directory: the recorded sample's files with ``data`` as its results.json."""
    d = root / "v1.37" / "sample"
    shutil.copytree(SAMPLE, d)
    (d / "results.json").write_text(json.dumps(data, indent=2, sort_keys=True))
    return d


def render(data: dict, files: list[str] | None = None) -> tuple[str, dict, dict]:
    built = rp.build(data)
    page, info = report_html.render(built, files if files is not None else rp.bundle_files(str(SAMPLE), ["SHA256SUMS"]))
    return page, info, built


class Page(HTMLParser):
    """Table rows (by table id), data-plot markers, the elements drawn for each plot's data, and
    every attribute and style text that could fetch something."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.rows: dict[str, list[dict[str, str]]] = {}
        self.tables: list[str] = []
        self.no_data: list[str] = []
        self.svgs: list[str] = []
        self.drawn: dict[str, dict[str, int]] = {}
        self.data_stack: list[tuple[str, int]] = []
        self.depth = 0
        self.fetching: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.styles: list[str] = []
        self.in_style = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for k, v in attrs:
            if k in FETCHING or k == "style":
                self.fetching.append((tag, k, v or ""))
        if tag == "table":
            self.tables.append(a.get("id", ""))
        if tag == "tr" and "data-requirement" in a and self.tables:
            self.rows.setdefault(self.tables[-1], []).append(a)
        if tag == "svg":
            self.svgs.append(a.get("data-plot", ""))
        if tag == "p" and "no-data" in (a.get("class") or ""):
            self.no_data.append(a.get("data-plot", ""))
        self.in_style = tag == "style"
        if tag in ("path", "use") and self.data_stack:
            counts = self.drawn.setdefault(self.data_stack[-1][0], {"path": 0, "use": 0})
            counts[tag] += 1
        if tag == "g":
            self.depth += 1
            m = re.match(r"^([a-z]+)-data-", a.get("id") or "")
            if m:
                self.data_stack.append((m.group(1), self.depth))

    def handle_endtag(self, tag):
        if tag == "g":
            if self.data_stack and self.data_stack[-1][1] == self.depth:
                self.data_stack.pop()
            self.depth -= 1
        self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            self.styles.append(data)


def external(page: str) -> list[str]:
    """Every reference in the page that would make a browser fetch something outside it."""
    p = Page(page)
    bad = ["%s %s=%s" % (t, k, v) for t, k, v in p.fetching if k != "style" and not (v.startswith(("#", "data:")) or re.match(r"^[\w.%-][\w./%-]*$", v))]
    css = " ".join(p.styles + [v for t, k, v in p.fetching if k == "style"])
    bad += ["css " + u for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", css) if not u.startswith("#")]
    bad += ["css @import" for imp in re.findall(r"@import", css)]
    bad += ["<%s>" % t for t in p.tags if t in ("script", "iframe", "object", "embed", "img", "video", "audio", "source", "base")]
    return bad


def test_the_table_rows_are_the_results_requirements_and_verdicts():
    data = recorded()
    page = render(data)[0]
    p = Page(page)
    got = [(r["data-requirement"], r["data-verdict"]) for r in p.rows["requirements-table"]]
    assert got == [(r["requirement"], r["verdict"]) for r in data["requirements"]]
    assert [(r["data-requirement"], r["data-verdict"]) for r in p.rows["extras-table"]] == [(r["requirement"], r["verdict"]) for r in data["extras"]]
    # Levels and owners as the checklist and the results say.
    levels = {r.id: r.level for r in catalog.requirements(data["version"])}
    assert [(r["data-level"], r["data-owner"]) for r in p.rows["requirements-table"]] == [(levels[r["requirement"]], r["owner"]) for r in data["requirements"]]
    assert {r["data-level"] for r in p.rows["requirements-table"]} == {"MUST", "SHOULD"}
    # Every reason is shown, and the partial pass with its label.
    for r in data["requirements"]:
        assert report_html._e(r["reason"]) in page
    partial = next(r for r in data["requirements"] if r["undecided_checks"] and r["verdict"] == "pass")
    assert "pass (partial: %d undecided)" % len(partial["undecided_checks"]) in page and 'class="v v-partial"' in page


def test_the_checks_not_decided_are_listed_with_their_detail():
    data = recorded()
    page = render(data)[0]
    p = Page(page)
    want = [(r["requirement"], u["name"]) for r in data["requirements"] + data["extras"] for u in r["undecided_checks"]]
    assert want, "the recording has a partial pass"
    assert [r["data-requirement"] for r in p.rows["undecided-table"]] == [w[0] for w in want]
    for _rid, name in want:
        assert report_html._e(name) in page


def test_the_timeline_has_each_probe_that_started_at_its_offset_and_duration():
    data = recorded()
    page, info, built = render(data)
    started = [r for r in data["requirements"] + data["extras"] if r["started"]]
    tl = rp.timeline(built["rows"] + built["extras"])
    assert sorted(i["id"] for i in tl["items"]) == sorted(r["requirement"] for r in started)
    assert tl["t0"] == min(r["started"] for r in started)
    first = next(i for i in tl["items"] if i["id"] == "dra_support")
    sharing = next(i for i in tl["items"] if i["id"] == "gpu_sharing")
    assert (first["offset_s"], sharing["offset_s"], sharing["duration_s"]) == (0.0, 68.0, 15.525)  # 19:17:58 -> 19:19:06
    assert [r["data-requirement"] for r in Page(page).rows["timeline-table"]] == [i["id"] for i in tl["items"]]
    assert sorted(tl["unstarted"]) == sorted(r["requirement"] for r in data["requirements"] if not r["started"])
    assert info["timeline"] == {"points": len(started)} and info["durations"] == {"points": len(started)}


def test_plots_without_recorded_observations_say_no_data_recorded():
    """The real-GPU recording has no HPA, traffic or autoscaler observations: nothing is drawn for them."""
    page, info, _built = render(recorded())
    p = Page(page)
    for name in ("hpa", "traffic", "autoscaler"):
        assert info[name]["missing"].startswith("no data recorded: "), info[name]
    assert sorted(p.no_data) == ["autoscaler", "hpa", "traffic"]
    assert sorted(p.svgs) == ["durations", "timeline"]
    # One bar per probe that started (its start marker is drawn apart).
    assert p.drawn["timeline"]["path"] == info["timeline"]["points"] and p.drawn["durations"]["path"] == info["durations"]["points"]


def test_each_plot_has_the_points_the_probes_recorded(run_module, monkeypatch):
    data = enriched(run_module, monkeypatch)
    obs = {r["requirement"]: r["observations"] for r in data["requirements"]}
    page, info, _built = render(data)
    p = Page(page)
    assert sorted(p.svgs) == sorted(PLOTS) and p.no_data == []
    changes = obs["pod_autoscaling"]["replica_changes"]
    assert info["hpa"] == {"points": len(changes)} and len(changes) == 3
    series = rp.hpa_series(rp.build(data)["rows"])
    assert series["up"] == [(c["t_s"], c["replicas"]) for c in changes if "phase" not in c]
    assert series["down"] == [(c["t_s"], c["replicas"]) for c in changes if c.get("phase") == "down"]
    # One marker per recorded change, inside the HPA's data groups.
    assert page.count('id="hpa-data-') == 2 and p.drawn["hpa"]["use"] == len(changes)
    split = obs["ai_inference"]["split"]
    assert info["traffic"] == {"points": 2 * len(split["shares"])}
    assert p.drawn["traffic"]["path"] == 2 * len(split["shares"])  # declared and measured bar per backend
    traffic = rp.traffic_series(rp.build(data)["rows"])["gateway"]
    assert traffic["observed"] == [split["shares"][b]["observed"] for b in sorted(split["shares"])]
    assert traffic["expected"] == [0.7, 0.3] and traffic["weights"] == [70, 30]
    auto = obs["cluster_autoscaling"]
    assert info["autoscaler"] == {"points": 4} and p.drawn["autoscaler"]["use"] == 4
    assert rp.autoscaler_series(rp.build(data)["rows"])["up"] == [(0.0, len(auto["pool_free_before"])), (auto["scale_up_s"], len(auto["joined_nodes"]))]
    # The HPA's current metric on a second axis of each phase, its target dashed, from the samples.
    samples, metric = obs["pod_autoscaling"]["metric_samples"], series["metric_series"]
    assert (metric["name"], metric["target"], metric["target_raw"]) == ("DCGM_FI_DEV_GPU_UTIL", 50.0, "50")
    raised = obs["pod_autoscaling"]["load_raised_at_s"]
    assert metric["up"] == [(round(s["t_s"] - raised, 1), s["current"]) for s in samples if s["phase"] == "up"]
    assert len(metric["down"]) == sum(1 for s in samples if s["phase"] == "down") and max(v for _t, v in metric["up"]) == 95.0
    assert page.count('id="hpa-metric-') == 2 and page.count('id="hpa-target-') == 2 and "no samples of the HPA" not in page


def test_the_ctrf_summary_counts_match_the_results():
    data = recorded()
    built = rp.build(data)
    doc = rp.ctrf(built, rp.timeline(built["rows"] + built["extras"]))
    assert (doc["reportFormat"], doc["results"]["tool"]["name"]) == ("CTRF", "ai_conformance.kubernetes")
    assert re.match(r"^\d+\.\d+\.\d+$", doc["specVersion"])
    s, counts = doc["results"]["summary"], data["summary"]["counts"]
    assert s["tests"] == data["summary"]["total"] == len(data["requirements"]) == len(doc["results"]["tests"])
    assert (s["passed"], s["failed"], s["skipped"], s["pending"], s["other"]) == (
        counts["pass"],
        counts["fail"] + counts["error"],
        counts["skip"] + counts["not_applicable"],
        0,
        0,
    )
    assert sum(s[k] for k in ("passed", "failed", "skipped", "pending", "other")) == s["tests"]
    started = [rp.parse_time(r["started"]).timestamp() for r in data["requirements"] if r["started"]]
    assert s["start"] == int(min(started) * 1000) and s["stop"] >= s["start"]
    for test, r in zip(doc["results"]["tests"], data["requirements"]):
        assert (test["name"], test["rawStatus"], test["status"]) == (r["requirement"], r["verdict"], rp.CTRF_STATUS[r["verdict"]])
        assert test["duration"] == round(r["duration_s"] * 1000) and isinstance(test["duration"], int)
        assert test["message"].endswith(r["reason"]) and test["labels"]["owner"] == r["owner"]
        assert set(test) <= {"name", "status", "duration", "message", "rawStatus", "suite", "labels", "filePath", "start", "stop"}
    partial = next(t for t in doc["results"]["tests"] if t["name"] == "driver_runtime_management")
    assert partial["status"] == "passed" and partial["labels"]["verdict"] == "pass (partial: 2 undecided)"
    want = next(r for r in data["requirements"] if r["requirement"] == "driver_runtime_management")["undecided_checks"]
    assert partial["labels"]["undecided_checks"] == [u["name"] for u in want]


def test_the_page_references_no_external_resource(run_module, monkeypatch):
    for data in (recorded(), enriched(run_module, monkeypatch)):
        page = render(data)[0]
        assert external(page) == []
        assert "<script" not in page and 'http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;' in page
    # The checker itself sees what it must refuse.
    assert external('<img src="https://x/y.png"><link rel="stylesheet" href="http://x/a.css"><p style="background:url(//x/i)">') != []
    assert len(external('<link href="http://x/a.css"><a href="//cdn/x">x</a>')) == 2


def test_every_bundle_file_is_linked():
    page = render(recorded())[0]
    files = rp.bundle_files(str(SAMPLE), ["SHA256SUMS"])
    hrefs = [v for t, k, v in Page(page).fetching if t == "a" and k == "href" and not v.startswith("#")]
    assert sorted(set(hrefs)) == sorted(files) and "evidence/gang_scheduling.md" in files and "results.json" in files


def test_without_matplotlib_the_page_says_why_each_plot_is_missing(monkeypatch):
    monkeypatch.setattr(report_plots, "HAS_MATPLOTLIB", False)
    page, info, _built = render(recorded())
    assert {v["missing"] for v in info.values()} == {report_plots.MISSING_MATPLOTLIB}
    assert sorted(Page(page).no_data) == sorted(PLOTS) and "<svg" not in page


def test_render_report_module_writes_both_files_idempotently(run_module, tmp_path):
    d = write_bundle(tmp_path, recorded())
    args = {"path": str(d), "later_files": ["SHA256SUMS"], "mode": "0644"}
    res = run_module(render_report.main, args, check_mode=True)
    assert res.result["changed"] is True and not (d / "report.html").exists() and not (d / "ctrf-report.json").exists()
    res = run_module(render_report.main, args)
    assert not res.failed and res.result["changed"] is True
    assert res.result["msg"] == "report.html (5 plots, 3 without data) and ctrf-report.json for 15 requirements"
    ctrf = json.loads((d / "ctrf-report.json").read_text())
    assert ctrf["results"]["summary"] == res.result["summary"]
    assert (d / "report.html").stat().st_mode & 0o777 == 0o644
    assert run_module(render_report.main, args).result["changed"] is False
    assert run_module(render_report.main, dict(args, html=False)).result["html"] is None


def test_render_report_module_fails_on_a_directory_without_results(run_module, tmp_path):
    res = run_module(render_report.main, {"path": str(tmp_path)})
    assert res.failed and res.result["msg"] == "cannot read %s: No such file or directory" % (tmp_path / "results.json")
    (tmp_path / "results.json").write_text('{"requirements": 1}')
    res = run_module(render_report.main, {"path": str(tmp_path)})
    assert res.failed and res.result["msg"].endswith("is not an evidence bundle's results.json (no version and requirements list)")
    res = run_module(render_report.main, {"path": str(tmp_path / "nope")})
    assert res.failed and res.result["msg"] == "%s is not a directory (the evidence bundle holding results.json)" % (tmp_path / "nope")


def test_the_evidence_role_writes_the_report_before_sha256sums():
    tasks = role_tasks()
    names = [t["name"] for t in tasks]
    task = next(t for t in tasks if "ai_conformance.kubernetes.render_report" in t)
    rendered = next(t["name"] for t in tasks if "ai_conformance.kubernetes.write_files" in t)
    sealed = next(t["name"] for t in tasks if "ai_conformance.kubernetes.bundle_checksums" in t)
    assert names.index(rendered) < names.index(task["name"]) < names.index(sealed)
    assert task["ai_conformance.kubernetes.render_report"]["later_files"] == ["SHA256SUMS"]


def test_a_missing_observation_key_is_not_made_up():
    data = recorded()
    fake = copy.deepcopy(next(r for r in data["requirements"] if r["requirement"] == "gpu_sharing"))
    hpa = dict(fake, requirement="pod_autoscaling", observations={"scale_up_s": 3.0, "replica_changes": []})
    rows = rp.build(results_json([hpa]))["rows"]
    assert rp.hpa_series(rows)["missing"].startswith("no data recorded: pod_autoscaling has no replica changes")
    # Replica changes without samples of the metric (an older hpa_probe): no metric line, a note.
    hpa["observations"] = {"replica_changes": [{"replicas": 2, "t_s": 3.0}], "metric_samples": [{"t_s": 1.0, "phase": "up", "current": None}]}
    series = rp.hpa_series(rp.build(results_json([hpa]))["rows"])
    assert "metric_series" not in series and series["metric"].startswith("no data recorded: this hpa_probe result has no samples of the HPA's current metric")
    auto = dict(fake, requirement="cluster_autoscaling", observations={"joined_nodes": ["n1"], "scale_up_s": 4.0})
    assert "pool_free_before" in rp.autoscaler_series(rp.build(results_json([auto]))["rows"])["missing"]
    auto["observations"] = {"pool_free_before": {"n0": 1}, "joined_nodes": ["n1"], "scale_up_s": 4.0, "scale_down_s": None}
    series = rp.autoscaler_series(rp.build(results_json([auto]))["rows"])
    assert (
        series["up"] == [(0.0, 1.0), (4.0, 2.0)]
        and series["down"] == []
        and series["notes"] == ["no scale-down time recorded (not every joined node was removed)"]
    )


@pytest.mark.parametrize("verdict", ["pass", "fail", "skip", "not_applicable", "error"])
def test_each_verdict_maps_to_a_ctrf_status(verdict):
    assert rp.CTRF_STATUS[verdict] in ("passed", "failed", "skipped", "pending", "other")


def test_render_report_module_without_matplotlib_writes_the_page_and_warns_in_one_line(run_module, monkeypatch, tmp_path):
    from ansible.module_utils import basic

    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    monkeypatch.setattr(report_plots, "HAS_MATPLOTLIB", False)
    monkeypatch.setattr(render_report, "HAS_MATPLOTLIB", False)
    d = write_bundle(tmp_path, recorded())
    res = run_module(render_report.main, {"path": str(d)})
    assert not res.failed and res.result["msg"] == "report.html (5 plots, 5 without data) and ctrf-report.json for 15 requirements"
    assert len(warnings) == 1 and "\n" not in warnings[0] and warnings[0].startswith(report_plots.MISSING_MATPLOTLIB)
    assert "<svg" not in (d / "report.html").read_text() and report_html._e(report_plots.MISSING_MATPLOTLIB) in (d / "report.html").read_text()
