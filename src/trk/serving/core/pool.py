"""The predict threads: blocking model work runs here, never on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

PREDICT_THREADS = 8
T = TypeVar("T")


class PredictPool:
    """A thread pool shared by the plane's predicts and the batchers."""

    def __init__(self, threads: int = PREDICT_THREADS) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="trk-predict")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
