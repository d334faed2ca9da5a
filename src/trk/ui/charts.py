"""Chart specs for the dashboard: series aligned on one x axis, in the shape uPlot draws.

uPlot takes `[xs, ys_1, ys_2, ...]` with every y array as long as `xs` and `null` where a
series has no point; the page's script turns each spec into one chart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

Points = Iterable[tuple[float, float]]


def _finite(value: float) -> float | None:
    # JSON has no NaN or infinity; uPlot draws a gap for null.
    return value if math.isfinite(value) else None


def chart(title: str, series: Mapping[str, Points], x_label: str = "step") -> dict[str, Any]:
    """One chart: each named series is a list of (x, y); a repeated x keeps its last y."""
    by_x: dict[str, dict[float, float]] = {name: dict(pts) for name, pts in series.items()}
    xs = sorted({x for pts in by_x.values() for x in pts})
    data: list[list[float | None]] = [list(xs)]
    data += [[_finite(pts[x]) if x in pts else None for x in xs] for pts in by_x.values()]
    return {
        "title": title,
        "x_label": x_label,
        "labels": list(by_x),
        "data": data,
        "points": sum(len(pts) for pts in by_x.values()),
    }
