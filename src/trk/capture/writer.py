"""The capture's writer: rows in memory, closed into Parquet files per partition, published.

The log shipper calls `add` for each record, `sync` before it acknowledges a batch, and
`tick` now and then; nothing here runs on a request. A file closes every `flush_s` or at
`max_rows`, whichever first; closed files go through the spool (trk.capture.spool), which
publishes them and keeps them while the bucket is unreachable. Past the spool's bound, rows are
dropped and counted by reason. Rows not yet closed are in the journal (trk.capture.journal)
once synced; a writer opened on the same spool closes what a killed one left there
(trk.capture.slots: each writer has its own slot of the spool directory).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from trk.capture import layout
from trk.capture.config import CaptureConfig
from trk.capture.journal import Journal
from trk.capture.rows import (
    CaptureRecord,
    answer_json,
    inputs_json,
    plain_json,
    shipped_rows,
)
from trk.capture.sampling import kept
from trk.capture.slots import Slot
from trk.capture.spool import Spool
from trk.capture.target import Target, open_target

log = logging.getLogger(__name__)
RETRY_MAX_S = 30.0
DROP_REASONS = ("spool_full", "unloggable", "shutdown")
_NUMBER = {float, int}
_LATENCY = {float, int, type(None)}


class CaptureWriter:
    """Buffers rows per (model, date, hour) and closes them into files on time or size."""

    def __init__(
        self,
        config: CaptureConfig,
        target: Target | None = None,
        on_drop: Callable[[str, int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        layout.pyarrow()  # the missing extra is an error at start, not at the first flush
        self.config = config
        self.target = target or open_target(config.uri)
        # Its own slot of the spool directory (shared by a sidecar's writers, or by workers').
        self.slot = Slot(config.spool_dir)
        self.spool = Spool(self.slot.path, self.target, config.spool_bytes)
        self.on_drop, self.clock = on_drop, clock
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        self.written = 0  # rows closed into files
        self._columns: dict[str, list[Any]] = {c: [] for c in layout.CAPTURE_COLUMNS}
        self._opened = clock()
        self._retry_at = 0.0
        self._delay = 0.0
        self.journal = Journal(self.slot.journal)
        self._synced = 0  # buffered rows already in the journal
        self._model_ok = ""
        # (request id, variant) of rows recovered from a killed writer's journal: the serving
        # process sends again what that writer had not acknowledged, and some of it was in.
        self.recovered: set[tuple[str, str]] = set()
        self._recover()

    def _recover(self) -> None:
        for segment, columns in self.journal.recover(len(layout.CAPTURE_COLUMNS)):
            self._columns = dict(zip(layout.CAPTURE_COLUMNS, columns, strict=True))
            self.recovered |= set(
                zip(self._columns["request_id"], self._columns["variant"], strict=True)
            )
            self._close(segment)
            self.journal.forget(segment)
        if self.recovered:
            log.info(
                "capture: %d row(s) a stopped writer left were closed into files",
                len(self.recovered),
            )

    @property
    def buffered(self) -> int:
        return len(self._columns["request_id"])

    @property
    def behind(self) -> bool:
        """Files wait for an unreachable bucket (or rows were dropped): /health's `degraded`."""
        return self.spool.failing

    def add(self, record: CaptureRecord) -> bool:
        """Buffer one answer if it is in the sample; False when left out or unloggable."""
        cfg = self.config
        try:
            if not kept(record.request_id, cfg.sample):
                return False
            if self.recovered and (record.request_id, record.variant) in self.recovered:
                return False  # in a file already: sent again after a restart
            prediction = answer_json(record.prediction)
            inputs = inputs_json(record.inputs, cfg.drop_columns) if cfg.inputs else None
            if record.model != self._model_ok:  # one model per shipper: checked once
                self._model_ok = layout.check_model(record.model)
            if not (
                isinstance(record.request_id, str)
                and isinstance(record.variant, str)
                and isinstance(record.version, str)
            ):
                raise TypeError("ids must be text")
            values = (
                record.request_id,
                int(record.timestamp_ms),
                record.model,
                record.variant,
                record.version,
                float(record.routing_probability),
                int(record.status),
                _maybe_float(record.latency_ms),
                prediction,
                inputs,
            )
        except Exception as exc:  # an answer orjson cannot write, a model no partition can name
            log.debug("capture: unloggable record %s: %s", record.request_id, exc)
            self._drop("unloggable", 1)
            return False
        for column, value in zip(self._columns.values(), values, strict=True):
            column.append(value)
        return True

    def extend(self, model: str, items: Sequence[Any]) -> bool:
        """A log shipper's batch at once (the shipped answers, read by field name), column by
        column: the same rows `add` makes, for a third of its cost per row (measured,
        loadtest/bench_capture.py). False, and nothing added, where an item needs `add`'s
        checks one by one (a value of an unexpected type, rows as records, an odd model)."""
        cfg = self.config
        try:
            if model != self._model_ok:
                self._model_ok = layout.check_model(model)
        except Exception:
            return False
        if cfg.sample < 1.0:
            items = [i for i in items if kept(i.request_id, cfg.sample)]
        if self.recovered:
            items = [i for i in items if (i.request_id, i.variant) not in self.recovered]
        if not items:
            return True
        try:
            ids = [i.request_id for i in items]
            variants = [i.variant for i in items]
            versions = [i.version for i in items]
            at = [i.at_ms for i in items]
            p = [i.probability for i in items]
            status = [i.status for i in items]
            latency = [i.latency_ms for i in items]
            if not (  # type by type over whole columns (a loop in C, not per row here)
                {*map(type, itertools.chain(ids, variants, versions))} == {str}
                and {*map(type, itertools.chain(at, status))} == {int}
                and {*map(type, p)} <= _NUMBER
                and {*map(type, latency)} <= _LATENCY
            ):
                return False
            prediction = plain_json([i.answer for i in items])
            inputs = self._inputs([i.inputs for i in items]) if cfg.inputs else [None] * len(items)
        except (AttributeError, TypeError, orjson.JSONEncodeError):
            return False
        model_col = [model] * len(items)
        new = (ids, at, model_col, variants, versions, p, status, latency, prediction, inputs)
        for column, values in zip(self._columns.values(), new, strict=True):
            column.extend(values)
        return True

    def _inputs(self, shipped: list[Any]) -> list[str | None]:
        """Shipped rows as JSON text: lists at once; tables (sent as dataframe_split) and
        rows whose columns are dropped one by one."""
        drop = self.config.drop_columns
        try:
            return plain_json(shipped, drop)
        except TypeError:
            return [inputs_json(shipped_rows(x), drop) for x in shipped]

    def sync(self) -> None:
        """Append the rows added since the last sync to the journal (before an acknowledgement);
        close files at the row limit (after, so no row is in a file and not in the journal)."""
        n = self.buffered
        if n > self._synced:
            self.journal.append([c[self._synced :] for c in self._columns.values()])
            self._synced = n
        if n >= self.config.max_rows:
            self.close_files()

    def tick(self) -> bool:
        """Close files when due, publish what waits (backing off while that fails)."""
        now = self.clock()
        n = self.buffered
        if n >= self.config.max_rows or (n and now - self._opened >= self.config.flush_s):
            self.close_files()
        if now < self._retry_at or not self.spool.pending():
            return not self.spool.failing
        ok = self.spool.publish()
        self._delay = 0.0 if ok else min(max(self._delay * 2, 0.5), RETRY_MAX_S)
        self._retry_at = now + self._delay
        return ok

    def close_files(self) -> int:
        """Close the buffered rows into one file per partition in the spool; rows closed."""
        closed = self._close(self.journal.segment)
        self.journal.end()
        self._synced = 0
        self.recovered.clear()  # what was sent again came first, and is in these files
        return closed

    def _close(self, segment: str) -> int:
        """The buffer as files named after `segment` (a recovered segment closes alike)."""
        cols, n = self._columns, self.buffered
        self._columns = {c: [] for c in layout.CAPTURE_COLUMNS}
        self._opened = self.clock()
        if not n:
            return 0
        closed = 0
        for key, idx in _partitions(cols["model"], cols["timestamp"]).items():
            if idx is None:  # the buffer is one partition: its columns as they are
                table, count = _table(cols), n
            else:
                table, count = _table({c: [v[i] for i in idx] for c, v in cols.items()}), len(idx)
            if self.spool.add(table, f"{key}/{layout.part_name(segment + key)}"):
                closed += count
            else:
                self._drop("spool_full", count)
        self.written += closed
        return closed

    def drain(self, timeout_s: float) -> bool:
        """At shutdown: close everything and publish for up to `timeout_s`; True when all is out.

        What stays in the spool is published by the next writer opened on it.
        """
        self.close_files()
        deadline = self.clock() + timeout_s
        while not self.spool.publish():
            if self.clock() >= deadline:
                log.warning(
                    "capture: %d file(s) left in the spool %s at shutdown",
                    self.spool.pending(),
                    self.spool.root,
                )
                return False
            time.sleep(min(1.0, max(0.0, deadline - self.clock())))
        return True

    def close(self) -> None:
        """Free the spool slot (after `drain`): what is left there, a later writer publishes."""
        self.journal.close()
        self.slot.release()

    def _drop(self, reason: str, n: int) -> None:
        self.dropped[reason] += n
        if self.on_drop is not None:
            self.on_drop(reason, n)


def _maybe_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _partitions(models: list[str], times: list[int]) -> dict[str, list[int] | None]:
    """Row indexes per partition directory; None for all the rows (most buffers fall in one
    partition: no per-row work, no copy then)."""
    first, last = min(times) // 3_600_000, max(times) // 3_600_000
    if first == last and models.count(models[0]) == len(models):  # one hour of one model
        return {layout.capture_dir(models[0], *layout.hour_of(first * 3_600_000)): None}
    out: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(models, (at // 3_600_000 for at in times), strict=True)):
        out[key].append(i)
    return {
        layout.capture_dir(m, *layout.hour_of(h * 3_600_000)): idx for (m, h), idx in out.items()
    }


def _table(columns: dict[str, list[Any]]) -> Any:
    pa = layout.pyarrow()
    return pa.Table.from_pydict(columns, schema=layout.capture_schema())
