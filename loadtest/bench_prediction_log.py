"""How fast the store takes the shared prediction log, and how long the report's join takes.

Appends batches of 1000 prediction rows (as a replica's writer sends them; every tenth
request answered by both variants, as in shadow mode), upserts labels for half the requests in batches of 1000 (as `trk ab label` sends them), then times `joined`
(the report's counts), `paired` (shadow mode) and `prune`. On PostgreSQL it also prints the
bytes per logged row (tables and indexes).

    python loadtest/bench_prediction_log.py --uri sqlite:///bench.db|postgresql://... [--rows 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from trk.contracts.predictions import PredictionRecord
from trk.store import get_store

BATCH = 1000


def run(uri: str, rows: int) -> dict[str, float]:
    log = get_store(uri, tempfile.mkdtemp()).predictions
    model = f"bench-{int(time.time())}"
    now = int(time.time() * 1000)
    out: dict[str, float] = {}
    records = [
        PredictionRecord(f"r{i}", 0, variant, version, str(i % 3), None, 0.5, now)
        for i in range(rows)
        for variant, version in (("champion", "1"), ("challenger", "2"))
        if (variant == "champion") == (i % 2 == 0) or i % 10 == 0  # every 10th: both answered
    ]
    started = time.perf_counter()
    for start in range(0, len(records), BATCH):
        log.log_predictions(model, records[start : start + BATCH])
    out["append_rows_per_s"] = len(records) / (time.perf_counter() - started)
    started = time.perf_counter()
    labelled = rows // 2
    for start in range(0, labelled, BATCH):
        items = [
            {"request_id": f"r{i}", "label": (i + i // 7) % 3}
            for i in range(start, min(start + BATCH, labelled))
        ]
        log.log_labels(model, items)
    out["label_rows_per_s"] = labelled / (time.perf_counter() - started)
    for what in ("joined", "paired"):
        started = time.perf_counter()
        getattr(log, what)(model)
        out[f"{what}_ms"] = (time.perf_counter() - started) * 1000
    if uri.startswith("postgres"):
        out["bytes_per_logged_row"] = _bytes_per_row(log, len(records))
    started = time.perf_counter()
    log.prune(now + 1, model)
    out["prune_ms"] = (time.perf_counter() - started) * 1000
    return out


def _bytes_per_row(log: object, rows: int) -> float:
    from sqlalchemy import text

    with log._engine.connect() as conn:  # type: ignore[attr-defined]
        size = conn.execute(
            text(
                "SELECT pg_total_relation_size('prediction_log')"
                " + pg_total_relation_size('prediction_labels')"
            )
        ).scalar()
    return float(size) / rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--rows", type=int, default=200_000)
    ns = parser.parse_args()
    for key, value in run(ns.uri, ns.rows).items():
        print(f"{key:24} {value:,.1f}")


if __name__ == "__main__":
    main()
