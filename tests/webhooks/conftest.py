"""Webhook fixtures: receivers on 127.0.0.1, and `trk server` allowed to call them.

The allow-list names endpoints (scheme, host and port), so the receivers a test may use are
started before its server: `receiver` and the next `POOL - 1` of `make_receiver` are ones
`hook_server` allows.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The server suite keeps `start_server` beside its conftest; reuse it rather than copy it.
_SERVER_TESTS = str(Path(__file__).parent.parent / "server")
if _SERVER_TESTS not in sys.path:
    sys.path.insert(0, _SERVER_TESTS)

from receiver import Receiver, allow_list  # noqa: E402
from server_helpers import ServerProcess, start_server  # noqa: E402

# Quick retries so a test of three attempts takes well under a second of backoff.
FAST_RETRIES = {"TRK_WEBHOOK_BACKOFF_SECONDS": "0.1", "TRK_WEBHOOK_TIMEOUT_SECONDS": "3"}


POOL = 6


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    """Plain-http receivers, started: the ones `hook_server` allows."""
    pool = [Receiver().__enter__() for _ in range(POOL)]
    yield pool
    for r in pool:
        r.__exit__()


@pytest.fixture
def receiver(receivers: list[Receiver]) -> Receiver:
    return receivers[0]


@pytest.fixture
def make_receiver(receivers: list[Receiver]) -> Iterator[Callable[..., Receiver]]:
    """`make_receiver(answers=..., hang_s=...)`: the next pooled receiver, so configured;
    with `tls=`, a new one (its endpoint is allowed nowhere unless the test says so)."""
    spare, started = iter(receivers[1:]), []

    def make(answers: list[int] | None = None, hang_s: float = 0.0, **kwargs: object) -> Receiver:
        if kwargs:
            r = Receiver(answers, hang_s, **kwargs).__enter__()  # type: ignore[arg-type]
            started.append(r)
            return r
        r = next(spare)
        r.answers, r.hang_s = list(answers or []), hang_s
        return r

    yield make
    for r in started:
        r.__exit__()


@pytest.fixture
def start_trk_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """`start_trk_server(*flags)`: `trk server` on its own sqlite file; all stopped by pid."""
    started: list[ServerProcess] = []

    def start(*flags: str) -> ServerProcess:
        n = len(started)
        backend = f"sqlite:///{tmp_path / f'hooks{n}.db'}"
        log = tmp_path / f"hooks{n}.log"
        server = start_server(backend, str(tmp_path / f"art{n}"), log, *flags, env=FAST_RETRIES)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill(signal.SIGTERM)


@pytest.fixture
def hook_server(
    start_trk_server: Callable[..., ServerProcess], receivers: list[Receiver]
) -> ServerProcess:
    """`trk server` that may call the pooled receivers (and nothing else non-public)."""
    return start_trk_server("--webhook-allow-hosts", allow_list(receivers))
