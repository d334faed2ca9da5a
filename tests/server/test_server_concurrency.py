"""Many client processes logging at once lose nothing; `kill -9` keeps acknowledged writes."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from trk.entities import Metric
from trk.exceptions import TrkError
from trk.store import get_store
from trk.store.engine import dispose_engine
from trk.store.rest import RestStore

CLIENTS = 16
PER_CLIENT = 100


def _log(url: str, run_id: str, worker: int, count: int, acks: str | None) -> None:
    """One client process: `count` log_metric calls; each acknowledged step goes to `acks`."""
    store = RestStore(url, retries=2)
    out = open(acks, "a") if acks else None
    try:
        for step in range(count):
            try:
                store.log_metric(run_id, Metric(f"w{worker}", float(step), 1000 + step, step))
            except TrkError:
                return  # the server is gone: stop, as a real client would after retries
            if out:
                out.write(f"{step}\n")
                out.flush()
    finally:
        store.transport.close()
        if out:
            out.close()


def _spawn(url: str, run_id: str, count: int, ack_dir: Path | None) -> list:
    ctx = multiprocessing.get_context("fork")  # the test process already imported trk
    procs = []
    for worker in range(CLIENTS):
        acks = str(ack_dir / f"w{worker}") if ack_dir else None
        proc = ctx.Process(target=_log, args=(url, run_id, worker, count, acks))
        proc.start()
        procs.append(proc)
    return procs


def test_concurrent_clients_lose_nothing(backend_uri, server_factory, rest_stores):
    server = server_factory(backend_uri)
    store = rest_stores(server.url)
    run_id = store.create_run("0").info.run_id
    for proc in _spawn(server.url, run_id, PER_CLIENT, None):
        proc.join(timeout=240)
        assert proc.exitcode == 0
    for worker in range(CLIENTS):
        history = store.get_metric_history(run_id, f"w{worker}")
        assert sorted(m.step for m in history) == list(range(PER_CLIENT)), worker


def test_kill_9_keeps_every_acknowledged_write(backend_uri, server_factory, tmp_path, rest_stores):
    server = server_factory(backend_uri)
    run_id = rest_stores(server.url).create_run("0").info.run_id
    ack_dir = tmp_path / "acks"
    ack_dir.mkdir()
    procs = _spawn(server.url, run_id, 10_000, ack_dir)  # far more than can finish

    deadline = time.monotonic() + 120
    while sum(len(p.read_text().split()) for p in ack_dir.iterdir()) < 300:
        assert time.monotonic() < deadline, "the load never got going"
        time.sleep(0.05)
    server.kill()  # SIGKILL mid-load: no shutdown, no flush
    for proc in procs:
        proc.join(timeout=120)

    store = get_store(backend_uri, default_artifact_root=str(tmp_path))
    try:
        total = 0
        for worker in range(CLIENTS):
            acked = {int(s) for s in (ack_dir / f"w{worker}").read_text().split()}
            stored = {m.step for m in store.get_metric_history(run_id, f"w{worker}")}
            assert acked <= stored, f"worker {worker} lost {sorted(acked - stored)[:5]}"
            total += len(acked)
        assert total >= 300
    finally:
        dispose_engine(backend_uri)
