"""The prediction log's read surface over the captures, for the A/B report's statistics.

The same five joins as the SQL store's log (trk.store.prediction_log), in DuckDB over the
tables trk.capture.query builds, so trk.ab reads both alike and computes its statistics once.
Shadow pairs join the champion's and the challenger's answer to the same request row.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from trk.capture.query import CaptureQuery
from trk.contracts.predictions import JoinedCounts, PairedCounts, PairedOutcome

_JOINED = """
WITH logged AS (SELECT variant, version, sum(n) AS n FROM answers GROUP BY ALL),
     scored AS (SELECT variant, version,
                       count(*) FILTER (NOT reg AND label IS NOT NULL) AS labelled,
                       count(*) FILTER (NOT reg AND cls = label) AS correct,
                       count(*) FILTER (reg AND lval IS NOT NULL) AS reg_labelled,
                       coalesce(sum(abs(val - lval)) FILTER (reg), 0.0) AS abs_sum,
                       coalesce(sum((val - lval) * (val - lval)) FILTER (reg), 0.0) AS sq_sum
                FROM pl GROUP BY ALL)
SELECT variant, version, n, coalesce(labelled, 0), coalesce(correct, 0),
       coalesce(reg_labelled, 0), coalesce(abs_sum, 0.0), coalesce(sq_sum, 0.0)
FROM logged LEFT JOIN scored USING (variant, version) ORDER BY variant, version
"""
_PAIRS = """
FROM pl a JOIN pl b ON a.request_id = b.request_id AND a.row = b.row
WHERE a.variant = 'champion' AND b.variant = 'challenger' AND NOT a.reg AND NOT b.reg
"""
_PAIRED = f"""
SELECT a.version, b.version,
       count(*) FILTER (a.cls = a.label AND b.cls = a.label),
       count(*) FILTER (a.cls = a.label AND b.cls <> a.label),
       count(*) FILTER (a.cls <> a.label AND b.cls = a.label),
       count(*) FILTER (a.cls <> a.label AND b.cls <> a.label)
{_PAIRS} GROUP BY a.version, b.version ORDER BY a.version, b.version
"""
_PAIRED_OUTCOMES = f"""
SELECT a.version, b.version, a.lts, a.cls = a.label, b.cls = a.label
{_PAIRS} ORDER BY a.lts, a.request_id, a.row
"""
_OUTCOMES = """
SELECT variant, version, lts, CASE WHEN reg THEN NULL ELSE cls = label END,
       CASE WHEN reg THEN val - lval ELSE NULL END
FROM pl ORDER BY lts
"""
_PROPENSITY = """
SELECT variant, version, count(*) FILTER (ok),
       coalesce(sum(1.0 / p) FILTER (ok), 0.0),
       coalesce(sum(1.0 / p) FILTER (ok AND cls = label), 0.0)
FROM (SELECT *, NOT reg AND label IS NOT NULL AND p > 0 AS ok
      FROM pl)
GROUP BY variant, version ORDER BY variant, version
"""


class _Outcome(NamedTuple):
    """trk.contracts.predictions.Outcome's fields, as a tuple (cheaper by the million)."""

    variant: str
    version: str
    labelled_ms: int
    correct: bool | None
    error: float | None


def _plain(column: Any) -> list[Any]:
    """A fetched column as Python values, NULL as None (numpy's masked arrays hide them)."""
    if hasattr(column, "mask") and column.mask is not False and column.mask.any():
        return [
            None if m else v
            for v, m in zip(column.data.tolist(), column.mask.tolist(), strict=True)
        ]
    return list(column.tolist())


class CaptureEvidence:
    """`joined`, `paired`, `paired_outcomes`, `outcomes` and `propensity` of one model's
    captures (the window was chosen when the query was opened; `since_ms` is ignored)."""

    def __init__(self, query: CaptureQuery) -> None:
        self.q = query

    def joined(self, model: str, since_ms: int | None = None) -> list[JoinedCounts]:
        return [
            JoinedCounts(
                r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), float(r[6]), float(r[7])
            )
            for r in self.q.rows(_JOINED)
        ]

    def paired(self, model: str, since_ms: int | None = None) -> list[PairedCounts]:
        if not self.q.shadow:
            return []
        return [PairedCounts(r[0], r[1], *(int(x) for x in r[2:])) for r in self.q.rows(_PAIRED)]

    def paired_outcomes(self, model: str, since_ms: int | None = None) -> list[PairedOutcome]:
        if not self.q.shadow:
            return []
        return [
            PairedOutcome(r[0], r[1], int(r[2]), bool(r[3]), bool(r[4]))
            for r in self.q.rows(_PAIRED_OUTCOMES)
        ]

    def outcomes(self, model: str, since_ms: int | None = None) -> list[_Outcome]:
        """Labelled rows in label order. Rows labelled at the same time are in no set order:
        the looks take the counts at each time's last row, the same in any order."""
        cols = self.q.con.execute(_OUTCOMES).fetchnumpy()
        # Named tuples with Outcome's fields, column by column: a million labelled rows made
        # as frozen dataclasses cost seconds.
        return list(map(_Outcome, *(_plain(cols[k]) for k in cols)))

    def propensity(self, model: str, since_ms: int | None = None) -> list[dict[str, Any]]:
        return [
            {
                "variant": r[0],
                "version": r[1],
                "labelled": int(r[2]),
                "inverse_sum": float(r[3]),
                "correct_inverse_sum": float(r[4]),
            }
            for r in self.q.rows(_PROPENSITY)
        ]
