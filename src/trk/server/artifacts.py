"""The artifact proxy `/api/2.0/mlflow-artifacts/artifacts`: upload, download, list, delete.

Every path is confined to the artifact destination: `..` segments, absolute paths and
percent-encoded traversal are refused with 400 before any file is touched.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trk.artifacts import get_artifact_repository
from trk.artifacts.base import ArtifactRepository, clean_artifact_path
from trk.exceptions import InvalidParameter, PayloadTooLarge, TrkError
from trk.server.deletes import check_deletable
from trk.server.downloads import send_artifact
from trk.server.endpoint import ServerContext
from trk.server.errors import error_response, internal_error
from trk.server.json import json_response
from trk.store.mlflow_json import file_info_to_json

PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


def safe_path(path: str | None) -> str:
    """A relative path inside the root; any `..` (even percent-encoded) is refused."""
    if not path:
        return ""
    decoded = path
    for _ in range(3):  # catch double and triple encoding too
        decoded = unquote(decoded)
    for candidate in (path, decoded):
        parts = candidate.replace("\\", "/").split("/")
        if ".." in parts or candidate.startswith("/"):
            raise InvalidParameter(f"Invalid artifact path {path!r}: escapes the artifact root")
    return clean_artifact_path(path)


def root_repository(ctx: ServerContext) -> ArtifactRepository:
    repo = ctx.extras.get("artifact_repo")
    if repo is None:
        repo = ctx.extras["artifact_repo"] = get_artifact_repository(ctx.artifact_root)
    return repo


async def download(request: Request, ctx: ServerContext) -> Response:
    return await send_artifact(root_repository(ctx), safe_path(request.path_params["path"]))


async def upload(request: Request, ctx: ServerContext) -> Response:
    rel = safe_path(request.path_params["path"])
    name = posixpath.basename(rel)
    if not name:
        raise InvalidParameter("Upload needs a file name in the artifact path")
    limit = ctx.max_artifact_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Artifact of {declared} bytes exceeds the {limit} byte limit")
    tmp = tempfile.mkdtemp(prefix="trk-upload-")
    try:
        # Spool to disk chunk by chunk, then hand over: a broken or oversized upload leaves
        # nothing behind, and no upload holds more than one chunk in memory.
        path, size = os.path.join(tmp, name), 0
        with open(path, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"Artifact exceeds the {limit} byte limit")
                await run_in_threadpool(out.write, chunk)
        parent = posixpath.dirname(rel) or None
        await run_in_threadpool(root_repository(ctx).log_artifact, path, parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return json_response({})


async def listing(request: Request, ctx: ServerContext) -> Response:
    rel = safe_path(request.query_params.get("path"))
    infos = await run_in_threadpool(root_repository(ctx).list_artifacts, rel or None)
    files = []
    for info in infos:
        item = file_info_to_json(info)
        item["path"] = posixpath.basename(info.path)  # MLflow lists names relative to `path`
        files.append(item)
    return json_response({"files": files})


async def delete(request: Request, ctx: ServerContext) -> Response:
    rel = safe_path(request.path_params["path"])
    await run_in_threadpool(check_deletable, ctx, rel)
    repo = root_repository(ctx)
    remove = getattr(repo, "delete_artifacts", None)
    if remove is None:
        raise InvalidParameter(f"Deleting is not supported for {ctx.artifact_root}")
    await run_in_threadpool(remove, rel)
    return json_response({})


def file_endpoint(
    handler: Callable[[Request, ServerContext], Awaitable[Response]], ctx: ServerContext
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint for `handler(request, ctx)`, with errors mapped as the API's are."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, ctx)
        except TrkError as exc:
            return error_response(exc)
        except Exception as exc:
            return internal_error(exc, f"{request.method} {request.url.path}")

    endpoint.__name__ = handler.__name__
    return endpoint


def routes(ctx: ServerContext) -> list[Route]:
    """The proxy's routes, bound to `ctx`."""
    return [
        Route(PREFIX, file_endpoint(listing, ctx), methods=["GET"]),
        Route(PREFIX + "/{path:path}", file_endpoint(download, ctx), methods=["GET"]),
        Route(PREFIX + "/{path:path}", file_endpoint(upload, ctx), methods=["PUT"]),
        Route(PREFIX + "/{path:path}", file_endpoint(delete, ctx), methods=["DELETE"]),
    ]
