"""Metric history endpoints: one run's history (paged), and the UI's bulk reads."""

from __future__ import annotations

from typing import Any

from trk.contracts.api import runs as api
from trk.contracts.api.fields import missing
from trk.entities import Metric
from trk.exceptions import InvalidParameter
from trk.server.endpoint import Endpoint, ServerContext
from trk.server.runs import run_id_of
from trk.store.mlflow_json import float_out, metric_to_json
from trk.store.search import decode_page_token, encode_page_token
from trk.store.validation import check_max_results

MAX_BULK_RUNS = 100  # MLflow's limit for both bulk reads
BULK_MAX_RESULTS = 25000
INTERVAL_MAX_RESULTS = 2500


def history(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    """All of it without `max_results`; else one page and a token for the next."""
    metrics = ctx.store.get_metric_history(run_id_of(p), p["metric_key"])
    offset = decode_page_token(p.get("page_token"))
    size = p.get("max_results")
    end = len(metrics) if size is None else offset + check_max_results(size)
    out: dict[str, Any] = {"metrics": [metric_to_json(m) for m in metrics[offset:end]]}
    if end < len(metrics):
        out["next_page_token"] = encode_page_token(end)
    return out


def _with_run(run_id: str, m: Metric) -> dict[str, Any]:
    value = float_out(m.value)
    return {
        "key": m.key,
        "value": value,
        "timestamp": m.timestamp,
        "step": m.step,
        "run_id": run_id,
    }


def _bulk_runs(p: dict[str, Any], what: str, field: str) -> list[str]:
    run_ids = [r for r in p.get(field) or () if r]
    if not run_ids:
        if field == "run_ids":
            raise missing("run_ids")
        raise InvalidParameter(f"{what} request must specify at least one run_id.")
    if len(run_ids) > MAX_BULK_RUNS:
        if field == "run_ids":
            raise InvalidParameter(f"{what} request must specify at most {MAX_BULK_RUNS} run_ids.")
        raise InvalidParameter(f"{what} request cannot specify more than {MAX_BULK_RUNS} run_ids.")
    return run_ids


def history_bulk(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    """One metric's history for several runs, by run id, then step and time."""
    run_ids = _bulk_runs(p, "GetMetricHistoryBulk", "run_id")
    if not p.get("metric_key"):
        raise InvalidParameter("GetMetricHistoryBulk request must specify a metric_key.")
    limit = min(p.get("max_results") or BULK_MAX_RESULTS, BULK_MAX_RESULTS)
    out = [
        _with_run(run_id, m)
        for run_id in sorted(set(run_ids))
        for m in ctx.store.get_metric_history(run_id, p["metric_key"])
    ]
    return {"metrics": out[:limit]}


def _sample(steps: list[int], max_results: int) -> set[int]:
    """At most `max_results` evenly spaced steps, the first and the last always among them."""
    if len(steps) <= max_results:
        return set(steps)
    stride = max(1, len(steps) // max_results)
    return {*steps[::stride][:max_results], steps[-1]}


def history_bulk_interval(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    """A sample of steps (each run's first and last kept) in [start_step, end_step]."""
    what = "GetMetricHistoryBulkInterval"
    run_ids = _bulk_runs(p, what, "run_ids")
    if not p.get("metric_key"):
        raise missing("metric_key")
    max_results = p.get("max_results", INTERVAL_MAX_RESULTS)
    if not 1 <= max_results <= INTERVAL_MAX_RESULTS:
        raise InvalidParameter(
            f"max_results must be between 1 and {INTERVAL_MAX_RESULTS}, got {max_results}."
        )
    start, end = p.get("start_step"), p.get("end_step")
    if (start is None) != (end is None):
        raise InvalidParameter(
            "If either start step or end step are specified, both must be specified."
        )
    if start is not None and end < start:
        raise InvalidParameter(f"end_step must be greater than start_step. Found {start} > {end}.")
    histories = {}
    for run_id in run_ids:
        metrics = ctx.store.get_metric_history(run_id, p["metric_key"])
        histories[run_id] = [
            m for m in metrics if start is None or end is None or start <= m.step <= end
        ]
    # As MLflow samples: one set of steps over every run's, plus each run's last step.
    keep = _sample(sorted({m.step for ms in histories.values() for m in ms}), max_results)
    keep |= {ms[-1].step for ms in histories.values() if ms}
    out = []
    for run_id, inside in histories.items():
        out += [_with_run(run_id, m) for m in inside if m.step in keep]
    return {"metrics": out}


ENDPOINTS = [
    Endpoint(api.METRIC_HISTORY, history),
    Endpoint(api.METRIC_HISTORY_BULK, history_bulk),
    Endpoint(api.METRIC_HISTORY_BULK_INTERVAL, history_bulk_interval),
]
