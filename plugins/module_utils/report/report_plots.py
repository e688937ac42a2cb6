# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plots of report.html, drawn by matplotlib as inline SVG (no script, no font, no network).

Each function takes a series from module_utils.report and returns ``{"svg": markup, "points": n}``,
or ``{"missing": why}`` when the series recorded nothing.  Every artist that shows recorded data
carries the SVG id ``<plot>-data-<n>``, so a test can find what was drawn from the recording.  The
HPA plot draws, when its series has ``metric_series`` (``name``, ``target``, ``target_raw`` and
``up``/``down`` lists of (seconds after the load changed, value)), the HPA's current value of its
metric on a second axis (ids ``hpa-metric-<n>``) and the target dashed (``hpa-target-<n>``), and
returns their count as ``metric_points``.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import io
import re
import traceback
from typing import Any

try:
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    HAS_MATPLOTLIB = True
    MATPLOTLIB_IMPORT_ERROR = None
except ImportError:
    HAS_MATPLOTLIB = False
    MATPLOTLIB_IMPORT_ERROR = traceback.format_exc()

MISSING_MATPLOTLIB = "plots not drawn: the Python library matplotlib is not installed (pip install matplotlib, as requirements/runtime.txt pins it)"
# Fill colour per shown verdict; the verdict is always written beside it too.
COLORS = {"pass": "#2e7d32", "partial": "#9e9d24", "fail": "#c62828", "error": "#6a1b9a", "skip": "#757575", "not_applicable": "#90a4ae"}
WIDTH_IN = 8.0
METRIC_COLOR = "#6a1b9a"  # the HPA plot's metric line and target, on the second axis
RC = {
    "svg.fonttype": "none",  # text stays text: searchable, and no embedded glyphs
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# The SVG prolog, DOCTYPE and namespace declarations matplotlib writes; inline SVG in HTML needs none
# of them, and none of their URLs is a resource the page loads.
_STRIP = (
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*"),
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),
    re.compile(r'\s+xmlns(:xlink)?="[^"]*"'),
)


def to_svg(fig: Any, name: str, label: str) -> str:
    """The figure as an inline <svg> element, its ids unique to ``name`` (svg.hashsalt)."""
    buf = io.StringIO()
    with rc_context(dict(RC, **{"svg.hashsalt": "aic-report-%s" % name})):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    for pattern in _STRIP:
        svg = pattern.sub("", svg)
    svg = svg.replace("xlink:href=", "href=")
    return svg.replace("<svg ", '<svg class="plot" data-plot="%s" role="img" aria-label="%s" ' % (name, label.replace('"', "'")), 1).strip()


def _figure(height_in: float, cols: int = 1) -> tuple[Any, list[Any]]:
    fig = Figure(figsize=(WIDTH_IN, max(2.2, height_in)))
    axes = [fig.add_subplot(1, cols, i + 1) for i in range(cols)]
    for ax in axes:
        ax.grid(True, axis="both", color="#e0e0e0", linewidth=0.6)
        ax.set_axisbelow(True)
    return fig, axes


def _bars_by_verdict(ax: Any, name: str, items: list[dict[str, Any]], lefts: list[float]) -> int:
    """One horizontal bar per item (top to bottom), coloured by verdict, with a start marker so a
    probe of a few milliseconds is still seen."""
    ys = list(range(len(items)))[::-1]
    for i, (item, y, left) in enumerate(zip(items, ys, lefts)):
        color = COLORS.get(item["verdict"], "#424242")
        drawn = ax.barh([y], [item["duration_s"]], left=[left], color=color, height=0.6)
        drawn.patches[0].set_gid("%s-data-%d" % (name, i))
        ax.plot([left], [y], marker="|", markersize=10, color=color)
        ax.annotate("%.1f s" % item["duration_s"], (left + item["duration_s"], y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels(["%s (%s)" % (it["id"], it["verdict"]) for it in items])
    return len(items)


def timeline_plot(tl: dict[str, Any]) -> dict[str, Any]:
    items = tl["items"]
    if not items:
        return {"missing": "no data recorded: no result has a start time (started)"}
    fig, (ax,) = _figure(0.32 * len(items) + 1.0)
    points = _bars_by_verdict(ax, "timeline", items, [it["offset_s"] for it in items])
    ax.set_xlabel("seconds after the first probe started (%s)" % tl["t0"])
    ax.set_xlim(left=0, right=max(it["offset_s"] + it["duration_s"] for it in items) * 1.15 + 1)
    return {"svg": to_svg(fig, "timeline", "probe timeline: start and duration of each probe"), "points": points}


def durations_plot(items: list[dict[str, Any]]) -> dict[str, Any]:
    if not items:
        return {"missing": "no data recorded: no probe recorded a start and a duration"}
    fig, (ax,) = _figure(0.32 * len(items) + 1.0)
    points = _bars_by_verdict(ax, "durations", items, [0.0] * len(items))
    ax.set_xlabel("duration (s)")
    ax.set_xlim(left=0, right=max(it["duration_s"] for it in items) * 1.15 + 1)
    return {"svg": to_svg(fig, "durations", "per-probe durations"), "points": points}


def _phases(name: str, panels: list[tuple[list[tuple[float, float]], str, str, str]], ylabel: str, step: bool) -> tuple[Any, int]:
    """One panel per phase (its own time origin), sharing the y axis: ``step`` joins the recorded
    changes as steps (the value holds until the next change); otherwise only the measured moments
    are marked, since nothing between them was recorded."""
    fig, axes = _figure(2.9, cols=len(panels))
    points = 0
    top = max([p[1] for pts, _t, _x, _c in panels for p in pts] or [1.0])
    for i, (ax, (pts, title, xlabel, color)) in enumerate(zip(axes, panels)):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        if pts:
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            if step:
                (line,) = ax.step(xs, ys, where="post", marker="o", color=color)
            else:
                (line,) = ax.plot(xs, ys, marker="o", markersize=7, linestyle="none", color=color)
            line.set_gid("%s-data-%d" % (name, i))
            for x, y in pts:
                ax.annotate("%g at %g s" % (y, x), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=7)
            points += len(pts)
        else:
            ax.text(0.5, 0.5, "no data recorded", transform=ax.transAxes, ha="center", va="center", color="#6d4c41")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        right = max([p[0] for p in pts] or [1.0]) * 1.25 + 1
        # A little room below 0 and left of 0, so that a marker there is not cut in half.
        ax.set_ylim(-0.25, top + 1)
        ax.set_xlim(-0.03 * right, right)
    axes[0].set_ylabel(ylabel)
    fig.tight_layout()
    return fig, points


def _metric_axes(fig: Any, metric: dict[str, Any], series: dict[str, Any]) -> int:
    """The HPA's current value of its metric on a second y axis of each phase panel (held until the
    next sample, as the HPA holds it until its next sync), its target a dashed line; the x axis is
    widened to the samples taken after the last replica change."""
    target = metric.get("target")
    values = [v for key in ("up", "down") for _x, v in metric.get(key) or []]
    top = max(values + ([target] if target is not None else []) or [1.0])
    drawn = 0
    for i, (ax, key) in enumerate(zip(fig.axes[:2], ("up", "down"))):
        pts = metric.get(key) or []
        twin = ax.twinx()
        twin.spines["right"].set_visible(True)
        handles = []
        if pts:
            (line,) = twin.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                color=METRIC_COLOR,
                marker=".",
                markersize=4,
                linewidth=1.0,
                drawstyle="steps-post",
                label="HPA's current value",
            )
            line.set_gid("hpa-metric-%d" % i)
            handles.append(line)
            drawn += len(pts)
        if target is not None:
            tline = twin.axhline(target, color=METRIC_COLOR, linestyle="--", linewidth=0.9, label="target %s" % (metric.get("target_raw") or "%g" % target))
            tline.set_gid("hpa-target-%d" % i)
            handles.append(tline)
        twin.set_ylim(-0.02 * top, top * 1.15 + 1e-9)
        right = max([p[0] for p in pts] + [p[0] for p in series[key]] or [1.0]) * 1.25 + 1  # as _phases, over both series
        ax.set_xlim(-0.03 * right, right)
        if handles and key == "up":
            twin.legend(handles=handles, loc="upper left", fontsize=7, frameon=False)
        if key == "down":
            twin.set_ylabel("%s (HPA status.currentMetrics)" % metric.get("name", "metric"), color=METRIC_COLOR)
        twin.tick_params(axis="y", colors=METRIC_COLOR)
    return drawn


def hpa_plot(series: dict[str, Any]) -> dict[str, Any]:
    if "missing" in series:
        return {"missing": series["missing"]}
    fig, points = _phases(
        "hpa",
        [
            (series["up"], "load raised: scale up", "seconds after the load was raised", "#1565c0"),
            (series["down"], "load dropped: scale down", "seconds after the load was dropped", "#ef6c00"),
        ],
        "Deployment replicas (set by the HPA)",
        step=True,
    )
    metric = series.get("metric_series")
    if not isinstance(metric, dict):
        return {"svg": to_svg(fig, "hpa", "HPA replicas over time"), "points": points}
    drawn = _metric_axes(fig, metric, series)
    fig.tight_layout()
    label = "HPA replicas over time, with the HPA's current %s and its target" % metric.get("name", "metric")
    return {"svg": to_svg(fig, "hpa", label), "points": points, "metric_points": drawn}


def autoscaler_plot(series: dict[str, Any]) -> dict[str, Any]:
    if "missing" in series:
        return {"missing": series["missing"]}
    fig, points = _phases(
        "autoscaler",
        [
            (series["up"], "scale up: before, and when every pod was bound", "seconds after the workload was created", "#1565c0"),
            (series["down"], "scale down: when every joined node was gone", "seconds after the workload was deleted", "#ef6c00"),
        ],
        "GPU nodes in the pool",
        step=False,
    )
    return {"svg": to_svg(fig, "autoscaler", "autoscaler node count at the measured moments"), "points": points}


def _gateway(ax: Any, gw: dict[str, Any]) -> int:
    xs = list(range(len(gw["backends"])))
    width = 0.38
    declared = ax.bar([x - width / 2 for x in xs], gw["expected"], width, color="#b0bec5", label="declared weight share")
    declared_err = [gw["tolerance"]] * len(xs)
    ax.errorbar([x - width / 2 for x in xs], gw["expected"], yerr=declared_err, fmt="none", ecolor="#455a64", capsize=3, linewidth=0.8)
    measured = ax.bar([x + width / 2 for x in xs], gw["observed"], width, color="#1565c0", label="measured share")
    for i, patch in enumerate(list(declared.patches) + list(measured.patches)):
        patch.set_gid("traffic-data-gw-%d" % i)
    for x, obs, count in zip(xs, gw["observed"], gw["counts"]):
        ax.annotate("%s" % count if count is not None else "", (x + width / 2, obs), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(xs)
    ax.set_xticklabels(["%s (weight %s)" % (b, w) for b, w in zip(gw["backends"], gw["weights"])])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of %s requests" % gw["sent"])
    ax.set_title("ai_inference: HTTPRoute split (tolerance %.2f)" % gw["tolerance"], fontsize=9)
    ax.legend(loc="upper right", fontsize=7, frameon=False)
    return len(xs) * 2


def _pool(ax: Any, pool: dict[str, Any]) -> int:
    xs = list(range(len(pool["endpoints"])))
    colors = ["#2e7d32" if e == pool["idle"] else "#ef6c00" for e in pool["endpoints"]]
    bars = ax.bar(xs, pool["completions"], 0.6, color=colors)
    for i, patch in enumerate(bars.patches):
        patch.set_gid("traffic-data-pool-%d" % i)
    ax.set_xticks(xs)
    ax.set_xticklabels(["%s\n(%s)" % (e, "idle" if e == pool["idle"] else "loaded") for e in pool["endpoints"]], fontsize=7)
    ax.set_ylabel("gateway completions during the load")
    ax.set_title("advanced_inference_ingress: endpoint choice", fontsize=9)
    return len(xs)


def _disagg(ax: Any, dis: dict[str, Any]) -> int:
    xs = list(range(len(dis["phases"])))
    bars = ax.bar(xs, dis["counted"], 0.6, color="#6a1b9a")
    for i, patch in enumerate(bars.patches):
        patch.set_gid("traffic-data-disagg-%d" % i)
    if dis["completed"] is not None:
        ax.axhline(dis["completed"], color="#424242", linestyle="--", linewidth=0.9, label="completions through the gateway")
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    ax.set_xticks(xs)
    ax.set_xticklabels(dis["phases"])
    ax.set_ylabel("requests counted by the phase")
    ax.set_title("disaggregated_inference: both phases", fontsize=9)
    return len(xs)


def traffic_plot(series: dict[str, Any]) -> dict[str, Any]:
    drawers = [(key, fn) for key, fn in (("gateway", _gateway), ("pool", _pool), ("disagg", _disagg)) if key in series]
    if not drawers:
        return {"missing": "no data recorded: " + "; ".join(series["missing"])}
    fig, axes = _figure(3.2, cols=len(drawers))
    points = sum(fn(ax, series[key]) for ax, (key, fn) in zip(axes, drawers))
    fig.tight_layout()
    notes = ["no data recorded: %s" % m for m in series["missing"]]
    return {"svg": to_svg(fig, "traffic", "measured traffic against what was declared"), "points": points, "notes": notes}


def render_all(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every plot of the page from the report series; without matplotlib each says why none is drawn."""
    names = ("timeline", "durations", "hpa", "traffic", "autoscaler")
    if not HAS_MATPLOTLIB:
        return {n: {"missing": MISSING_MATPLOTLIB} for n in names}
    with rc_context(RC):
        return {
            "timeline": timeline_plot(data["timeline"]),
            "durations": durations_plot(data["durations"]),
            "hpa": hpa_plot(data["hpa"]),
            "traffic": traffic_plot(data["traffic"]),
            "autoscaler": autoscaler_plot(data["autoscaler"]),
        }
