"""Adaptive batching: merge concurrent numeric requests into one predict, split the answer back.

Requests are validated one by one before they get here (decode checks shape and dtype), so
a merged batch only holds well-formed rows. Should the merged predict still fail, each
request is retried alone so that only the one at fault fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

log = logging.getLogger("trk.serving")

RunInThread = Callable[..., Awaitable[Any]]


class Batcher:
    """One per variant: queues 2-D arrays, runs at most one predict at a time per batcher."""

    def __init__(
        self,
        predict: Callable[[np.ndarray], Any],
        run_in_thread: RunInThread,
        max_rows: int,
        max_delay_s: float,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.predict = predict
        self.run_in_thread = run_in_thread
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self.on_batch = on_batch
        self._pending: list[tuple[np.ndarray, asyncio.Future[Any]]] = []
        self._rows = 0
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False

    async def submit(self, x: np.ndarray) -> Any:
        """Predict `x` (rows of one request) as part of a batch; returns its own predictions."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((x, fut))
        self._rows += len(x)
        if self._busy:
            pass  # the running batch flushes what queued up when it finishes
        elif self._rows >= self.max_rows or self.max_delay_s <= 0:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_delay_s, self._flush)
        return await fut

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._busy or not self._pending:
            return
        batch, rows = self._take()
        self._busy = True
        asyncio.ensure_future(self._run(batch, rows))

    def _take(self) -> tuple[list[tuple[np.ndarray, asyncio.Future[Any]]], int]:
        """Up to max_rows rows from the queue's head (a larger single request goes alone)."""
        taken: list[tuple[np.ndarray, asyncio.Future[Any]]] = []
        rows = 0
        while self._pending and (not taken or rows + len(self._pending[0][0]) <= self.max_rows):
            item = self._pending.pop(0)
            taken.append(item)
            rows += len(item[0])
        self._rows -= rows
        return taken, rows

    async def _run(self, batch: list[tuple[np.ndarray, asyncio.Future[Any]]], rows: int) -> None:
        try:
            await self._predict_batch(batch, rows)
        finally:
            self._busy = False
            if self._pending:
                self._flush()

    async def _predict_batch(
        self, batch: list[tuple[np.ndarray, asyncio.Future[Any]]], rows: int
    ) -> None:
        live = [(x, f) for x, f in batch if not f.done()]  # timed-out requests drop out
        if not live:
            return
        merged = live[0][0] if len(live) == 1 else np.concatenate([x for x, _ in live])
        started = time.perf_counter()
        try:
            preds = await self.run_in_thread(self.predict, merged)
        except Exception as exc:
            if len(live) == 1:
                _settle(live[0][1], exc=exc)
            else:
                log.info("batched predict of %d requests failed; retrying one by one", len(live))
                await self._one_by_one(live)
            return
        if self.on_batch is not None:
            self.on_batch(len(merged), time.perf_counter() - started)
        offset = 0
        for x, fut in live:
            _settle(fut, result=slice_rows(preds, offset, offset + len(x)))
            offset += len(x)

    async def _one_by_one(self, live: list[tuple[np.ndarray, asyncio.Future[Any]]]) -> None:
        for x, fut in live:
            started = time.perf_counter()
            try:
                result = await self.run_in_thread(self.predict, x)
            except Exception as exc:
                _settle(fut, exc=exc)
                continue
            if self.on_batch is not None:
                self.on_batch(len(x), time.perf_counter() - started)
            _settle(fut, result=result)


def _settle(fut: asyncio.Future[Any], result: Any = None, exc: BaseException | None = None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def slice_rows(preds: Any, start: int, stop: int) -> Any:
    """Rows start:stop of a batch's predictions (array, list, DataFrame or dict of arrays)."""
    if isinstance(preds, dict):
        return {k: slice_rows(v, start, stop) for k, v in preds.items()}
    if hasattr(preds, "iloc"):
        return preds.iloc[start:stop].reset_index(drop=True)
    return preds[start:stop]
