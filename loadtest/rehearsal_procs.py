"""Processes of the rehearsal: start on a free port, wait until ready, drain with SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    """A port nothing listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    """One child process with its log file; stopped by its own pid only."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_s: float = 0.0
    drain_s: float = 0.0
    exit_code: int | None = None
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        """Start it, output to its log file."""
        self.started_at = time.monotonic()
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=out)
        return self

    def wait_ready(self, path: str, timeout_s: float = 90.0) -> None:
        """Poll `path` until it answers 200; fail with the log's tail if the process dies."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.popen.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + path, timeout=2.0).status_code == 200:
                    self.ready_s = time.monotonic() - self.started_at
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} not ready on {path} after {timeout_s:.0f} s:\n{self.tail()}"
        )

    def drain(self, grace_s: float) -> int | None:
        """SIGTERM, then wait up to the grace period (the kubelet would SIGKILL after it)."""
        assert self.popen is not None
        sent = time.monotonic()
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            self.exit_code = None  # did not drain within the grace period
        self.drain_s = time.monotonic() - sent
        return self.exit_code

    def kill(self) -> None:
        """Cleanup on any failure: SIGKILL if it is still running."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def tail(self, chars: int = 3000) -> str:
        """The end of its log, for error messages."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
