"""The per-process record buffer and the fold that drains it into every consumer.

The request path calls `RecordBuffer.append` once: a bounded deque, O(1), no lock (deque
appends are atomic under the GIL, so the shadow worker thread appends beside the event loop). A
full buffer drops the record and counts it; it is read only by the fold, which never falls
behind the event loop that feeds it, so a full buffer means the loop stalled.

`Folder` is an asyncio task on the serving event loop that, every `interval_s`, takes what
the buffer holds and hands it to each consumer in turn, in the order given. An asyncio task,
not a thread: measured on the one-row benchmark, a folding thread costs the event loop GIL
hand-offs on every switch, while a task folds a few hundred records between two requests.
`/metrics` folds first, so a scrape counts every request answered before it; other readers
(windows, /health) lag at most one interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence

from trk.serving.online.records import Batch, FoldConsumer, Record

log = logging.getLogger("trk.serving.online.fold")
CAPACITY = 100_000  # records held between two folds; more are dropped and counted
INTERVAL_S = 0.005  # how often the buffer is folded (the lag of windows and the log)


class RecordBuffer:
    """Bounded, lock-free from the request's side: one append per request."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._records: deque[Record] = deque()
        self.dropped = 0  # records lost to a full buffer (read by the fold's series)

    def append(self, record: Record) -> None:
        if len(self._records) >= self.capacity:
            self.dropped += 1
            return
        self._records.append(record)

    def take(self) -> Batch:
        """Everything appended so far, oldest first (appends racing this stay for the next)."""
        records, pop = Batch(), self._records.popleft
        for _ in range(len(self._records)):
            records.append(pop())
        return records

    def __len__(self) -> int:
        return len(self._records)


class Folder:
    """Drains the buffer into the consumers every `interval_s`; a Service of the plane."""

    def __init__(
        self,
        buffer: RecordBuffer,
        consumers: Sequence[FoldConsumer],
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.buffer, self.consumers, self.interval_s = buffer, tuple(consumers), interval_s
        self._task: asyncio.Task[None] | None = None
        self.folded = 0

    def fold(self, always: bool = False) -> int:
        """Fold what the buffer holds now; the number of records folded.

        `always`: hand the consumers even an empty batch (a scrape: gauges read now)."""
        records = self.buffer.take()
        if not records and not always:
            return 0
        for consumer in self.consumers:
            try:
                consumer.fold(records)
            except Exception:  # one broken consumer must not starve the others
                log.exception("folding records into %r failed", consumer)
        self.folded += len(records)
        return len(records)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.fold()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the task and fold what is left (the plane's last answers are in it)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self.fold()
