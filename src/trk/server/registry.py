"""Model registry endpoints: registered models, versions, tags, aliases, download URIs."""

from __future__ import annotations

import json
from typing import Any

from trk.artifacts.manifest import of_repository
from trk.contracts.api import registry as api
from trk.contracts.api.fields import key_values
from trk.contracts.surfaces import LoggedModelStore
from trk.exceptions import MalformedUri, NotFound
from trk.server.endpoint import Endpoint, ServerContext
from trk.server.sources import check_source
from trk.store.mlflow_json import model_version_to_json, registered_model_to_json
from trk.store.validation import check_model_id
from trk.uri import logged_model_id, parse_model_uri, resolve_artifact_uri


def _model(m: Any) -> dict[str, Any]:
    return {"registered_model": registered_model_to_json(m)}


def _version(v: Any) -> dict[str, Any]:
    return {"model_version": model_version_to_json(v)}


# -- registered models ---------------------------------------------------------------------
def create_model(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    tags = key_values("tags", p.get("tags"))
    return _model(ctx.store.create_registered_model(p["name"], tags, p.get("description")))


def get_model(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return _model(ctx.store.get_registered_model(p["name"]))


def search_models(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    found = ctx.store.search_registered_models(
        p.get("filter") or None,
        p.get("max_results", 100),
        p.get("order_by") or None,
        p.get("page_token") or None,
    )
    out: dict[str, Any] = {"registered_models": [registered_model_to_json(m) for m in found]}
    if found.token:
        out["next_page_token"] = found.token
    return out


def update_model(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return _model(ctx.store.update_registered_model(p["name"], p.get("description")))


def rename_model(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return _model(ctx.store.rename_registered_model(p["name"], p.get("new_name", "")))


def delete_model(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.delete_registered_model(p["name"])


def set_model_tag(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.set_registered_model_tag(p["name"], p["key"], p["value"])


def delete_model_tag(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.delete_registered_model_tag(p["name"], p["key"])


# -- model versions ------------------------------------------------------------------------
def create_version(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    """Register `source` (MLflow 3 sends `models:/m-<id>`, kept as is) and pin its files."""
    source = p["source"]
    check_source(ctx.store, source, p.get("run_id") or None, p.get("model_id") or None)
    model_id = p.get("model_id") or logged_model_id(source)
    version = ctx.store.create_model_version(
        p["name"],
        source,
        p.get("run_id") or None,
        key_values("tags", p.get("tags")),
        p.get("description", ""),  # MLflow stores '' for a version made without one
        model_id=model_id and check_model_id(model_id),
        manifest=_pin(ctx, source),
    )
    if model_id and ctx.logged_models is not None:
        _note_version(ctx.logged_models, model_id, version.name, int(version.version))
    return _version(version)


MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # MLflow's: the versions made from a logged model


def _note_version(models: LoggedModelStore, model_id: str, name: str, number: int) -> None:
    """Append the version to the logged model's `mlflow.modelVersions` tag, as MLflow does."""
    tags = models.get(model_id).tags
    noted = json.loads(tags.get(MODEL_VERSIONS_TAG) or "[]")
    noted.append({"name": name, "version": number})
    models.set_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps(noted)})


def _pin(ctx: ServerContext, source: str) -> dict[str, str] | None:
    """The manifest of the files at `source`; only read where this server's artifacts live."""
    try:
        location = resolve_artifact_uri(source, ctx.store)
    except (MalformedUri, NotFound):
        if not source.startswith(("runs:", "models:")) or logged_model_id(source):
            raise
        # MLflow registers `runs:/` sources whose run this store does not hold, and copies of
        # versions made from them (issue 19): like a source that holds nothing yet, such a
        # version is registered unpinned.
        return None
    repo = ctx.roots.find(location)
    return of_repository(repo) if repo is not None else None


def get_version(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return _version(ctx.store.get_model_version(p["name"], p["version"]))


def update_version(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return _version(ctx.store.update_model_version(p["name"], p["version"], p.get("description")))


def delete_version(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.delete_model_version(p["name"], p["version"])


def search_versions(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    found = ctx.store.search_model_versions(
        p.get("filter") or None,
        p.get("max_results", 10000),
        p.get("order_by") or None,
        p.get("page_token") or None,
    )
    out: dict[str, Any] = {"model_versions": [model_version_to_json(v) for v in found]}
    if found.token:
        out["next_page_token"] = found.token
    return out


def set_version_tag(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.set_model_version_tag(p["name"], p["version"], p["key"], p["value"])


def delete_version_tag(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.delete_model_version_tag(p["name"], p["version"], p["key"])


def download_uri(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    """The version's source; a copy (`models:/NAME/N`) answers its original's, as in MLflow."""
    uri = ctx.store.get_model_version_download_uri(p["name"], p["version"])
    for _ in range(_MAX_COPY_DEPTH):
        if not uri.startswith("models:") or logged_model_id(uri):
            break
        ref = parse_model_uri(uri)
        if ref.version is None or not ref.version.isdigit():
            break
        uri = ctx.store.get_model_version_download_uri(ref.name, ref.version)
    return {"artifact_uri": uri}


_MAX_COPY_DEPTH = 10


# -- aliases -------------------------------------------------------------------------------
def set_alias(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.set_registered_model_alias(p["name"], p["alias"], p["version"])


def delete_alias(ctx: ServerContext, p: dict[str, Any]) -> None:
    ctx.store.delete_registered_model_alias(p["name"], p["alias"])


def get_by_alias(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    return _version(ctx.store.get_model_version_by_alias(p["name"], p["alias"]))


ENDPOINTS = [
    Endpoint(api.CREATE_MODEL, create_model),
    Endpoint(api.GET_MODEL, get_model),
    Endpoint(api.SEARCH_MODELS, search_models),
    Endpoint(api.UPDATE_MODEL, update_model),
    Endpoint(api.RENAME_MODEL, rename_model),
    Endpoint(api.DELETE_MODEL, delete_model),
    Endpoint(api.SET_MODEL_TAG, set_model_tag),
    Endpoint(api.DELETE_MODEL_TAG, delete_model_tag),
    Endpoint(api.SET_ALIAS, set_alias),
    Endpoint(api.DELETE_ALIAS, delete_alias),
    Endpoint(api.GET_BY_ALIAS, get_by_alias),
    Endpoint(api.CREATE_VERSION, create_version),
    Endpoint(api.GET_VERSION, get_version),
    Endpoint(api.UPDATE_VERSION, update_version),
    Endpoint(api.DELETE_VERSION, delete_version),
    Endpoint(api.SEARCH_VERSIONS, search_versions),
    Endpoint(api.SET_VERSION_TAG, set_version_tag),
    Endpoint(api.DELETE_VERSION_TAG, delete_version_tag),
    Endpoint(api.DOWNLOAD_URI, download_uri),
]
