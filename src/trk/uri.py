"""Parse and resolve the URIs trk accepts: models:/, runs:/, s3://, file:// and plain paths."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from trk import settings
from trk.artifacts import manifest
from trk.exceptions import IntegrityError, MalformedUri, NotFound
from trk.stages import canonical_stage, is_stage

if TYPE_CHECKING:
    from trk.contracts.store import Store
    from trk.entities import LoggedModel, ModelVersion

_MODEL_RE = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<ref>[^/@]+))/?$")
_LOGGED_MODEL_RE = re.compile(r"^models:/(?P<id>m-[0-9a-f]{32})/?$")
_RUN_RE = re.compile(r"^runs:/(?P<run_id>[0-9a-fA-F]{8,64})(?:/(?P<path>.*))?$")
_TRACKING_SCHEMES = ("sqlite", "postgresql", "postgres", "http", "https")


@dataclass(frozen=True)
class ModelUri:
    """`models:/name@alias`, `models:/name/3`, `models:/name/latest` or (MLflow's deprecated
    stages) `models:/name/Production`."""

    name: str
    alias: str | None = None
    version: str | None = None  # digits, or "latest"
    stage: str | None = None  # None, Staging, Production or Archived

    def __str__(self) -> str:
        if self.alias:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.stage or self.version}"


@dataclass(frozen=True)
class RunUri:
    run_id: str
    path: str = ""


def parse_model_uri(uri: str) -> ModelUri:
    m = _MODEL_RE.match(uri)
    if not m:
        raise MalformedUri(
            f"Malformed model URI {uri!r}: expected models:/NAME@ALIAS, models:/NAME/VERSION, "
            "models:/NAME/latest or models:/NAME/STAGE"
        )
    ref = m["ref"]
    if ref is not None and is_stage(ref):
        return ModelUri(m["name"], stage=canonical_stage(ref))
    if ref is not None and ref != "latest" and not ref.isdigit():
        raise MalformedUri(
            f"Malformed model URI {uri!r}: {ref!r} is neither a version number nor a stage"
        )
    return ModelUri(m["name"], alias=m["alias"], version=ref)


def logged_model_id(uri: str) -> str | None:
    """The id in `models:/m-<id>` (a logged model, MLflow 3), else None."""
    m = _LOGGED_MODEL_RE.match(uri)
    return m["id"] if m else None


def parse_run_uri(uri: str) -> RunUri:
    m = _RUN_RE.match(uri)
    if not m:
        raise MalformedUri(f"Malformed run URI {uri!r}: expected runs:/RUN_ID/PATH")
    return RunUri(m["run_id"], (m["path"] or "").strip("/"))


_SECRET_QUERY = re.compile(r"(?i)((?:password|passwd|pwd|secret|token|key)[^=&]*=)[^&]*")


def redacted(uri: str) -> str:
    """`uri` fit to print: a password in the netloc and secret-looking query values become
    `***` (`postgresql://trk:***@db/trk`)."""
    parsed = urlparse(uri)
    if not parsed.netloc or "@" not in parsed.netloc:
        return _SECRET_QUERY.sub(r"\1***", uri)
    userinfo, hostport = parsed.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"{userinfo}@{hostport}"
    return _SECRET_QUERY.sub(r"\1***", parsed._replace(netloc=netloc).geturl())


def check_tracking_uri(uri: str) -> str:
    """Refuse a tracking URI whose scheme no store speaks."""
    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme not in _TRACKING_SCHEMES:
        raise MalformedUri(
            f"Unsupported tracking URI {redacted(uri)!r}: use sqlite:///PATH, postgresql://... or "
            "http(s)://HOST:PORT of a trk server"
        )
    return uri


def find_model_version(store: Store, model_uri: ModelUri) -> ModelVersion:
    """The registry entry a `models:/` URI points at."""
    if model_uri.alias:
        return store.get_model_version_by_alias(model_uri.name, model_uri.alias)
    if model_uri.stage:
        found = store.get_latest_versions(model_uri.name, [model_uri.stage])
        if not found:
            raise NotFound(
                f"No versions of model with name '{model_uri.name}' and stage "
                f"'{model_uri.stage}' found"
            )
        return found[0]
    if model_uri.version == "latest":
        versions = store.search_model_versions(f"name = '{model_uri.name}'", max_results=1)
        if not versions:
            raise NotFound(f"Registered model {model_uri.name!r} has no versions")
        return max(versions, key=lambda v: int(v.version))
    return store.get_model_version(model_uri.name, model_uri.version or "")


def _is_local(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return scheme in ("", "file") or len(scheme) == 1


def _download_cached(artifact_uri: str, key: str) -> Path:
    """Download a remote artifact directory once into the cache; later loads reuse it."""
    from trk.artifacts import get_artifact_repository
    from trk.artifacts.local import local_path_of

    if _is_local(artifact_uri):
        path = local_path_of(artifact_uri)
        if not path.exists():
            raise NotFound(f"Model files not found at {artifact_uri}")
        return path
    cache = Path(settings.model_cache_dir())
    target = cache / sha256(key.encode()).hexdigest()[:24]
    if (target / "MLmodel").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".dl-"))
    try:
        with get_artifact_repository(artifact_uri) as repo:
            repo.download_artifacts("", tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def resolve_artifact_uri(uri: str, store: Store | None = None) -> str:
    """Turn models:/ and runs:/ into the storage URI of the files they name."""
    if uri.startswith(("models:", "runs:")):
        store = store or _default_store()
    else:
        return uri
    model_id = logged_model_id(uri)
    if model_id:
        return store.get_logged_model(model_id).artifact_location
    if uri.startswith("models:"):
        return resolve_artifact_uri(find_model_version(store, parse_model_uri(uri)).source, store)
    run_uri = parse_run_uri(uri)
    logged = logged_model_in_run(store, run_uri)
    if logged is not None:
        rest = run_uri.path.partition("/")[2]
        location = logged.artifact_location.rstrip("/")
        return f"{location}/{rest}" if rest else location
    base = store.get_run(run_uri.run_id).info.artifact_uri.rstrip("/")
    return f"{base}/{run_uri.path}" if run_uri.path else base


def logged_model_in_run(store: Store, run_uri: RunUri) -> LoggedModel | None:
    """`runs:/RUN/NAME[/...]` -> the newest model logged as NAME in RUN, as in MLflow 3."""
    name = run_uri.path.partition("/")[0]
    if not name or "'" in name:
        return None
    run = store.get_run(run_uri.run_id)
    found, _ = store.search_logged_models(
        [run.info.experiment_id], f"source_run_id = '{run.info.run_id}' AND name = '{name}'", 1
    )
    return found[0] if found else None


@dataclass(frozen=True)
class ModelFiles:
    """A local directory with a model's files; `pinned` when they matched the registry."""

    path: Path
    pinned: bool = False


def fetch_model(uri: str, store: Store | None = None) -> ModelFiles:
    """The files `uri` names, checked against the registry's digest for `models:/NAME...`.

    A pinned version is cached under its digest and verified on every load, so a file changed
    in the artifact store or in the cache raises IntegrityError naming it.
    """
    if not uri.startswith("models:") or logged_model_id(uri):
        return ModelFiles(resolve_model_dir(uri, store))
    store = store or _default_store()
    version = find_model_version(store, parse_model_uri(uri))
    location = resolve_artifact_uri(version.source, store)
    if not version.manifest:  # registered before pinning existed, or from an empty source
        return ModelFiles(_download_cached(location, f"{store.uri}|{location}"))
    where = f"Model {version.name!r} version {version.version}"
    if version.digest != manifest.digest(version.manifest):
        raise IntegrityError(f"{where}: the registry's manifest does not match its digest")
    path = _download_cached(location, version.digest)
    manifest.verify(path, version.manifest, f"{where} ({path})")
    return ModelFiles(path, pinned=True)


def resolve_model_dir(uri: str, store: Store | None = None) -> Path:
    """A local directory holding the model files that `uri` names (unverified)."""
    if uri.startswith(("models:", "runs:")):
        store = store or _default_store()
        location = resolve_artifact_uri(uri, store)
        return _download_cached(location, f"{store.uri}|{location}")
    if uri.startswith("s3:") or urlparse(uri).scheme in ("http", "https", "mlflow-artifacts"):
        return _download_cached(uri, uri)
    if uri.startswith("file:") or "://" not in uri:
        return _download_cached(uri, uri)
    raise MalformedUri(f"Unsupported model URI {uri!r}")


def _default_store() -> Store:
    from trk.tracking.client import get_default_store

    return get_default_store()
