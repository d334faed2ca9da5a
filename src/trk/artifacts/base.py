"""The artifact repository interface: local filesystem, S3 and the tracking server's proxy."""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Self

from trk.entities import FileInfo
from trk.exceptions import InvalidParameter


def clean_artifact_path(path: str | None) -> str:
    """Normalise a relative artifact path; refuse absolute paths and `..` escapes."""
    if path is None or path in ("", "."):
        return ""
    if "\\" in path or "\x00" in path:
        raise InvalidParameter(
            f"Invalid artifact path {path!r}: backslashes and NUL are not allowed"
        )
    if path.startswith("/"):
        raise InvalidParameter(f"Invalid artifact path {path!r}: must be relative")
    norm = posixpath.normpath(path)
    if norm == ".." or norm.startswith("../"):
        raise InvalidParameter(f"Invalid artifact path {path!r}: escapes the artifact root")
    return "" if norm == "." else norm


def check_artifact_name(name: str) -> str:
    """An artifact_path given to log_*: a relative path with no traversal."""
    return clean_artifact_path(name)


class ArtifactRepository(ABC):
    """Artifacts under one root URI (a run's or a model version's artifact location)."""

    def __init__(self, root_uri: str) -> None:
        self.root_uri = root_uri

    def close(self) -> None:
        """Let go of the connections the repository opened (the proxy's pool, an S3 client);
        a repository made for one call is used in a `with` block so they close with it."""
        return None  # a local directory holds nothing open

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def log_artifact(self, local_file: str | Path, artifact_path: str | None = None) -> None:
        """Copy one file into `artifact_path` (a directory under the root)."""

    @abstractmethod
    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        """Copy a directory's contents into `artifact_path`."""

    @abstractmethod
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of `path`, with paths relative to the root."""

    @abstractmethod
    def download_file(self, artifact_path: str, local_path: str | Path) -> None: ...

    @abstractmethod
    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Remove what is at or under `artifact_path` (everything under the root when None)."""

    def download_artifacts(self, artifact_path: str, dst_path: str | Path) -> Path:
        """Download a file or a directory tree to `dst_path`; returns the local path."""
        artifact_path = clean_artifact_path(artifact_path)
        dst = Path(dst_path)
        listing = self.list_artifacts(artifact_path)
        if not listing and artifact_path:
            # Listing a file gives nothing (as in MLflow); download_file raises if it is absent.
            target = dst / artifact_path
            target.parent.mkdir(parents=True, exist_ok=True)
            self.download_file(artifact_path, target)
            return target
        (dst / artifact_path).mkdir(parents=True, exist_ok=True)
        for info in listing:
            if info.is_dir:
                self.download_artifacts(info.path, dst)
            else:
                target = dst / info.path
                target.parent.mkdir(parents=True, exist_ok=True)
                self.download_file(info.path, target)
        return dst / artifact_path
