"""Deliveries waiting for their next attempt: a bounded heap and one thread that releases them.

A delivery worker never sleeps through a backoff (a few `Retry-After: 180` answers would
stall every delivery behind them): a retry is handed here with its due time, and the
worker moves on. When it is due, `release` gets it back (it queues it for a worker).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("trk.webhooks")


class RetrySchedule(Generic[T]):
    """Holds at most `size` items until each is due, then calls `release(item)`."""

    def __init__(self, size: int, release: Callable[[T], None], name: str) -> None:
        self.size = size
        self._release = release
        self._name = name
        self._heap: list[tuple[float, int, T]] = []
        self._order = itertools.count()  # ties by arrival; items themselves never compared
        self._cond = threading.Condition()
        self._waiting = 0  # held or being released: a flush waits for these too

    def __len__(self) -> int:
        return self._waiting

    def put(self, delay_s: float, item: T) -> bool:
        """Release `item` after `delay_s` seconds; False (and not held) when full."""
        with self._cond:
            if self._waiting >= self.size:
                return False
            heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._order), item))
            self._waiting += 1
            self._cond.notify()
        return True

    def start(self) -> None:
        """Start the releasing thread (once, with the workers: a process that is exiting
        may no longer start threads, yet its flush still waits for retries)."""
        threading.Thread(target=self._run, name=self._name, daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                item = heapq.heappop(self._heap)[2]
            try:
                self._release(item)
            except Exception:  # a bug: its traceback, and the schedule keeps running
                log.exception("webhook retry could not be released")
            finally:
                with self._cond:
                    self._waiting -= 1
