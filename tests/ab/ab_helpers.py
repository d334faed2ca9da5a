"""Helpers for the A/B tests: serving runs written into a store the way the reporter writes them."""

from __future__ import annotations

import time

import numpy as np

from trk.entities import Metric


def log_serving_run(
    client,
    model: str,
    variant: str,
    version: str,
    windows: list[dict[str, float]],
    host: str = "replica-0",
    start_ms: int | None = None,
    status: str = "FINISHED",
) -> str:
    """A serving run shaped like the reporter's: params, tags and one step per window."""
    name = f"serving/{model}"
    exp = client.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp else client.create_experiment(name)
    run = client.create_run(
        exp_id,
        tags={"trk.serving": "true", "trk.host": host, "trk.pid": "1"},
        run_name=f"{variant}-{host}",
    )
    rid = run.info.run_id
    for key, value in {
        "model_uri": f"models:/{model}@{variant}",
        "model_version": version,
        "variant": variant,
        "mode": "split",
        "weight": "0.5",
    }.items():
        client.log_param(rid, key, value)
    t0 = start_ms or int(time.time() * 1000) - 60_000 * len(windows)
    for step, values in enumerate(windows):
        ts = t0 + step * 60_000
        values = {"model_version": float(version), **values}
        client.log_batch(rid, [Metric(k, float(v), ts, step) for k, v in values.items()])
    client.set_terminated(rid, status)
    return rid


def window(
    requests: int,
    labelled: int,
    correct: int,
    errors: int = 0,
    p50: float = 5.0,
    p99: float = 20.0,
    **extra: float,
) -> dict[str, float]:
    """One report window's metrics, ratios derived from the counts as the reporter does."""
    w = {
        "requests": requests,
        "errors": errors,
        "error_rate": errors / requests if requests else 0.0,
        "latency_p50_ms": p50,
        "latency_p95_ms": (p50 + p99) / 2,
        "latency_p99_ms": p99,
        "throughput_rps": requests / 60,
        "labelled": labelled,
        "correct": correct,
    }
    if labelled:
        w["accuracy"] = correct / labelled
    w.update(extra)
    return w


def simulate(
    client,
    model: str,
    accuracies: dict[str, float],
    replicas: int = 3,
    windows: int = 4,
    labelled: int = 150,
    seed: int = 0,
    p50: dict[str, float] | None = None,
    versions: dict[str, str] | None = None,
) -> dict[str, tuple[int, int]]:
    """Log `replicas` runs per variant with binomial correct counts; returns true totals."""
    rng = np.random.default_rng(seed)
    totals: dict[str, tuple[int, int]] = {}
    for variant, acc in accuracies.items():
        correct_total = 0
        for r in range(replicas):
            wins = []
            for _ in range(windows):
                c = int(rng.binomial(labelled, acc))
                correct_total += c
                lat = (p50 or {}).get(variant, 5.0) + float(rng.normal(0, 0.2))
                wins.append(window(labelled + 10, labelled, c, errors=1, p50=lat, p99=lat * 4))
            version = (versions or {}).get(variant, "1" if variant == "champion" else "2")
            log_serving_run(client, model, variant, version, wins, host=f"replica-{r}")
        totals[variant] = (correct_total, replicas * windows * labelled)
    return totals
