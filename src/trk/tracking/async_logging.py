"""Asynchronous logging (`trk.config.enable_async_logging()`): metrics, params and tags are
queued and the call returns; one background thread sends what has queued up as few
`log_batch` calls as the store's limits allow. `flush()` waits for everything queued so far
and raises the first error a send met, so a failure surfaces at `end_run` (or process exit,
where it is logged) instead of being lost."""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from trk.entities import Metric, Param, RunTag

log = logging.getLogger("trk.tracking")
MAX_DRAIN = 10_000  # entries folded into one round of sends


@dataclass
class Entry:
    """One logging call: what to write to which run, on which tracking URI."""

    uri: str
    run_id: str
    metrics: Sequence[Metric] = ()
    params: Sequence[Param] = ()
    tags: Sequence[RunTag] = ()


@dataclass
class _Batch:
    uri: str
    run_id: str
    metrics: list[Metric] = field(default_factory=list)
    params: dict[str, Param] = field(default_factory=dict)
    tags: dict[str, RunTag] = field(default_factory=dict)

    def takes(self, entry: Entry) -> bool:
        """Whether `entry` joins this batch: same run, and no param or tag key again (the
        second value must reach the store after the first, as it would synchronously)."""
        return (
            (entry.uri, entry.run_id) == (self.uri, self.run_id)
            and not any(p.key in self.params for p in entry.params)
            and not any(t.key in self.tags for t in entry.tags)
        )

    def add(self, entry: Entry) -> None:
        self.metrics.extend(entry.metrics)
        self.params.update((p.key, p) for p in entry.params)
        self.tags.update((t.key, t) for t in entry.tags)


def batches(entries: list[Entry]) -> list[_Batch]:
    """Consecutive entries of one run folded together, in the order they were logged."""
    out: list[_Batch] = []
    for entry in entries:
        if not out or not out[-1].takes(entry):
            out.append(_Batch(entry.uri, entry.run_id))
        out[-1].add(entry)
    return out


class AsyncLogger:
    """The queue and its sender thread (started on first use, a daemon: `flush` and the exit
    hook make sure nothing queued is left behind)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Entry] = queue.Queue()
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, entry: Entry) -> None:
        """Queues one logging call; returns at once."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="trk-async-log", daemon=True)
                self._thread.start()
        self._queue.put(entry)

    def flush(self) -> None:
        """Waits until everything queued so far is sent; raises the first error met since the
        last flush (the others are logged)."""
        self._queue.join()
        with self._lock:
            errors, self._errors = self._errors, []
        for extra in errors[1:]:
            log.warning("trk: async logging also failed: %s", extra)
        if errors:
            raise errors[0]

    def _run(self) -> None:
        while True:
            entries = [self._queue.get()]
            while len(entries) < MAX_DRAIN:
                try:
                    entries.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._send(entries)
            finally:
                for _ in entries:
                    self._queue.task_done()

    def _send(self, entries: list[Entry]) -> None:
        from trk.tracking.client import Client

        for batch in batches(entries):
            try:
                Client(batch.uri).log_batch(
                    batch.run_id,
                    batch.metrics,
                    list(batch.params.values()),
                    list(batch.tags.values()),
                )
            except Exception as exc:  # kept for the flush: the caller has long returned
                with self._lock:
                    self._errors.append(exc)


_logger: AsyncLogger | None = None
_logger_lock = threading.Lock()


def logger() -> AsyncLogger:
    """The process's one async logger (and its exit hook), made on first use."""
    global _logger
    with _logger_lock:
        if _logger is None:
            _logger = AsyncLogger()
            atexit.register(_flush_at_exit, _logger)
        return _logger


def _flush_at_exit(pending: AsyncLogger) -> None:
    try:
        pending.flush()
    except Exception as exc:  # nobody is left to raise to
        log.error("trk: async logging failed before exit: %s", exc)
