"""Labels are evidence, written once: the rules of the SQL store's label writes.

- The first label of a (model, request id) wins: a second is refused (`WrittenOnce`, 409)
  and the call changes nothing. Resending a batch that did commit is refused the same way.
- A label whose request id has no logged prediction yet waits in `pending_labels`: it is
  never joined, is moved into `prediction_labels` when its prediction is logged, expires after
  `ttl_s`, and a model holds at most `max_pending` of them (`TooManyRequests`, 429, beyond).
- A correction is its own action: it replaces a stored label and keeps the one it replaced,
  when, and who asked, in `label_corrections`; the label's row counts its corrections.

A label is counted per request id (its rows travel together). Every write runs in one
transaction: a refused call leaves the tables as they were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from trk import settings
from trk.contracts.predictions import LabelRecord, LabelsWritten
from trk.exceptions import InvalidParameter, NotFound, TooManyRequests, WrittenOnce
from trk.store import schema as s

labels_t, pending_t, log_t = s.prediction_labels, s.pending_labels, s.prediction_log
corrections_t = s.label_corrections
DEFAULT_TTL_S = 3600.0
DEFAULT_MAX_PENDING = 100_000
_IDS_PER_QUERY = 500  # request ids per IN (...): well under every database's bound
_SHOWN = 5  # request ids a refusal names
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(value: str) -> float:
    """`3600`, `90s`, `15m`, `1h`, `2d` -> seconds (> 0)."""
    m = _DURATION.match(value)
    if not m or float(m[1]) <= 0:
        raise InvalidParameter(f"Bad pending-label time to live {value!r}: e.g. 1h, 30m, 3600")
    return float(m[1]) * _SECONDS[m[2]]


@dataclass(frozen=True)
class LabelLimits:
    """How long a pending label waits for its prediction, and how many a model may hold."""

    ttl_s: float = DEFAULT_TTL_S
    max_pending: int = DEFAULT_MAX_PENDING

    @classmethod
    def from_settings(cls) -> LabelLimits:
        """From `TRK_PENDING_LABEL_TTL` and `TRK_MAX_PENDING_LABELS` (set by `trk server`)."""
        ttl, most = settings.pending_label_limits()
        try:
            max_pending = int(most) if most else cls.max_pending
        except ValueError:
            raise InvalidParameter(f"Bad TRK_MAX_PENDING_LABELS {most!r}: a whole number") from None
        if max_pending < 0:
            raise InvalidParameter("TRK_MAX_PENDING_LABELS must not be negative")
        return cls(parse_ttl(ttl) if ttl else cls.ttl_s, max_pending)


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[i : i + _IDS_PER_QUERY] for i in range(0, len(ids), _IDS_PER_QUERY)]


def _found(conn: Connection, table: Any, model: str, ids: Sequence[str]) -> set[str]:
    """Which of `ids` have a row in `table` for `model`."""
    out: set[str] = set()
    for chunk in _chunks(ids):
        stmt = (
            select(table.c.request_id)
            .distinct()
            .where(table.c.model == model, table.c.request_id.in_(chunk))
        )
        out.update(conn.execute(stmt).scalars())
    return out


def _refuse_duplicates(ids: list[str], taken: set[str]) -> None:
    seen: set[str] = set()
    again = []
    for i in ids:
        if i in taken or i in seen:
            again.append(i)
        seen.add(i)
    if again:
        shown = ", ".join(again[:_SHOWN]) + (", ..." if len(again) > _SHOWN else "")
        raise WrittenOnce(
            f"{len(again)} label(s) for request ids already labelled ({shown}): a label is "
            "written once; nothing was written. Correct one with `trk ab label --correct`."
        )


def sweep_expired(conn: Connection, model: str, limits: LabelLimits, now_ms: int) -> int:
    """Delete the model's pending labels past their time to live; returns how many labels."""
    old = and_(
        pending_t.c.model == model, pending_t.c.timestamp_ms < now_ms - int(limits.ttl_s * 1000)
    )
    labels = conn.execute(
        select(func.count()).select_from(pending_t).where(old, pending_t.c.row == 0)
    ).scalar_one()
    if labels:
        conn.execute(delete(pending_t).where(old))
    return int(labels)


def write_labels(
    conn: Connection, model: str, labels: list[LabelRecord], limits: LabelLimits, now_ms: int
) -> LabelsWritten:
    """Store first labels: joined where a prediction is logged, pending otherwise."""
    expired = sweep_expired(conn, model, limits, now_ms)
    ids = [r.request_id for r in labels if r.row == 0]
    _refuse_duplicates(
        ids, _found(conn, labels_t, model, ids) | _found(conn, pending_t, model, ids)
    )
    predicted = _found(conn, log_t, model, ids)
    waiting = [i for i in ids if i not in predicted]
    if waiting:
        held = conn.execute(
            select(func.count())
            .select_from(pending_t)
            .where(pending_t.c.model == model, pending_t.c.row == 0)
        ).scalar_one()
        if held + len(waiting) > limits.max_pending:
            raise TooManyRequests(
                f"{len(waiting)} label(s) for request ids with no logged prediction, and "
                f"{held} already wait for theirs: at most {limits.max_pending} may wait per "
                "model (--max-pending-labels); nothing was written, send them again later"
            )
    for table, rows in (
        (labels_t, [r for r in labels if r.request_id in predicted]),
        (pending_t, [r for r in labels if r.request_id not in predicted]),
    ):
        if rows:
            _insert_once(conn, table, model, rows)
    return LabelsWritten(len(ids) - len(waiting), len(waiting), expired)


def _insert_once(conn: Connection, table: Any, model: str, rows: list[LabelRecord]) -> None:
    """Insert label rows; a row another writer stored meanwhile refuses the whole call."""
    values = [
        {
            "model": model,
            "request_id": r.request_id,
            "row": r.row,
            "label": r.label,
            "value": r.value,
            "timestamp_ms": r.timestamp_ms,
        }
        for r in rows
    ]
    for i in range(0, len(values), 1000):
        # A plain INSERT: a key written by a concurrent call fails it (IntegrityError -> 409).
        try:
            conn.execute(insert(table), values[i : i + 1000])
        except IntegrityError:
            raise WrittenOnce(
                "A label for one of these request ids was written meanwhile: a label is "
                "written once; nothing was written"
            ) from None


def join_pending(
    conn: Connection, model: str, request_ids: Sequence[str], limits: LabelLimits, now_ms: int
) -> int:
    """Move the pending labels of newly logged `request_ids` into the joined labels; returns
    rows moved. A quick look first: a model with nothing pending costs one indexed probe."""
    if (
        conn.execute(select(pending_t.c.model).where(pending_t.c.model == model).limit(1)).first()
        is None
    ):
        return 0
    fresh = now_ms - int(limits.ttl_s * 1000)
    moved = 0
    columns = ("model", "request_id", "row", "label", "value", "timestamp_ms")
    listed = ", ".join(f'"{c}"' for c in columns)
    for chunk in _chunks(sorted(set(request_ids))):
        where = and_(
            pending_t.c.model == model,
            pending_t.c.request_id.in_(chunk),
            pending_t.c.timestamp_ms >= fresh,
        )
        rows = conn.execute(select(*(pending_t.c[c] for c in columns)).where(where)).all()
        if not rows:
            continue
        # ON CONFLICT DO NOTHING: a label stored for the id meanwhile stays the first one.
        stmt = text(
            f"INSERT INTO {labels_t.name} ({listed}) VALUES "
            f"({', '.join(':' + c for c in columns)}) ON CONFLICT DO NOTHING"
        )
        conn.execute(stmt, [dict(zip(columns, r, strict=True)) for r in rows])
        conn.execute(
            delete(pending_t).where(pending_t.c.model == model, pending_t.c.request_id.in_(chunk))
        )
        moved += len(rows)
    return moved


def correct_labels(
    conn: Connection, model: str, labels: list[LabelRecord], actor: str, now_ms: int
) -> int:
    """Replace stored labels, keeping each replaced row in `label_corrections`; returns the
    corrected labels. Every id must hold a joined label (NotFound names those that do not)."""
    ids = [r.request_id for r in labels if r.row == 0]
    if len(set(ids)) != len(ids):
        raise InvalidParameter("A correction names each request id once")
    missing = [i for i in ids if i not in _found(conn, labels_t, model, ids)]
    if missing:
        raise NotFound(
            f"No label to correct for {len(missing)} request id(s) ({', '.join(missing[:_SHOWN])}):"
            " label them first (a pending label is corrected once its prediction arrives)"
        )
    for chunk in _chunks(ids):
        old = (
            conn.execute(
                select(labels_t).where(labels_t.c.model == model, labels_t.c.request_id.in_(chunk))
            )
            .mappings()
            .all()
        )
        new = {(r.request_id, r.row): r for r in labels if r.request_id in set(chunk)}
        times = {o["request_id"]: int(o["corrections"]) for o in old}
        conn.execute(
            insert(corrections_t),
            [
                {
                    "model": model,
                    "request_id": o["request_id"],
                    "row": o["row"],
                    "old_label": o["label"],
                    "old_value": o["value"],
                    "old_timestamp_ms": o["timestamp_ms"],
                    "label": new[o["request_id"], o["row"]].label
                    if (o["request_id"], o["row"]) in new
                    else None,
                    "value": new[o["request_id"], o["row"]].value
                    if (o["request_id"], o["row"]) in new
                    else None,
                    "timestamp_ms": now_ms,
                    "actor": actor[:255],
                }
                for o in old
            ],
        )
        conn.execute(
            delete(labels_t).where(labels_t.c.model == model, labels_t.c.request_id.in_(chunk))
        )
        conn.execute(
            insert(labels_t),
            [
                {
                    "model": model,
                    "request_id": r.request_id,
                    "row": r.row,
                    "label": r.label,
                    "value": r.value,
                    "timestamp_ms": now_ms,
                    "corrections": times.get(r.request_id, 0) + 1,
                }
                for r in new.values()
            ],
        )
    return len(ids)
