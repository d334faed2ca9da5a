"""Artifacts through a tracking server's proxy (`/api/2.0/mlflow-artifacts/artifacts/...`).

Accepts `http(s)://host/api/2.0/mlflow-artifacts/artifacts/<path>`,
`mlflow-artifacts://host:port/<path>` and `mlflow-artifacts:/<path>` (the server named by
the tracking URI in the environment).
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlparse

from trk import settings
from trk.artifacts.base import ArtifactRepository, clean_artifact_path
from trk.entities import FileInfo
from trk.exceptions import MalformedUri, NotFound
from trk.transport import Transport

PROXY_PATH = "/api/2.0/mlflow-artifacts/artifacts"
_CHUNK = 1024 * 1024


def split_proxy_uri(uri: str) -> tuple[str, str]:
    """(server base URL, root path under the proxy) for any of the accepted spellings."""
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        if PROXY_PATH not in parsed.path:
            raise MalformedUri(f"{uri!r} is not a tracking server artifact URL ({PROXY_PATH}/...)")
        root = parsed.path.split(PROXY_PATH, 1)[1]
        prefix = parsed.path.split(PROXY_PATH, 1)[0]
        return f"{parsed.scheme}://{parsed.netloc}{prefix}", root.strip("/")
    if parsed.scheme == "mlflow-artifacts":
        if parsed.netloc:
            return f"http://{parsed.netloc}", parsed.path.strip("/")
        server = settings.tracking_uri_from_env()
        if not server or not server.startswith(("http://", "https://")):
            raise MalformedUri(
                f"{uri!r} needs a tracking server: set TRK_TRACKING_URI to http(s)://HOST:PORT"
            )
        return server.rstrip("/"), parsed.path.strip("/")
    raise MalformedUri(f"Unsupported artifact proxy URI {uri!r}")


class HttpArtifactRepository(ArtifactRepository):
    """Upload (PUT), download (GET), list and delete through the server's artifact proxy."""

    def __init__(self, root_uri: str, token: str | None = None) -> None:
        super().__init__(root_uri)
        base, self.root = split_proxy_uri(root_uri)
        token = token if token is not None else settings.tracking_token()
        self.transport = Transport(base, token)

    def close(self) -> None:
        self.transport.close()

    def _url(self, rel: str) -> str:
        path = "/".join(p for p in (self.root, rel) if p)
        return f"{PROXY_PATH}/{quote(path)}"

    def log_artifact(self, local_file: str | Path, artifact_path: str | None = None) -> None:
        src = Path(local_file)
        if not src.is_file():
            raise NotFound(f"No such file to log: {src}")
        rel = posixpath.join(clean_artifact_path(artifact_path), src.name).lstrip("/")
        # PUT replaces the same file, so a resend is safe; the file is streamed, never loaded.
        self.transport.send("PUT", self._url(rel), idempotent=True, body=lambda: _chunks(src))

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        src = Path(local_dir)
        if not src.is_dir():
            raise NotFound(f"No such directory to log: {src}")
        base = clean_artifact_path(artifact_path)
        for root, _dirs, files in os.walk(src):
            rel = Path(root).relative_to(src).as_posix()
            sub = posixpath.join(base, rel) if rel != "." else base
            for name in sorted(files):
                self.log_artifact(Path(root) / name, sub or None)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        rel = clean_artifact_path(path)
        full = "/".join(p for p in (self.root, rel) if p)
        out = self.transport.call("GET", PROXY_PATH, params={"path": full})
        infos = []
        for f in out.get("files", ()):
            child = posixpath.join(rel, f["path"]) if rel else f["path"]
            size = f.get("file_size")
            infos.append(
                FileInfo(child, bool(f.get("is_dir")), None if size is None else int(size))
            )
        return infos

    def download_file(self, artifact_path: str, local_path: str | Path) -> None:
        rel = clean_artifact_path(artifact_path)
        dest = Path(local_path)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, self.transport.stream("GET", self._url(rel)) as resp:
                for chunk in resp.iter_bytes(_CHUNK):
                    out.write(chunk)
            os.replace(tmp, dest)  # a reader never sees half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        self.transport.send(
            "DELETE", self._url(clean_artifact_path(artifact_path)), idempotent=True
        )


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk
