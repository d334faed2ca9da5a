"""A self-contained HTML A/B report: tables plus inline SVG plots, no CDN, no JavaScript."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from trk.ab.render import comparison_rows, method_line, propensity_line, render_json, variant_row
from trk.ab.report import BETTER, WORSE, Comparison, Report

COLORS = {"champion": "#1f77b4", "challenger": "#d62728"}
_OTHER = ("#2ca02c", "#9467bd", "#8c564b")
W, H, PAD = 640, 240, 44

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}
.verdict{padding:10px;border-radius:4px;font-weight:600;background:#eee}
.better{background:#dff3df}.worse{background:#f8dcdc}
svg{background:#fafafa;border:1px solid #ddd;margin:4px 12px 4px 0}
.legend span{display:inline-block;margin-right:14px}
"""


def color(variant: str, index: int) -> str:
    return COLORS.get(variant, _OTHER[index % len(_OTHER)])


def _table(rows: Sequence[dict[str, str]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> Callable[[float], float]:
    span = (hi - lo) or 1.0
    return lambda v: out_lo + (v - lo) / span * (out_hi - out_lo)


def line_plot(title: str, series: dict[str, list[tuple[float, float]]], unit: str = "") -> str:
    """An SVG line chart of (x, y) points per variant, with axes and min/max labels."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        return f'<svg width="{W}" height="{H}"><text x="20" y="30">{escape(title)}: no data</text></svg>'
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    y_lo, y_hi = min(ys), max(ys)
    if y_lo == y_hi:
        y_lo, y_hi = y_lo - 0.5 * abs(y_lo or 1), y_hi + 0.5 * abs(y_hi or 1)
    sx, sy = _scale(min(xs), max(xs), PAD, W - 12), _scale(y_lo, y_hi, H - PAD + 12, 28)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">',
        f'<text x="{PAD}" y="18" font-weight="600">{escape(title)}</text>',
        f'<line x1="{PAD}" y1="{H - PAD + 12}" x2="{W - 12}" y2="{H - PAD + 12}" stroke="#999"/>',
        f'<line x1="{PAD}" y1="28" x2="{PAD}" y2="{H - PAD + 12}" stroke="#999"/>',
        f'<text x="4" y="34" font-size="11">{y_hi:.4g}{escape(unit)}</text>',
        f'<text x="4" y="{H - PAD + 12}" font-size="11">{y_lo:.4g}{escape(unit)}</text>',
        f'<text x="{W // 2}" y="{H - 8}" font-size="11">report window</text>',
    ]
    for i, (name, pts) in enumerate(series.items()):
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        c = color(name, i)
        parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{coords}"/>')
        parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{c}"/>' for x, y in pts]
    return "".join(parts) + "</svg>"


def bar_plot(title: str, counts: dict[str, dict[str, int]]) -> str:
    """Grouped bars: share of predictions per class, one bar per variant."""
    labels = sorted({k for c in counts.values() for k in c})
    if not labels:
        return f'<svg width="{W}" height="{H}"><text x="20" y="30">{escape(title)}: no data</text></svg>'
    shares = {v: {k: n / (sum(c.values()) or 1) for k, n in c.items()} for v, c in counts.items()}
    group_w = (W - PAD - 12) / len(labels)
    bar_w = group_w * 0.8 / max(1, len(counts))
    sy = _scale(0.0, 1.0, H - PAD + 12, 28)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">',
        f'<text x="{PAD}" y="18" font-weight="600">{escape(title)}</text>',
        '<text x="4" y="34" font-size="11">100%</text>',
    ]
    for g, label in enumerate(labels):
        x0 = PAD + g * group_w + group_w * 0.1
        for i, (variant, share) in enumerate(shares.items()):
            y = sy(share.get(label, 0.0))
            parts.append(
                f'<rect x="{x0 + i * bar_w:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{H - PAD + 12 - y:.1f}" fill="{color(variant, i)}"/>'
            )
        parts.append(f'<text x="{x0:.1f}" y="{H - 14}" font-size="11">{escape(label)}</text>')
    return "".join(parts) + "</svg>"


def sequence_plot(cmp: Comparison, alpha: float) -> str:
    """The confidence sequence of challenger - champion over the labels: band, estimate, zero.

    A gate may stop the first time the band leaves zero; it narrows as labels arrive and
    never widens (it is intersected over the looks).
    """
    pts = [p for p in cmp.sequence if math.isfinite(p["low"]) and math.isfinite(p["high"])]
    title = f"{cmp.metric}: challenger - champion, {1 - alpha:.0%} confidence sequence"
    if not pts:
        return f'<svg width="{W}" height="{H}"><text x="20" y="30">{escape(title)}: no look past the minimum sample yet</text></svg>'
    xs = [p["n"] for p in pts]
    y_lo = min(0.0, *(p["low"] for p in pts))
    y_hi = max(0.0, *(p["high"] for p in pts))
    sx = _scale(min(xs), max(xs), PAD, W - 12)
    sy = _scale(y_lo, y_hi, H - PAD + 12, 28)
    band = [f"{sx(p['n']):.1f},{sy(p['high']):.1f}" for p in pts] + [
        f"{sx(p['n']):.1f},{sy(p['low']):.1f}" for p in reversed(pts)
    ]
    est = " ".join(f"{sx(p['n']):.1f},{sy(p['estimate']):.1f}" for p in pts)
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" '
            f'class="sequence">',
            f'<text x="{PAD}" y="18" font-weight="600">{escape(title)}</text>',
            f'<polygon fill="#d62728" fill-opacity="0.18" points="{" ".join(band)}"/>',
            f'<line x1="{PAD}" y1="{sy(0.0):.1f}" x2="{W - 12}" y2="{sy(0.0):.1f}" '
            'stroke="#333" stroke-dasharray="4 3"/>',
            f'<polyline fill="none" stroke="#d62728" stroke-width="2" points="{est}"/>',
            f'<text x="4" y="34" font-size="11">{y_hi:+.3g}</text>',
            f'<text x="{PAD - 12}" y="{sy(0.0) + 4:.1f}" font-size="11">0</text>',
            f'<text x="4" y="{H - PAD + 12}" font-size="11">{y_lo:+.3g}</text>',
            f'<text x="{PAD}" y="{H - 8}" font-size="11">{min(xs):.0f}</text>',
            f'<text x="{W // 2 - 60}" y="{H - 8}" font-size="11">'
            f"{'pairs' if cmp.design == 'paired' else 'observations per variant'}</text>",
            f'<text x="{W - 60}" y="{H - 8}" font-size="11">{max(xs):.0f}</text>',
            "</svg>",
        ]
    )


def _series(report: Report, key: str) -> dict[str, list[tuple[float, float]]]:
    return {v: [(p["step"], p[key]) for p in pts if key in p] for v, pts in report.timeline.items()}


def render_html(report: Report) -> str:
    """The whole report as one HTML page that opens from a file with no server."""
    v = report.verdict
    css_class = {BETTER: "better", WORSE: "worse"}.get(v.outcome, "")
    legend = "".join(
        f'<span style="color:{color(name, i)}">&#9632; {escape(name)}</span>'
        for i, name in enumerate(report.timeline)
    )
    since = f", last {escape(report.since)}" if report.since else ""
    return "".join(
        [
            "<!DOCTYPE html><html><head><meta charset='utf-8'>",
            f"<title>A/B report: {escape(report.model)}</title><style>{_CSS}</style></head><body>",
            f"<h1>A/B report: {escape(report.model)}</h1>",
            f"<p>Experiment {escape(report.experiment)}{since}; alpha {report.alpha:g}. "
            f"{escape(method_line(report))}</p>",
            f"<p>{escape(propensity_line(report))}</p>" if report.inverse_propensity else "",
            f'<p class="verdict {css_class}">Verdict on {escape(v.metric)}: '
            f"{escape(v.message)}</p>",
            "<h2>Variants</h2>",
            _table([variant_row(s) for s in report.variants]),
            "<h2>Challenger - champion</h2>",
            _table(comparison_rows(report)),
            "<h2>Confidence sequences</h2><p>Valid at every look at once: the gate may be "
            "re-run after every window; it stops the first time the band leaves zero.</p>",
            *(sequence_plot(c, report.alpha) for c in report.comparisons if c.sequence),
            f'<h2>Over time</h2><p class="legend">{legend}</p>',
            line_plot("accuracy per window", _series(report, "accuracy")),
            line_plot("latency p50 per window", _series(report, "latency_p50_ms"), " ms"),
            line_plot("latency p99 per window", _series(report, "latency_p99_ms"), " ms"),
            "<h2>Prediction distribution</h2>",
            bar_plot("share of predictions per class", report.predictions),
            "<h2>Data</h2><details><summary>JSON</summary><pre>",
            escape(render_json(report)),
            "</pre></details></body></html>",
        ]
    )
