"""How fast the capture writes, and how long `trk ab report --capture-uri` takes over it.

writer: CaptureRecords (one-row answers with one-row inputs of four columns) through
`CaptureWriter.add` into files of 200,000 rows, published to a local directory; sink: the same
answers as the log shipper hands them, in batches of 100 through `CaptureSink.write` (each
batch journaled before it would be acknowledged) and `idle`. Both as rows per second of this
process's CPU time (one core: the writer is single-threaded). shipper: what the capture adds
to the log shipper per one-row answer, the shipper itself (`Shipper.run`, reading and
decoding trk-serve's frames as they arrive, batching, the collector) with the capture sink
over frames carrying the rows, against the same shipper with no sink over frames without.

report: a capture of --report-rows rows (two variants, one hour partition per 1M rows, labels
for a tenth), written directly with pyarrow, then `capture_report` (DuckDB over the files) the
way `trk ab report MODEL --capture-uri DIR` runs it; wall time, and the DuckDB threads it had.

    python loadtest/bench_capture.py [--rows 200000] [--report-rows 10000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet  # noqa: F401  (imported once by any capture; not counted per answer)

from trk.capture import layout
from trk.capture.config import CaptureConfig
from trk.capture.report import capture_report
from trk.capture.rows import CaptureRecord
from trk.capture.sink import CaptureSink
from trk.capture.writer import CaptureWriter
from trk.serving.online.records import Record
from trk.serving.online.shipper import Shipper
from trk.serving.online.shipping import Shipped, encode_frame, item

T0 = 1_796_515_200_000  # 2026-12-06 00:00 UTC
PER_FILE = 1_000_000


def bench_writer(rows: int, root: Path) -> dict[str, float]:
    writer = CaptureWriter(CaptureConfig(str(root / "w"), spool_dir=root / "w-spool"))
    now = int(time.time() * 1000)
    recs = [
        CaptureRecord(
            f"{i:032x}",
            now + i,
            "bench",
            "champion" if i % 3 else "challenger",
            "1" if i % 3 else "2",
            0.67,
            200,
            3.5,
            [i % 3],
            [[5.1, 3.5, 1.4, 0.2]],
        )
        for i in range(rows)
    ]
    cpu, wall = time.process_time(), time.perf_counter()
    for rec in recs:
        writer.add(rec)
    writer.drain(60)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"writer_rows_per_cpu_s": rows / cpu, "writer_rows_per_wall_s": rows / wall}


def bench_sink(rows: int, root: Path) -> dict[str, float]:
    """The shipper's path: batches of 100 through CaptureSink.write (journaled) and idle."""
    sink = CaptureSink(CaptureConfig(str(root / "s"), spool_dir=root / "s-spool"))
    now = int(time.time() * 1000)
    items = [  # as the shipper decodes them from trk-serve's frames
        Shipped(
            f"{i:032x}",
            "champion" if i % 3 else "challenger",
            "1" if i % 3 else "2",
            [i % 3],
            0.67,
            now + i,
            False,
            [[5.1, 3.5, 1.4, 0.2]],
            3.5,
            200,
        )
        for i in range(rows)
    ]
    cpu = time.process_time()
    for start in range(0, rows, 100):
        sink.write("bench", items[start : start + 100])
        sink.idle()
    sink.drain(60)
    return {"sink_rows_per_cpu_s": rows / (time.process_time() - cpu)}


def write_capture(root: Path, rows: int) -> None:
    """`rows` captures of model `bench` (and labels for a tenth) straight from numpy."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    labelled_ids, labels = [], []
    for f, start in enumerate(range(0, rows, PER_FILE)):
        n = min(PER_FILE, rows - start)
        at = T0 + f * 3_600_000 + np.arange(n, dtype=np.int64) * (3_600_000 // PER_FILE)
        ids = np.char.add("r", np.arange(start, start + n).astype(str))
        challenger = rng.random(n) < 0.3
        truth = rng.integers(0, 3, n)
        right = rng.random(n) < np.where(challenger, 0.9, 0.7)
        pred = np.where(right, truth, (truth + 1) % 3)
        table = pa.table(
            {
                "request_id": ids,
                "timestamp": pa.array(at, pa.timestamp("ms", tz="UTC")),
                "model": np.full(n, "bench"),
                "variant": np.where(challenger, "challenger", "champion"),
                "version": np.where(challenger, "2", "1"),
                "routing_probability": np.where(challenger, 0.3, 0.7),
                "status": np.full(n, 200, dtype=np.int32),
                "latency_ms": rng.gamma(2.0, 2.0, n),
                "prediction": np.char.add(np.char.add("[", pred.astype(str)), "]"),
                "inputs": np.full(n, "[[5.1,3.5,1.4,0.2]]"),
            },
            schema=layout.capture_schema(),
        )
        date, hour = layout.hour_of(int(at[0]))
        part = root / layout.capture_dir("bench", date, hour)
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, part / layout.part_name(), compression="zstd")
        keep = rng.random(n) < 0.1
        labelled_ids.append(ids[keep])
        labels.append(truth[keep].astype(str))
    ids, lab = np.concatenate(labelled_ids), np.concatenate(labels)
    part = root / layout.label_dir("bench", "2026-12-06")
    part.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "request_id": ids,
            "label": lab,
            "timestamp": pa.array(np.full(len(ids), T0 + 86_000_000), pa.timestamp("ms", tz="UTC")),
        }
    )
    pq.write_table(table, part / layout.part_name(), compression="zstd")


def bench_report(rows: int, root: Path) -> dict[str, float]:
    out = {}
    if not (root / "r").exists():  # a --dir kept from an earlier run is reused
        started = time.perf_counter()
        write_capture(root / "r", rows)
        out["generate_s"] = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    report = capture_report(str(root / "r"), "bench")
    out["report_s"] = time.perf_counter() - started
    out["report_cpu_s"] = time.process_time() - cpu  # all DuckDB threads together
    out["report_requests"] = sum(v.requests for v in report.variants)
    out["report_labelled"] = sum(v.labelled for v in report.variants)
    out["cpus"] = os.cpu_count() or 0
    return out


def _frames(answers: int, inputs: bool) -> list[bytes]:
    """trk-serve's frames of one-row answers (30 a frame: a 5 ms fold at 6,000 req/s)."""
    x, at = np.array([[5.1, 3.5, 1.4, 0.2]]), int(time.time() * 1000)
    records = [
        Record(f"{i:032x}", 0.0, "champion", "1", "bench", 1.0, 200, 3e-4, np.array([i % 3]), x)
        for i in range(answers)
    ]
    return [
        encode_frame(k, "bench", [item(r, at + k, inputs) for r in records[k : k + 30]])
        for k in range(0, answers, 30)
    ]


class _Paced:
    """Frames arriving over time (10 every 15 ms), so the shipper holds a batch, not all."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames

    def __iter__(self) -> Any:
        for i, frame in enumerate(self.frames):
            if i % 10 == 0:
                time.sleep(0.015)
            yield frame


def bench_shipper(answers: int, root: Path) -> dict[str, float]:
    """The capture's cost in the log shipper per one-row answer: a shipper with the capture
    sink over frames carrying the rows, minus one with no sink over frames without (reading,
    decoding, the sink, and the collector's share), CPU of the process, best of 3."""

    def run(capture: bool, k: int) -> float:
        cfg = CaptureConfig(str(root / f"h{k}"), spool_dir=root / f"h{k}-spool")
        sinks: list[Any] = [CaptureSink(cfg)] if capture else []
        frames = _frames(answers, capture)
        cpu = time.process_time()
        Shipper(sinks, _Paced(frames), io.BytesIO()).run()
        return (time.process_time() - cpu) / answers * 1e6

    off = min(run(False, k) for k in range(3))
    on = min(run(True, k) for k in range(3))
    return {"shipper_us_per_answer_capture_off": off, "shipper_us_per_answer_capture_on": on}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--report-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--dir", default=None, help="Scratch directory, kept (default: a temporary one)."
    )
    ns = parser.parse_args()
    root = Path(ns.dir or tempfile.mkdtemp(prefix="trk-bench-capture-"))
    try:
        results = {}
        if ns.rows:
            results |= bench_writer(ns.rows, root)
            results |= bench_sink(ns.rows, root)
            results |= bench_shipper(min(ns.rows, 30_000), root)
        if ns.report_rows:
            results |= bench_report(ns.report_rows, root)
        for key, value in results.items():
            print(f"{key:24} {value:,.1f}")
    finally:
        if ns.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
