"""S3 artifacts against moto's standalone S3 server over HTTP: directly and through the proxy."""

from __future__ import annotations

import boto3
import pytest

from trk.artifacts import get_artifact_repository
from trk.artifacts.s3 import MULTIPART_THRESHOLD, S3ArtifactRepository
from trk.exceptions import NotFound


def test_s3_repository_round_trip(s3_bucket, s3_endpoint, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.txt").write_text("B")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (MULTIPART_THRESHOLD + 1024 * 1024))
    repo = get_artifact_repository(f"s3://{s3_bucket}/root/run1")
    assert isinstance(repo, S3ArtifactRepository)
    with repo, S3ArtifactRepository(repo.root_uri, progress=True) as with_progress:
        repo.log_artifacts(src, "model")
        with_progress.log_artifact(big, "model")

        listed = {(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("model")}
        assert listed == {
            ("model/a.txt", False, 1),
            ("model/big.bin", False, big.stat().st_size),
            ("model/sub", True, None),
        }
        assert [f.path for f in repo.list_artifacts()] == ["model"]
        head = repo.client.head_object(Bucket=s3_bucket, Key="root/run1/model/big.bin")
        assert head["ETag"].strip('"').endswith("-2")  # uploaded in parts

        out = repo.download_artifacts("model", tmp_path / "out")
        assert (out / "sub" / "b.txt").read_text() == "B"
        assert (out / "big.bin").stat().st_size == big.stat().st_size
        with pytest.raises(NotFound):
            repo.download_file("model/missing", tmp_path / "m")
        assert not list((tmp_path).glob(".tmp-*"))

        repo.delete_artifacts("model/sub")
        assert [f.path for f in repo.list_artifacts("model")] == ["model/a.txt", "model/big.bin"]


def test_proxy_writes_to_s3_destination(
    s3_bucket, s3_endpoint, server_factory, tmp_path, rest_stores
):
    server = server_factory(None, f"s3://{s3_bucket}/mlruns")
    run = rest_stores(server.url).create_run("0")
    src = tmp_path / "f.txt"
    src.write_text("through the proxy")
    key = f"mlruns/0/{run.info.run_id}/artifacts/docs/f.txt"
    with get_artifact_repository(run.info.artifact_uri) as repo:
        repo.log_artifact(src, "docs")
        s3 = boto3.client("s3", endpoint_url=s3_endpoint)
        try:
            assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == b"through the proxy"
        finally:
            s3.close()
        assert [f.path for f in repo.list_artifacts("docs")] == ["docs/f.txt"]
        repo.download_file("docs/f.txt", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == "through the proxy"
