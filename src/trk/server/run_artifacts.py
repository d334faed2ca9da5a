"""Artifacts reached through a run, a model version or a logged model, as `mlflow server`
serves them: `artifacts/list`, `/get-artifact`, `/model-versions/get-artifact`, the web UI's
`upload-artifact`, and a logged model's files. Only locations under this server's artifact
roots are served; anything else is refused (MLflow would read any location it is handed)."""

from __future__ import annotations

import posixpath
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from trk import __version__
from trk.artifacts.base import ArtifactRepository
from trk.contracts.api import runs as api
from trk.contracts.api.fields import missing
from trk.exceptions import InvalidParameter
from trk.server.artifacts import file_endpoint, safe_path
from trk.server.downloads import send_artifact
from trk.server.endpoint import Endpoint, ServerContext
from trk.server.json import json_response
from trk.server.params import read_body
from trk.store.mlflow_json import file_info_to_json
from trk.uri import resolve_artifact_uri


def served_repository(ctx: ServerContext, uri: str) -> ArtifactRepository:
    """The repository at `uri`, refused unless it lies under this server's artifact roots."""
    return ctx.roots.repository(uri)


def _run_repository(ctx: ServerContext, run_id: str | None) -> tuple[str, ArtifactRepository]:
    if not run_id:
        raise missing("run_id")
    uri = ctx.store.get_run(run_id).info.artifact_uri
    return uri, served_repository(ctx, uri)


def list_artifacts(ctx: ServerContext, p: dict[str, Any]) -> dict[str, Any]:
    """`{root_uri, files}`; each path relative to the run's root, as MLflow lists them."""
    root, repo = _run_repository(ctx, p.get("run_id") or p.get("run_uuid"))
    path = _path(p.get("path"))
    files = [file_info_to_json(f) for f in repo.list_artifacts(path or None)]
    return {"root_uri": root, "files": files}


def _path(value: str | None) -> str:
    """A relative path inside the root, refused in MLflow's words."""
    try:
        return safe_path(value)
    except InvalidParameter:
        raise InvalidParameter("Invalid path") from None


def _query(request: Request, *names: str) -> str | None:
    return next((request.query_params[n] for n in names if request.query_params.get(n)), None)


async def get_artifact(request: Request, ctx: ServerContext) -> Response:
    rel = _path(_query(request, "path"))
    _, repo = await run_in_threadpool(_run_repository, ctx, _query(request, "run_id", "run_uuid"))
    return await send_artifact(repo, rel)


def _version_repository(ctx: ServerContext, name: str, version: str) -> ArtifactRepository:
    source = ctx.store.get_model_version_download_uri(name, version)
    return served_repository(ctx, resolve_artifact_uri(source, ctx.store))


async def get_version_artifact(request: Request, ctx: ServerContext) -> Response:
    name, version = _query(request, "name"), _query(request, "version")
    rel = _path(_query(request, "path"))
    if not name or not version:
        raise missing("name" if not name else "version")
    repo = await run_in_threadpool(_version_repository, ctx, name, version)
    return await send_artifact(repo, rel)


async def get_logged_model_file(request: Request, ctx: ServerContext) -> Response:
    if ctx.logged_models is None:
        raise InvalidParameter("This backend keeps no logged models")
    model = await run_in_threadpool(ctx.logged_models.get, request.path_params["model_id"])
    repo = await run_in_threadpool(served_repository, ctx, model.artifact_location)
    return await send_artifact(repo, _path(_query(request, "artifact_file_path")))


async def upload_artifact(request: Request, ctx: ServerContext) -> Response:
    """The web UI's upload: the body is the file, written at `path` under the run's root."""
    run_id = _query(request, "run_uuid", "run_id")
    if not run_id:
        raise InvalidParameter("Request must specify run_uuid.")
    path = _query(request, "path")
    if not path:
        raise InvalidParameter("Request must specify path.")
    rel = _path(path)
    data = await read_body(request, ctx.max_body_bytes)
    if not data:
        raise InvalidParameter("Request must specify data.")
    _, repo = await run_in_threadpool(_run_repository, ctx, run_id)
    await run_in_threadpool(_write, repo, rel, data)
    return json_response({})


def _write(repo: ArtifactRepository, rel: str, data: bytes) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="trk-upload-") as tmp:
        local = Path(tmp) / posixpath.basename(rel)
        local.write_bytes(data)
        repo.log_artifact(local, posixpath.dirname(rel) or None)


async def version(_request: Request, _ctx: ServerContext) -> Response:
    return PlainTextResponse(__version__)


_AJAX = "/ajax-api/2.0/mlflow/"


def routes(ctx: ServerContext) -> list[Route]:
    """The file routes (JSON ones are in ENDPOINTS), bound to `ctx`."""
    table = [
        ("/get-artifact", get_artifact, "GET"),
        ("/model-versions/get-artifact", get_version_artifact, "GET"),
        (_AJAX + "get-artifact", get_artifact, "GET"),
        (_AJAX + "model-versions/get-artifact", get_version_artifact, "GET"),
        (_AJAX + "upload-artifact", upload_artifact, "POST"),
        (_AJAX + "logged-models/{model_id}/artifacts/files", get_logged_model_file, "GET"),
        ("/api/2.0/mlflow/logged-models/{model_id}/artifacts/files", get_logged_model_file, "GET"),
        ("/version", version, "GET"),
    ]
    return [Route(path, file_endpoint(fn, ctx), methods=[method]) for path, fn, method in table]


ENDPOINTS = [Endpoint(api.LIST_ARTIFACTS, list_artifacts)]
