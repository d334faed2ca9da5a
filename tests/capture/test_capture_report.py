"""`trk ab report|export|label|prune --capture-uri`: the report equals one computed here with
pandas from the same files; only the partitions in the window are read."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import pytest
from capture_helpers import HOUR_MS, check_report, expected_report, read_local, records

from trk.capture.config import CaptureConfig
from trk.capture.labels import write_labels
from trk.capture.report import capture_report
from trk.capture.target import open_target
from trk.capture.writer import CaptureWriter

NOW_MS = int(time.time() * 1000)


def _capture(uri, tmp_path, n=4000, at_ms=NOW_MS - 10 * 60_000):
    writer = CaptureWriter(CaptureConfig(uri, spool_dir=tmp_path / "spool"))
    recs = records(n, at_ms=at_ms)
    for rec, _ in recs:
        writer.add(rec)
    assert writer.drain(timeout_s=30)
    return recs


def _trk(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "trk.cli", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_report_export_and_labels_on_s3_through_the_cli(s3_uri, tmp_path):
    recs = _capture(s3_uri, tmp_path)
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label\n" + "".join(f"{r.request_id},{t}\n" for r, t in recs))
    assert "stored 4000 label(s)" in _trk(
        "ab", "label", "iris", "--file", str(path), "--capture-uri", s3_uri
    )
    # A second file of the same ids with other labels: refused, the first label stands.
    path.write_text("request_id,label\n" + "".join(f"{r.request_id},9\n" for r, _ in recs[:5]))
    assert "5 already labelled" in _trk(
        "ab", "label", "iris", "--file", str(path), "--capture-uri", s3_uri
    )
    report = json.loads(_trk("ab", "report", "iris", "--capture-uri", s3_uri, "--json"))
    # The expected figures from the files, read by pyarrow and computed with pandas.
    import pyarrow.parquet as pq
    from capture_helpers import read_s3

    endpoint, bucket = os.environ["AWS_ENDPOINT_URL"], s3_uri.split("/")[2]
    _, captures = read_s3(endpoint, bucket, "captures/model=iris/")
    _, labels = read_s3(endpoint, bucket, "captures/labels/")
    assert captures.num_rows == 4000
    check_report(report, expected_report(captures.to_pandas(), labels.to_pandas()))

    out = tmp_path / "joined.parquet"
    assert "wrote 4000 row(s)" in _trk(
        "ab", "export", "iris", "--capture-uri", s3_uri, "--out", str(out)
    )
    joined = pq.read_table(out).to_pandas()
    assert len(joined) == 4000 and joined["label"].notna().all()
    assert set(joined.columns) >= {
        "request_id",
        "variant",
        "version",
        "inputs",
        "prediction",
        "label",
    }
    truth = {r.request_id: t for r, t in recs}
    assert all(
        json.loads(x) == str(truth[r])
        for r, x in zip(joined["request_id"], joined["label"], strict=True)
    )


def test_report_reads_only_the_partitions_in_the_window(tmp_path):
    uri = str(tmp_path / "cap")
    _capture(uri, tmp_path, n=1000)
    old = tmp_path / "cap" / "model=iris" / "date=2020-01-01" / "hour=00"
    old.mkdir(parents=True)
    (old / f"part-{'0' * 32}.parquet").write_bytes(b"not parquet: reading it would fail")
    write_labels(
        open_target(uri),
        "iris",
        [{"request_id": r.request_id, "label": t} for r, t in records(1000)],
    )
    report = capture_report(uri, "iris", since="1h").to_dict()
    assert sum(v["requests"] for v in report["variants"]) == 1000
    with pytest.raises(Exception):  # noqa: B017 - without a window the bad file is read
        capture_report(uri, "iris")
    # The captures alone, on whatever date they fell (10 minutes ago may be yesterday, UTC).
    (old / f"part-{'0' * 32}.parquet").unlink()
    captures = read_local(tmp_path / "cap", "model=iris")
    labels = read_local(tmp_path / "cap", "labels")
    check_report(
        report, expected_report(captures.to_table().to_pandas(), labels.to_table().to_pandas())
    )


def test_prune_deletes_whole_partitions_older_than_the_cutoff(tmp_path):
    uri = str(tmp_path / "cap")
    _capture(uri, tmp_path, n=100, at_ms=NOW_MS - 40 * 86_400_000)
    _capture(uri, tmp_path, n=100, at_ms=NOW_MS - HOUR_MS // 2)
    out = _trk("ab", "prune", "--capture-uri", uri, "--older-than", "30d")
    assert "deleted 1 partition(s)" in out
    assert read_local(tmp_path / "cap").count_rows() == 100
    assert not list((tmp_path / "cap" / "model=iris").glob("date=*"))[0].name.endswith(
        time.strftime("%Y-%m-%d", time.gmtime(NOW_MS / 1000 - 40 * 86400))
    )


def test_shadow_pairs_and_regression_errors(tmp_path):
    """Both variants answer each request (shadow): McNemar's pairs; a regressor: mae, rmse."""
    from trk.capture.rows import CaptureRecord

    uri = str(tmp_path / "cap")
    writer = CaptureWriter(CaptureConfig(uri, spool_dir=tmp_path / "spool"))
    labels = []
    for i in range(400):
        for variant, version, answer in (("champion", "1", [i % 2]), ("challenger", "2", [0])):
            writer.add(
                CaptureRecord(
                    f"s{i}", NOW_MS - 1000 + i, "shadowed", variant, version, 1.0, 200, 2.0, answer
                )
            )
        writer.add(
            CaptureRecord(
                f"g{i}", NOW_MS - 1000 + i, "reg", "champion", "1", 1.0, 200, 2.0, [float(i) + 0.5]
            )
        )
        labels.append({"request_id": f"s{i}", "label": 0})
    writer.drain(10)
    write_labels(open_target(uri), "shadowed", labels)
    write_labels(open_target(uri), "reg", [{"request_id": f"g{i}", "label": i} for i in range(400)])
    report = capture_report(uri, "shadowed").to_dict()
    acc = next(c for c in report["comparisons"] if c["metric"] == "accuracy")
    assert acc["design"] == "paired" and acc["sample"] == 400
    assert (acc["champion"], acc["challenger"]) == (0.5, 1.0)
    chal = next(v for v in report["variants"] if v["variant"] == "challenger")
    assert (chal["shadow_compared"], chal["shadow_agreed"]) == (400, 200)
    assert report["inverse_propensity"] == []
    reg = capture_report(uri, "reg", metric="mae").to_dict()["variants"][0]
    assert reg["mae"] == pytest.approx(0.5) and reg["rmse"] == pytest.approx(0.5)
    assert math.isfinite(reg["latency_p50_ms"])


def test_bad_labels_are_refused_and_nothing_is_written(tmp_path):
    from trk.exceptions import InvalidParameter

    target = open_target(str(tmp_path / "cap"))
    for bad in (
        [{"request_id": "a"}],
        [{"request_id": "", "label": 1}],
        [{"request_id": "a", "label": float("nan")}],
        [{"request_id": "a", "label": "x\x00"}],
        ["not a dict"],
    ):
        with pytest.raises(InvalidParameter):
            write_labels(target, "iris", bad)
    assert not (tmp_path / "cap").exists()


def test_captures_across_an_hour_boundary_are_read_in_two_minute_windows(tmp_path):
    # Two hourly partitions span 120 minutes: over 100 one-minute windows, so windows of two.
    uri, at_ms = str(tmp_path / "cap"), (NOW_MS // HOUR_MS - 2) * HOUR_MS - 70_000
    recs = _capture(uri, tmp_path, n=4000, at_ms=at_ms)
    write_labels(
        open_target(uri), "iris", [{"request_id": r.request_id, "label": t} for r, t in recs]
    )
    report = capture_report(uri, "iris").to_dict()
    captures, labels = read_local(tmp_path / "cap"), read_local(tmp_path / "cap", "labels")
    check_report(
        report, expected_report(captures.to_table().to_pandas(), labels.to_table().to_pandas())
    )
