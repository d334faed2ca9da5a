"""The prediction log and labels in the SQL store, and the joins reports read from them.

A prediction row is keyed by (model, request id, row, variant), so a batch resent after a
timeout that did commit adds nothing. Labels are written once (trk.store.prediction_labels):
the first label of a request id wins, a second is refused; a label that arrives before its
prediction waits as pending and is joined when the prediction is logged (through another
replica, or later), so the report's join counts each labelled row exactly once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, delete, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from trk import settings
from trk.contracts.predictions import (
    LABELS_PER_CALL,
    JoinedCounts,
    LabelsWritten,
    Outcome,
    PairedCounts,
    PairedOutcome,
    PredictionRecord,
    check_model,
    parse_labels,
)
from trk.store import schema as s
from trk.store.engine import read_connection, write_connection
from trk.store.prediction_labels import (
    LabelLimits,
    correct_labels,
    join_pending,
    write_labels,
)
from trk.store.sql_base import now_ms

log_t, labels_t = s.prediction_log, s.prediction_labels
CHAMPION, CHALLENGER = "champion", "challenger"
MAX_OUTCOMES = 1_000_000


def _joins(p: Any, lab: Any) -> ColumnElement[bool]:
    return and_(p.c.model == lab.c.model, p.c.request_id == lab.c.request_id, p.c.row == lab.c.row)


def _count(cond: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _since(p: Any, model: str, since_ms: int | None) -> ColumnElement[bool]:
    cond = p.c.model == model
    return and_(cond, p.c.timestamp_ms >= since_ms) if since_ms else cond


_PG_TYPES = {
    "model": "text",
    "request_id": "text",
    "row": "int",
    "variant": "text",
    "version": "text",
    "predicted": "text",
    "label": "text",
    "value": "float8",
    "probability": "float8",
    "timestamp_ms": "bigint",
}
# The columns a record fills, in its tuple's order; the model is bound once per statement.
_RECORD_COLUMNS = PredictionRecord._fields
_KEYS = ("model", "request_id", "row", "variant")


SQLITE_ROWS = 124  # rows per sqlite INSERT: 1 + 124 x 8 values, under sqlite's oldest limit of 999


def _write_rows(conn: Connection, model: str, records: Sequence[PredictionRecord]) -> None:
    """Insert records of one model, skipping those whose keys exist: a few statements per
    batch, each over many rows, the model bound once.

    PostgreSQL reads the batch as arrays with `unnest`, one statement (executemany sent a
    statement per row there: 2,800 rows/s measured with loadtest/bench_prediction_log.py).
    sqlite takes `INSERT ... VALUES (?1, ?, ...), (?1, ?, ...)` of SQLITE_ROWS rows, then halves
    for the rest, so a handful of prepared statements serve every batch size; the records'
    values go in as they are, flattened in C (a tuple per row with the model in front, and a
    Python loop to flatten it, were a third of the shipper's cost of a row before sqlite's).
    Against `json_each` over one JSON array (which extracts every value from its row's text
    again) or executemany, 1.7 against 3.0-3.4 us a row in the log shipper's process.
    """
    if not records:
        return
    if conn.dialect.name == "postgresql":
        columns = zip(_RECORD_COLUMNS, zip(*records, strict=True), strict=True)
        conn.execute(_unnest_statement(), {"model": model, **{c: list(v) for c, v in columns}})
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    start, size, total = 0, SQLITE_ROWS, len(records)
    while start < total:
        while size > total - start:
            size //= 2
        values = [model, *chain.from_iterable(records[start : start + size])]
        cursor.execute(_values_statement(size), values)
        start += size


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)  # "row" and "value" are SQL keywords


@functools.lru_cache(maxsize=1)
def _unnest_statement() -> Any:
    arrays = ", ".join(f"CAST(:{c} AS {_PG_TYPES[c]}[])" for c in _RECORD_COLUMNS)
    return text(
        f"INSERT INTO {log_t.name} (model, {_quoted(_RECORD_COLUMNS)}) "
        f"SELECT CAST(:model AS text), * FROM unnest({arrays}) "
        f"ON CONFLICT ({_quoted(_KEYS)}) DO NOTHING"
    )


@functools.lru_cache(maxsize=16)
def _values_statement(rows: int) -> str:
    row = "(?1, " + ", ".join("?" * len(_RECORD_COLUMNS)) + ")"
    return (
        f"INSERT INTO {log_t.name} (model, {_quoted(_RECORD_COLUMNS)}) "
        f"VALUES {', '.join([row] * rows)} ON CONFLICT ({_quoted(_KEYS)}) DO NOTHING"
    )


def _pairs() -> tuple[Any, Any, Any, ColumnElement[bool], ColumnElement[bool]]:
    """The champion's row (a), the challenger's (b), their label, and whether each is right."""
    a, b, lab = log_t.alias("a"), log_t.alias("b"), labels_t
    return a, b, lab, a.c.predicted == lab.c.label, b.c.predicted == lab.c.label


def _paired_join(a: Any, b: Any, lab: Any) -> Any:
    same = and_(
        a.c.model == b.c.model,
        a.c.request_id == b.c.request_id,
        a.c.row == b.c.row,
        b.c.variant == CHALLENGER,
    )
    return a.join(b, same).join(lab, _joins(a, lab))


def _paired_where(
    a: Any, b: Any, lab: Any, model: str, since_ms: int | None
) -> list[ColumnElement[bool]]:
    return [
        _since(a, model, since_ms),
        a.c.variant == CHAMPION,
        a.c.predicted.is_not(None),
        b.c.predicted.is_not(None),
        lab.c.label.is_not(None),
    ]


def _one_writer_per_model(conn: Connection, model: str) -> None:
    """PostgreSQL: predictions and labels of one model are written one transaction at a time.

    Under READ COMMITTED a label written while its prediction is being logged sees no
    prediction (so it is held pending), while the prediction's join sees no pending label yet:
    both commit and the label waits forever (the 3-replica rehearsal lost 0.5% of its labels
    so). sqlite's write transactions are BEGIN IMMEDIATE, one at a time already."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"trk.log:{model}"}
        )


class SqlPredictionLog:
    """Append predictions, write labels once, join them per (variant, version), prune by age."""

    def __init__(self, engine: Engine, limits: LabelLimits | None = None) -> None:
        self._engine = engine
        self.limits = limits or LabelLimits.from_settings()

    # -- writes ----------------------------------------------------------------------------
    def log_predictions(self, model: str, records: Sequence[PredictionRecord]) -> int:
        """Append a batch (rows already logged are left as they are); returns rows sent."""
        m = check_model(model)
        with write_connection(self._engine) as conn:
            _one_writer_per_model(conn, m)
            _write_rows(conn, m, records)
            join_pending(conn, m, [r.request_id for r in records], self.limits, now_ms())
        return len(records)

    def log_labels(self, model: str, items: Any) -> LabelsWritten:
        """Write `[{"request_id", "label"}]` once each: joined, or pending until the request's
        prediction is logged. WrittenOnce (409) when any id is labelled already, TooManyRequests
        (429) past the model's pending bound; either writes nothing."""
        at = now_ms()
        labels = parse_labels(items, at, LABELS_PER_CALL)
        m = check_model(model)
        with write_connection(self._engine) as conn:
            _one_writer_per_model(conn, m)
            return write_labels(conn, m, labels, self.limits, at)

    def correct_labels(self, model: str, items: Any, actor: str | None = None) -> int:
        """Replace stored labels by `items`, keeping the replaced ones with the time and `actor`
        (audited); returns the labels corrected. NotFound when an id holds no label."""
        at = now_ms()
        labels = parse_labels(items, at, LABELS_PER_CALL)
        m = check_model(model)
        with write_connection(self._engine) as conn:
            return correct_labels(conn, m, labels, actor or settings.user_name(), at)

    def prune(self, before_ms: int, model: str | None = None) -> dict[str, int]:
        """Delete predictions and labels older than `before_ms` (of one model, or all)."""
        out = {}
        with write_connection(self._engine) as conn:
            for key, table in (("predictions", log_t), ("labels", labels_t)):
                stmt = delete(table).where(table.c.timestamp_ms < before_ms)
                if model is not None:
                    stmt = stmt.where(table.c.model == check_model(model))
                out[key] = conn.execute(stmt).rowcount or 0
        return out

    # -- reads -----------------------------------------------------------------------------
    def joined(self, model: str, since_ms: int | None = None) -> list[JoinedCounts]:
        """Per (variant, version): rows logged, and those labelled with what they scored."""
        p, lab = log_t, labels_t
        cls = and_(p.c.predicted.is_not(None), lab.c.label.is_not(None))
        reg = and_(p.c.value.is_not(None), lab.c.value.is_not(None), p.c.predicted.is_(None))
        err = p.c.value - lab.c.value
        columns = (
            func.count(),
            _count(cls),
            _count(and_(cls, p.c.predicted == lab.c.label)),
            _count(reg),
            func.coalesce(func.sum(case((reg, func.abs(err)))), 0.0),
            func.coalesce(func.sum(case((reg, err * err))), 0.0),
            _count(lab.c.corrections > 0),
        )
        rows = self._per_version(columns, p.outerjoin(lab, _joins(p, lab)), model, since_ms)
        return [
            JoinedCounts(
                r[0],
                r[1],
                int(r[2]),
                int(r[3]),
                int(r[4]),
                int(r[5]),
                float(r[6]),
                float(r[7]),
                int(r[8]),
            )
            for r in rows
        ]

    def paired(self, model: str, since_ms: int | None = None) -> list[PairedCounts]:
        """Shadow mode: labelled rows both variants answered, per pair of versions."""
        a, b, lab, ok_a, ok_b = _pairs()
        stmt = (
            select(
                a.c.version,
                b.c.version,
                _count(and_(ok_a, ok_b)),
                _count(and_(ok_a, ~ok_b)),
                _count(and_(~ok_a, ok_b)),
                _count(and_(~ok_a, ~ok_b)),
            )
            .select_from(_paired_join(a, b, lab))
            .where(*_paired_where(a, b, lab, check_model(model), since_ms))
            .group_by(a.c.version, b.c.version)
            .order_by(a.c.version, b.c.version)
        )
        with read_connection(self._engine) as conn:
            rows = conn.execute(stmt).all()
        return [PairedCounts(r[0], r[1], *(int(x) for x in r[2:])) for r in rows]

    def paired_outcomes(
        self, model: str, since_ms: int | None = None, limit: int = MAX_OUTCOMES
    ) -> list[PairedOutcome]:
        """Shadow mode: labelled rows both variants answered, in the order labels arrived."""
        a, b, lab, ok_a, ok_b = _pairs()
        stmt = (
            select(a.c.version, b.c.version, lab.c.timestamp_ms, ok_a, ok_b)
            .select_from(_paired_join(a, b, lab))
            .where(*_paired_where(a, b, lab, check_model(model), since_ms))
            .order_by(lab.c.timestamp_ms, a.c.request_id, a.c.row)
            .limit(min(max(int(limit), 1), MAX_OUTCOMES))
        )
        with read_connection(self._engine) as conn:
            rows = conn.execute(stmt).all()
        return [PairedOutcome(r[0], r[1], int(r[2]), bool(r[3]), bool(r[4])) for r in rows]

    def outcomes(
        self, model: str, since_ms: int | None = None, limit: int = MAX_OUTCOMES
    ) -> list[Outcome]:
        """Labelled rows in the order their labels arrived, for statistics over time."""
        p, lab = log_t, labels_t
        err = p.c.value - lab.c.value
        stmt = (
            select(
                p.c.variant,
                p.c.version,
                lab.c.timestamp_ms,
                case((p.c.predicted.is_(None), None), else_=p.c.predicted == lab.c.label),
                case((p.c.predicted.is_(None), err), else_=None),
            )
            .select_from(p.join(lab, _joins(p, lab)))
            .where(_since(p, check_model(model), since_ms))
            .order_by(lab.c.timestamp_ms, p.c.request_id, p.c.row, p.c.variant)
            .limit(min(max(int(limit), 1), MAX_OUTCOMES))
        )
        with read_connection(self._engine) as conn:
            rows = conn.execute(stmt).all()
        return [
            Outcome(
                r[0],
                r[1],
                int(r[2]),
                None if r[3] is None else bool(r[3]),
                None if r[4] is None else float(r[4]),
            )
            for r in rows
        ]

    def propensity(self, model: str, since_ms: int | None = None) -> list[dict[str, Any]]:
        """Per (variant, version): labelled classifier rows, sum of 1/p and of correct/p, where
        p is the routing probability each row was logged with (inverse-propensity estimates)."""
        p, lab = log_t, labels_t
        cls = and_(p.c.predicted.is_not(None), lab.c.label.is_not(None), p.c.probability > 0)
        inv = 1.0 / p.c.probability
        columns = (
            _count(cls),
            func.coalesce(func.sum(case((cls, inv))), 0.0),
            func.coalesce(func.sum(case((and_(cls, p.c.predicted == lab.c.label), inv))), 0.0),
        )
        rows = self._per_version(columns, p.join(lab, _joins(p, lab)), model, since_ms)
        return [
            {
                "variant": r[0],
                "version": r[1],
                "labelled": int(r[2]),
                "inverse_sum": float(r[3]),
                "correct_inverse_sum": float(r[4]),
            }
            for r in rows
        ]

    def _per_version(
        self, columns: Sequence[Any], source: Any, model: str, since_ms: int | None
    ) -> list[Any]:
        """`columns` over the model's log rows (joined as `source`), per (variant, version)."""
        p = log_t
        stmt = (
            select(p.c.variant, p.c.version, *columns)
            .select_from(source)
            .where(_since(p, check_model(model), since_ms))
            .group_by(p.c.variant, p.c.version)
            .order_by(p.c.variant, p.c.version)
        )
        with read_connection(self._engine) as conn:
            return list(conn.execute(stmt).all())
