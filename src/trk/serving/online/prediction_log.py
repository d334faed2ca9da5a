"""This replica's part of the shared prediction log: answered requests, written in batches.

The request path only appends a tuple to a bounded deque (a full one drops the request and
counts it, never waits); one thread turns requests into per-row records and appends them to
the tracking store's log. When the store is down the batch in hand is kept and retried, and
requests wait in the deque meanwhile, so an outage shorter than the queue loses nothing.
Appends are idempotent in the store, so a batch resent after an unknown outcome adds nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from trk.exceptions import EndpointNotFound, TrkError, Unavailable
from trk.serving.core.events import Prediction
from trk.serving.online.feedback import REGRESSOR, as_rows, task_of
from trk.store.prediction_records import (
    MAX_CLASS,
    MAX_ID,
    MAX_ROWS,
    RECORDS_PER_CALL,
    PredictionRecord,
    class_key,
    storable_text,
)

log = logging.getLogger(__name__)
QUEUE = 100_000  # answered requests waiting to be written
QUEUE_ROWS = 1_000_000  # and their rows (a few large batches must not fill the memory)
BATCH_ROWS = 1000  # rows per append
INTERVAL_S = 1.0  # the longest a request waits before its batch is sent
RETRY_MAX_S = 30.0
STOP_WAIT_S = 10.0  # at shutdown, how long the last batches may take
PRUNE_EVERY_S = 3600.0  # how often a replica deletes rows past the retention

_Pending = tuple[str, str, str, Any, float, int]  # request id, variant, version, answer, p, ms


class LogMetrics:
    """The prediction log's series: rows written, requests dropped (by why), queue depth."""

    def __init__(self, metrics: Any) -> None:
        from prometheus_client import Counter, Gauge

        self.written = metrics.add(
            Counter, "trk_prediction_log_rows_total", "Prediction rows written to the store."
        )
        self.dropped = metrics.add(
            Counter, "trk_prediction_log_dropped_total",
            "Answered requests not written to the prediction log, by reason "
            "(queue_full, unloggable, rejected, shutdown).", ("reason",),
        )  # fmt: skip
        self.queued = metrics.add(
            Gauge, "trk_prediction_log_queue", "Answered requests waiting to be logged."
        )


class PredictionLog:
    """A prediction observer that appends every answer to the store's log, off the request path."""

    def __init__(
        self,
        log_factory: Callable[[], Any],
        model: Callable[[], str],
        probability: Callable[[str], float],
        version_of: Callable[[str], str],
        metrics: LogMetrics | None = None,
        capacity: int = QUEUE,
        max_rows: int = QUEUE_ROWS,
        batch_rows: int = BATCH_ROWS,
        interval_s: float = INTERVAL_S,
        retention_s: float | None = None,
    ) -> None:
        self.log_factory, self.model = log_factory, model
        self.probability, self.version_of = probability, version_of
        self.metrics = metrics
        self.capacity, self.batch_rows, self.interval_s = capacity, batch_rows, interval_s
        self.max_rows = max_rows
        self._rows = 0  # rows of the queued answers
        self._rows_lock = threading.Lock()  # answers come from the event loop and the shadow
        self.retention_s = retention_s
        self._next_prune = 0.0
        # A deque: append and popleft are atomic under the GIL, so the request takes no lock.
        self.queue: deque[_Pending] = deque()
        self._batch: list[PredictionRecord] = []  # converted, not yet written (kept on failure)
        self._sink: Any = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None
        self.written = 0
        self.disabled = False  # the store has no prediction log: nothing more is queued
        self.dropped: dict[str, int] = dict.fromkeys(
            ("queue_full", "unloggable", "rejected", "shutdown"), 0
        )

    # -- request path ---------------------------------------------------------------------
    def on_prediction(self, event: Prediction) -> None:
        """Prediction observer: queue the answer (a full queue drops and counts it)."""
        v = event.variant
        self._put(event.request_id, v.name, v.version, event.predictions)

    def record_shadow(self, request_id: str, variant: str, predictions: Any) -> None:
        """The shadow runner's answers, so paired comparisons see both variants."""
        self._put(request_id, variant, self.version_of(variant), predictions)

    def _put(self, request_id: str, variant: str, version: str, predictions: Any) -> None:
        if self.disabled:
            self._drop("rejected", 1)
            return
        rows = _row_count(predictions)
        if len(self.queue) >= self.capacity or self._rows + rows > self.max_rows:
            self._drop("queue_full", 1)
            return
        with self._rows_lock:
            self._rows += rows
        at = int(time.time() * 1000)
        self.queue.append(
            (request_id, variant, version, predictions, self.probability(variant), at)
        )
        if len(self.queue) == self.batch_rows:  # once: a retry's backoff is not cut short
            self._wake.set()

    # -- labels (POST /feedback) ----------------------------------------------------------
    def write_labels(self, items: list[Any]) -> int:
        """Upsert labels in the store's table now; Unavailable when the store cannot take them."""
        try:
            written: int = self._store().log_labels(self.model(), items)
        except TrkError:
            raise
        except Exception as exc:
            raise Unavailable(
                f"Labels not stored (tracking store unavailable: {exc}); send them again"
            ) from exc
        return written

    def _store(self) -> Any:
        with self._lock:
            if self._sink is None:
                self._sink = self.log_factory()
            return self._sink

    # -- the writer thread ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trk-prediction-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued (for up to STOP_WAIT_S); count the rest as dropped."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_S + 5)
        left = len(self.queue) + (1 if self._batch else 0)
        if left:
            self._drop("shutdown", left)
            log.warning("prediction log: %d answered request(s) not written at shutdown", left)

    def _run(self) -> None:
        delay = self.interval_s
        while not self._stopping:
            self._wake.wait(delay)
            self._wake.clear()
            ok = self.flush()
            delay = self.interval_s if ok else min(max(delay, 0.5) * 2, RETRY_MAX_S)
            if ok:
                self._maybe_prune()
        deadline = time.monotonic() + STOP_WAIT_S
        while (self.queue or self._batch) and time.monotonic() < deadline:
            if not self.flush():
                time.sleep(0.2)

    def flush(self) -> bool:
        """Write queued answers until the queue is empty; False when the store failed."""
        while self._batch or self.queue:
            if not self._batch:
                self._batch = self._take()
                if not self._batch:
                    continue
            if not self._write(self._batch):
                return False
            self._batch = []
        if self.metrics is not None:
            self.metrics.queued.set(len(self.queue))
        return True

    def _maybe_prune(self) -> None:
        if self.retention_s is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        before_ms = int((time.time() - self.retention_s) * 1000)
        try:
            deleted = self._store().prune(before_ms, self.model())
        except Exception as exc:  # pruning waits for the next hour; serving never notices
            log.warning("prediction log: pruning failed: %s", exc)
            return
        if any(deleted.values()):
            log.info("prediction log: pruned %s older than the retention", deleted)

    def _take(self) -> list[PredictionRecord]:
        out: list[PredictionRecord] = []
        while self.queue and len(out) < self.batch_rows:
            rid, variant, version, predictions, p, at = self.queue.popleft()
            with self._rows_lock:
                self._rows -= _row_count(predictions)
            rows = records(rid, variant, version, predictions, p, at)
            if rows is None:
                self._drop("unloggable", 1)
            else:
                out += rows
        return out

    def _write(self, batch: list[PredictionRecord]) -> bool:
        try:
            sink = self._store()
            for i in range(0, len(batch), RECORDS_PER_CALL):
                sink.log_predictions(self.model(), batch[i : i + RECORDS_PER_CALL])
        except TrkError as exc:
            if 400 <= int(exc.status) < 500:  # refused: resending cannot help
                self._drop("rejected", len({r.request_id for r in batch}))
                if isinstance(exc, EndpointNotFound):  # a server without it (mlflow server)
                    self.disabled = True
                    log.warning("prediction log: the tracking server has none (%s); "
                                "answers are no longer logged", exc)  # fmt: skip
                else:
                    log.warning("prediction log: the store refused a batch: %s", exc)
                return True
            return self._failed(exc)
        except Exception as exc:  # the store is down or unreachable: keep the batch
            return self._failed(exc)
        if self._down_since is not None:
            log.warning("prediction log: writing again after %.0f s",
                        time.monotonic() - self._down_since)  # fmt: skip
            self._down_since = None
        self.written += len(batch)
        if self.metrics is not None:
            self.metrics.written.inc(len(batch))
        return True

    def _failed(self, exc: Exception) -> bool:
        with self._lock:
            self._sink = None  # rebuilt on the next try (a store that failed to open, too)
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("prediction log: cannot write (answers are kept and retried): %s", exc)
        return False

    def _drop(self, reason: str, n: int) -> None:
        self.dropped[reason] += n
        if self.metrics is not None:
            self.metrics.dropped.labels(reason).inc(n)


def _row_count(predictions: Any) -> int:
    try:
        return len(predictions)
    except TypeError:  # a scalar answer
        return 1


def records(
    request_id: str, variant: str, version: str, predictions: Any, p: float, at_ms: int
) -> list[PredictionRecord] | None:
    """One record per row of an answer; None when it cannot be logged (ids too long, n-D)."""
    if (
        not all(request_id and version and variant)
        or max(map(len, (request_id, variant, version))) > MAX_ID
    ):
        return None
    try:
        rows = as_rows(predictions)
        regressor = task_of(predictions) == REGRESSOR
    except (TrkError, ValueError, TypeError):
        return None
    if len(rows) > MAX_ROWS:
        return None
    if regressor:
        values = np.asarray(rows, dtype=float)
        if not np.isfinite(values).all():
            return None
        return [PredictionRecord(request_id, i, variant, version, None, float(x), p, at_ms)
                for i, x in enumerate(values.tolist())]  # fmt: skip
    classes = [class_key(x) for x in rows]
    if any(len(c) > MAX_CLASS or not storable_text(c) for c in classes):
        return None
    return [PredictionRecord(request_id, i, variant, version, c, None, p, at_ms)
            for i, c in enumerate(classes)]  # fmt: skip
