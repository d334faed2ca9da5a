"""Routing benchmark: shadow overhead beside single-model serving, and an alias swap under load.

    .venv/bin/python loadtest/bench_routing.py [--seconds 6] [--swap-seconds 30] [--rounds 5]

Starts real `trk-serve` processes on loopback against a throwaway sqlite registry with
iris models: a champion (logistic regression), a challenger as fast as the champion (the
same estimator with another C) and a challenger that sleeps 1 s per call. The load comes
from an asyncio keep-alive client in this process, which records every request's start,
end, status and `X-Trk-Model-Version`, so the swap scenario can say which version answered
each request. Prints markdown tables. Loopback only; every server is stopped by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

TRK_SERVE = str(Path(sys.executable).parent / "trk-serve")
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
BODY = (
    b'{"dataframe_split": {"columns": ["sepal length (cm)", "sepal width (cm)", '
    b'"petal length (cm)", "petal width (cm)"], "data": [[6.1, 2.8, 4.7, 1.2]]}}'
)


class SlowModel:
    """A challenger that takes 1 s per call (pickled by value: defined in __main__)."""

    def load_context(self, context):
        pass

    def predict(self, context, model_input, params=None):
        time.sleep(1.0)
        return np.zeros(len(model_input), dtype=np.int64)


# -- registry -------------------------------------------------------------------------------
def register(root: Path) -> dict[str, str]:
    """iris v1 (champion), v2 (fast challenger), v3 (slow challenger); returns the env."""
    env = {
        "TRK_TRACKING_URI": f"sqlite:///{root / 'trk.db'}",
        "TRK_ARTIFACT_ROOT": str(root / "artifacts"),
        "TRK_MODEL_CACHE": str(root / "cache"),
    }
    os.environ.update(env)
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import trk
    import trk.pyfunc
    import trk.sklearn
    from trk.models.flavors.python_function import PythonModel

    iris = load_iris(as_frame=True)
    client = trk.Client(env["TRK_TRACKING_URI"])
    example = iris.data.iloc[:2]
    for c in (1.0, 0.5):
        est = LogisticRegression(C=c, max_iter=300).fit(iris.data, iris.target)
        with trk.start_run():
            trk.sklearn.log_model(
                est,
                name="model",
                registered_model_name="iris",
                input_example=example,
                serialization_format="cloudpickle",
            )
    slow = type("Slow", (PythonModel,), dict(vars(SlowModel)))
    with trk.start_run():
        trk.pyfunc.log_model(
            python_model=slow(), name="model", registered_model_name="iris", input_example=example
        )
    for alias, version in (("champion", 1), ("challenger", 2), ("slow", 3)):
        client.set_registered_model_alias("iris", alias, version)
    return env


# -- servers --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`trk-serve` as a subprocess, waited for until every variant has loaded."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        cmd = [TRK_SERVE, "--port", str(self.port), "--report-interval-s", "3600", *args]
        self.proc = subprocess.Popen(
            cmd,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"trk-serve exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                r = httpx.get(self.url + "/health", timeout=2)
                if r.status_code == 200 and all(
                    v["state"] != "loading" for v in r.json()["variants"]
                ):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.url} did not start")

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        Path(self.log.name).unlink(missing_ok=True)

    def metric(self, name: str, **labels: str) -> float:
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(self.url + "/metrics", timeout=10).text
        return sum(
            s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )


# -- load -----------------------------------------------------------------------------------
@dataclass
class Record:
    start: float
    end: float
    status: int
    version: str


async def _head(reader: asyncio.StreamReader) -> tuple[int, int, str]:
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    length, version = 0, ""
    for line in lines[1:]:
        key, _, value = line.partition(":")
        key = key.lower()
        if key == "content-length":
            length = int(value)
        elif key == "x-trk-model-version":
            version = value.strip()
    return int(lines[0].split()[1]), length, version


async def _load(port: int, connections: int, seconds: float, records: list[Record]) -> None:
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    writer.write(request)
                    status, length, version = await _head(reader)
                    await reader.readexactly(length)
                except (OSError, asyncio.IncompleteReadError):
                    records.append(Record(started, time.perf_counter(), 0, ""))
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                records.append(Record(started, time.perf_counter(), status, version))
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))


def load(server: Server, connections: int, seconds: float) -> list[Record]:
    records: list[Record] = []
    asyncio.run(_load(server.port, connections, seconds, records))
    return records


def summary(records: list[Record], seconds: float) -> dict[str, float]:
    lat = sorted((r.end - r.start) * 1000 for r in records)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    return {
        "rps": len(records) / seconds,
        "p50": pick(0.50),
        "p99": pick(0.99),
        "errors": sum(r.status != 200 for r in records),
    }


# -- scenarios ------------------------------------------------------------------------------
def latency_scenarios(env: dict[str, str], seconds: float, rounds: int) -> list[dict]:
    champion = ["--model-uri", "models:/iris@champion"]
    shadow = [*champion, "--mode", "shadow"]
    cases = {
        "single (champion alone)": champion,
        "shadow, challenger as fast": [*shadow, "--challenger-uri", "models:/iris@challenger"],
        "shadow, challenger sleeps 1 s": [*shadow, "--challenger-uri", "models:/iris@slow"],
    }
    runs: dict[str, list[dict]] = {name: [] for name in cases}
    for _ in range(rounds):  # interleaved, so drift on a shared host hits every case alike
        for name, args in cases.items():
            with Server(env, *args) as server:
                load(server, 8, min(2.0, seconds))  # warm-up
                row = summary(load(server, 8, seconds), seconds)
                time.sleep(0.5)  # let the shadow worker finish counting
                for outcome in ("compared", "dropped", "timeout", "error"):
                    row[outcome] = server.metric("trk_shadow_requests_total", outcome=outcome)
                runs[name].append(row)
    rows = [
        {"case": name, **{k: statistics.median(r[k] for r in rows) for k in rows[0]}}
        for name, rows in runs.items()
    ]
    # Ratios within each round (cases measured back to back), then their median: on a
    # shared host this is steadier than a ratio of medians.
    single, fast, slow = runs.values()
    rows[1]["ratio"] = statistics.median(
        f["p50"] / s["p50"] for s, f in zip(single, fast, strict=True)
    )
    rows[2]["ratio"] = statistics.median(
        w["p99"] / s["p99"] for s, w in zip(single, slow, strict=True)
    )
    return rows


def swap_scenario(env: dict[str, str], seconds: float, interval: float) -> dict:
    from trk.tracking.client import Client
    from trk.tracking.promotion import promote

    client = Client(env["TRK_TRACKING_URI"])
    client.set_registered_model_alias("iris", "champion", 1)
    client.delete_registered_model_alias("iris", "previous") if _has(client, "previous") else None
    args = ["--model-uri", "models:/iris@champion", "--reload-interval-s", str(interval)]
    with Server(env, *args) as server:
        loop_done: list[list[Record]] = []
        import threading

        thread = threading.Thread(target=lambda: loop_done.append(load(server, 16, seconds)))
        thread.start()
        time.sleep(seconds / 3)
        swapped_at = time.perf_counter()
        promote(client, "iris")  # champion 1 -> 2
        thread.join()
    records = loop_done[0]
    new = [r for r in records if r.version == "2"]
    first_new = min((r.end for r in new), default=float("nan"))
    return {
        "requests": len(records),
        "failed": sum(r.status != 200 for r in records),
        "old_after_first_new": sum(r.version == "1" and r.start > first_new for r in records),
        "old_after_swap_plus_interval": sum(
            r.version == "1" and r.start > swapped_at + interval for r in records
        ),
        "first_new_after_s": first_new - swapped_at,
        **summary(records, seconds),
    }


def _has(client, alias: str) -> bool:  # noqa: ANN001
    from trk.tracking.promotion import alias_version

    return alias_version(client, "iris", alias) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--swap-seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reload-interval-s", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trk-bench-routing-") as tmp:
        env = register(Path(tmp))
        rows = latency_scenarios(env, args.seconds, args.rounds)
        swap = swap_scenario(env, args.swap_seconds, args.reload_interval_s)
    print(f"\n### Shadow overhead (8 connections, 1-row iris, median of {args.rounds} rounds)\n")
    print("| case | req/s | p50 ms | p99 ms | errors | shadow compared | dropped | timeout |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['case']} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['errors']:.0f} | {r['compared']:.0f} | {r['dropped']:.0f} | {r['timeout']:.0f} |"
        )
    print(
        f"\nshadow (fast) p50 / single p50 = {rows[1]['ratio']:.2f}x, median of per-round "
        "ratios (target <= 1.15x)"
    )
    print(f"shadow (sleeps 1 s) p99 / single p99 = {rows[2]['ratio']:.2f}x (target <= 1.2x)")
    print(
        f"\n### Alias swap under load (16 connections, {args.swap_seconds:.0f} s, "
        f"--reload-interval-s {args.reload_interval_s:g})\n"
    )
    for key, value in swap.items():
        print(f"- {key}: {value:.3f}" if isinstance(value, float) else f"- {key}: {value}")


if __name__ == "__main__":
    main()
