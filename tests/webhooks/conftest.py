"""Webhook fixtures: a receiver on 127.0.0.1, and `trk server` allowed to call it."""

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

from receiver import Receiver  # noqa: E402
from server_helpers import ServerProcess, start_server  # noqa: E402

# Quick retries so a test of three attempts takes well under a second of backoff.
FAST_RETRIES = {"TRK_WEBHOOK_BACKOFF_SECONDS": "0.1", "TRK_WEBHOOK_TIMEOUT_SECONDS": "3"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(**kwargs: object) -> Receiver:
        r = Receiver(**kwargs).__enter__()  # type: ignore[arg-type]
        started.append(r)
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
def hook_server(start_trk_server: Callable[..., ServerProcess]) -> ServerProcess:
    """`trk server` that may call receivers on 127.0.0.1 (and nothing else non-public)."""
    return start_trk_server("--webhook-allow-hosts", "127.0.0.1")
