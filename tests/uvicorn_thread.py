"""A real uvicorn server for an in-process app, in a thread on a free loopback port.

For tests that need an app built in the test (a store with a planted bug, a store that is
down) but still want the HTTP stack the product runs on, not an in-process transport.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThreadServer:
    """uvicorn serving `app` until `stop()`, which runs the lifespan's shutdown."""

    def __init__(self, app: Any, **config: Any) -> None:
        """`config`: more uvicorn.Config options (loop, http, ...); host and port are ours."""
        self.port = free_port()
        options = {**config, "host": "127.0.0.1", "port": self.port, "log_level": "warning"}
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app

    def start(self, timeout: float = 90.0) -> ThreadServer:
        """Return once the socket listens (the app may still be loading)."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    def __enter__(self) -> ThreadServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
