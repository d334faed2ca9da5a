"""The captures as report windows: one per (variant, version, minute), as serving logs them
(longer windows of whole minutes where the span is long: trk.capture.query.window_ms).

The A/B report sums counts over windows and weighs per-window latencies and errors by their
counts (trk.ab.windows); captures hold every request, so the same windows are computed here
from the rows and handed to the same code. Captures do not name the serving process, so each
variant reads as one replica.
"""

from __future__ import annotations

from trk.ab.windows import VariantWindows, Window
from trk.capture.query import CaptureQuery
from trk.serving_contract import PRED_PREFIX

_PROCESS = "capture"
_LATENCIES = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")

_REQUESTS = """
SELECT variant, version, ts // {w} AS step, max(ts), count(*),
       count(*) FILTER (status >= 500), quantile_cont(latency_ms, [0.5, 0.95, 0.99])
FROM c GROUP BY ALL
"""
_LABELS = """
SELECT variant, version, ts // {w} AS step,
       count(*) FILTER (NOT reg AND label IS NOT NULL), count(*) FILTER (NOT reg AND cls = label),
       count(*) FILTER (reg AND lval IS NOT NULL), sum(abs(val - lval)) FILTER (reg),
       sum((val - lval) * (val - lval)) FILTER (reg)
FROM pl GROUP BY ALL
"""
_CLASSES = """
SELECT variant, version, step, cls, sum(n) FROM answers WHERE NOT reg GROUP BY ALL
"""
_SHADOW = """
SELECT b.variant, b.version, b.ts // {w} AS step, count(*),
       count(*) FILTER (a.prediction = b.prediction)
FROM c a JOIN c b ON a.request_id = b.request_id
WHERE a.variant = 'champion' AND b.variant = 'challenger'
  AND a.prediction IS NOT NULL AND b.prediction IS NOT NULL
GROUP BY ALL
"""


def capture_windows(q: CaptureQuery) -> dict[str, VariantWindows]:
    """Per variant, its windows with the metrics a serving run logs."""
    width = q.window_ms
    wins: dict[tuple[str, str, int], Window] = {}
    for variant, version, step, last, n, errors, quantiles in q.rows(_REQUESTS.format(w=width)):
        values = {"requests": n, "errors": errors, "error_rate": errors / n}
        if quantiles is not None:  # shadow answers have no latency a caller waited for
            values |= dict(zip(_LATENCIES, quantiles, strict=True))
        wins[(variant, version, step)] = Window(
            _PROCESS, int(step), int(last), values, version=version, process=_PROCESS
        )
    for variant, version, step, labelled, correct, reg_n, abs_sum, sq_sum in q.rows(
        _LABELS.format(w=width)
    ):
        w = wins[(variant, version, step)].values
        if labelled:
            w.update(labelled=labelled, correct=correct, accuracy=correct / labelled)
        elif reg_n:
            w.update(labelled=reg_n, mae=abs_sum / reg_n, rmse=(sq_sum / reg_n) ** 0.5)
    for variant, version, step, cls, n in q.rows(_CLASSES.format(w=width)):
        wins[(variant, version, step)].values[f"{PRED_PREFIX}{cls}"] = n
    for variant, version, step, compared, agreed in (
        q.rows(_SHADOW.format(w=width)) if q.shadow else []
    ):
        w = wins[(variant, version, step)].values
        w.update(shadow_compared=compared, shadow_agreed=agreed)
    variants: dict[str, VariantWindows] = {}
    for (variant, version, _), window in sorted(wins.items(), key=lambda kv: kv[0][2]):
        vw = variants.setdefault(variant, VariantWindows(variant, run_ids=[_PROCESS]))
        vw.processes.add(_PROCESS)
        vw.versions.add(version)
        vw.windows.append(window)
    return variants
