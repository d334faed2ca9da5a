"""Issue 14: a report window whose `log_batch` reached the store but whose answer was lost is
logged again by the reporter, and stored once: each point appears once in the history that
A/B reports sum, through a real `trk server` on sqlite and PostgreSQL."""

from __future__ import annotations

import http.client
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from trk.serving.online.reporter import Reporter
from trk.serving.online.window_stats import VariantInfo
from trk.tracking.client import Client

sys.path.insert(0, str(Path(__file__).parent.parent / "server"))
from server_helpers import start_server  # noqa: E402

INFOS = [VariantInfo("champion", "models:/m@champion", "1", "split", 1.0)]


class LosingProxy:
    """Forwards HTTP/1.1 requests to `upstream`; the answers to the first `lose` requests whose
    path contains `path` are dropped (the connection closes after the upstream wrote)."""

    def __init__(self, upstream: str, path: str, lose: int) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.path, self.lose, self.lost = path, lose, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while line := reader.readline():
                method, target, _ = line.decode().split(" ", 2)
                headers = {}
                while (header := reader.readline()) not in (b"\r\n", b""):
                    key, value = header.decode().split(":", 1)
                    headers[key.strip()] = value.strip()
                body = reader.read(int(headers.get("Content-Length", "0")))
                upstream = http.client.HTTPConnection(self.upstream, timeout=30)
                upstream.request(method, target, body, headers)
                answer = upstream.getresponse()
                payload = answer.read()
                upstream.close()
                if self.path in target and self.lost < self.lose:
                    self.lost += 1  # the store wrote; the client never hears of it
                    return
                head = f"HTTP/1.1 {answer.status} {answer.reason}\r\n"
                head += "".join(
                    f"{k}: {v}\r\n" for k, v in answer.getheaders() if k.lower() != "connection"
                )
                conn.sendall(head.encode() + b"\r\n" + payload)
        finally:
            reader.close()
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def server_url(request, tmp_path) -> Iterator[str]:
    backend = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_uri")
    )
    server = start_server(backend, str(tmp_path / "artifacts"), tmp_path / "server.log")
    yield server.url
    server.kill(signal.SIGTERM)


def test_a_retried_window_is_stored_once(server_url):
    proxy = LosingProxy(server_url, "runs/log-batch", lose=2)
    client = Client(proxy.url)
    reporter = Reporter(
        lambda: client, "serving/m", lambda: INFOS, interval_s=3600, host="h1", retry_max_s=1
    )
    try:
        for step in range(3):
            for _ in range(step + 1):
                reporter.observe("champion", 0.01, ok=True)
            reporter.close_window()
        # Window 0 is written and its answer lost, twice; the client or the reporter sends it
        # again each time (whichever retries first), then windows 1 and 2.
        flushes = 1
        while not reporter.flush():
            flushes += 1
            assert flushes <= 5
        assert proxy.lost == 2 and reporter.pending == 0
        reader = Client(server_url)
        exp = reader.get_experiment_by_name("serving/m")
        (run,) = reader.search_runs([exp.experiment_id], "")
        history = reader.get_metric_history(run.info.run_id, "requests")
        assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 2.0), (2, 3.0)]
    finally:
        reporter.stop(timeout_s=5)
        proxy.close()
