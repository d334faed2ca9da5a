"""Nothing lost silently: an unreachable bucket fills the spool and is caught up; past the
spool's bound rows are dropped and counted; a shipper killed mid-publish leaves no duplicate."""

from __future__ import annotations

import shutil

import pytest
from capture_helpers import Proxy, read_local, read_s3, records

from trk.capture.config import CaptureConfig
from trk.capture.writer import CaptureWriter


@pytest.fixture
def proxied(s3_uri, s3_endpoint, monkeypatch):
    """The S3 endpoint behind a proxy the test can take down and bring back."""
    proxy = Proxy(int(s3_endpoint.rsplit(":", 1)[1]))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast: the spool is the retry here
    yield proxy
    proxy.down()


def _writer(uri, tmp_path, now, **options) -> CaptureWriter:
    config = CaptureConfig(uri, max_rows=100, spool_dir=tmp_path / "spool", **options)
    return CaptureWriter(config, clock=lambda: now[0])


def test_bucket_down_during_load_loses_nothing_within_the_spool(
    proxied, s3_uri, s3_endpoint, s3_bucket, tmp_path
):
    now = [0.0]
    writer = _writer(s3_uri, tmp_path, now)
    recs = records(2000)
    for rec, _ in recs[:500]:
        writer.add(rec)
    assert writer.tick()
    proxied.down()
    for i, (rec, _) in enumerate(recs[500:]):
        writer.add(rec)
        if i % 100 == 99:
            now[0] += 1.0
            writer.tick()
    assert writer.behind and writer.spool.pending() == 15
    proxied.up()
    now[0] += 60.0  # past the backoff
    assert writer.tick() and not writer.behind
    keys, table = read_s3(s3_endpoint, s3_bucket, "captures/")
    ids = table.column("request_id").to_pylist()
    assert len(ids) == len(set(ids)) == 2000
    assert sum(writer.dropped.values()) == 0


def test_past_the_spool_bound_rows_are_dropped_and_counted(
    proxied, s3_uri, s3_endpoint, s3_bucket, tmp_path
):
    now = [0.0]
    dropped = []
    config = CaptureConfig(s3_uri, max_rows=100, spool_dir=tmp_path / "spool", spool_mb=0.02)
    writer = CaptureWriter(
        config, on_drop=lambda reason, n: dropped.append((reason, n)), clock=lambda: now[0]
    )
    proxied.down()
    for i, (rec, _) in enumerate(records(3000)):
        writer.add(rec)
        if i % 100 == 99:
            writer.tick()  # a file of 100 rows closes at each
    spooled = writer.written
    assert 0 < spooled < 3000
    assert writer.dropped["spool_full"] == 3000 - spooled
    assert sum(n for reason, n in dropped if reason == "spool_full") == 3000 - spooled
    proxied.up()
    now[0] += 60.0
    assert writer.tick()
    _, table = read_s3(s3_endpoint, s3_bucket, "captures/")
    assert table.num_rows == spooled  # every row the spool took, and only those


def test_a_shipper_killed_after_publishing_publishes_again_without_duplicates(tmp_path):
    uri = str(tmp_path / "cap")
    writer = CaptureWriter(CaptureConfig(uri, max_rows=100, spool_dir=tmp_path / "spool"))
    for i, (rec, _) in enumerate(records(1000)):
        writer.add(rec)
        if i % 100 == 99:
            writer.close_files()
    # Killed between the uploads and the deletes: the spool still holds every file.
    shutil.copytree(tmp_path / "spool", tmp_path / "kept")
    assert writer.spool.publish()
    shutil.rmtree(tmp_path / "spool")
    shutil.copytree(tmp_path / "kept", tmp_path / "spool")
    restarted = CaptureWriter(CaptureConfig(uri, spool_dir=tmp_path / "spool"))
    assert restarted.spool.pending() == 10
    assert restarted.drain(timeout_s=10)
    ids = read_local(tmp_path / "cap").to_table().column("request_id").to_pylist()
    assert len(ids) == len(set(ids)) == 1000


def test_no_temporary_file_is_ever_listed(tmp_path):
    from trk.capture.target import open_target

    target = open_target(str(tmp_path / "cap"))
    part = tmp_path / "cap" / "model=iris" / "date=2026-12-06" / "hour=00"
    part.mkdir(parents=True)
    (part / ".tmp-0123").write_bytes(b"half a file")
    assert target.keys("model=iris/") == []
