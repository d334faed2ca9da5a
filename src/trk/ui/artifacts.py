"""A run's artifacts on the dashboard: the file tree, and downloads through the same
artifact repositories (and the same path checks) as the server's artifact proxy."""

from __future__ import annotations

from starlette.responses import Response

from trk.artifacts.base import ArtifactRepository
from trk.entities import FileInfo, Run
from trk.server.artifacts import safe_path
from trk.server.downloads import send_artifact
from trk.server.endpoint import ServerContext

# A run page lists at most this many files: a run with thousands stays readable and fast.
MAX_LISTED = 500


def repository(ctx: ServerContext, run: Run) -> ArtifactRepository:
    """The run's artifact location, refused unless it lies under the server's artifact roots
    (`mlflow-artifacts:/` maps into the destination)."""
    return ctx.roots.repository(run.info.artifact_uri)


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


async def download(repo: ArtifactRepository, path: str) -> Response:
    """One artifact as an attachment, sent as the artifact proxy sends it (nosniff, a type
    from the name, streamed)."""
    return await send_artifact(repo, safe_path(path))
