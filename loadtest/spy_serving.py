"""Where a live trk-serve's event loop spends its time under the one-row load, from py-spy.

    pip install py-spy    # a sampling profiler; not a dependency of trk (run as root here)
    .venv/bin/python loadtest/spy_serving.py [--seconds 6] [--rounds 3] [--only trk_lr]
        [--ref ../main]   # another checkout's trk-serve, sampled in turns with this one

On a shared 2-core host a server's CPU per request moves by 10-20% from one round to the
next, so a change of a few microseconds hides in it. A part's share of the samples of the
serving process's main thread (the event loop, busy all the time under this load) moved by
1-3 points between rounds, and tells which part of the live server a change moved. Starts
the chosen servers on the benchmark's models (`bench_setup.py`), then in each round drives
each in turn with the one-row request at 8 connections while py-spy samples its main thread,
and prints each part's share (median over the rounds) and that share of the wall time of a
request. A part is a function on the stack: the share counts every sample it is in.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_serving import body, specs, start, stop
from bench_setup import build
from loadgen import run_load

RATE = 200  # samples a second
MAIN = "serve_main ("  # in every stack of the serving process's main thread
PARTS = [  # (what it is, the function py-spy names)
    ("one request (its ASGI task)", "RequestResponseCycle.run_asgi"),
    ("  DataPlane.infer", "DataPlane.infer"),
    ("    decode", "MlflowCodec.decode"),
    ("    model call", "PyFuncModel.predict_checked"),
    ("    encode", "MlflowCodec.encode"),
    ("  the answer's write (the socket)", "HeldWrites.write"),
    ("reading requests (httptools)", "HttpToolsProtocol.data_received"),
    ("the fold", "Folder.fold"),
    ("  request series", "RequestSeries.fold"),
    ("  predicted-class series", "RoutingMetrics.fold"),
    ("  feedback join", "FeedbackStore.fold"),
    ("  report windows", "Reporter.fold"),
    ("  drift", "DriftFold.fold"),
    ("  frame for the log shipper", "ShipperLink.fold"),
]


def shares(raw: Path) -> dict[str, float]:
    """Each part's share of the main thread's samples in a py-spy raw (collapsed) file."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if MAIN not in stack:
            continue
        total += int(n)
        for _, func in PARTS:
            if f";{func} (" in stack:
                counts[func] += int(n)
    return {func: counts[func] / total for _, func in PARTS} if total else {}


def sample(pid: int, url: str, payload: bytes, seconds: float) -> tuple[dict[str, float], float]:
    """(each part's share, requests a second) of one round of load on one server."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "spy.txt"
        spy = subprocess.Popen(
            ["py-spy", "record", "--format", "raw", "--rate", str(RATE)]
            + ["--duration", str(int(seconds)), "--pid", str(pid), "--output", str(raw)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        load = run_load(url, payload, 8, seconds + 1)  # covers the sampling's start and end
        spy.wait(timeout=60)
        return (shares(raw) if raw.exists() else {}), load.rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="sampling per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="trk_lr", help="comma-separated bench_serving keys")
    parser.add_argument("--ref", default=None, help="another trk checkout (with its .venv)")
    args = parser.parse_args()
    if shutil.which("py-spy") is None or shutil.which("wrk") is None:
        sys.exit("spy_serving: needs py-spy (pip install py-spy) and wrk (apt-get install wrk)")
    m = build(Path(tempfile.mkdtemp()))
    keys = args.only.split(",")
    if args.ref:
        keys += [k.replace("trk_", "ref_", 1) for k in keys]
    chosen = [s for s in specs(m, args.ref) if s.key in keys]
    running = []
    try:
        for spec in chosen:
            proc, url = start(spec, m)
            payload = body(m, 1, spec.form)
            run_load(url, payload, 8, 2)  # warm: the first requests load lazily
            running.append((spec, proc, url, payload))
        seen: dict[str, list[tuple[dict[str, float], float]]] = {}
        for _ in range(args.rounds):
            for spec, proc, url, payload in running:
                seen.setdefault(spec.key, []).append(sample(proc.pid, url, payload, args.seconds))
    finally:
        for _, proc, _, _ in running:
            stop(proc)
    for key, rounds in seen.items():
        rps = statistics.median(r for _, r in rounds)
        print(f"{key}: {rps:,.0f} req/s (median of {len(rounds)} rounds)")
        for name, func in PARTS:
            share = statistics.median(s.get(func, 0.0) for s, _ in rounds)
            print(f"  {name:<36} {100 * share:5.1f}%  {share * 1e6 / rps:6.1f} us a request")


if __name__ == "__main__":
    main()
