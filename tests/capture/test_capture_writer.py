"""The capture's files as any Parquet reader sees them: layout, columns, types, sampling."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from capture_helpers import HOUR_MS, T0, read_local, read_s3, records

from trk.capture.config import CaptureConfig, parse_columns
from trk.capture.rows import CaptureRecord
from trk.exceptions import InvalidParameter

SCHEMA = {
    "request_id": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "model": pa.string(),
    "variant": pa.string(),
    "version": pa.string(),
    "routing_probability": pa.float64(),
    "status": pa.int32(),
    "latency_ms": pa.float64(),
    "prediction": pa.string(),
    "inputs": pa.string(),
}


def _write(writer, recs) -> None:
    for rec, _ in recs:
        writer.add(rec)
    writer.close_files()
    assert writer.spool.publish()


def test_local_files_partitioned_by_utc_hour_with_the_issue_columns(tmp_path, make_writer):
    root = tmp_path / "cap"
    writer = make_writer(f"file://{root}")
    recs = records(300, at_ms=T0 + HOUR_MS - 3000)  # 150 in hour 00, 150 in hour 01
    _write(writer, recs)
    parts = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert len(parts) == 2
    assert parts[0].startswith("model=iris/date=2026-12-06/hour=00/part-")
    assert parts[1].startswith("model=iris/date=2026-12-06/hour=01/part-")
    assert all(p.endswith(".parquet") for p in parts)
    table = read_local(root).to_table()
    assert dict(zip(table.schema.names, table.schema.types, strict=True)) == SCHEMA
    rows = {r["request_id"]: r for r in table.to_pylist()}
    assert len(rows) == 300
    for rec, _ in recs:
        row = rows[rec.request_id]
        assert row["timestamp"].timestamp() * 1000 == rec.timestamp_ms
        assert (row["variant"], row["version"], row["status"]) == (
            rec.variant,
            rec.version,
            rec.status,
        )
        assert json.loads(row["inputs"]) == rec.inputs
        assert row["prediction"] == (None if rec.prediction is None else json.dumps(rec.prediction))


def test_s3_files_read_by_pyarrow(s3_uri, s3_endpoint, s3_bucket, make_writer):
    writer = make_writer(s3_uri)
    recs = records(500)
    _write(writer, recs)
    keys, table = read_s3(s3_endpoint, s3_bucket, "captures/")
    assert len(keys) == 1 and keys[0].startswith("captures/model=iris/date=2026-12-06/hour=00/")
    assert dict(zip(table.schema.names, table.schema.types, strict=True)) == SCHEMA
    assert sorted(table.column("request_id").to_pylist()) == [r.request_id for r, _ in recs]
    assert writer.spool.pending() == 0 and writer.spool.used == 0


def test_sample_keeps_the_same_ids_on_every_replica(tmp_path, make_writer):
    recs = records(4000)
    kept = []
    for replica in ("a", "b"):
        writer = make_writer(
            str(tmp_path / replica), sample=0.25, spool_dir=tmp_path / f"spool-{replica}"
        )
        _write(writer, recs)
        kept.append(set(read_local(tmp_path / replica).to_table().column("request_id").to_pylist()))
    assert kept[0] == kept[1]
    assert 850 < len(kept[0]) < 1150  # a quarter of 4000, within ~6 standard deviations


def test_columns_dropped_and_inputs_left_out(tmp_path, make_writer):
    recs = records(10)
    writer = make_writer(str(tmp_path / "a"), drop_columns=parse_columns("email, petal_width"))
    _write(writer, recs)
    inputs = [
        json.loads(x) for x in read_local(tmp_path / "a").to_table().column("inputs").to_pylist()
    ]
    assert all(list(row[0]) == ["sepal_length"] for row in inputs)
    writer = make_writer(str(tmp_path / "b"), inputs=False, spool_dir=tmp_path / "s2")
    _write(writer, recs)
    assert read_local(tmp_path / "b").to_table().column("inputs").null_count == 10


def test_files_close_at_the_row_limit_and_after_flush_s(tmp_path):
    from trk.capture.writer import CaptureWriter

    now = [0.0]
    writer = CaptureWriter(
        CaptureConfig(str(tmp_path / "cap"), flush_s=60, max_rows=100, spool_dir=tmp_path / "s"),
        clock=lambda: now[0],
    )
    recs = records(150)
    for rec, _ in recs[:100]:
        writer.add(rec)
    writer.tick()  # the row limit closes a file at once
    assert writer.buffered == 0
    assert len(list((tmp_path / "cap").rglob("part-*.parquet"))) == 1
    for rec, _ in recs[100:]:
        writer.add(rec)
    now[0] = 59.0
    writer.tick()  # neither the limit nor the time yet
    assert writer.buffered == 50
    now[0] = 60.5
    writer.tick()
    assert writer.buffered == 0
    assert read_local(tmp_path / "cap").count_rows() == 150


def test_unloggable_answers_are_counted_not_fatal(tmp_path, make_writer):
    writer = make_writer(str(tmp_path / "cap"))
    good, _ = records(1)[0]
    assert not writer.add(good._replace(request_id=None))
    assert not writer.add(good._replace(model="../etc"))
    assert writer.add(good)
    assert not writer.add(good._replace(version=2))
    assert writer.dropped["unloggable"] == 3


def test_numpy_and_pandas_answers_and_inputs(tmp_path, make_writer):
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"x": [1.5, 2.5], "secret": ["a", "b"]})
    rec = CaptureRecord(
        "r1", T0, "iris", "champion", "1", 1.0, 200, 3.0, np.array([[0], [2]]), frame
    )
    _write(make_writer(str(tmp_path / "cap"), drop_columns=("secret",)), [(rec, None)])
    row = read_local(tmp_path / "cap").to_table().to_pylist()[0]
    assert json.loads(row["prediction"]) == [0, 2]
    assert json.loads(row["inputs"]) == [{"x": 1.5}, {"x": 2.5}]


@pytest.mark.parametrize(
    "options", [{"sample": 1.5}, {"flush_s": 0}, {"max_rows": 0}, {"spool_mb": -1}]
)
def test_bad_settings_are_refused(options):
    with pytest.raises(InvalidParameter):
        CaptureConfig("/tmp/x", **options)


@pytest.mark.parametrize("uri", ["ftp://host/x", "s3://", "  "])
def test_bad_uris_are_refused(uri, tmp_path):
    from trk.capture.target import open_target

    with pytest.raises(InvalidParameter):
        open_target(uri)
