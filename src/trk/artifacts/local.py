"""Artifacts on the local filesystem (the embedded default)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from trk.artifacts.base import ArtifactRepository, clean_artifact_path
from trk.entities import FileInfo
from trk.exceptions import InvalidParameter, NotFound


def local_path_of(uri: str) -> Path:
    """`file:///abs`, `file:rel` or a plain path, as a Path."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        return Path(unquote(parsed.path))
    return Path(uri)


class LocalArtifactRepository(ArtifactRepository):
    """A root directory; every path is confined below it."""

    def __init__(self, root_uri: str) -> None:
        super().__init__(root_uri)
        self.root = local_path_of(root_uri).resolve()

    def _path(self, artifact_path: str | None) -> Path:
        rel = clean_artifact_path(artifact_path)
        path = (self.root / rel).resolve() if rel else self.root
        if path != self.root and self.root not in path.parents:
            raise InvalidParameter(f"Invalid artifact path {artifact_path!r}: escapes the root")
        return path

    def log_artifact(self, local_file: str | Path, artifact_path: str | None = None) -> None:
        src = Path(local_file)
        if not src.is_file():
            raise NotFound(f"No such file to log: {src}")
        dest_dir = self._path(artifact_path)
        dest_dir.mkdir(parents=True, exist_ok=True)
        # Copy then rename so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest_dir / src.name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        src = Path(local_dir)
        if not src.is_dir():
            raise NotFound(f"No such directory to log: {src}")
        dest = self._path(artifact_path)
        for root, _dirs, files in os.walk(src):
            rel = Path(root).relative_to(src)
            for name in files:
                sub = (Path(artifact_path or "") / rel).as_posix()
                self.log_artifact(Path(root) / name, None if sub in ("", ".") else sub)
        dest.mkdir(parents=True, exist_ok=True)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        base = self._path(path)
        if not base.is_dir():
            return []
        prefix = clean_artifact_path(path)
        out = []
        for child in sorted(base.iterdir()):
            if child.name.startswith(".tmp-"):
                continue
            rel = f"{prefix}/{child.name}" if prefix else child.name
            size = None if child.is_dir() else child.stat().st_size
            out.append(FileInfo(rel, child.is_dir(), size))
        return out

    def download_file(self, artifact_path: str, local_path: str | Path) -> None:
        src = self._path(artifact_path)
        if not src.is_file():
            raise NotFound(f"No artifact {artifact_path!r} under {self.root_uri}")
        shutil.copyfile(src, local_path)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        target = self._path(artifact_path)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
