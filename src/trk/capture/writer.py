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

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from trk.capture import layout
from trk.capture.config import CaptureConfig
from trk.capture.journal import Journal
from trk.capture.rows import CaptureRecord, answer_json, inputs_json
from trk.capture.sampling import kept
from trk.capture.slots import Slot
from trk.capture.spool import Spool
from trk.capture.target import Target, open_target

log = logging.getLogger(__name__)
RETRY_MAX_S = 30.0
DROP_REASONS = ("spool_full", "unloggable", "shutdown")


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
        for segment, rows in self.journal.recover():
            self._columns = {c: [r[i] for r in rows] for i, c in enumerate(layout.CAPTURE_COLUMNS)}
            self.recovered |= {(r[0], r[3]) for r in rows}
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

    def sync(self) -> None:
        """Append the rows added since the last sync to the journal (before an acknowledgement);
        close files at the row limit (after, so no row is in a file and not in the journal)."""
        n = self.buffered
        if n > self._synced:
            cols = [c[self._synced :] for c in self._columns.values()]
            self.journal.append(list(zip(*cols, strict=True)))
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
            table = _table(
                {c: [v[i] for i in idx] for c, v in cols.items()} if len(idx) < n else cols
            )
            if self.spool.add(table, f"{key}/{layout.part_name(segment + key)}"):
                closed += len(idx)
            else:
                self._drop("spool_full", len(idx))
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


def _partitions(models: list[str], times: list[int]) -> dict[str, list[int]]:
    """Row indexes per partition directory (most buffers fall in one: no copy then)."""
    out: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(models, (at // 3_600_000 for at in times), strict=True)):
        out[key].append(i)
    return {
        layout.capture_dir(m, *layout.hour_of(h * 3_600_000)): idx for (m, h), idx in out.items()
    }


def _table(columns: dict[str, list[Any]]) -> Any:
    pa = layout.pyarrow()
    return pa.Table.from_pydict(columns, schema=layout.capture_schema())
