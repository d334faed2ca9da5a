"""Shadow traffic: copies of requests go to the challenger off the request path, and compare.

`submit` never blocks and never raises: a full queue drops the copy and counts it. Every
`merge_wait_s` the queue is drained and fast-path copies are merged into one predict per
challenger. Under trk-serve the event loop drains it (a task, like the fold): a merged
predict of trk's own bounded flavors measured under a millisecond runs right there, as the
champion's small predicts do (`core/plane.py`'s inline path), because a worker thread
competing for the GIL cost the event loop more than the predict itself (measured: 86 against
77 us of server CPU per shadowed one-row request). Any other predict (the first of each
challenger, which is not yet measured, and every slower one) goes to one worker thread, which
runs it on a small pool so that a challenger that hangs costs a timeout, not the worker.
Without a running event loop (a script, a unit test) the worker drains the queue itself.
Nothing here reaches a client.
Each compared answer leaves a shadow `Record` (with its agreement) in the same record buffer
as the champion's answers: the series, the feedback join and the log all fold it from there.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sized
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import numpy as np

from trk.serving.core.breaker import CircuitBreaker
from trk.serving.core.inputs import ModelInput
from trk.serving.core.plane import INLINE_FLAVORS, INLINE_MAX_SECONDS
from trk.serving.core.pool import DaemonExecutor
from trk.serving.core.variant import Variant
from trk.serving.online.records import Record

log = logging.getLogger("trk.serving")
OUTCOMES = ("compared", "dropped", "error", "timeout")
MAX_MERGE = 256  # copies merged into one challenger predict
# After the first copy arrives, wait this long for more: one predict of 40 rows costs about
# what one of a single row does, and every predict takes the GIL from the event loop.
MERGE_WAIT_S = 0.02
RTOL, ATOL = 1e-3, 1e-6


@dataclass(slots=True)
class Copy:
    """One request copy waiting for the challenger."""

    request_id: str
    variant: Any  # the challenger Variant the router picked
    model_input: Any  # the champion's decoded ModelInput (signatures match: compat.py)
    expected: Any  # the champion's predictions


def as_array(predictions: Any) -> np.ndarray:
    """Predictions of any pyfunc shape (array, list, DataFrame, Series) as a numpy array."""
    if type(predictions) is np.ndarray:
        return predictions
    to_numpy = getattr(predictions, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy is not None else predictions)


def same_rows(expected: Any, actual: Any, kind: str = "unknown") -> np.ndarray | None:
    """Per row, whether the challenger agrees; None when the shapes cannot be compared.

    Classifiers agree on equal labels; regressors (and unknown float outputs) on
    `np.isclose(rtol=1e-3, atol=1e-6)`. A row with several outputs agrees when all do.
    """
    a, b = as_array(expected), as_array(actual)
    if a.shape != b.shape:
        return None
    numeric = a.dtype.kind in "fc" or b.dtype.kind in "fc"
    if kind != "classifier" and numeric and a.dtype.kind in "biufc" and b.dtype.kind in "biufc":
        same = np.isclose(a, b, rtol=RTOL, atol=ATOL)
    else:
        same = np.asarray(a == b)
    if same.shape != a.shape:  # elementwise == failed on odd object arrays
        return None
    if same.ndim == 0:
        return np.asarray(same.reshape(1))
    return np.asarray(same.reshape(len(same), -1).all(axis=1) if same.ndim > 1 else same)


def agreement(expected: Any, actual: Any, kind: str = "unknown") -> tuple[int, int] | None:
    """(rows that agree, rows compared), or None when the shapes cannot be compared."""
    same = same_rows(expected, actual, kind)
    return None if same is None else (int(np.count_nonzero(same)), len(same))


class ShadowRunner:
    """A bounded queue of request copies and the worker that predicts and compares them."""

    def __init__(
        self,
        maxsize: int = 1000,
        timeout_s: float = 5.0,
        metrics: Any = None,
        call: Callable[..., Any] | None = None,
        pool_size: int = 2,
        merge_wait_s: float = MERGE_WAIT_S,
        records: Any = None,
        breaker: CircuitBreaker | None = None,
        on_open: Callable[[], None] | None = None,
        probability: Callable[[str], float] | None = None,
    ) -> None:
        # A deque, not queue.Queue: append/popleft are atomic under the GIL and take no lock,
        # so `submit` costs the request about a microsecond. The worker is woken through an
        # Event only when it went idle.
        self.queue: deque[Copy] = deque()
        self.maxsize = maxsize
        self._wake = threading.Event()
        self._idle = False
        self.timeout_s = timeout_s
        self.metrics = metrics
        self.call = call or _call_model
        self.merge_wait_s = merge_wait_s
        # A hung predict keeps its pool thread; the semaphore stops more piling up behind it,
        # and the breaker (the router asks it before copying) stops copies altogether.
        self._pool = DaemonExecutor(pool_size, "trk-shadow-predict")
        self.breaker, self.on_open = breaker, on_open
        self._free = threading.Semaphore(pool_size)
        # The record sink (the plane's buffer): each compared answer is appended as a record.
        self.records = records
        self.probability = probability or (lambda variant: 1.0)
        self._counts = dict.fromkeys(("compared", "error", "timeout", "busy"), 0)
        self._counts.update(agreed=0, rows=0)
        # The worker and the draining task both count (a challenger moving between them):
        # one lock per group, never per request.
        self._counting = threading.Lock()
        self._full = 0  # written by submit (event loop) only
        self._thread: threading.Thread | None = None
        self._stopping = False
        # With an event loop: the task that drains the queue, and the groups it leaves to the
        # worker. The last merged predict's seconds, of the challenger it timed.
        self._task: asyncio.Task[None] | None = None
        self._slow: deque[list[Copy]] = deque()
        self._timed: tuple[object, float] = (None, math.inf)

    # -- request path ---------------------------------------------------------------------
    def submit(self, request_id: str, variant: Any, model_input: Any, predictions: Any) -> None:
        """Queue a copy for the challenger; a full queue drops it (counted). Never blocks."""
        try:
            if len(self.queue) >= self.maxsize:
                self._full += 1
                if self.metrics is not None:
                    self.metrics.shadow("dropped")
                return
            self.queue.append(Copy(request_id, variant, model_input, predictions))
            if self._idle and self._task is None:  # the worker drains the queue itself
                self._wake.set()
        except Exception:  # the request path must never see a shadow failure
            log.exception("queueing a shadow copy failed")

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """The worker, and the draining task when called on a running event loop."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None and self._task is None:
            self._task = loop.create_task(self._drain_on_loop())
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trk-shadow", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker (queued copies are abandoned); hung predicts are not waited for."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def counters(self) -> dict[str, int]:
        """Cumulative counts: `compared` and `agreed` are rows, the others request copies."""
        c = self._counts
        return {
            "compared": c["rows"],
            "agreed": c["agreed"],
            "requests_compared": c["compared"],
            "dropped": self._full + c["busy"],
            "error": c["error"],
            "timeout": c["timeout"],
        }

    # -- event loop -----------------------------------------------------------------------
    async def _drain_on_loop(self) -> None:
        while True:
            await asyncio.sleep(self.merge_wait_s)  # copies arriving meanwhile merge
            try:
                self.drain()
            except Exception:  # a bug here must not end the task: copies would pile up
                log.exception("draining shadow copies failed")

    def drain(self) -> None:
        """Compare the queued copies now: here when their challenger predicts fast enough,
        else on the worker (the draining task calls this every `merge_wait_s`)."""
        slow = False
        while self.queue:
            for group in self._grouped(self._take()):
                if self._inline_ok(group[0].variant):
                    self._guarded(self._process_inline, group)
                else:
                    self._slow.append(group)
                    slow = True
        if slow:
            self._wake.set()

    def _inline_ok(self, variant: Variant) -> bool:
        """Trk's bounded flavors whose last merged predict took under INLINE_MAX_SECONDS."""
        timed, seconds = self._timed
        return (
            timed is variant
            and seconds < INLINE_MAX_SECONDS
            and getattr(variant, "flavor", None) in INLINE_FLAVORS
        )

    def _process_inline(self, group: list[Copy]) -> None:
        head = group[0]
        self._answered(
            group, lambda: self._timed_call(head.variant, _data(group), head.model_input)
        )

    # -- worker ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            if self._task is not None:  # groups the event loop left to the worker
                if self._slow:
                    self._guarded(self._process, self._slow.popleft())
                else:
                    self._sleep_until_woken(self._slow)
            elif self.queue:  # no event loop: the worker drains the queue itself
                time.sleep(self.merge_wait_s)  # copies arriving meanwhile merge
                for group in self._grouped(self._take()):
                    self._guarded(self._process, group)
            else:
                self._sleep_until_woken(self.queue)

    def _sleep_until_woken(self, pending: Sized) -> None:
        self._idle = True
        if not pending:  # checked again after saying idle: no copy is missed
            self._wake.wait(1.0)
        self._wake.clear()
        self._idle = False

    def _take(self) -> list[Copy]:
        batch: list[Copy] = []
        while self.queue and len(batch) < MAX_MERGE:
            batch.append(self.queue.popleft())
        return batch

    @staticmethod
    def _grouped(batch: list[Copy]) -> list[list[Copy]]:
        try:
            return _groups(batch)
        except Exception:  # a copy that is not what the DataPlane sends
            log.exception("grouping shadow copies failed")
            return [[copy] for copy in batch]

    def _guarded(self, process: Callable[[list[Copy]], None], group: list[Copy]) -> None:
        try:
            process(group)
        except Exception:  # a bug here must not kill the worker or the draining task
            log.exception("shadow comparison failed")
            self._count("error", len(group))

    def _timed_call(self, variant: Variant, data: object, model_input: ModelInput) -> object:
        """The challenger's predict, its seconds kept (they decide where the next one runs)."""
        started = time.perf_counter()
        try:
            return self.call(variant, data, model_input)
        finally:
            self._timed = (variant, time.perf_counter() - started)

    def _process(self, group: list[Copy]) -> None:
        if not self._free.acquire(blocking=False):
            self._count("busy", len(group))  # every pool thread is stuck in a hung predict
            self._record(timed_out=True)
            return
        head = group[0]
        future = self._pool.submit(self._timed_call, head.variant, _data(group), head.model_input)
        future.add_done_callback(lambda _: self._free.release())
        self._answered(group, lambda: future.result(timeout=self.timeout_s))

    def _answered(self, group: list[Copy], predicted: Callable[[], object]) -> None:
        """Compare what `predicted()` returns; a timeout or an error is counted instead."""
        try:
            predictions = predicted()
        except FutureTimeout:
            self._count("timeout", len(group))
            self._record(timed_out=True)
            return
        except Exception as exc:
            log.debug("shadow predict failed: %s", exc)
            self._count("error", len(group))
            self._record(timed_out=False)
            return
        self._record(timed_out=False)
        self._compare(group, predictions)

    def _record(self, timed_out: bool) -> None:
        if self.breaker is not None and self.breaker.record(timed_out):
            log.warning("challenger: shadow predicts keep timing out; copies stop for a while")
            if self.on_open is not None:
                self.on_open()

    def _compare(self, group: list[Copy], predictions: Any) -> None:
        """Merged copies compare in one vectorised pass; per copy when that cannot work."""
        kind = getattr(group[0].variant.model, "output_kind", "unknown")
        parts = _split(predictions, group)
        if len(group) > 1:
            expected = _concat([c.expected for c in group])
            same = None if expected is None else same_rows(expected, predictions, kind)
            if same is not None:
                self._tally(same, group, predictions, parts)
                return
        for copy, part in zip(group, parts, strict=True):
            same = None if part is None else same_rows(copy.expected, part, kind)
            if same is None:  # the challenger answered with another shape
                self._count("error", 1)
            else:
                self._tally(same, [copy], part, [part])

    def _tally(
        self, same: np.ndarray, group: list[Copy], predictions: Any, parts: list[Any]
    ) -> None:
        rows, agreed = len(same), int(np.count_nonzero(same))
        with self._counting:
            self._counts["rows"] += rows
            self._counts["agreed"] += agreed
        self._count("compared", len(group))
        if self.records is None:
            return
        sizes = [rows] if len(group) == 1 else [c.model_input.data.shape[0] for c in group]
        # One challenger per group: its facts read once; agreement counted from one list
        # (a numpy count per copy cost ~1 us each).
        v = group[0].variant
        name, version, model, p = v.name, v.version, v.model_name, self.probability(v.name)
        flags = same.tolist()
        start, now, append = 0, time.perf_counter(), self.records.append
        for copy, part, size in zip(group, parts, sizes, strict=True):
            agreed = flags[start] if size == 1 else sum(flags[start : start + size])
            append(
                Record(
                    copy.request_id,
                    now,
                    name,
                    version,
                    model,
                    p,
                    200,
                    None,
                    part,
                    None,
                    None,
                    None,
                    size,
                    True,
                    int(agreed),
                )
            )
            start += size

    def _count(self, outcome: str, n: int) -> None:
        with self._counting:
            self._counts[outcome] += n
        if self.metrics is not None:
            self.metrics.shadow("dropped" if outcome == "busy" else outcome, n)


def _call_model(variant: Any, data: Any, model_input: Any) -> Any:
    """The challenger's predict, on the same input form the champion's predict got."""
    model = variant.model
    params = model_input.params
    if model_input.fast:
        return model.predict_array(data, params) if params else model.predict_array(data)
    return model.predict(data, params) if params else model.predict(data)


def _data(group: list[Copy]) -> Any:
    """The rows of a group's one predict: merged copies' rows stacked."""
    if len(group) == 1:
        return group[0].model_input.data
    return np.concatenate([c.model_input.data for c in group])


def _concat(answers: list[Any]) -> np.ndarray | None:
    try:
        return np.concatenate([as_array(a) for a in answers])
    except ValueError:  # answers of different widths or 0-d
        return None


def _mergeable(copy: Copy) -> bool:
    mi = copy.model_input
    return bool(mi.fast) and not mi.params and getattr(mi.data, "ndim", 0) == 2


def _groups(batch: list[Copy]) -> list[list[Copy]]:
    """Fast-path copies for the same challenger and width merge into one predict."""
    merged: dict[tuple[int, int], list[Copy]] = {}
    alone: list[list[Copy]] = []
    for copy in batch:
        if _mergeable(copy):
            key = (id(copy.variant), copy.model_input.data.shape[1])
            merged.setdefault(key, []).append(copy)
        else:
            alone.append([copy])
    return [*merged.values(), *alone]


def _split(predictions: Any, group: list[Copy]) -> list[Any]:
    """One merged answer back into per-copy parts (None each when the row count is off)."""
    if len(group) == 1:
        return [predictions]
    arr = as_array(predictions)
    sizes = [c.model_input.data.shape[0] for c in group]
    if arr.ndim == 0 or arr.shape[0] != sum(sizes):
        return [None] * len(group)
    parts, start = [], 0
    for size in sizes:  # slicing: a view per copy, cheaper than np.split
        parts.append(arr[start : start + size])
        start += size
    return parts
