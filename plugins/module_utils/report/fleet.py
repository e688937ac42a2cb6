# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet summary: one evidence bundle per cluster (an inventory host each) folded into a
requirements x clusters matrix (fleet.json), with the drift since a previous fleet.json and a
self-contained page (fleet.html, the same style and Content-Security-Policy as report.html).

A cluster whose play stopped before its bundle was written (unreachable, bad credentials, a
failed task) is a column of ``error`` cells with the reason, and so is one whose bundle directory
holds INCOMPLETE.json (``error: incomplete run``); its neighbours are unaffected.
Verdicts come from each bundle's results.json only (rebuilt as report.html does), never from logs.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
from datetime import datetime, timezone
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import report as rp
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.signing_bundle import incomplete

FLEET_FORMAT = 1
JSON_NAME = "fleet.json"
HTML_NAME = "fleet.html"
RESULTS_NAME = "results.json"


class FleetInputError(ValueError):
    """A cluster entry or a previous fleet.json that cannot be used (one line)."""


def _cell(verdict: str, reason: str, partial: bool = False) -> dict[str, Any]:
    return {"verdict": verdict, "partial": bool(partial), "reason": reason}


def shown(cell: dict[str, Any] | None) -> str:
    """The class a cell is shown with (report.html's): partial for a partial pass, ``absent``
    for a requirement the cluster's checklist does not have."""
    if not cell:
        return "absent"
    return "partial" if cell.get("partial") and cell.get("verdict") == "pass" else str(cell.get("verdict"))


def load_cluster(spec: dict[str, Any]) -> dict[str, Any]:
    """One column: the cluster's results.json read from its bundle, or an error column.

    ``spec``: name, and bundle (the directory holding results.json), error (why the play stopped
    on that cluster before its bundle was written), run_id (the run the bundle must come from: an
    older bundle left in the directory is not this run's), platform, metadata."""
    name = str(spec.get("name") or "").strip()
    if not name:
        raise FleetInputError("every cluster needs a name (got %s)" % json.dumps(spec, sort_keys=True, default=str)[:120])
    col: dict[str, Any] = {
        "name": name,
        "platform": spec.get("platform") or "",
        "metadata": spec.get("metadata") or {},
        "bundle": spec.get("bundle") or None,
        "run_id": spec.get("run_id") or "",
        "status": "error",
        "reason": "",
        "version": "",
        "cells": {},
        "summary": {},
    }
    if spec.get("error"):
        col["reason"] = str(spec["error"]).strip().splitlines()[0][:500]
        return col
    if not col["bundle"]:
        col["reason"] = "no evidence bundle was written for this cluster (its play stopped before the evidence phase)"
        return col
    # The partial evidence of a run interrupted (or still running) in that directory: any results.json
    # there is an earlier run's, or this run's half-written one.
    unfinished = incomplete(col["bundle"])
    if unfinished:
        col["reason"] = "incomplete run: %s" % unfinished
        return col
    try:
        built = rp.build(rp.load_results(os.path.join(col["bundle"], RESULTS_NAME)))
    except (rp.ReportInputError, catalog.UnknownVersion) as exc:
        col["reason"] = str(exc)
        return col
    if spec.get("run_id") and built["run_id"] != spec["run_id"]:
        col["reason"] = "the bundle in %s holds run %s, not this run's %s: this run wrote no bundle for the cluster" % (
            col["bundle"],
            built["run_id"] or "(no run id)",
            spec["run_id"],
        )
        return col
    col.update(status="ok", run_id=built["run_id"], version=built["version"], summary=built["summary"])
    for row in built["rows"] + built["extras"]:
        col["cells"][row["id"]] = _cell(row["verdict"], row.get("reason") or "", row.get("partial"))
    return col


def requirement_rows(version: str, columns: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The checklist's requirements of ``version`` in its order, then any other requirement a
    bundle holds (the extras, or a cluster on another checklist version), sorted."""
    rows = [{"id": r.id, "level": r.level, "category": r.category} for r in catalog.requirements(version)]
    seen = {r["id"] for r in rows}
    others = sorted({rid for c in columns for rid in c["cells"]} - seen)
    for rid in others:
        try:
            category = catalog.category_of(rid)
        except catalog.UnknownRequirement:
            category = ""
        rows.append({"id": rid, "level": "", "category": category})
    return rows


def matrix(columns: list[dict[str, Any]], rows: list[dict[str, str]]) -> dict[str, dict[str, dict[str, Any] | None]]:
    """requirement -> cluster -> cell.  An error column's cells are all ``error`` with its reason."""
    out: dict[str, dict[str, dict[str, Any] | None]] = {}
    for row in rows:
        out[row["id"]] = {}
        for col in columns:
            if col["status"] != "ok":
                out[row["id"]][col["name"]] = _cell("error", col["reason"])
            else:
                out[row["id"]][col["name"]] = col["cells"].get(row["id"])
    return out


def load_previous(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise FleetInputError("cannot read the previous fleet summary %s: %s" % (path, exc.strerror or exc))
    except ValueError as exc:
        raise FleetInputError("the previous fleet summary %s is not JSON: %s" % (path, str(exc).splitlines()[0]))
    if not isinstance(doc, dict) or not isinstance(doc.get("matrix"), dict) or not isinstance(doc.get("clusters"), list):
        raise FleetInputError("%s is not a fleet.json (no matrix and clusters)" % path)
    return doc


def drift(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The cells whose shown verdict changed since ``previous`` (clusters and requirements in both),
    and the clusters and requirements added or removed."""
    prev_clusters = [c["name"] for c in previous["clusters"]]
    cur_clusters = [c["name"] for c in current["clusters"]]
    changed = []
    for rid, cells in current["matrix"].items():
        before = previous["matrix"].get(rid)
        if before is None:
            continue
        for name in cur_clusters:
            if name not in prev_clusters:
                continue
            was, now = shown(before.get(name)), shown(cells.get(name))
            if was != now:
                changed.append({"requirement": rid, "cluster": name, "was": was, "now": now, "reason": (cells.get(name) or {}).get("reason", "")})
    return {
        "previous_generated": previous.get("generated"),
        "changed": changed,
        "clusters_added": [n for n in cur_clusters if n not in prev_clusters],
        "clusters_removed": [n for n in prev_clusters if n not in cur_clusters],
        "requirements_added": [r for r in current["matrix"] if r not in previous["matrix"]],
        "requirements_removed": [r for r in previous["matrix"] if r not in current["matrix"]],
    }


def build(specs: list[dict[str, Any]], version: str, previous: dict[str, Any] | None = None, previous_path: str | None = None) -> dict[str, Any]:
    """fleet.json's document from the cluster entries (see load_cluster)."""
    version = catalog.normalize_version(version)
    columns = [load_cluster(s) for s in specs]
    names = [c["name"] for c in columns]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise FleetInputError("cluster names must be unique; repeated: %s" % ", ".join(dup))
    rows = requirement_rows(version, columns)
    clusters = []
    for col in columns:
        summary = col["summary"]
        clusters.append(
            {
                "name": col["name"],
                "status": col["status"],
                "reason": col["reason"],
                "platform": col["platform"],
                "metadata": col["metadata"],
                "bundle": col["bundle"],
                "run_id": col["run_id"],
                "version": col["version"],
                "counts": summary.get("counts") or {},
                "conformant": bool(summary.get("conformant")) if col["status"] == "ok" else False,
                "must_failed_or_error": summary.get("must_failed_or_error") or [],
            }
        )
    doc: dict[str, Any] = {
        "format": FLEET_FORMAT,
        "version": version,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "requirements": rows,
        "clusters": clusters,
        "matrix": matrix(columns, rows),
        "totals": {
            "clusters": len(clusters),
            "error": [c["name"] for c in clusters if c["status"] != "ok"],
            "conformant": [c["name"] for c in clusters if c["conformant"]],
            "not_conformant": [c["name"] for c in clusters if c["status"] == "ok" and not c["conformant"]],
        },
        "drift": None,
    }
    if previous is not None:
        doc["drift"] = dict(drift(previous, doc), previous=previous_path)
    return doc


def line(doc: dict[str, Any]) -> str:
    """One line for the play's output."""
    t = doc["totals"]
    text = "%d clusters: %d conformant, %d not conformant, %d error%s" % (
        t["clusters"],
        len(t["conformant"]),
        len(t["not_conformant"]),
        len(t["error"]),
        " (%s)" % ", ".join(t["error"]) if t["error"] else "",
    )
    if doc.get("drift") is not None:
        text += "; %d cell(s) changed since %s" % (len(doc["drift"]["changed"]), doc["drift"].get("previous_generated") or "the previous summary")
    return text


def to_json(doc: dict[str, Any]) -> str:
    """Deterministic text, but for ``generated``."""
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"
