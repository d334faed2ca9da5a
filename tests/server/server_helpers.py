"""Start and stop `trk server` subprocesses for the server tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from uvicorn_thread import free_port


@dataclass
class ServerProcess:
    url: str
    backend: str
    destination: str
    proc: subprocess.Popen
    log: Path

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=30)


def start_server(
    backend: str,
    destination: str,
    log: Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """`python -m trk.server` on a free port; returns once /health answers 200."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "trk.server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        destination,
        "--port",
        str(port),
        *extra,
    ]
    full_env = {**os.environ, **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    server = ServerProcess(f"http://127.0.0.1:{port}", backend, destination, proc, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"trk server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def run_mlflow_script(server_url: str, script: str, workdir: Path) -> str:
    """Run `script` with the real `mlflow` client aimed at a server; its stdout (must exit 0)."""
    env = {"MLFLOW_TRACKING_URI": server_url, "PATH": "/usr/bin:/bin", "HOME": str(workdir)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=workdir,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout
