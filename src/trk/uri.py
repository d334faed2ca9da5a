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
from trk.exceptions import MalformedUri, NotFound

if TYPE_CHECKING:
    from trk.entities import ModelVersion
    from trk.store.base import Store

_MODEL_RE = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<ref>[^/@]+))/?$")
_RUN_RE = re.compile(r"^runs:/(?P<run_id>[0-9a-fA-F]{8,64})(?:/(?P<path>.*))?$")
_TRACKING_SCHEMES = ("sqlite", "postgresql", "postgres", "http", "https")


@dataclass(frozen=True)
class ModelUri:
    """`models:/name@alias`, `models:/name/3` or `models:/name/latest`."""

    name: str
    alias: str | None = None
    version: str | None = None  # digits, or "latest"

    def __str__(self) -> str:
        return (
            f"models:/{self.name}@{self.alias}"
            if self.alias
            else f"models:/{self.name}/{self.version}"
        )


@dataclass(frozen=True)
class RunUri:
    run_id: str
    path: str = ""


def parse_model_uri(uri: str) -> ModelUri:
    m = _MODEL_RE.match(uri)
    if not m:
        raise MalformedUri(
            f"Malformed model URI {uri!r}: expected models:/NAME@ALIAS, models:/NAME/VERSION "
            "or models:/NAME/latest"
        )
    ref = m["ref"]
    if ref is not None and ref != "latest" and not ref.isdigit():
        raise MalformedUri(f"Malformed model URI {uri!r}: version {ref!r} is not a number")
    return ModelUri(m["name"], alias=m["alias"], version=ref)


def parse_run_uri(uri: str) -> RunUri:
    m = _RUN_RE.match(uri)
    if not m:
        raise MalformedUri(f"Malformed run URI {uri!r}: expected runs:/RUN_ID/PATH")
    return RunUri(m["run_id"], (m["path"] or "").strip("/"))


def check_tracking_uri(uri: str) -> str:
    """Refuse a tracking URI whose scheme no store speaks."""
    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme not in _TRACKING_SCHEMES:
        raise MalformedUri(
            f"Unsupported tracking URI {uri!r}: use sqlite:///PATH, postgresql://... or "
            "http(s)://HOST:PORT of a trk server"
        )
    return uri


def find_model_version(store: Store, model_uri: ModelUri) -> ModelVersion:
    """The registry entry a `models:/` URI points at."""
    if model_uri.alias:
        return store.get_model_version_by_alias(model_uri.name, model_uri.alias)
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
        get_artifact_repository(artifact_uri).download_artifacts("", tmp)
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
    if uri.startswith("models:"):
        store = store or _default_store()
        return resolve_artifact_uri(find_model_version(store, parse_model_uri(uri)).source, store)
    if uri.startswith("runs:"):
        store = store or _default_store()
        run_uri = parse_run_uri(uri)
        base = store.get_run(run_uri.run_id).info.artifact_uri.rstrip("/")
        return f"{base}/{run_uri.path}" if run_uri.path else base
    return uri


def resolve_model_dir(uri: str, store: Store | None = None) -> Path:
    """A local directory holding the model files that `uri` names."""
    if uri.startswith(("models:", "runs:")):
        store = store or _default_store()
        key = f"{store.uri}|{resolve_artifact_uri(uri, store)}"
        return _download_cached(resolve_artifact_uri(uri, store), key)
    if uri.startswith("s3:") or urlparse(uri).scheme in ("http", "https", "mlflow-artifacts"):
        return _download_cached(uri, uri)
    if uri.startswith("file:") or "://" not in uri:
        return _download_cached(uri, uri)
    raise MalformedUri(f"Unsupported model URI {uri!r}")


def _default_store() -> Store:
    from trk.tracking.client import get_default_store

    return get_default_store()
