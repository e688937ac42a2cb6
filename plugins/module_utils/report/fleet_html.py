# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet.html: the fleet summary as one self-contained page, styled as report.html and under the
same Content-Security-Policy (inline CSS only: no script, font, image or request).  One row per
requirement, one column per cluster; each cell the verdict, with its reason as the cell's title."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import os
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import fleet
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.report_html import CSP, CSS, _e, _link, _verdict

FLEET_CSS = "td.cell{text-align:center}th.cluster{white-space:nowrap}.v-absent{background:#e0e0e0;color:#555}.err{color:#6a1b9a}"


def _rel(path: str | None, dest: str) -> str | None:
    """A cluster's report.html as a link relative to where fleet.html is written (None: no bundle)."""
    if not path:
        return None
    return os.path.relpath(os.path.join(path, "report.html"), dest)


def _cluster_head(c: dict[str, Any], dest: str) -> str:
    link = _rel(c["bundle"], dest) if c["status"] == "ok" else None
    name = _link(link, c["name"]) if link else _e(c["name"])
    sub = c["platform"] or ""
    if c["status"] != "ok":
        sub = "error"
    return '<th class="cluster" scope="col">%s<br><span class="cat">%s</span></th>' % (name, _e(sub))


def _matrix(doc: dict[str, Any], dest: str) -> str:
    head = "".join(_cluster_head(c, dest) for c in doc["clusters"])
    body = []
    for row in doc["requirements"]:
        cells = []
        for c in doc["clusters"]:
            cell = doc["matrix"][row["id"]].get(c["name"])
            label = fleet.shown(cell)
            title = (cell or {}).get("reason") or ("not in this cluster's checklist" if cell is None else "")
            cells.append('<td class="cell" title="%s">%s</td>' % (_e(title), _verdict(label, label.replace("_", " "))))
        head_cell = '<th scope="row">%s<br><span class="cat">%s</span></th>' % (_e(row["id"]), _e(row["category"]))
        body.append("<tr>%s<td>%s</td>%s</tr>" % (head_cell, _e(row["level"]), "".join(cells)))
    return (
        '<h2 id="matrix">Requirements &times; clusters</h2>\n<div class="scroll"><table class="matrix">\n'
        '<thead><tr><th scope="col">Requirement</th><th scope="col">Level</th>%s</tr></thead>\n<tbody>\n%s\n</tbody></table></div>'
    ) % (head, "\n".join(body))


def _clusters(doc: dict[str, Any], dest: str) -> str:
    rows = []
    for c in doc["clusters"]:
        counts = " ".join(_verdict(k, "%s %d" % (k, v)) for k, v in sorted(c["counts"].items()) if v)
        if c["status"] != "ok":
            state = '<span class="err">error: %s</span>' % _e(c["reason"])
        elif c["conformant"]:
            state = '<span class="good">every MUST passed or is N/A</span>'
        else:
            state = '<span class="bad">MUST not passed: %s</span>' % _e(", ".join(c["must_failed_or_error"]))
        meta = ", ".join("%s=%s" % (k, v) for k, v in sorted((c["metadata"] or {}).items()))
        link = _rel(c["bundle"], dest) if c["status"] == "ok" else None
        rows.append(
            "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
            % (
                _e(c["name"]),
                _e(c["platform"]),
                state,
                counts,
                _e(c["run_id"] or "-"),
                _link(link, "report.html") if link else "-",
                _e(meta),
            )
        )
    return (
        '<h2 id="clusters">Clusters</h2>\n<table><thead><tr><th>Cluster</th><th>Platform</th><th>Outcome</th><th>Verdicts</th>'
        "<th>Run</th><th>Bundle</th><th>Metadata</th></tr></thead>\n<tbody>\n%s\n</tbody></table>"
    ) % "\n".join(rows)


def _drift(doc: dict[str, Any]) -> str:
    d = doc.get("drift")
    if d is None:
        return '<h2 id="drift">Drift</h2><p class="note">No previous fleet summary was given: nothing to compare with.</p>'
    out = ['<h2 id="drift">Drift since %s</h2>' % _e(d.get("previous_generated") or d.get("previous") or "the previous summary")]
    if d["changed"]:
        items = "".join(
            "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
            % (_e(x["requirement"]), _e(x["cluster"]), _verdict(x["was"], x["was"]), _verdict(x["now"], x["now"]), _e(x["reason"]))
            for x in d["changed"]
        )
        head = "<tr><th>Requirement</th><th>Cluster</th><th>Was</th><th>Now</th><th>Reason now</th></tr>"
        out.append("<table><thead>%s</thead><tbody>%s</tbody></table>" % (head, items))
    else:
        out.append("<p>No verdict changed.</p>")
    for key, what in (("clusters_added", "Clusters added"), ("clusters_removed", "Clusters removed"), ("requirements_added", "Requirements added")):
        if d.get(key):
            out.append("<p>%s: %s</p>" % (what, _e(", ".join(d[key]))))
    return "\n".join(out)


def render(doc: dict[str, Any], dest: str) -> str:
    title = "Kubernetes AI Conformance %s: fleet of %d clusters" % (doc["version"], len(doc["clusters"]))
    body = [
        "<h1>%s</h1>" % _e(title),
        '<p class="meta">Generated %s from each cluster\'s results.json. %s.</p>' % (_e(doc["generated"]), _e(fleet.line(doc))),
        '<nav><a href="#matrix">matrix</a><a href="#clusters">clusters</a><a href="#drift">drift</a></nav>',
        _matrix(doc, dest),
        _clusters(doc, dest),
        _drift(doc),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="%s">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n<title>%s</title>\n<style>%s%s</style>\n</head>\n<body>\n%s\n</body>\n</html>\n'
    ) % (_e(CSP), _e(title), CSS, FLEET_CSS, "\n".join(body))
