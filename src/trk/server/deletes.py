"""Which artifact-proxy deletes are allowed: only at or below the artifact root of a run or a
logged model this store holds. The destination itself, an experiment's directory and a run's
own directory above its `artifacts/` are refused, so no request can wipe the store."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from trk.exceptions import InvalidParameter, NotFound
from trk.server.endpoint import ServerContext

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")


def _owner_location(ctx: ServerContext, owner: str) -> str | None:
    """The stored artifact location of the run or logged model called `owner`, if any."""
    try:
        if _RUN_ID.match(owner):
            return ctx.store.get_run(owner).info.artifact_uri
        if _MODEL_ID.match(owner) and ctx.logged_models is not None:
            return str(ctx.logged_models.get(owner).artifact_location)
    except NotFound:
        return None
    return None


def _relative(ctx: ServerContext, location: str) -> str | None:
    """`location` relative to the destination (`mlflow-artifacts:/x` is `x`), else None."""
    if location.startswith("mlflow-artifacts:"):
        parsed = urlparse(location)
        return None if parsed.netloc else parsed.path.strip("/")
    root = ctx.artifact_root.rstrip("/") + "/"
    return location[len(root) :].strip("/") if location.startswith(root) else None


def check_deletable(ctx: ServerContext, rel: str) -> None:
    """400 unless `rel` (already confined to the destination) lies in an owner's artifacts."""
    parts = rel.split("/") if rel else []
    for i in range(1, len(parts)):
        if parts[i] != "artifacts":
            continue
        location = _owner_location(ctx, parts[i - 1])
        if location is not None and _relative(ctx, location) == "/".join(parts[: i + 1]):
            return
    raise InvalidParameter(
        f"Refusing to delete {rel or '/'!r}: only files at or below the artifact root of a run "
        "or a logged model (.../<id>/artifacts/...) may be deleted"
    )
