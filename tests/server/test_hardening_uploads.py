"""Issue 14: uploads bounded by `--max-artifact-mb` and spooled chunk by chunk, S3 downloads
streamed without a temporary copy, and S3 locations confined to the destination's prefix."""

from __future__ import annotations

import boto3
import httpx
from hardening_helpers import raw_request, store_dump, tree

API = "/api/2.0/mlflow/"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
MB = 1024 * 1024


def test_uploads_past_the_limit_are_refused_and_leave_nothing(server_factory, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    server = server_factory(None, None, "--max-artifact-mb", "1", env={"TMPDIR": str(spool)})
    dest = tmp_path / "artifacts0"
    ok, _ = raw_request(server.url, "PUT", f"{PROXY}/0/r/artifacts/small.bin", b"s" * MB)
    assert ok == 200
    before = (store_dump(server.backend), tree(dest))
    big = b"x" * (MB + 1)
    status, body = raw_request(server.url, "PUT", f"{PROXY}/0/r/artifacts/big.bin", big)
    assert status == 413, body

    def chunks():  # no Content-Length: the limit holds while the body streams in
        for _ in range(3):
            yield b"y" * (MB // 2)

    got = httpx.put(f"{server.url}{PROXY}/0/r/artifacts/chunked.bin", content=chunks())
    assert got.status_code == 413, got.text
    assert (store_dump(server.backend), tree(dest)) == before
    assert list(spool.iterdir()) == []  # no half-written spool left behind


def test_s3_destination_is_confined_and_streamed(s3_bucket, s3_endpoint, server_factory, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    server = server_factory(None, f"s3://{s3_bucket}/mlruns", env={"TMPDIR": str(spool)})
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=f"{s3_bucket}-other")
    s3.put_object(Bucket=f"{s3_bucket}-other", Key="x/secret.txt", Body=b"other bucket")
    for location in (
        f"s3://{s3_bucket}-other/x",
        f"s3://{s3_bucket}/mlruns-sibling",
        f"s3://{s3_bucket}/other",
        f"s3://{s3_bucket}/mlruns/../other",
    ):
        body = {"name": location, "artifact_location": location}
        got = httpx.post(server.url + API + "experiments/create", json=body)
        assert got.status_code == 400, (location, got.text)
    assert httpx.post(
        server.url + API + "experiments/create",
        json={"name": "ok", "artifact_location": f"s3://{s3_bucket}/mlruns/team"},
    ).is_success

    run = httpx.post(server.url + API + "runs/create", json={"experiment_id": "0"}).json()
    rel = f"0/{run['run']['info']['run_id']}/artifacts/big.bin"
    data = bytes(range(256)) * (12 * MB // 256)
    assert raw_request(server.url, "PUT", f"{PROXY}/{rel}", data)[0] == 200
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"])
    for path in ("", "0", rel.rsplit("/", 2)[0]):
        status, _ = raw_request(server.url, "DELETE", f"{PROXY}/{path}")
        assert status == 400, path
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]) == keys

    with httpx.stream("GET", f"{server.url}{PROXY}/{rel}") as response:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == len(data)
        received = bytearray()
        for chunk in response.iter_bytes():
            received += chunk
            assert list(spool.iterdir()) == []  # streamed from S3, never spooled to disk
    assert bytes(received) == data
