"""Artifacts in S3 (or any S3-compatible endpoint) through boto3.

The endpoint comes from `TRK_S3_ENDPOINT_URL` / `MLFLOW_S3_ENDPOINT_URL`, credentials from the
usual AWS variables. Large files go up and down in parts (boto3's TransferConfig). Every write
asks for server-side encryption when `TRK_S3_SSE` says so (`trk server --artifacts-sse`).
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from trk import settings
from trk.artifacts.base import ArtifactRepository, clean_artifact_path
from trk.entities import FileInfo
from trk.exceptions import InvalidParameter, MalformedUri, MissingDependency, NotFound, Unavailable

MB = 1024 * 1024
MULTIPART_THRESHOLD = 8 * MB
PROGRESS_THRESHOLD = 4 * MB  # smaller files finish before a bar is worth drawing
SSE_MODES = ("AES256", "aws:kms")


def _boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise MissingDependency("S3 artifacts need boto3: pip install 'trk[server]'") from exc
    return boto3


def s3_client(endpoint_url: str | None = None) -> Any:
    """A boto3 S3 client for the configured endpoint (path-style for local endpoints)."""
    from botocore.config import Config

    endpoint = endpoint_url or settings.s3_endpoint_url()
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"}
    )
    return _boto3().client("s3", endpoint_url=endpoint, config=config)


def sse_args(mode: str | None, kms_key_id: str | None = None) -> dict[str, str]:
    """The arguments that make S3 encrypt an object at rest (SSE-S3 or SSE-KMS), for every
    PutObject, CreateMultipartUpload and CopyObject; {} when `mode` is None."""
    if not mode:
        if kms_key_id:
            raise InvalidParameter("An SSE-KMS key id needs the aws:kms encryption mode")
        return {}
    if mode not in SSE_MODES:
        raise InvalidParameter(f"S3 server-side encryption {mode!r}: use AES256 or aws:kms")
    if kms_key_id and mode != "aws:kms":
        raise InvalidParameter(f"An SSE-KMS key id needs aws:kms, not {mode}")
    args = {"ServerSideEncryption": mode}
    if kms_key_id:
        args["SSEKMSKeyId"] = kms_key_id
    return args


class S3ArtifactRepository(ArtifactRepository):
    """`s3://bucket/prefix`: every artifact is a key under the prefix."""

    def __init__(self, root_uri: str, progress: bool = False, client: Any = None) -> None:
        super().__init__(root_uri)
        parsed = urlparse(root_uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise MalformedUri(f"Not an S3 URI: {root_uri!r} (expected s3://bucket/prefix)")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.progress = progress
        self._own_client = client is None  # a client passed in is its owner's to close
        self.client = client or s3_client()
        self.sse = sse_args(*settings.s3_sse())  # read once: a bad setting fails at open
        from boto3.s3.transfer import TransferConfig

        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD
        )

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def _key(self, rel: str) -> str:
        return "/".join(p for p in (self.prefix, rel) if p)

    def log_artifact(self, local_file: str | Path, artifact_path: str | None = None) -> None:
        src = Path(local_file)
        if not src.is_file():
            raise NotFound(f"No such file to log: {src}")
        key = self._key(posixpath.join(clean_artifact_path(artifact_path), src.name).lstrip("/"))
        with self._errors(key), _progress(self.progress, src.stat().st_size, src.name) as tick:
            self.client.upload_file(
                str(src), self.bucket, key, ExtraArgs=self.sse, Config=self.transfer, Callback=tick
            )

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
        prefix = self._key(rel)
        prefix = f"{prefix}/" if prefix else ""
        out: list[FileInfo] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        )
        with self._errors(prefix):
            for page in pages:
                for d in page.get("CommonPrefixes", ()):
                    name = d["Prefix"][len(prefix) :].rstrip("/")
                    out.append(FileInfo(posixpath.join(rel, name) if rel else name, True, None))
                for obj in page.get("Contents", ()):
                    name = obj["Key"][len(prefix) :]
                    if name:
                        full = posixpath.join(rel, name) if rel else name
                        out.append(FileInfo(full, False, int(obj["Size"])))
        return sorted(out, key=lambda f: f.path)

    def download_file(self, artifact_path: str, local_path: str | Path) -> None:
        key = self._key(clean_artifact_path(artifact_path))
        dest = Path(local_path)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        os.close(fd)
        try:
            with self._errors(key):
                size = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
                with _progress(self.progress, size, posixpath.basename(key)) as tick:
                    self.client.download_file(
                        self.bucket, key, tmp, Config=self.transfer, Callback=tick
                    )
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def stream(
        self, artifact_path: str, chunk: int = MULTIPART_THRESHOLD
    ) -> tuple[int, Iterator[bytes]]:
        """(size, chunks) of one object, read as the caller consumes them: nothing is spooled.
        The object is opened here, so a missing key raises before any byte is sent."""
        key = self._key(clean_artifact_path(artifact_path))
        with self._errors(key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)
        return int(body["ContentLength"]), self._chunks(key, body["Body"], chunk)

    def _chunks(self, key: str, body: Any, chunk: int) -> Iterator[bytes]:
        try:
            with self._errors(key):
                yield from body.iter_chunks(chunk)
        finally:
            body.close()

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Every key at or under `artifact_path`."""
        base = self._key(clean_artifact_path(artifact_path))
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base
        )
        with self._errors(base):
            for page in pages:
                keys = [
                    {"Key": o["Key"]}
                    for o in page.get("Contents", ())
                    if o["Key"] == base or o["Key"].startswith(base.rstrip("/") + "/") or not base
                ]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """boto3's errors as trk's: a missing key is NotFound, an unreachable endpoint Unavailable."""
        from botocore.exceptions import ClientError, EndpointConnectionError

        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
                raise NotFound(f"No artifact s3://{self.bucket}/{key}: {code}") from exc
            raise Unavailable(f"S3 request for s3://{self.bucket}/{key} failed: {exc}") from exc
        except EndpointConnectionError as exc:
            raise Unavailable(f"S3 endpoint unreachable: {exc}") from exc


@contextmanager
def _progress(enabled: bool, total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar callback for files over a few MB when asked for, else None."""
    if not enabled or total < PROGRESS_THRESHOLD:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.update(task, advance=n)
