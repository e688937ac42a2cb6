# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.html: one self-contained page (inline CSS and SVG, no script, no font, no request; its
Content-Security-Policy forbids any) with the requirement table, the checks not decided, the probe
timeline, the plots and a link to every file of the bundle."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from html import escape
from typing import Any
from urllib.parse import quote

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import report as rp
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import report_plots as plots

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:1.5rem auto;max-width:92rem;padding:0 1rem;color:#212121}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.meta{color:#555;margin:.2rem 0 1rem}nav a{margin-right:1rem}
table{border-collapse:collapse;width:100%;font-size:.86rem}th,td{border:1px solid #ddd;padding:.3rem .45rem;vertical-align:top;text-align:left}
th{background:#f5f5f5}tbody tr:nth-child(even){background:#fafafa}td.num{text-align:right;white-space:nowrap}
td.reason{min-width:14rem}td .v{white-space:normal}
td.und{min-width:10rem}td.dur{text-align:right}.cat,.when{color:#666;font-size:.78rem}.scroll{overflow-x:auto}
.v{display:inline-block;padding:.05rem .45rem;border-radius:.7rem;color:#fff;font-weight:600;white-space:nowrap;font-size:.8rem}
.v-pass{background:#2e7d32}.v-partial{background:#9e9d24}.v-fail{background:#c62828}.v-error{background:#6a1b9a}
.v-skip{background:#757575}.v-not_applicable{background:#90a4ae}
.counts .v{margin-right:.4rem}.bad{color:#c62828;font-weight:600}.good{color:#2e7d32;font-weight:600}
.no-data{color:#6d4c41;background:#fff8e1;border:1px dashed #ffcc80;padding:.6rem .8rem}
.note{color:#555;font-size:.85rem}svg.plot{max-width:100%;height:auto}figure{margin:0}
ul.files{columns:2;font-size:.86rem}details summary{cursor:pointer}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _link(path: str, text: str | None = None) -> str:
    return '<a href="%s">%s</a>' % (_e(quote(path)), _e(text if text is not None else path))


def _verdict(shown: str, label: str) -> str:
    return '<span class="v v-%s">%s</span>' % (_e(shown), _e(label))


def _requirement_rows(rows: list[dict[str, Any]], times: dict[str, dict[str, Any]], files: set[str]) -> str:
    out = []
    for row in rows:
        res = row["result"]
        und = row["undecided_checks"]
        und_cell = "%d: %s" % (len(und), ", ".join(_e(u["name"]) for u in und)) if und else "none"
        t = times.get(row["id"])
        junit = _link(row["junit_file"], "junit") if row["junit_file"] in files else ""
        out.append(
            '<tr data-requirement="%s" data-verdict="%s" data-level="%s" data-owner="%s">'
            '<td>%s<br><span class="cat">%s</span></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="reason">%s</td><td class="und">%s</td>'
            '<td class="dur">%s<br><span class="when">%s</span></td><td>%s</td></tr>'
            % (
                _e(row["id"]),
                _e(row["verdict"]),
                _e(row["level"]),
                _e(row["owner"]),
                _link(row["evidence_file"], row["id"]) if row["evidence_file"] in files else _e(row["id"]),
                _e(row["category"]),
                _e(row["level"]),
                _verdict(rp.display_verdict(row), row["verdict_label"]),
                _e(row["status"] or "(empty)"),
                _e(row["owner"]),
                _e(res.get("reason", "")),
                und_cell,
                "%.1f s" % t["duration_s"] if t else "",
                _e(t["started"].replace("T", " ") if t else "not started"),
                junit,
            )
        )
    return "\n".join(out)


def _requirements(built: dict[str, Any], times: dict[str, dict[str, Any]], files: set[str]) -> str:
    head = (
        "<thead><tr><th>requirement<br>(category)</th><th>level</th><th>verdict</th><th>PRODUCT.yaml status</th>"
        "<th>owner</th><th>reason</th><th>checks not decided</th><th>duration<br>(started, UTC)</th><th>test case</th></tr></thead>"
    )
    parts = [
        '<h2 id="requirements">Requirements of checklist %s</h2>' % _e(built["version"]),
        '<div class="scroll"><table id="requirements-table">%s<tbody>\n%s\n</tbody></table></div>' % (head, _requirement_rows(built["rows"], times, files)),
    ]
    if built["extras"]:
        parts.append('<h2 id="extras">Probed beyond this checklist version</h2>')
        parts.append(
            '<div class="scroll"><table id="extras-table">%s<tbody>\n%s\n</tbody></table></div>' % (head, _requirement_rows(built["extras"], times, files))
        )
    return "\n".join(parts)


def _undecided(built: dict[str, Any]) -> str:
    lines = []
    for row in built["rows"] + built["extras"]:
        for u in row["undecided_checks"]:
            lines.append(
                '<tr data-requirement="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>'
                % (_e(row["id"]), _e(row["id"]), _verdict(rp.display_verdict(row), row["verdict_label"]), _e(u["name"]), _e(u["kind"]), _e(u["detail"]))
            )
    body = (
        '<table id="undecided-table"><thead><tr><th>requirement</th><th>verdict</th><th>check</th><th>kind</th><th>why not decided</th></tr></thead>'
        "<tbody>\n%s\n</tbody></table>" % "\n".join(lines)
        if lines
        else '<p id="undecided-none">None: every check of every result was decided.</p>'
    )
    return '<h2 id="undecided">Checks not decided</h2>\n<p class="note">A pass with checks not decided is a partial pass (see docs/design.md).</p>\n' + body


def _figure(name: str, title: str, plot: dict[str, Any], notes: list[str] | None = None) -> str:
    if "svg" in plot:
        inner = plot["svg"]
    else:
        inner = '<p class="no-data" data-plot="%s">%s</p>' % (_e(name), _e(plot["missing"]))
    extra = "".join('<p class="note">%s</p>' % _e(n) for n in (notes or []) + plot.get("notes", []))
    return '<section id="plot-%s"><h2>%s</h2><figure>%s</figure>%s</section>' % (_e(name), _e(title), inner, extra)


def _timeline(tl: dict[str, Any], plot: dict[str, Any]) -> str:
    rows = "\n".join(
        '<tr data-requirement="%s"><td>%s</td><td>%s</td><td class="num">%.1f s</td><td class="num">%.1f s</td><td>%s</td></tr>'
        % (_e(i["id"]), _e(i["id"]), _e(i["started"]), i["offset_s"], i["duration_s"], _verdict(i["verdict"], i["verdict"]))
        for i in tl["items"]
    )
    table = (
        '<table id="timeline-table"><thead><tr><th>probe (requirement)</th><th>started (UTC)</th><th>start after the first</th>'
        "<th>duration</th><th>verdict</th></tr></thead><tbody>\n%s\n</tbody></table>" % rows
    )
    notes = ["No start recorded (no result was produced, so nothing ran): %s" % ", ".join(tl["unstarted"])] if tl["unstarted"] else []
    return _figure("timeline", "Probe timeline", plot, notes) + "\n" + table


def _summary(built: dict[str, Any]) -> str:
    s = built["summary"]
    chips = " ".join(_verdict(k, "%s %d" % (k, v)) for k, v in s["counts"].items())
    must = s["must_failed_or_error"]
    lines = [
        '<p class="counts">%s &nbsp; of the passes partial: %d</p>' % (chips, s["partial_pass_count"]),
        "<p>Every MUST passed or is N/A: %s</p>" % ('<span class="good">yes</span>' if s["conformant"] else '<span class="bad">no</span>'),
        "<p>MUST requirements failed or undecided: %s</p>" % (_e(", ".join(must)) if must else "none"),
    ]
    if s["partial_passes"]:
        lines.append("<p>Partial passes (checks not decided): %s</p>" % _e(", ".join(s["partial_passes"])))
    return "\n".join(lines)


def _upstream_and_problems(built: dict[str, Any]) -> str:
    up = built.get("upstream") or {}
    if up.get("ran"):
        text = "ran; disagreements with our verdicts: %s" % (", ".join(up.get("disagreements") or []) or "none")
    else:
        text = "not run: %s" % (up.get("unavailable") or "the upstream suite phase did not run")
    out = ['<h2 id="upstream">Upstream suite (kubernetes-sigs/ai-conformance)</h2><p>%s</p>' % _e(text)]
    if built["problems"]:
        out.append('<h2 id="problems">Problems in the collected results</h2><ul>%s</ul>' % "".join("<li>%s</li>" % _e(p) for p in built["problems"]))
    return "\n".join(out)


def _files(files: list[str]) -> str:
    items = "\n".join("<li>%s</li>" % _link(f) for f in files)
    return '<h2 id="files">Files of this bundle</h2>\n<ul class="files">\n%s\n</ul>' % items


def series(built: dict[str, Any]) -> dict[str, Any]:
    """Everything the plots are drawn from, from the rows (extras included: dra_support ran too)."""
    rows = built["rows"] + built["extras"]
    return {
        "timeline": rp.timeline(rows),
        "durations": rp.durations(rows),
        "hpa": rp.hpa_series(rows),
        "traffic": rp.traffic_series(rows),
        "autoscaler": rp.autoscaler_series(rows),
    }


def render(built: dict[str, Any], files: list[str]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The page, and per plot either the number of data points drawn or why none was."""
    data = series(built)
    drawn = plots.render_all(data)
    tl = data["timeline"]
    times = {i["id"]: i for i in tl["items"]}
    hpa_notes = [data["hpa"]["metric"]] if "metric" in data["hpa"] else []
    auto = data["autoscaler"]
    auto_notes = list(auto.get("notes", [])) + (["joined nodes: %s" % ", ".join(auto["joined"])] if auto.get("joined") else [])
    title = "Kubernetes AI Conformance %s: report" % built["version"]
    body = [
        "<h1>%s</h1>" % _e(title),
        '<p class="meta">Run %s; first probe started %s. Generated from results.json of this bundle.</p>' % (_e(built["run_id"] or "-"), _e(tl["t0"] or "-")),
        '<nav><a href="#requirements">requirements</a><a href="#undecided">checks not decided</a><a href="#plot-timeline">timeline</a>'
        '<a href="#plot-durations">durations</a><a href="#plot-hpa">HPA</a><a href="#plot-traffic">traffic</a>'
        '<a href="#plot-autoscaler">autoscaler</a><a href="#files">files</a></nav>',
        _summary(built),
        _requirements(built, times, set(files)),
        _undecided(built),
        _timeline(tl, drawn["timeline"]),
        _figure("durations", "Per-probe durations", drawn["durations"]),
        _figure("hpa", "pod_autoscaling: HPA replicas over time (hpa_probe)", drawn["hpa"], hpa_notes),
        _figure("traffic", "Measured traffic against what was declared (gateway_check, inference probes)", drawn["traffic"]),
        _figure("autoscaler", "cluster_autoscaling: node count (autoscaler_probe)", drawn["autoscaler"], auto_notes),
        _upstream_and_problems(built),
        _files(files),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="%s">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n%s\n</body>\n</html>\n'
    ) % (_e(CSP), _e(title), CSS, "\n".join(body))
    info = {k: ({"points": v["points"]} if "svg" in v else {"missing": v["missing"]}) for k, v in drawn.items()}
    return page, info
