"""`trk ab report MODEL --capture-uri URI`: the A/B report from the captures.

The windows and the label joins come from DuckDB over the Parquet files; the summaries,
comparisons, looks and verdict are trk.ab's, the same code as the report from serving runs.
"""

from __future__ import annotations

import time

from trk.ab.evaluation import build_report
from trk.ab.report import GateMethod, Report
from trk.ab.windows import parse_duration
from trk.capture.evidence import CaptureEvidence
from trk.capture.query import CaptureQuery
from trk.capture.target import open_target
from trk.capture.windows import capture_windows
from trk.exceptions import NotFound


def capture_report(
    uri: str,
    model: str,
    since: str | None = None,
    metric: str = "accuracy",
    gate: GateMethod | None = None,
) -> Report:
    """Read the model's captures (in the window) and labels, and build the report."""
    since_ms = int((time.time() - parse_duration(since, "--since")) * 1000) if since else None
    with CaptureQuery(open_target(uri), model, since_ms) as q:
        variants = capture_windows(q)
        if not variants:
            window = f" since {since}" if since else ""
            raise NotFound(f"No captures of {model!r} under {uri}{window}")
        return build_report(
            CaptureEvidence(q), model, uri, variants, since, metric, gate or GateMethod()
        )
