"""Artifact repositories, chosen by the URI's scheme."""

from __future__ import annotations

from urllib.parse import urlparse

from trk.artifacts.base import ArtifactRepository
from trk.exceptions import MalformedUri


def get_artifact_repository(uri: str) -> ArtifactRepository:
    """The repository for `uri`: a path or file://, s3://, or the tracking server's proxy."""
    scheme = urlparse(uri).scheme
    if scheme in ("", "file") or (len(scheme) == 1 and uri[1:2] == ":"):
        from trk.artifacts.local import LocalArtifactRepository

        return LocalArtifactRepository(uri)
    if scheme == "s3":
        from trk.artifacts.s3 import S3ArtifactRepository

        return S3ArtifactRepository(uri)
    if scheme in ("http", "https", "mlflow-artifacts"):
        from trk.artifacts.http import HttpArtifactRepository

        return HttpArtifactRepository(uri)
    raise MalformedUri(f"Unsupported artifact URI scheme {scheme!r} in {uri!r}")


__all__ = ["ArtifactRepository", "get_artifact_repository"]
