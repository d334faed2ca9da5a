"""Reading request bodies: bounded in size (413) and in time (408), cheaply.

A client that sends its headers and then trickles (or never sends) its body would hold a
request, and a SIGTERM drain, open for as long as it likes. Each read registers its
deadline and one sweeper task cancels the reads that pass theirs: a timer per request
(`asyncio.timeout`) costs ~5 us on uvloop here, the registration ~0.2 us.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import ClientDisconnect
from starlette.types import Receive

from trk.exceptions import PayloadTooLarge, RequestTimeout

SWEEP_S = 0.1  # how late past its deadline a slow read may be cancelled


class BodyReader:
    """Reads bodies up to `limit` bytes, each by a deadline (event-loop time)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._reads: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sweeper = asyncio.ensure_future(self._sweep())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def read(
        self,
        receive: Receive,
        deadline: float,
        declared: str | None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> bytes:
        """The body: 413 as soon as it passes the limit, 408 if not in by `deadline`.

        `declared`: the Content-Length header; `loop`: the running loop, when the caller
        has it at hand (looking it up is a system call on Python 3.11)."""
        if declared and declared.isdigit() and int(declared) > self.limit:
            raise PayloadTooLarge(f"Request body of {declared} bytes is over --max-body-mb")
        task = asyncio.current_task(loop)
        if task is None:  # pragma: no cover - always inside a request task
            return await self._read(receive)
        self._reads[task] = deadline
        try:
            return await self._read(receive)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            self._expired.discard(task)
            task.uncancel()
            raise RequestTimeout("The request body did not arrive within --timeout-s") from None
        finally:
            self._reads.pop(task, None)

    async def _read(self, receive: Receive) -> bytes:
        """The ASGI messages read directly, as Starlette's `Request.stream` reads them (its
        async generator cost about a microsecond a request); nothing reads the body again."""
        limit = self.limit
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"Request body is over --max-body-mb ({limit} bytes)")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            elif message["type"] == "http.disconnect":
                raise ClientDisconnect()

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_S)
            now = loop.time()
            for task, deadline in list(self._reads.items()):
                if deadline <= now and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()
