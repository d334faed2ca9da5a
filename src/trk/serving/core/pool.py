"""The predict threads: blocking model work runs here, never on the event loop.

Each variant gets threads of its own, so a challenger whose predicts hang holds only its
own threads and never queues a champion request behind them. The threads are daemons: a
predict stuck in a model cannot hold the process past its drain (the standard library's
ThreadPoolExecutor joins its threads at interpreter exit, so one hung predict would).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

PREDICT_THREADS = 8  # per variant
LOAD = "load"  # the threads that load models at start
T = TypeVar("T")
_Work = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonExecutor(Executor):
    """A thread pool of daemon threads, started on demand up to `threads`."""

    def __init__(self, threads: int, name: str) -> None:
        self.max_threads, self.name = threads, name
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError(f"{self.name}: cannot run new work after shutdown")
            self._queue.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self.max_threads:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
            del item, future  # drop the result before waiting for more work
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new work; cancel what waits if asked; a hung predict is never waited for."""
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            for _ in self._threads:
                self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class PredictPool:
    """Threads per variant (named on first use), shared by the plane's predicts and batchers."""

    def __init__(self, threads: int = PREDICT_THREADS) -> None:
        self.threads = threads
        self._executors: dict[str, DaemonExecutor] = {}
        self._lock = threading.Lock()

    def executor(self, variant: str) -> DaemonExecutor:
        found = self._executors.get(variant)
        if found is None:
            with self._lock:
                found = self._executors.setdefault(
                    variant, DaemonExecutor(self.threads, f"trk-predict-{variant}")
                )
        return found

    async def run(self, fn: Callable[..., T], *args: Any, variant: str = LOAD) -> T:
        """`fn(*args)` on `variant`'s threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor(variant), fn, *args)

    def runner(self, variant: str) -> Callable[..., Any]:
        """`run` bound to one variant's threads (what a batcher calls)."""

        async def run(fn: Callable[..., T], *args: Any) -> T:
            return await self.run(fn, *args, variant=variant)

        return run

    def shutdown(self) -> None:
        for executor in list(self._executors.values()):
            executor.shutdown(wait=False, cancel_futures=True)
