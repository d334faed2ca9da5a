"""A run's artifacts on the dashboard: the file tree, and downloads through the same
artifact repositories (and the same path checks) as the server's artifact proxy."""

from __future__ import annotations

import posixpath
import shutil
import tempfile
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse

from trk.artifacts.base import ArtifactRepository
from trk.entities import FileInfo, Run
from trk.server.artifacts import proxy_repository, safe_path
from trk.server.endpoint import ServerContext

# A run page lists at most this many files: a run with thousands stays readable and fast.
MAX_LISTED = 500


def repository(ctx: ServerContext, run: Run) -> ArtifactRepository:
    """The run's artifact location; `mlflow-artifacts:/` maps into the server's destination."""
    return proxy_repository(ctx, run.info.artifact_uri)


def artifact_files(repo: ArtifactRepository, limit: int = MAX_LISTED) -> list[FileInfo]:
    """Every file under the root, breadth first, at most `limit` of them."""
    files: list[FileInfo] = []
    pending: list[str | None] = [None]
    while pending and len(files) < limit:
        for info in repo.list_artifacts(pending.pop(0)):
            if info.is_dir:
                pending.append(info.path)
            elif len(files) < limit:
                files.append(info)
    return sorted(files, key=lambda f: f.path)


async def download(repo: ArtifactRepository, path: str) -> FileResponse:
    """One artifact as an attachment, copied to a temporary file that is removed after."""
    rel = safe_path(path)
    tmp = tempfile.mkdtemp(prefix="trk-ui-")
    target = Path(tmp) / (posixpath.basename(rel) or "artifact")
    try:
        await run_in_threadpool(repo.download_file, rel, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    cleanup = BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    return FileResponse(
        target,
        media_type="application/octet-stream",
        filename=target.name,
        background=cleanup,
    )
