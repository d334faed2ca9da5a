"""Model-version sources checked as `mlflow server` checks them, before anything is stored.

- MLflow's source-validation regex (its environment variable) is honoured;
- a local path (or `file:`) is refused unless it lies inside the local artifact directory of
  the logged model named by `model_id`, else of the run named by `run_id` (behind the artifact
  proxy those are never local, so a local source is refused: the server never reads its own
  disk at a client's say-so);
- `..` segments and NUL bytes, even percent-encoded, are refused in every other scheme;
- `runs:` and `models:` URIs carry no host.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import unquote_plus, urlparse

from trk import settings
from trk.artifacts.local import local_path_of
from trk.contracts.store import Store
from trk.exceptions import InvalidParameter

_LOCAL_HINT = (
    "To use a local path as a model version source, the run_id request parameter has to be "
    "specified and the local path has to be contained within the artifact directory of the run "
    "specified by the run_id."
)
_RELATIVE_HINT = (
    "If supplying a source as an http, https, local file path, ftp, objectstore, or "
    "mlflow-artifacts uri, an absolute path must be provided without relative path references "
    "present. Please provide an absolute path."
)


def _invalid(source: str, hint: str = "") -> InvalidParameter:
    return InvalidParameter(f"Invalid model version source: '{source}'. {hint}".rstrip())


def _is_local(source: str) -> bool:
    scheme = urlparse(source).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and source[1:3] in (":/", ":\\"))


def _inside(store: Store, source: str, run_id: str | None, model_id: str | None) -> bool:
    """Whether the local `source` lies in the model's (else the run's) local artifact root."""
    if model_id:
        root = store.get_logged_model(model_id).artifact_location
    elif run_id:
        root = store.get_run(run_id).info.artifact_uri
    else:
        return False
    if not _is_local(root):
        return False
    base = local_path_of(root).resolve()
    path = local_path_of(source).resolve()
    return path == base or base in path.parents


def _without_relative_parts(source: str) -> None:
    decoded = source
    while (step := unquote_plus(decoded)) != decoded:
        decoded = step
    path = re.sub(r"/+", "/", urlparse(decoded).path.rstrip("/"))
    if "\x00" in decoded or ".." in decoded.split("/") or ".." in PurePosixPath(path).parts:
        raise _invalid(source, _RELATIVE_HINT)


def check_source(
    store: Store, source: str, run_id: str | None, model_id: str | None = None
) -> None:
    """InvalidParameter (MLflow's wording) for a source `mlflow server` would refuse."""
    regex = settings.model_version_source_regex()
    if regex and not re.search(regex, source):
        raise _invalid(source)
    if _is_local(source):
        if not _inside(store, source, run_id, model_id):
            raise _invalid(source, _LOCAL_HINT)
        return
    _without_relative_parts(source)
    parsed = urlparse(source)
    if parsed.scheme in ("runs", "models") and parsed.netloc:
        raise _invalid(source, f"A '{parsed.scheme}:' source must not name a host.")
