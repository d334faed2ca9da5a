"""Experiment endpoints: create, get, get-by-name, search, update, delete, restore, tags."""

from __future__ import annotations

import os
from typing import Any

from trk.contracts.api import experiments as api
from trk.contracts.api.fields import choice, key_values
from trk.entities import ViewType
from trk.exceptions import NotFound
from trk.server.endpoint import Endpoint, ServerContext
from trk.store.mlflow_json import experiment_to_json

VIEW_TYPES = tuple(v.value for v in ViewType)


def view_type(value: str | None, name: str = "view_type") -> ViewType:
    return ViewType(choice(name, value, VIEW_TYPES, ViewType.ACTIVE_ONLY.value))


def _absolute(location: str | None) -> str | None:
    """A relative local path becomes absolute (from the server's directory), as in MLflow."""
    if not location or "://" in location or location.startswith(("/", "file:", "mlflow-")):
        return location
    return os.path.abspath(location)


def create(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    tags = key_values("tags", p.get("tags"))
    location = _absolute(p.get("artifact_location") or None)
    if location is not None:
        ctx.roots.check_location(location)  # 400 before anything is stored
    return {"experiment_id": ctx.store.create_experiment(p["name"], location, tags)}


def get(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return {"experiment": experiment_to_json(ctx.store.get_experiment(p["experiment_id"]))}


def get_by_name(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    exp = ctx.store.get_experiment_by_name(p["experiment_name"])
    if exp is None:
        raise NotFound(f"Could not find experiment with name '{p['experiment_name']}'")
    return {"experiment": experiment_to_json(exp)}


def search(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    found = ctx.store.search_experiments(
        view_type=view_type(p.get("view_type")),
        max_results=p.get("max_results", 1000),
        filter_string=p.get("filter") or None,
        order_by=p.get("order_by") or None,
        page_token=p.get("page_token") or None,
    )
    out: dict[str, Any] = {"experiments": [experiment_to_json(e) for e in found]}
    if found.token:
        out["next_page_token"] = found.token
    return out


def update(ctx: ServerContext, p: dict[str, Any]) -> None:
    if "new_name" in p:
        ctx.store.rename_experiment(p["experiment_id"], p["new_name"])
    else:
        ctx.store.get_experiment(p["experiment_id"])  # still 404 for a missing id


def delete(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.delete_experiment(p["experiment_id"])


def restore(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.restore_experiment(p["experiment_id"])


def set_tag(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.set_experiment_tag(p["experiment_id"], p["key"], p["value"])


def delete_tag(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.delete_experiment_tag(p["experiment_id"], p["key"])


ENDPOINTS = [
    Endpoint(api.CREATE, create),
    Endpoint(api.GET, get),
    Endpoint(api.GET_BY_NAME, get_by_name),
    Endpoint(api.SEARCH, search),
    Endpoint(api.SEARCH_GET, search),
    Endpoint(api.UPDATE, update),
    Endpoint(api.DELETE, delete),
    Endpoint(api.RESTORE, restore),
    Endpoint(api.SET_TAG, set_tag),
    Endpoint(api.DELETE_TAG, delete_tag),
]
