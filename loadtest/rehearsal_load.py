"""The rehearsal's load generator: sticky users spread round-robin across live replicas.

Every user key is sent to every replica in turn, so the sticky check sees each key on
several replicas. Replicas can leave the rotation while it runs (as a terminating pod leaves
a Service's endpoints), and every answer is recorded with the variant and version it got.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

IRIS_ROWS = [
    [5.1, 3.5, 1.4, 0.2],
    [4.9, 3.0, 1.4, 0.2],
    [7.0, 3.2, 4.7, 1.4],
    [6.4, 3.2, 4.5, 1.5],
    [6.3, 3.3, 6.0, 2.5],
    [5.8, 2.7, 5.1, 1.9],
]
IRIS_TRUTH = [0, 0, 1, 1, 2, 2]  # the species of each row (iris samples 1, 2, 51, 52, 101, 102)


@dataclass
class Answer:
    """One request as the client saw it (times are time.monotonic())."""

    started: float
    finished: float
    replica: int
    user: str
    status: int  # 0 when the request never got an HTTP answer
    variant: str = ""
    version: str = ""
    error: str = ""
    request_id: str = ""
    row: int = -1  # index into IRIS_ROWS
    prediction: Any = None

    @property
    def latency_ms(self) -> float:
        return (self.finished - self.started) * 1000.0


@dataclass
class LoadGenerator:
    """Closed-loop load: `connections` tasks, each sending its next request on an answer."""

    urls: list[str]
    sticky_header: str
    users: int = 200
    connections: int = 6
    seed: int = 7
    answers: list[Answer] = field(default_factory=list)
    live: set[int] = field(default_factory=set)
    _stop: asyncio.Event | None = None
    _turn: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.live = set(range(len(self.urls)))

    def remove(self, replica: int) -> None:
        """Take a replica out of the rotation (its endpoint is gone); in-flight ones finish."""
        self.live.discard(replica)

    def stop(self) -> None:
        """Let every connection finish its current request, then end."""
        if self._stop is not None:
            self._stop.set()

    async def run(self) -> list[Answer]:
        """Send requests until stop(); returns every answer."""
        self._stop = asyncio.Event()
        limits = httpx.Limits(max_connections=self.connections * len(self.urls))
        async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
            await asyncio.gather(*(self._connection(client, i) for i in range(self.connections)))
        return self.answers

    async def _connection(self, client: httpx.AsyncClient, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        assert self._stop is not None
        while not self._stop.is_set():
            live = sorted(self.live)
            if not live:
                return
            replica = live[next(self._turn) % len(live)]
            user = f"user-{rng.randrange(self.users)}"
            row = rng.randrange(len(IRIS_ROWS))
            self.answers.append(await self._send(client, replica, user, row))

    async def _send(self, client: httpx.AsyncClient, replica: int, user: str, row: int) -> Answer:
        body = orjson.dumps({"inputs": [IRIS_ROWS[row]]})
        headers = {"Content-Type": "application/json", self.sticky_header: user}
        started = time.monotonic()
        try:
            resp = await client.post(
                self.urls[replica] + "/invocations", content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            return Answer(started, time.monotonic(), replica, user, 0, error=repr(exc), row=row)
        ok = resp.status_code == 200
        return Answer(
            started,
            time.monotonic(),
            replica,
            user,
            resp.status_code,
            resp.headers.get("x-trk-variant", ""),
            resp.headers.get("x-trk-model-version", ""),
            "" if ok else resp.text[:200],
            resp.headers.get("x-request-id", ""),
            row,
            orjson.loads(resp.content)["predictions"][0] if ok else None,
        )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100.0 * len(ordered)) - 1))]
