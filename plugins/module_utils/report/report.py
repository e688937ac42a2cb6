# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What report.html and ctrf-report.json show, computed from a bundle's results.json.

Nothing here draws or writes: the rows come from evidence.build_rows (the same rows as README.md,
PRODUCT.yaml and junit.xml), the timeline from each result's ``started`` and ``duration_s``, and the
plot series from the observation keys the probes record (hpa_probe ``replica_changes`` and
``metric_samples``/``metric_target``/``load_raised_at_s``/``load_dropped_at_s``,
gateway_check ``split``, inference_pool_probe ``choice``, disaggregated_inference_probe
``counters``, autoscaler_probe ``pool_free_before``/``joined_nodes``/``scale_up_s``/``scale_down_s``).
A series whose keys are absent is returned as ``{"missing": why}``; it is never made up.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
from datetime import datetime, timezone
from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import registry
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.evidence import build_rows

TOOL_NAME = "ai_conformance.kubernetes"
CTRF_SPEC_VERSION = "0.0.0"
HTML_NAME = "report.html"
CTRF_NAME = "ctrf-report.json"
# CTRF has passed, failed, skipped, pending and other.  An error (the probe could not decide) is
# reported as failed, as junit.xml reports it as an <error>: a CI gate must not go green on it.
# The verdict itself is kept in each test's rawStatus.
CTRF_STATUS = {"pass": "passed", "fail": "failed", "error": "failed", "skip": "skipped", "not_applicable": "skipped"}
# Which requirement each plotted probe answers (the plots read these probes' observations).
HPA_REQ = registry.requirement_of("hpa_probe")
GATEWAY_REQ = registry.requirement_of("gateway_check")
POOL_REQ = registry.requirement_of("inference_pool_probe")
DISAGG_REQ = registry.requirement_of("disaggregated_inference_probe")
AUTOSCALER_REQ = registry.requirement_of("autoscaler_probe")


class ReportInputError(ValueError):
    """results.json is missing, unreadable or not a bundle's results."""


def load_results(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ReportInputError("cannot read %s: %s" % (path, exc.strerror or exc))
    except ValueError as exc:
        raise ReportInputError("%s is not JSON: %s" % (path, str(exc).splitlines()[0]))
    if not isinstance(data, dict) or not isinstance(data.get("requirements"), list) or "version" not in data:
        raise ReportInputError("%s is not an evidence bundle's results.json (no version and requirements list)" % path)
    return data


def build(data: dict[str, Any]) -> dict[str, Any]:
    """The bundle's rows rebuilt from results.json: checklist rows and extras with level, category,
    verdict label, undecided checks, PRODUCT.yaml status and evidence file, as the role rendered them."""
    summary = data.get("summary") or {}
    results = list(data.get("requirements") or []) + list(data.get("extras") or [])
    out = build_rows(results, data["version"], run_id=data.get("run_id") or "", accept_partial=bool(summary.get("accepted_partial")))
    out["run_id"] = data.get("run_id") or ""
    # What the run recorded (the role's view), not what rebuilding the rows found.
    out["problems"] = list(data.get("problems") or [])
    out["upstream"] = data.get("upstream") or out["upstream"]
    return out


def display_verdict(row: dict[str, Any]) -> str:
    """pass, partial, fail, skip, not_applicable or error: the class a row is shown with."""
    return "partial" if row.get("partial") else row["verdict"]


def parse_time(value: Any) -> datetime | None:
    """A result's ``started`` (UTC, ``2026-12-02T19:18:40Z``) as an aware datetime; None when empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def duration_of(result: dict[str, Any]) -> float:
    try:
        return max(0.0, float(result.get("duration_s") or 0.0))
    except (TypeError, ValueError):
        return 0.0


def timeline(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Start (seconds after the first probe started) and duration of each probe that recorded a
    start; the others (no result was produced) are listed apart."""
    started = []
    unstarted = []
    for row in rows:
        when = parse_time(row["result"].get("started"))
        if when is None:
            unstarted.append(row["id"])
        else:
            started.append((when, row))
    items = []
    t0 = min((w for w, _row in started), default=None)
    for when, row in sorted(started, key=lambda x: (x[0], x[1]["id"])):
        dur = duration_of(row["result"])
        items.append(
            {
                "id": row["id"],
                "verdict": display_verdict(row),
                "started": row["result"]["started"],
                "offset_s": round((when - t0).total_seconds(), 3),
                "duration_s": dur,
                "start_ms": int(when.timestamp() * 1000),
                "stop_ms": int((when.timestamp() + dur) * 1000),
            }
        )
    return {"t0": t0.strftime("%Y-%m-%dT%H:%M:%SZ") if t0 else "", "items": items, "unstarted": unstarted}


def _obs(rows: list[dict[str, Any]], rid: str) -> tuple[dict[str, Any] | None, str]:
    """The observations of requirement ``rid`` and its verdict, or (None, why not)."""
    row = next((r for r in rows if r["id"] == rid), None)
    if row is None:
        return None, "%s is not part of this run's checklist" % rid
    obs = row["result"].get("observations")
    return (obs if isinstance(obs, dict) else {}), "its result: %s: %s" % (row["verdict"], row["result"].get("reason", ""))


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def hpa_metric_series(obs: dict[str, Any]) -> dict[str, Any] | None:
    """hpa_probe's ``metric_samples`` (the HPA's current value of its metric, ``t_s`` seconds since
    the probe started) per phase, on the clocks of the replica changes: seconds after
    ``load_raised_at_s`` (phase up) or ``load_dropped_at_s`` (phase down); ``metric_target`` gives
    the name and the target.  None when nothing was recorded."""
    samples = obs.get("metric_samples")
    if not isinstance(samples, list) or not samples:
        return None
    target = obs.get("metric_target") if isinstance(obs.get("metric_target"), dict) else {}
    raw = target.get("raw")
    out: dict[str, Any] = {"name": target.get("metric") or "metric", "target": _num(target.get("value")), "target_raw": None if raw is None else str(raw)}
    starts = {"up": _num(obs.get("load_raised_at_s")), "down": _num(obs.get("load_dropped_at_s"))}
    for phase, start in starts.items():
        out[phase] = []
        for sample in samples:
            t, value = _num((sample or {}).get("t_s")), _num((sample or {}).get("current"))
            if sample.get("phase") == phase and start is not None and t is not None and value is not None:
                out[phase].append((round(t - start, 1), value))
    return out if out["up"] or out["down"] else None


def hpa_series(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """hpa_probe's ``replica_changes``: each change of the Deployment's replicas with its time since
    the probe raised the load (phase up) or dropped it (``phase: down``), and the HPA's current value
    of its metric over the same time (``metric_series``, see hpa_metric_series)."""
    obs, why = _obs(rows, HPA_REQ)
    changes = (obs or {}).get("replica_changes")
    if not isinstance(changes, list) or not changes:
        return {"missing": "no data recorded: %s has no replica changes (hpa_probe observations.replica_changes); %s" % (HPA_REQ, why)}
    points: dict[str, list[tuple[float, float]]] = {"up": [], "down": []}
    for change in changes:
        t, replicas = _num((change or {}).get("t_s")), _num((change or {}).get("replicas"))
        if t is not None and replicas is not None:
            points["down" if change.get("phase") == "down" else "up"].append((t, replicas))
    if not points["up"] and not points["down"]:
        return {"missing": "no data recorded: the replica changes of %s carry no t_s/replicas values" % HPA_REQ}
    out: dict[str, Any] = {"up": points["up"], "down": points["down"], "scale_up_s": _num(obs.get("scale_up_s")), "scale_down_s": _num(obs.get("scale_down_s"))}
    metric = hpa_metric_series(obs)
    if metric is not None:
        out["metric_series"] = metric
    else:
        # Results of hpa_probe before it sampled the HPA's metric: say so rather than draw a line.
        out["metric"] = (
            "no data recorded: this hpa_probe result has no samples of the HPA's current metric (observations.metric_samples), only the replica changes"
        )
    return out


def traffic_series(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Measured traffic against what was declared: gateway_check's split against the route's weights,
    inference_pool_probe's completions per endpoint while all but one were loaded, and
    disaggregated_inference_probe's requests counted by each serving phase against those completed."""
    out: dict[str, Any] = {"missing": []}
    obs, why = _obs(rows, GATEWAY_REQ)
    shares = ((obs or {}).get("split") or {}).get("shares")
    if isinstance(shares, dict) and shares:
        split = obs["split"]
        out["gateway"] = {
            "backends": sorted(shares),
            "expected": [_num((shares[b] or {}).get("expected")) or 0.0 for b in sorted(shares)],
            "observed": [_num((shares[b] or {}).get("observed")) or 0.0 for b in sorted(shares)],
            "weights": [(split.get("weights") or {}).get(b) for b in sorted(shares)],
            "counts": [(split.get("by_backend") or {}).get(b) for b in sorted(shares)],
            "tolerance": _num(split.get("tolerance")) or 0.0,
            "sent": split.get("sent"),
        }
    else:
        out["missing"].append("%s (gateway_check observations.split): %s" % (GATEWAY_REQ, why))
    obs, why = _obs(rows, POOL_REQ)
    choice = (obs or {}).get("choice") or {}
    if isinstance(choice.get("shares"), dict) and choice["shares"]:
        names = sorted(choice["shares"])
        out["pool"] = {"endpoints": names, "completions": [_num(choice["shares"][n]) or 0.0 for n in names], "idle": choice.get("idle")}
    else:
        out["missing"].append("%s (inference_pool_probe observations.choice): %s" % (POOL_REQ, why))
    obs, why = _obs(rows, DISAGG_REQ)
    counters = (obs or {}).get("counters")
    if isinstance(counters, dict) and counters:
        phases = [p for p in ("prefill", "decode") if p in counters] + sorted(p for p in counters if p not in ("prefill", "decode"))
        out["disagg"] = {
            "phases": phases,
            "counted": [_num((counters[p] or {}).get("delta")) or 0.0 for p in phases],
            "completed": _num((obs.get("responses") or {}).get("completions")),
        }
    else:
        out["missing"].append("%s (disaggregated_inference_probe observations.counters): %s" % (DISAGG_REQ, why))
    return out


def autoscaler_series(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """GPU nodes of the autoscaled pool at the moments autoscaler_probe measured: before the workload
    (``pool_free_before``: the pool's schedulable GPU nodes), when every workload pod was bound
    (``scale_up_s``, plus ``joined_nodes``), and when every joined node was gone (``scale_down_s``
    after the workload was deleted).  Nothing between those moments was recorded."""
    obs, why = _obs(rows, AUTOSCALER_REQ)
    obs = obs or {}
    before, joined = obs.get("pool_free_before"), obs.get("joined_nodes")
    if not isinstance(before, dict) or not isinstance(joined, list):
        return {"missing": "no data recorded: %s has no node counts (autoscaler_probe observations.pool_free_before, joined_nodes); %s" % (AUTOSCALER_REQ, why)}
    n0, peak = float(len(before)), float(len(before) + len(joined))
    up_s, down_s = _num(obs.get("scale_up_s")), _num(obs.get("scale_down_s"))
    up = [(0.0, n0)] + ([(up_s, peak)] if up_s is not None else [])
    down = [(0.0, peak), (down_s, n0)] if down_s is not None and joined else []
    notes = []
    if up_s is None:
        notes.append("no scale-up time recorded (no node was launched for the workload)")
    if joined and down_s is None:
        notes.append("no scale-down time recorded (not every joined node was removed)")
    return {"up": up, "down": down, "joined": list(joined), "provider": obs.get("provider"), "notes": notes}


def durations(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each probe that ran (a start recorded), with its duration, longest first."""
    ran = [r for r in rows if parse_time(r["result"].get("started")) is not None]
    return [
        {"id": r["id"], "duration_s": duration_of(r["result"]), "verdict": display_verdict(r)}
        for r in sorted(ran, key=lambda r: (-duration_of(r["result"]), r["id"]))
    ]


def bundle_files(bundle_dir: str, also: list[str] | None = None, skip: tuple[str, ...] = (HTML_NAME,)) -> list[str]:
    """Every file under the bundle (relative, '/'-separated, sorted), with ``also`` (files written
    after the report, such as SHA256SUMS) and without ``skip``."""
    found = set(also or [])
    for root, dirs, files in os.walk(bundle_dir):
        dirs.sort()
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), bundle_dir).replace(os.sep, "/")
            found.add(rel)
    return sorted(f for f in found if f not in skip)


def ctrf(built: dict[str, Any], tl: dict[str, Any]) -> dict[str, Any]:
    """The Common Test Report Format document (https://ctrf.io): one test per checklist requirement,
    as junit.xml has them; the verdict in rawStatus, the level, owner and category as labels."""
    times = {i["id"]: i for i in tl["items"]}
    tests = []
    counts = {k: 0 for k in ("passed", "failed", "skipped", "pending", "other")}
    for row in built["rows"]:
        status = CTRF_STATUS.get(row["verdict"], "other")
        counts[status] += 1
        test: dict[str, Any] = {
            "name": row["id"],
            "status": status,
            "duration": round(duration_of(row["result"]) * 1000),
            "message": "%s: %s" % (row["verdict_label"], row["reason"]),
            "rawStatus": row["verdict"],
            "suite": ["ai-conformance-%s" % built["version"], row["category"]],
            "labels": {"level": row["level"], "owner": row["owner"], "category": row["category"], "verdict": row["verdict_label"]},
            "filePath": row["evidence_file"],
        }
        if row["id"] in times:
            test["start"], test["stop"] = times[row["id"]]["start_ms"], times[row["id"]]["stop_ms"]
        if row["undecided_checks"]:
            test["labels"]["undecided_checks"] = [u["name"] for u in row["undecided_checks"]]
        tests.append(test)
    summary = dict(
        {"tests": len(tests)},
        **counts,
        start=min((t["start"] for t in tests if "start" in t), default=0),
        stop=max((t["stop"] for t in tests if "stop" in t), default=0),
    )
    return {
        "reportFormat": "CTRF",
        "specVersion": CTRF_SPEC_VERSION,
        "generatedBy": TOOL_NAME,
        "results": {
            "tool": {"name": TOOL_NAME, "extra": {"checklist": built["version"], "run_id": built["run_id"]}},
            "summary": summary,
            "tests": tests,
        },
    }
