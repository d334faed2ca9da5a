"""The prediction log's sink in the log shipper: answers to the store's log, in batches.

Runs in the shipper process (`online/shipper.py`), never in the serving process: it turns
shipped answers into per-row records and appends them to the tracking store's log, one
statement per batch (sqlite: `json_each`; PostgreSQL: `unnest`). When the store is down it
says so (`write` returns False) and the shipper keeps the batch and retries it; appends are
idempotent on (model, request id, row, variant), so a batch resent after an unknown outcome,
or by a restarted shipper, adds nothing. Answers no store can hold are dropped and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from trk.contracts.predictions import (
    MAX_CLASS,
    MAX_ID,
    MAX_MS,
    MAX_ROWS,
    RECORDS_PER_CALL,
    PredictionRecord,
    class_key,
    storable_text,
)
from trk.exceptions import EndpointNotFound, TrkError
from trk.serving.online.feedback import REGRESSOR, as_rows, task_of
from trk.serving.online.shipping import Shipped

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 3600.0  # how often a shipper deletes rows past the retention
REASONS = ("queue_full", "buffer_full", "unloggable", "rejected", "shutdown")


class LogMetrics:
    """The prediction log's series in the serving process (the shipper reports them up)."""

    def __init__(self, metrics: Any) -> None:
        from prometheus_client import Counter, Gauge

        self.written = metrics.add(
            Counter, "trk_prediction_log_rows_total", "Prediction rows written to the store."
        )
        self.dropped = metrics.add(
            Counter,
            "trk_prediction_log_dropped_total",
            "Answered requests not written to the prediction log, by reason (queue_full: "
            "the shipper was behind past --log-max-backlog; buffer_full: the record buffer "
            "was full; unloggable, rejected, shutdown).",
            ("reason",),
        )
        self.queued = metrics.add(
            Gauge,
            "trk_prediction_log_queue",
            "Answered requests sent to the shipper and not yet in the store.",
        )
        self.restarts = metrics.add(
            Counter,
            "trk_prediction_log_shipper_restarts_total",
            "Times the log shipper process died and was started again.",
        )
        self.capture_dropped = metrics.add(
            Counter,
            "trk_capture_dropped_total",
            "Answers not captured on object storage (--capture-uri), by reason (spool_full: "
            "the bucket was unreachable past --capture-spool-mb; unloggable).",
            ("reason",),
        )


class LogSink:
    """A shipper sink: appends answers to the store's prediction log."""

    name = "prediction_log"

    def __init__(self, log_factory: Callable[[], Any], retention_s: float | None = None) -> None:
        self.log_factory, self.retention_s = log_factory, retention_s
        self._sink: Any = None
        self._down_since: float | None = None
        self._next_prune = 0.0
        self._model = ""
        self._converted: tuple[list[Shipped], list[PredictionRecord]] | None = None
        self.rows = 0
        self.disabled = False  # the store has no prediction log: nothing more is written
        self.dropped: dict[str, int] = dict.fromkeys(REASONS, 0)

    def write(self, model: str, items: list[Shipped]) -> bool:
        """Append one batch; False (nothing counted, retry it) when the store failed."""
        self._model = model
        if self.disabled:
            self.dropped["rejected"] += len(items)
            return True
        if self._converted is not None and self._converted[0] is items:
            batch = self._converted[1]  # a retry: converted (and counted) once
        else:
            batch = []
            for i in items:
                if i.status != 200:  # an error answer, shipped for the capture: no prediction
                    continue
                rows = records(i.request_id, i.variant, i.version, i.answer, i.probability, i.at_ms)
                if rows is None:
                    self.dropped["unloggable"] += 1
                else:
                    batch += rows
        ok = self._write(model, batch)
        self._converted = None if ok else (items, batch)
        return ok

    def _write(self, model: str, batch: list[PredictionRecord]) -> bool:
        if not batch:
            return True
        try:
            sink = self._store()
            for i in range(0, len(batch), RECORDS_PER_CALL):
                sink.log_predictions(model, batch[i : i + RECORDS_PER_CALL])
        except TrkError as exc:
            if 400 <= int(exc.status) < 500:  # refused: resending cannot help
                self.dropped["rejected"] += len({(r.request_id, r.variant) for r in batch})
                if isinstance(exc, EndpointNotFound):  # a server without it (mlflow server)
                    self.disabled = True
                    log.warning(
                        "prediction log: the tracking server has none (%s); "
                        "answers are no longer logged",
                        exc,
                    )
                else:
                    log.warning("prediction log: the store refused a batch: %s", exc)
                return True
            return self._failed(exc)
        except Exception as exc:  # the store is down or unreachable: keep the batch
            return self._failed(exc)
        if self._down_since is not None:
            log.warning(
                "prediction log: writing again after %.0f s", time.monotonic() - self._down_since
            )
            self._down_since = None
        self.rows += len(batch)
        return True

    def idle(self) -> None:
        """Between batches: delete rows past the retention, once an hour."""
        if self.retention_s is None or not self._model or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        before_ms = int((time.time() - self.retention_s) * 1000)
        try:
            deleted = self._store().prune(before_ms, self._model)
        except Exception as exc:  # pruning waits for the next hour; serving never notices
            log.warning("prediction log: pruning failed: %s", exc)
            return
        if any(deleted.values()):
            log.info("prediction log: pruned %s older than the retention", deleted)

    def _store(self) -> Any:
        if self._sink is None:
            self._sink = self.log_factory()
        return self._sink

    def _failed(self, exc: Exception) -> bool:
        self._sink = None  # rebuilt on the next try (a store that failed to open, too)
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("prediction log: cannot write (answers are kept and retried): %s", exc)
        return False


def records(
    request_id: str, variant: str, version: str, predictions: Any, p: float, at_ms: int
) -> list[PredictionRecord] | None:
    """One record per row of an answer; None when it cannot be logged (ids too long, n-D,
    a probability or time the log's columns cannot hold)."""
    if not (_id_ok(request_id) and _id_ok(variant) and _id_ok(version) and _facts_ok(p, at_ms)):
        return None
    if type(predictions) is list and len(predictions) == 1 and type(predictions[0]) is int:
        value = predictions[0]  # the usual one-row class answer, without the general path
        if -_EXACT < value < _EXACT:  # class_key's text for it (a float's, past 2**53)
            return [PredictionRecord(request_id, 0, variant, version, str(value), None, p, at_ms)]
    try:
        rows, regressor = _plain_rows(predictions) or (
            as_rows(predictions),
            task_of(predictions) == REGRESSOR,
        )
    except (TrkError, ValueError, TypeError):
        return None
    if len(rows) > MAX_ROWS:
        return None
    if regressor:
        values = np.asarray(rows, dtype=float)
        if not np.isfinite(values).all():
            return None
        return [
            PredictionRecord(request_id, i, variant, version, None, float(x), p, at_ms)
            for i, x in enumerate(values.tolist())
        ]
    classes = [class_key(x) for x in rows]
    if any(len(c) > MAX_CLASS or not storable_text(c) for c in classes):
        return None
    return [
        PredictionRecord(request_id, i, variant, version, c, None, p, at_ms)
        for i, c in enumerate(classes)
    ]


def _id_ok(value: Any) -> bool:
    """Present (an empty text is not) and short enough for the log's key."""
    return type(value) is str and 0 < len(value) <= MAX_ID


def _facts_ok(p: object, at_ms: object) -> bool:
    """A routing probability and an epoch-millisecond time as the store's columns take
    them: a sidecar's socket is open to any local process, and a value the store refuses
    would fail every resend of its batch."""
    if type(at_ms) is not int or not 0 <= at_ms < MAX_MS:
        return False
    return (type(p) is float or type(p) is int) and 0 <= p <= 1


_EXACT = 2**53  # ints a float holds exactly: class_key writes them as str(int) does


def _plain_rows(predictions: Any) -> tuple[list[Any], bool] | None:
    """A shipped answer of plain class values (ints, bools, text) as rows, without numpy
    (the common case, and several microseconds per answer in the shipper); None otherwise."""
    if type(predictions) is not list or not predictions:
        return None
    kinds = {type(x) for x in predictions}
    if not kinds <= {int, bool, str} or (str in kinds and len(kinds) > 1):
        return None
    return predictions, False
