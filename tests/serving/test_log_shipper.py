"""The log shipper process: answers reach the store's log through it, a killed one is started
again without losing or doubling a row, a stuck one makes the log drop and count (answers
never wait) and /health say degraded, and SIGTERM drains every answer into the log.
Real parts: uvicorn (in a thread, or the `trk-serve` CLI), the shipper child, sqlite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serving_helpers import metric_value, stop_all, wait_until
from sqlalchemy import create_engine, func, select

from trk.store import schema

pytestmark = pytest.mark.e2e  # the trk-serve CLI, the shipper process
ROW = {"inputs": [[5.1, 3.5, 1.4, 0.2]]}


def logged(tracking_uri: str, prefix: str) -> int:
    """Rows in the store's prediction log whose request id starts with `prefix`."""
    log = schema.prediction_log
    engine = create_engine(tracking_uri)
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(log.c.request_id.like(prefix + "%"))
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def send(url: str, prefix: str, n: int, start: int = 0) -> list[int]:
    with httpx.Client(base_url=url, timeout=30) as http:
        return [
            http.post(
                "/invocations", json=ROW, headers={"x-request-id": f"{prefix}{i}"}
            ).status_code
            for i in range(start, start + n)
        ]


def shipper_pids(pid: int) -> list[int]:
    """The log shipper children of a serving process (found by their command line)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"trk.serving.online.shipper" in cmdline:
                out.append(int(child))
    return out


def test_a_killed_shipper_is_started_again_and_no_row_is_lost_or_doubled(serve_app, iris_env):
    server = serve_app()
    link = server.app.state.serving.shipper
    assert send(server.url, "kill-", 20) == [200] * 20
    wait_until(lambda: link.written == 20)
    first = link.proc.pid
    os.kill(first, signal.SIGKILL)
    assert send(server.url, "kill-", 20, start=20) == [200] * 20
    wait_until(lambda: link.restarts == 1 and link.proc.pid != first and link.backlog == 0)
    assert link.written == 40 and logged(iris_env.tracking_uri, "kill-") == 40
    text = httpx.get(server.url + "/metrics").text
    assert metric_value(text, "trk_prediction_log_shipper_restarts_total") == 1
    assert metric_value(text, "trk_prediction_log_rows_total") == 40
    assert os.getpgid(link.proc.pid) == link.proc.pid  # its own process group


def test_a_stuck_shipper_makes_the_log_drop_and_count_never_the_answer(serve_app, iris_env):
    server = serve_app(log_max_backlog=5, log_degraded_backlog=2)
    link = server.app.state.serving.shipper
    os.kill(link.proc.pid, signal.SIGSTOP)  # alive, reading nothing: acks stop
    try:
        assert send(server.url, "stuck-", 20) == [200] * 20
        # Each one-row answer, once folded, is either kept for the shipper or dropped.
        wait_until(lambda: link.backlog + link.dropped["queue_full"] == 20)
        health = httpx.get(server.url + "/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert "behind" in health.json()["degraded"]
        kept, dropped = link.backlog, link.dropped["queue_full"]
        text = httpx.get(server.url + "/metrics").text
    finally:
        os.kill(link.proc.pid, signal.SIGCONT)
    assert 0 < kept <= 5 and kept + dropped == 20
    assert metric_value(text, "trk_prediction_log_dropped_total", reason="queue_full") == dropped
    wait_until(lambda: link.backlog == 0)
    assert logged(iris_env.tracking_uri, "stuck-") == kept
    assert httpx.get(server.url + "/health").json()["status"] == "ready"


def test_sigterm_writes_every_answered_request_into_the_log(trk_serve, iris_env):
    proc, url = trk_serve("--model-uri", "models:/iris@champion")
    (child,) = shipper_pids(proc.pid)
    os.kill(child, signal.SIGSTOP)  # nothing is written before the shutdown: it must drain
    assert send(url, "term-", 50) == [200] * 50
    os.kill(proc.pid, signal.SIGTERM)
    os.kill(child, signal.SIGCONT)
    assert proc.wait(timeout=60) == 0
    assert logged(iris_env.tracking_uri, "term-") == 50
    wait_until(lambda: not Path(f"/proc/{child}").exists())  # the shipper exited with it


def _sidecar(sock: str, tracking_uri: str) -> subprocess.Popen[bytes]:
    """`trk log ship --listen SOCK` in its own process (and process group)."""
    trk = str(Path(sys.executable).parent / "trk")
    return subprocess.Popen(
        [trk, "log", "ship", "--listen", sock, "--tracking-uri", tracking_uri],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_a_sidecar_shipper_on_a_unix_socket_writes_the_log(serve_app, iris_env, tmp_path):
    """`trk log ship --listen PATH` in its own process; trk-serve connects instead of spawning."""
    sock = str(tmp_path / "ship.sock")
    sidecar = _sidecar(sock, iris_env.tracking_uri)
    try:
        wait_until(lambda: Path(sock).exists())
        server = serve_app(log_shipper_socket=sock)
        link = server.app.state.serving.shipper
        assert link.proc is None  # nothing spawned
        assert send(server.url, "side-", 10) == [200] * 10
        wait_until(lambda: link.written == 10)
        assert logged(iris_env.tracking_uri, "side-") == 10
        writer = link._writer
        stop_all([sidecar])
        # The sidecar's end of file closes trk-serve's side of the socket too (left open, it
        # was an fd per sidecar restart).
        wait_until(lambda: writer is not None and writer.is_closing())
    finally:
        stop_all([sidecar])


def test_a_sidecar_drops_frame_values_no_column_holds_and_keeps_writing(iris_env, tmp_path):
    """Any local process can write to the sidecar's socket: answers whose time is past BIGINT
    or not a number, or whose probability is outside [0, 1], are dropped and counted (the
    ack says so), the good answers of the same frame are written, and later frames are not
    held up behind a batch the store would refuse on every resend."""
    import socket

    sock_path = str(tmp_path / "ship.sock")
    sidecar = _sidecar(sock_path, iris_env.tracking_uri)

    def answer(rid: str, p: object = 1.0, at_ms: object = 1_000) -> list[object]:
        return [rid, "champion", "1", [1], p, at_ms, False, None, 1.0, 200]

    odd = [
        answer("odd-0", at_ms=2**63),
        answer("odd-1", at_ms=18446744073709551615),
        answer("odd-2", at_ms="soon"),
        answer("odd-3", p=2.0),
        answer("odd-4", p="high"),
    ]
    try:
        wait_until(lambda: Path(sock_path).exists())
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(sock_path)
            conn.settimeout(30)  # a batch retried forever would never be acknowledged
            acks = conn.makefile("rb")
            conn.sendall(b'{"hello": []}\n')
            frame = [1, "iris-lr", [answer("hostile-a"), *odd, answer("hostile-b")]]
            conn.sendall(json.dumps(frame).encode() + b"\n")
            first = json.loads(acks.readline())
            conn.sendall(json.dumps([2, "iris-lr", [answer("hostile-c")]]).encode() + b"\n")
            second = json.loads(acks.readline())
    finally:
        stop_all([sidecar])
    assert (first["ack"], first["rows"], first["dropped"]["unloggable"]) == (1, 2, len(odd))
    assert (second["ack"], second["rows"]) == (2, 3)
    assert logged(iris_env.tracking_uri, "hostile-") == 3
    assert logged(iris_env.tracking_uri, "odd-") == 0
