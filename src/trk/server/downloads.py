"""Artifact files sent as `mlflow server` sends them: always an attachment, a content type
guessed from the name (never from the request), and `X-Content-Type-Options: nosniff`, so a
browser never renders an artifact on the server's origin."""

from __future__ import annotations

import mimetypes
import posixpath
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response, StreamingResponse

from trk.artifacts.base import ArtifactRepository
from trk.artifacts.local import LocalArtifactRepository
from trk.artifacts.s3 import S3ArtifactRepository
from trk.exceptions import InvalidParameter, NotFound

# Served as text/plain, as MLflow does (names without an extension count as their extension).
_TEXT = {
    "txt",
    "log",
    "err",
    "cfg",
    "conf",
    "cnf",
    "cf",
    "ini",
    "properties",
    "prop",
    "hocon",
    "toml",
    "yaml",
    "yml",
    "xml",
    "json",
    "js",
    "py",
    "py3",
    "csv",
    "tsv",
    "md",
    "rst",
    "MLmodel",
    "mlproject",
}
_TOKEN = re.compile(r"^[A-Za-z0-9!#$&+.^_`|~-]+$")


def mime_type(name: str) -> str:
    """The content type for an artifact called `name`."""
    ext = posixpath.splitext(name)[1].lstrip(".") or name
    if ext in _TEXT:
        return "text/plain"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def content_disposition(name: str) -> str:
    """`attachment; filename=NAME` (RFC 6266; a UTF-8 `filename*` for other names)."""
    if _TOKEN.match(name):
        return f"attachment; filename={name}"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def file_response(path: Path, name: str, background: BackgroundTask | None = None) -> Response:
    return FileResponse(path, headers=_headers(name), background=background)


def _local(repo: LocalArtifactRepository, rel: str) -> Path:
    target = (repo.root / rel).resolve()
    if target != repo.root and repo.root not in target.parents:
        raise InvalidParameter(f"Invalid artifact path {rel!r}: escapes the artifact root")
    if target.is_dir():
        raise InvalidParameter(f"Artifact path refers to a directory, not a file: '{rel}'")
    if not target.is_file():
        raise NotFound(f"Artifact {rel!r} does not exist")
    return target


def _headers(name: str) -> dict[str, str]:
    return {
        "Content-Type": mime_type(name),  # set here: Starlette would append a charset
        "Content-Disposition": content_disposition(name),
        "X-Content-Type-Options": "nosniff",
    }


async def send_artifact(repo: ArtifactRepository, rel: str) -> Response:
    """The file `rel` of `repo`: read in place when local, streamed from S3 as the client
    reads it, else through a temporary copy."""
    name = posixpath.basename(rel)
    if isinstance(repo, LocalArtifactRepository):
        return file_response(await run_in_threadpool(_local, repo, rel), name)
    if isinstance(repo, S3ArtifactRepository):
        size, chunks = await run_in_threadpool(repo.stream, rel)
        headers = {**_headers(name), "Content-Length": str(size)}
        return StreamingResponse(chunks, headers=headers)
    tmp = tempfile.mkdtemp(prefix="trk-download-")
    target = Path(tmp) / name
    try:
        await run_in_threadpool(repo.download_file, rel, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return file_response(target, name, BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))
