"""Run endpoints: create, get, update, delete, restore, search, log-*, tags, metric history."""

from __future__ import annotations

from typing import Any

from trk.contracts.api import runs as api
from trk.contracts.api.fields import check_fields, choice, key_values, missing
from trk.entities import Metric, Param, RunStatus, RunTag
from trk.server import inputs
from trk.server.endpoint import Endpoint, ServerContext
from trk.server.experiments import view_type
from trk.store.mlflow_json import run_info_to_json, run_io_to_json, run_to_json

DEFAULT_EXPERIMENT_ID = "0"
_STATUSES = tuple(s.value for s in RunStatus)


def run_id_of(p: dict[str, Any]) -> str:
    """MLflow accepts `run_id` or the older `run_uuid`."""
    run_id = p.get("run_id") or p.get("run_uuid")
    if not run_id:
        raise missing("run_id")
    return str(run_id)


def create(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    run = ctx.store.create_run(
        experiment_id=p.get("experiment_id") or DEFAULT_EXPERIMENT_ID,
        user_id=p.get("user_id"),
        start_time=p.get("start_time"),
        tags=key_values("tags", p.get("tags")),
        run_name=p.get("run_name") or None,
    )
    return {"run": run_to_json(run)}


def get(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    run_id = run_id_of(p)
    out = run_to_json(ctx.store.get_run(run_id))
    return {"run": {**out, **run_io_to_json(ctx.store.get_run_io(run_id))}}


def update(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    status = p.get("status")
    if status is not None:
        choice("status", status, _STATUSES, status)
    info = ctx.store.update_run_info(
        run_id_of(p), status=status, end_time=p.get("end_time"), run_name=p.get("run_name")
    )
    return {"run_info": run_info_to_json(info)}


def delete(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.delete_run(p["run_id"])


def restore(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.restore_run(p["run_id"])


def _metric(p: dict[str, Any]) -> Metric:
    return Metric(p["key"], p["value"], p["timestamp"], p.get("step", 0))


def log_metric(ctx: ServerContext, p: dict[str, Any]) -> None:
    for_models = inputs.model_metrics(ctx, run_id_of(p), [p])
    ctx.store.log_batch(run_id_of(p), metrics=[_metric(p)])
    inputs.log_model_metrics(ctx, run_id_of(p), for_models)


def log_param(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.log_batch(run_id_of(p), params=[Param(p["key"], p["value"])])


def set_tag(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.log_batch(run_id_of(p), tags=[RunTag(p["key"], p["value"])])


def delete_tag(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.delete_tag(p["run_id"], p["key"])


def log_batch(ctx: ServerContext, p: dict[str, Any]) -> None:
    # Every entry is checked before the store sees the batch: all or nothing.
    checked = [
        check_fields(m, api.METRIC, f"metrics[{i}].") for i, m in enumerate(p.get("metrics", ()))
    ]
    metrics = [_metric(m) for m in checked]
    if any(m.get("model_id") for m in checked):
        metrics = _without_repeats(ctx, run_id_of(p), metrics)
    params = [
        Param(**check_fields(x, api.KEY_VALUE, f"params[{i}]."))
        for i, x in enumerate(p.get("params", ()))
    ]
    tags = [
        RunTag(**check_fields(x, api.KEY_VALUE, f"tags[{i}]."))
        for i, x in enumerate(p.get("tags", ()))
    ]
    for_models = inputs.model_metrics(ctx, run_id_of(p), checked)
    ctx.store.log_batch(run_id_of(p), metrics=metrics, params=params, tags=tags)
    inputs.log_model_metrics(ctx, run_id_of(p), for_models)


def _without_repeats(ctx: ServerContext, run_id: str, metrics: list[Metric]) -> list[Metric]:
    """MLflow 3 re-sends a run's metrics tagged with a model id when it logs a model; as in
    MLflow, an identical (key, value, timestamp, step) already stored is not stored twice."""
    keys = {m.key for m in metrics}
    seen = {m for key in keys for m in ctx.store.get_metric_history(run_id, key)}
    return [m for m in metrics if m not in seen]


def search(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    found = ctx.store.search_runs(
        experiment_ids=p.get("experiment_ids", []),
        filter_string=p.get("filter", ""),
        run_view_type=view_type(p.get("run_view_type"), "run_view_type"),
        max_results=p.get("max_results", 1000),
        order_by=p.get("order_by") or None,
        page_token=p.get("page_token") or None,
    )
    io = inputs.runs_io_json(ctx, [r.info.run_id for r in found])
    out: dict[str, Any] = {"runs": [{**run_to_json(r), **io[r.info.run_id]} for r in found]}
    if found.token:
        out["next_page_token"] = found.token
    return out


ENDPOINTS = [
    Endpoint(api.CREATE, create),
    Endpoint(api.GET, get),
    Endpoint(api.UPDATE, update),
    Endpoint(api.DELETE, delete),
    Endpoint(api.RESTORE, restore),
    Endpoint(api.LOG_METRIC, log_metric),
    Endpoint(api.LOG_PARAM, log_param),
    Endpoint(api.SET_TAG, set_tag),
    Endpoint(api.DELETE_TAG, delete_tag),
    Endpoint(api.LOG_BATCH, log_batch),
    Endpoint(api.SEARCH, search),
]
