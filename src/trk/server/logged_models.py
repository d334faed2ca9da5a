"""MLflow 3 logged-model endpoints: create, get, finalize, delete, search, tags, params, files."""

from __future__ import annotations

import posixpath
from typing import Any

from trk.contracts.api import logged_models as api
from trk.contracts.api.fields import key_values
from trk.contracts.surfaces import LoggedModelStore
from trk.entities import LoggedModel
from trk.exceptions import NotFound
from trk.server import inputs
from trk.server.endpoint import Endpoint, ServerContext
from trk.store.mlflow_json import file_info_to_json, logged_model_to_json


def _models(ctx: ServerContext) -> LoggedModelStore:
    if ctx.logged_models is None:
        raise NotFound("Logged models need a SQL backend store on this server")
    return ctx.logged_models


def _json(ctx: ServerContext, found: list[LoggedModel]) -> list[dict[str, Any]]:
    """Models as MLflow's JSON, each with the metrics logged against it."""
    metrics = inputs.model_metrics_json(ctx, [m.model_id for m in found])
    out = [logged_model_to_json(m) for m in found]
    for m, item in zip(found, out, strict=True):
        item["data"]["metrics"] = metrics[m.model_id]
    return out


def _one(ctx: ServerContext, m: LoggedModel) -> dict[str, Any]:
    return {"model": _json(ctx, [m])[0]}


def create(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    model = _models(ctx).create(
        p["experiment_id"],
        name=p.get("name"),
        model_type=p.get("model_type"),
        source_run_id=p.get("source_run_id"),
        params=key_values("params", p.get("params")),
        tags=key_values("tags", p.get("tags")),
    )
    return _one(ctx, model)


def get(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return _one(ctx, _models(ctx).get(p["model_id"]))


def finalize(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return _one(ctx, _models(ctx).finalize(p["model_id"], p["status"]))


def delete(ctx: ServerContext, p: dict[str, Any]) -> None:
    _models(ctx).delete(p["model_id"])


def search(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    datasets = p.get("datasets")
    found, token = _models(ctx).search(
        p.get("experiment_ids", []),
        p.get("filter"),
        p.get("max_results", 100),
        p.get("order_by"),
        p.get("page_token") or None,
        model_ids=inputs.models_with_datasets(ctx, datasets) if datasets else None,
    )
    out: dict[str, Any] = {"models": _json(ctx, found)}
    if token:
        out["next_page_token"] = token
    return out


def set_tags(ctx: ServerContext, p: dict[str, Any]) -> None:
    _models(ctx).set_tags(p["model_id"], key_values("tags", p.get("tags")))


def delete_tag(ctx: ServerContext, p: dict[str, Any]) -> None:
    _models(ctx).delete_tag(p["model_id"], p["tag_key"])


def log_params(ctx: ServerContext, p: dict[str, Any]) -> None:
    _models(ctx).log_params(p["model_id"], key_values("params", p.get("params")))


def list_files(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    """The model's files, through the same repository the artifact proxy uses."""
    model = _models(ctx).get(p["model_id"])
    repo = ctx.roots.repository(model.artifact_location)
    sub = p.get("artifact_directory_path") or ""
    files = [file_info_to_json(f) for f in repo.list_artifacts(sub or None)]
    for f in files:
        f["path"] = posixpath.relpath(f["path"], sub) if sub else f["path"]
    return {"root_uri": model.artifact_location, "files": files}


ENDPOINTS = [
    Endpoint(api.SEARCH, search),
    Endpoint(api.CREATE, create),
    Endpoint(api.GET, get),
    Endpoint(api.FINALIZE, finalize),
    Endpoint(api.DELETE, delete),
    Endpoint(api.SET_TAGS, set_tags),
    Endpoint(api.DELETE_TAG, delete_tag),
    Endpoint(api.LOG_PARAMS, log_params),
    Endpoint(api.LIST_FILES, list_files),
]
