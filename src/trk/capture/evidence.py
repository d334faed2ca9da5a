"""The prediction log's read surface over the captures, for the A/B report's statistics.

The same five joins as the SQL store's log (trk.store.prediction_log), in DuckDB over the
tables trk.capture.query builds, so trk.ab reads both alike and computes its statistics once.
Shadow pairs join the champion's and the challenger's answer to the same request row.
"""

from __future__ import annotations

from typing import Any

from trk.capture.query import CaptureQuery
from trk.store.prediction_records import JoinedCounts, Outcome, PairedCounts, PairedOutcome

_JOINED = """
SELECT variant, version, count(*),
       count(*) FILTER (NOT reg AND label IS NOT NULL),
       count(*) FILTER (NOT reg AND cls = label),
       count(*) FILTER (reg AND lval IS NOT NULL),
       coalesce(sum(abs(val - lval)) FILTER (reg), 0.0),
       coalesce(sum((val - lval) * (val - lval)) FILTER (reg), 0.0)
FROM preds LEFT JOIN lab USING (request_id, row)
GROUP BY variant, version ORDER BY variant, version
"""
_PAIRS = """
FROM preds a JOIN preds b ON a.request_id = b.request_id AND a.row = b.row
     JOIN lab l ON l.request_id = a.request_id AND l.row = a.row
WHERE a.variant = 'champion' AND b.variant = 'challenger' AND NOT a.reg AND NOT b.reg
"""
_PAIRED = f"""
SELECT a.version, b.version,
       count(*) FILTER (a.cls = l.label AND b.cls = l.label),
       count(*) FILTER (a.cls = l.label AND b.cls <> l.label),
       count(*) FILTER (a.cls <> l.label AND b.cls = l.label),
       count(*) FILTER (a.cls <> l.label AND b.cls <> l.label)
{_PAIRS} GROUP BY a.version, b.version ORDER BY a.version, b.version
"""
_PAIRED_OUTCOMES = f"""
SELECT a.version, b.version, l.lts, a.cls = l.label, b.cls = l.label
{_PAIRS} ORDER BY l.lts, a.request_id, a.row
"""
_OUTCOMES = """
SELECT variant, version, lts, CASE WHEN reg THEN NULL ELSE cls = label END,
       CASE WHEN reg THEN val - lval ELSE NULL END
FROM preds JOIN lab USING (request_id, row)
ORDER BY lts, request_id, row, variant
"""
_PROPENSITY = """
SELECT variant, version, count(*) FILTER (ok),
       coalesce(sum(1.0 / p) FILTER (ok), 0.0),
       coalesce(sum(1.0 / p) FILTER (ok AND cls = label), 0.0)
FROM (SELECT *, NOT reg AND label IS NOT NULL AND p > 0 AS ok
      FROM preds JOIN lab USING (request_id, row))
GROUP BY variant, version ORDER BY variant, version
"""


class CaptureEvidence:
    """`joined`, `paired`, `paired_outcomes`, `outcomes` and `propensity` of one model's
    captures (the window was chosen when the query was opened; `since_ms` is ignored)."""

    def __init__(self, query: CaptureQuery) -> None:
        self.q = query

    def joined(self, model: str, since_ms: int | None = None) -> list[JoinedCounts]:
        return [JoinedCounts(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]),
                             float(r[6]), float(r[7])) for r in self.q.rows(_JOINED)]  # fmt: skip

    def paired(self, model: str, since_ms: int | None = None) -> list[PairedCounts]:
        return [PairedCounts(r[0], r[1], *(int(x) for x in r[2:])) for r in self.q.rows(_PAIRED)]

    def paired_outcomes(self, model: str, since_ms: int | None = None) -> list[PairedOutcome]:
        return [PairedOutcome(r[0], r[1], int(r[2]), bool(r[3]), bool(r[4]))
                for r in self.q.rows(_PAIRED_OUTCOMES)]  # fmt: skip

    def outcomes(self, model: str, since_ms: int | None = None) -> list[Outcome]:
        return [Outcome(r[0], r[1], int(r[2]), None if r[3] is None else bool(r[3]),
                        None if r[4] is None else float(r[4]))
                for r in self.q.rows(_OUTCOMES)]  # fmt: skip

    def propensity(self, model: str, since_ms: int | None = None) -> list[dict[str, Any]]:
        return [{"variant": r[0], "version": r[1], "labelled": int(r[2]),
                 "inverse_sum": float(r[3]), "correct_inverse_sum": float(r[4])}
                for r in self.q.rows(_PROPENSITY)]  # fmt: skip
