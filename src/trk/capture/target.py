"""The place a capture URI names: a local directory or an S3 prefix, as four operations.

Publishing is atomic on both, so a reader never sees half a file: locally the file is copied
to a temporary name in its partition and renamed over; on S3 an object appears only when its
PUT (or its multipart upload's completion) succeeds, never in part. Readers list only
`part-*.parquet` names.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from trk.exceptions import InvalidParameter, MissingDependency


class Target(Protocol):
    uri: str

    def put(self, local: Path, key: str) -> None: ...

    def keys(self, prefix: str) -> list[str]: ...

    def delete(self, keys: list[str]) -> None: ...

    def paths(self, keys: list[str]) -> tuple[Any, list[str]]: ...


@dataclass
class LocalTarget:
    """A directory (a plain path or file://)."""

    uri: str
    root: Path

    def put(self, local: Path, key: str) -> None:
        dest = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            shutil.copyfile(local, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def keys(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root).as_posix()) for p in base.rglob("part-*.parquet")
        )

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)
        for parent in sorted({(self.root / k).parent for k in keys}, key=lambda p: -len(p.parts)):
            _remove_empty(parent, self.root)

    def paths(self, keys: list[str]) -> tuple[Any, list[str]]:
        """(None, local paths): DuckDB reads local files itself, in parallel."""
        return None, [str(self.root / k) for k in keys]


def _remove_empty(directory: Path, root: Path) -> None:
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


@dataclass
class S3Target:
    """`s3://bucket/prefix` through boto3 (its standard credentials and AWS_ENDPOINT_URL)."""

    uri: str
    bucket: str
    prefix: str
    client: Any

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, local: Path, key: str) -> None:
        # Encrypted at rest when TRK_S3_SSE says so, as every other trk write to S3.
        from trk import settings
        from trk.artifacts.s3 import sse_args

        extra = sse_args(*settings.s3_sse())
        self.client.upload_file(str(local), self.bucket, self._key(key), ExtraArgs=extra)

    def keys(self, prefix: str) -> list[str]:
        strip = len(self._key(""))
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        keys = [o["Key"][strip:] for page in pages for o in page.get("Contents", [])]
        return sorted(k for k in keys if k.rsplit("/", 1)[-1].startswith("part-"))

    def delete(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys a call
            objects = [{"Key": self._key(k)} for k in keys[i : i + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})

    def paths(self, keys: list[str]) -> tuple[Any, list[str]]:
        """(pyarrow's S3 filesystem, bucket/key paths), with boto3's credentials and endpoint."""
        return s3_filesystem(self.client), [f"{self.bucket}/{self._key(k)}" for k in keys]


def s3_filesystem(client: Any) -> Any:
    """pyarrow's S3 filesystem with the credentials, region and endpoint boto3 resolved."""
    import boto3
    from pyarrow import fs

    creds = boto3.session.Session().get_credentials()  # boto3's chain: env, profile, role
    frozen = creds.get_frozen_credentials() if creds is not None else None
    endpoint = urlparse(client.meta.endpoint_url)
    return fs.S3FileSystem(
        access_key=frozen.access_key if frozen else None,
        secret_key=frozen.secret_key if frozen else None,
        session_token=frozen.token if frozen else None,
        anonymous=frozen is None,
        region=client.meta.region_name or "us-east-1",
        endpoint_override=endpoint.netloc,
        scheme=endpoint.scheme or "https",
    )


def open_target(uri: str) -> Target:
    """The target a --capture-uri names: s3://bucket/prefix, file:///dir or a directory."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidParameter("--capture-uri must be s3://bucket/prefix or a directory")
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise InvalidParameter(f"Not an S3 URI: {uri!r} (expected s3://bucket/prefix)")
        try:
            from trk.artifacts.s3 import s3_client

            client = s3_client()
        except ImportError as exc:
            raise MissingDependency(
                "s3:// capture needs boto3: pip install 'trk[capture]'"
            ) from exc
        return S3Target(uri, parsed.netloc, parsed.path.strip("/"), client)
    if parsed.scheme == "file":
        return LocalTarget(uri, Path(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # a Windows drive letter is not a scheme
        raise InvalidParameter(f"--capture-uri: unsupported scheme {parsed.scheme!r}: {uri!r}")
    return LocalTarget(uri, Path(uri).expanduser().absolute())
