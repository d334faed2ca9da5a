"""What runs read and produce: `runs/log-inputs` (datasets, logged models), `runs/outputs`
(logged models at a step), `experiments/search-datasets`, and metrics of logged models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trk.contracts.api import experiments as experiments_api
from trk.contracts.api import runs as runs_api
from trk.contracts.api.fields import check_fields, key_values, missing
from trk.contracts.run_inputs import Dataset, DatasetInput, ModelMetric, ModelOutput
from trk.exceptions import InvalidParameter, NotFound
from trk.server.endpoint import Endpoint, ServerContext
from trk.store.mlflow_json import model_metric_to_json, run_io_to_json
from trk.store.sql_model_metrics import SqlModelMetrics

MAX_EXPERIMENTS = 20  # MLflow's limit for one search
_DATASET = {
    "name": "str!",
    "digest": "str!",
    "source_type": "str!",
    "source": "text!",
    "schema": "text",
    "profile": "text",
}


def sql_store(ctx: ServerContext) -> SqlModelMetrics:
    """The SQL store: run inputs and model metrics live in its tables."""
    if not isinstance(ctx.store, SqlModelMetrics):
        raise NotFound("Run inputs and model metrics need a SQL backend store on this server")
    return ctx.store


def _run_id(p: dict[str, Any]) -> str:
    run_id = p.get("run_id") or p.get("run_uuid")  # MLflow accepts the older name too
    if not run_id:
        raise missing("run_id")
    return str(run_id)


def _dataset_inputs(raw: Sequence[dict[str, Any]]) -> list[DatasetInput]:
    out = []
    for n, item in enumerate(raw):
        where = f"datasets[{n}]."
        item = check_fields(item, {"dataset": "obj!", "tags": "obj[]"}, where)
        dataset = check_fields(item["dataset"], _DATASET, where + "dataset.")
        tags = key_values(where + "tags", item.get("tags"))
        out.append(DatasetInput(Dataset(**dataset), tags))
    return out


def _model_ids(ctx: ServerContext, raw: Sequence[dict[str, Any]]) -> list[str]:
    ids = [
        check_fields(m, {"model_id": "str!"}, f"models[{n}].")["model_id"]
        for n, m in enumerate(raw)
    ]
    for model_id in ids:
        if ctx.logged_models is not None:
            ctx.logged_models.get(model_id)  # NotFound for an unknown model
    return ids


def log_inputs(ctx: ServerContext, p: dict[str, Any]) -> None:
    run_id = _run_id(p)
    datasets = _dataset_inputs(p.get("datasets") or ())
    models = _model_ids(ctx, p.get("models") or ())
    sql_store(ctx).log_inputs(run_id, datasets, models)


def log_outputs(ctx: ServerContext, p: dict[str, Any]) -> None:
    """MLflow 3: the logged models a run produced, each at a step; the run also becomes the
    model's source run where it had none."""
    run_id = _run_id(p)
    fields = {"model_id": "str!", "step": "int"}
    raw = [check_fields(m, fields, f"models[{n}].") for n, m in enumerate(p.get("models") or ())]
    _model_ids(ctx, [{"model_id": m["model_id"]} for m in raw])
    sql_store(ctx).log_outputs(run_id, [ModelOutput(m["model_id"], m.get("step", 0)) for m in raw])
    if raw and ctx.logged_models is not None:
        ctx.logged_models.link_run_outputs(run_id, [m["model_id"] for m in raw])


def model_metrics(
    ctx: ServerContext, run_id: str, metrics: Sequence[dict[str, Any]]
) -> list[ModelMetric]:
    """The checked metrics (`key`, `value`, ... `model_id`) of one run that name a logged
    model; each model must exist (checked before the run's own metrics are stored)."""
    rows = [
        ModelMetric(
            m["key"],
            m["value"],
            m["timestamp"],
            m.get("step", 0),
            m["model_id"],
            run_id,
            m.get("dataset_name"),
            m.get("dataset_digest"),
        )
        for m in metrics
        if m.get("model_id")
    ]
    _model_ids(ctx, [{"model_id": x} for x in sorted({r.model_id for r in rows})])
    return rows


def log_model_metrics(ctx: ServerContext, run_id: str, rows: Sequence[ModelMetric]) -> None:
    """Lists the metrics on their logged models too (the run keeps its own history)."""
    if rows:
        sql_store(ctx).log_model_metrics(run_id, rows)


def runs_io_json(ctx: ServerContext, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each run's `inputs` and `outputs` as MLflow's search-runs answers them."""
    if not isinstance(ctx.store, SqlModelMetrics):
        return {r: {} for r in run_ids}
    found = ctx.store.get_runs_io(run_ids)
    return {r: run_io_to_json(found[r]) for r in run_ids}


def model_metrics_json(ctx: ServerContext, model_ids: Sequence[str]) -> dict[str, list[Any]]:
    """Each logged model's metrics as MLflow's JSON (none where the store keeps none)."""
    if not isinstance(ctx.store, SqlModelMetrics):
        return {m: [] for m in model_ids}
    found = ctx.store.get_model_metrics(model_ids)
    return {m: [model_metric_to_json(x) for x in found[m]] for m in model_ids}


def models_with_datasets(ctx: ServerContext, raw: Sequence[dict[str, Any]]) -> list[str]:
    """Ids of logged models with metrics on one of the datasets (`dataset_name`, optional
    `dataset_digest`), as MLflow's logged-model search by dataset."""
    fields = {"dataset_name": "str!", "dataset_digest": "str"}
    pairs = []
    for n, item in enumerate(raw):
        d = check_fields(item, fields, f"datasets[{n}].")
        pairs.append((d["dataset_name"], d.get("dataset_digest") or None))
    return sorted(sql_store(ctx).models_with_datasets(pairs))


def search_datasets(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    ids = p.get("experiment_ids") or []
    if not ids:
        raise InvalidParameter("SearchDatasets request must specify at least one experiment_id.")
    if len(ids) > MAX_EXPERIMENTS:
        raise InvalidParameter(
            f"SearchDatasets request cannot specify more than {MAX_EXPERIMENTS} experiment_ids. "
            f"Received {len(ids)} experiment_ids."
        )
    found = sql_store(ctx).search_datasets(ids)
    summaries = [
        {"experiment_id": x.experiment_id, "name": x.name, "digest": x.digest, "context": x.context}
        for x in found
    ]
    return {"dataset_summaries": [{k: v for k, v in s.items() if v is not None} for s in summaries]}


ENDPOINTS = [
    Endpoint(runs_api.LOG_INPUTS, log_inputs),
    Endpoint(runs_api.LOG_OUTPUTS, log_outputs),
    Endpoint(experiments_api.SEARCH_DATASETS, search_datasets),
]
