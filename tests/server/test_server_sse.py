"""Server-side encryption of S3 artifacts against moto's S3 server: every upload path (one
PutObject, a multipart upload) asks for it, from a direct client (`TRK_S3_SSE`) and from
`trk server --artifacts-sse` through the artifact proxy; `head_object` shows it."""

from __future__ import annotations

import subprocess
import sys

import boto3
import pytest

from trk.artifacts import get_artifact_repository
from trk.artifacts.s3 import MULTIPART_THRESHOLD, S3ArtifactRepository, sse_args
from trk.exceptions import InvalidParameter

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def files(tmp_path):
    """A small file (one PutObject) and one past the multipart threshold (in parts)."""
    small, big = tmp_path / "small.txt", tmp_path / "big.bin"
    small.write_text("small")
    big.write_bytes(b"x" * (MULTIPART_THRESHOLD + 1024 * 1024))
    return small, big


def encryption(endpoint: str, bucket: str, key: str) -> tuple[str | None, str | None, str]:
    client = boto3.client("s3", endpoint_url=endpoint)
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    finally:
        client.close()
    return head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"), head["ETag"]


@pytest.mark.parametrize(
    ("mode", "key_id"), [("AES256", None), ("aws:kms", KMS_KEY)], ids=["sse-s3", "sse-kms"]
)
def test_direct_client_encrypts_every_upload(
    mode, key_id, s3_bucket, s3_endpoint, files, monkeypatch
):
    monkeypatch.setenv("TRK_S3_SSE", mode)
    if key_id:
        monkeypatch.setenv("TRK_S3_SSE_KMS_KEY_ID", key_id)
    with get_artifact_repository(f"s3://{s3_bucket}/root") as repo:
        for f in files:
            repo.log_artifact(f, "model")
    small = encryption(s3_endpoint, s3_bucket, "root/model/small.txt")
    big = encryption(s3_endpoint, s3_bucket, "root/model/big.bin")
    assert big[2].strip('"').endswith("-2")  # it went up in parts
    assert small[:2] == big[:2] == (mode, key_id)


def test_capture_files_are_encrypted_too(s3_bucket, s3_endpoint, files, monkeypatch):
    from trk.capture.target import open_target

    monkeypatch.setenv("TRK_S3_SSE", "aws:kms")
    monkeypatch.setenv("TRK_S3_SSE_KMS_KEY_ID", KMS_KEY)
    target = open_target(f"s3://{s3_bucket}/capture")
    for f in files:
        target.put(f, f"model=iris/{f.name}")
    for f in files:
        got = encryption(s3_endpoint, s3_bucket, f"capture/model=iris/{f.name}")
        assert got[:2] == ("aws:kms", KMS_KEY)


def test_without_the_setting_nothing_is_asked(s3_bucket, s3_endpoint, files, monkeypatch):
    monkeypatch.delenv("TRK_S3_SSE", raising=False)
    with get_artifact_repository(f"s3://{s3_bucket}/root") as repo:
        repo.log_artifact(files[0])
    assert encryption(s3_endpoint, s3_bucket, "root/small.txt")[0] in (None, "AES256")
    with S3ArtifactRepository(f"s3://{s3_bucket}/root") as plain:
        assert plain.sse == {}


def test_server_flag_encrypts_proxied_uploads(
    s3_bucket, s3_endpoint, server_factory, files, rest_stores
):
    server = server_factory(
        None,
        f"s3://{s3_bucket}/mlruns",
        "--artifacts-sse",
        "aws:kms",
        "--artifacts-sse-kms-key-id",
        KMS_KEY,
    )
    run = rest_stores(server.url).create_run("0")
    with get_artifact_repository(run.info.artifact_uri) as repo:
        for f in files:
            repo.log_artifact(f, "docs")
    prefix = f"mlruns/0/{run.info.run_id}/artifacts/docs"
    for name in ("small.txt", "big.bin"):
        assert encryption(s3_endpoint, s3_bucket, f"{prefix}/{name}")[:2] == ("aws:kms", KMS_KEY)


def test_bad_settings_are_refused(s3_bucket, monkeypatch):
    with pytest.raises(InvalidParameter, match="AES256 or aws:kms"):
        sse_args("aes")
    with pytest.raises(InvalidParameter, match="needs aws:kms"):
        sse_args("AES256", KMS_KEY)
    monkeypatch.setenv("TRK_S3_SSE_KMS_KEY_ID", KMS_KEY)
    monkeypatch.delenv("TRK_S3_SSE", raising=False)
    with pytest.raises(InvalidParameter, match="needs the aws:kms"):
        S3ArtifactRepository(f"s3://{s3_bucket}/root")
    out = subprocess.run(
        [sys.executable, "-m", "trk.cli", "server", "--artifacts-sse", "AES256", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "needs aws:kms" in out.stderr
