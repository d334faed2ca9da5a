"""Benchmark `trk server` beside `mlflow server` on the same kind of backend (sqlite).

    .venv/bin/python loadtest/bench_tracking.py [--clients 16] [--per-client 500]
        [--batch 1000] [--runs 10000] [--only trk]

Each server runs as its own process on 127.0.0.1 with a fresh sqlite file, and is driven by
the `mlflow` client (the same client for both, so only the server differs):
1. `--clients` processes each make `--per-client` log_metric calls at once; writes/s, and a
   count of the rows kept afterwards (nothing may be lost);
2. one log_batch of `--batch` metrics (median of 3);
3. search_runs with a metric filter over `--runs` runs (seeded through the server's own store
   code beforehand, untimed; all matching pages fetched; median of 3).
Prints a markdown table with the issue's goals. Bounded: every wait has a timeout.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SEED_TRK = """
import sys, time
from trk.entities import Metric
from trk.store import get_store
store = get_store(sys.argv[1], default_artifact_root="mlflow-artifacts:/")
exp = store.create_experiment("search")
for i in range(int(sys.argv[2])):
    run = store.create_run(exp, start_time=1000 + i)
    store.log_batch(run.info.run_id, metrics=[Metric("m", (i % 100) / 100, 1000, 0)])
print(exp)
"""
SEED_MLFLOW = """
import sys
from mlflow.entities import Metric
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
store = SqlAlchemyStore(sys.argv[1], "mlflow-artifacts:/")
exp = store.create_experiment("search")
for i in range(int(sys.argv[2])):
    run = store.create_run(exp, "bench", 1000 + i, [], None)
    store.log_batch(run.info.run_id, metrics=[Metric("m", (i % 100) / 100, 1000, 0)],
                    params=[], tags=[])
print(exp)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_cmd(kind: str, db: str, dest: str, port: int) -> list[str]:
    if kind == "trk":
        return [
            sys.executable,
            "-m",
            "trk.server",
            "--backend-store-uri",
            db,
            "--artifacts-destination",
            dest,
            "--port",
            str(port),
        ]
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        db,
        "--artifacts-destination",
        dest,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def start(kind: str, workdir: Path) -> tuple[subprocess.Popen, str, str]:
    db = f"sqlite:///{workdir / f'{kind}.db'}"
    port = free_port()
    log = open(workdir / f"{kind}.log", "wb")
    proc = subprocess.Popen(
        server_cmd(kind, db, str(workdir / f"{kind}-artifacts"), port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url, db
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    stop(proc)
    raise SystemExit(f"{kind} server did not start; see {workdir / f'{kind}.log'}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _client_proc(url: str, run_id: str, worker: int, count: int, barrier) -> None:  # noqa: ANN001
    from mlflow import MlflowClient

    client = MlflowClient(url)
    barrier.wait(timeout=300)
    for step in range(count):
        client.log_metric(run_id, f"w{worker}", float(step), timestamp=1000 + step, step=step)


def concurrent_load(url: str, clients: int, per_client: int) -> tuple[float, int]:
    """(writes/s, rows kept) for `clients` processes x `per_client` log_metric calls."""
    from mlflow import MlflowClient

    client = MlflowClient(url)
    run_id = client.create_run(client.create_experiment(f"load-{time.time()}")).info.run_id
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    procs = [
        ctx.Process(target=_client_proc, args=(url, run_id, w, per_client, barrier))
        for w in range(clients)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)  # every client imported and connected: start the clock
    t0 = time.perf_counter()
    for p in procs:
        p.join(timeout=1800)
    elapsed = time.perf_counter() - t0
    kept = sum(len(client.get_metric_history(run_id, f"w{w}")) for w in range(clients))
    return clients * per_client / elapsed, kept


def log_batch_s(url: str, size: int) -> float:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(url)
    exp = client.create_experiment(f"batch-{time.time()}")
    times = []
    for _ in range(3):
        run_id = client.create_run(exp).info.run_id
        metrics = [Metric(f"k{i % 50}", float(i), 1000 + i, i) for i in range(size)]
        t0 = time.perf_counter()
        client.log_batch(run_id, metrics=metrics)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def search_s(url: str, exp_id: str) -> tuple[float, int]:
    from mlflow import MlflowClient

    client = MlflowClient(url)
    times, found = [], 0
    for _ in range(3):
        t0, found, token = time.perf_counter(), 0, None
        while True:
            page = client.search_runs(
                [exp_id], "metrics.m >= 0.5", max_results=1000, page_token=token
            )
            found += len(page)
            token = page.token
            if not token:
                break
        times.append(time.perf_counter() - t0)
    return statistics.median(times), found


def bench(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    db = f"sqlite:///{workdir / f'{kind}.db'}"
    seed = SEED_TRK if kind == "trk" else SEED_MLFLOW
    print(f"[{kind}] seeding {args.runs} runs ...", file=sys.stderr)
    done = subprocess.run(
        [sys.executable, "-c", seed, db, str(args.runs)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    exp_id = done.stdout.strip().splitlines()[-1]
    proc, url, _ = start(kind, workdir)
    try:
        print(f"[{kind}] {args.clients} x {args.per_client} log_metric ...", file=sys.stderr)
        rate, kept = concurrent_load(url, args.clients, args.per_client)
        print(f"[{kind}] log_batch / search_runs ...", file=sys.stderr)
        batch = log_batch_s(url, args.batch)
        search, found = search_s(url, exp_id)
    finally:
        stop(proc)
    return {"writes_s": rate, "kept": kept, "batch_s": batch, "search_s": search, "found": found}


def table(results: dict[str, dict[str, float]], args: argparse.Namespace) -> str:
    expected = args.clients * args.per_client
    rows = [
        ("log_metric writes/s (higher is better)", "writes_s", "{:.0f}", 5.0, True),
        (f"log_batch of {args.batch} metrics, s", "batch_s", "{:.3f}", 2.0, False),
        (f"search_runs over {args.runs} runs, s", "search_s", "{:.3f}", 2.0, False),
    ]
    kinds = list(results)
    out = [
        "| measure | " + " | ".join(kinds) + " | trk vs mlflow | goal |",
        "|---" * (len(kinds) + 3) + "|",
    ]
    for label, key, fmt, goal, higher in rows:
        cells = [fmt.format(results[k][key]) for k in kinds]
        ratio = goal_txt = "-"
        if "trk" in results and "mlflow" in results:
            t, m = results["trk"][key], results["mlflow"][key]
            r = t / m if higher else m / t
            ratio = f"{r:.1f}x"
            goal_txt = f">= {goal:.0f}x: {'met' if r >= goal else 'NOT met'}"
        out.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {goal_txt} |")
    kept = ", ".join(f"{k}: {int(results[k]['kept'])}/{expected}" for k in kinds)
    found = ", ".join(f"{k}: {int(results[k]['found'])}" for k in kinds)
    return "\n".join(out) + f"\n\nrows kept after the load: {kept}\nsearch matches: {found}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--only", choices=["trk", "mlflow"], default=None)
    args = parser.parse_args()
    kinds = [args.only] if args.only else ["trk", "mlflow"]
    try:
        import mlflow  # noqa: F401  (the client drives both servers)
    except ImportError as exc:
        raise SystemExit(
            "the benchmark drives both servers with the mlflow client: pip install mlflow"
        ) from exc
    with tempfile.TemporaryDirectory(prefix="trk-bench-") as tmp:
        results = {kind: bench(kind, args, Path(tmp)) for kind in kinds}
    print(table(results, args))


if __name__ == "__main__":
    main()
