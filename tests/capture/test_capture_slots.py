"""Writers sharing a spool directory (trk-serve --workers N, a sidecar's connections) each keep
their own slot: none takes over the journal of a live writer, and the first writer opened after
one stopped publishes what it left, once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from capture_helpers import local_capture, read_local, records

from trk.capture.config import CaptureConfig
from trk.capture.writer import CaptureWriter

sys.path.insert(0, str(Path(__file__).parent.parent / "ab"))
from ab_serving import register_models, send, start_replicas, stream  # noqa: E402


def test_live_writers_keep_their_own_slots_and_a_stopped_ones_rows_are_taken_over(tmp_path):
    uri, spool = str(tmp_path / "cap"), tmp_path / "spool"
    rows = records(300)
    a = CaptureWriter(CaptureConfig(uri, spool_dir=spool))
    for rec, _ in rows[:100]:
        a.add(rec)
    a.sync()  # journaled, not yet closed into a file
    b = CaptureWriter(CaptureConfig(uri, spool_dir=spool))
    assert a.slot.path != b.slot.path and not b.recovered  # a is alive: its rows stay its own
    for rec, _ in rows[100:200]:
        b.add(rec)
    b.sync()
    a.close()  # a stops without draining (as a killed shipper would)
    c = CaptureWriter(CaptureConfig(uri, spool_dir=spool))
    assert c.slot.path == a.slot.path and len(c.recovered) == 100  # a's journal, closed by c
    assert not c.add(rows[0][0])  # sent again by the serving process: not doubled
    for rec, _ in rows[200:]:
        c.add(rec)
    assert b.drain(timeout_s=10) and c.drain(timeout_s=10)
    ids = read_local(tmp_path / "cap").to_table().column("request_id").to_pylist()
    assert sorted(ids) == sorted(r.request_id for r, _ in rows)
    assert not list(spool.rglob("*.jsonl")) and not list(spool.rglob("part-*.parquet"))


def test_files_of_a_spool_without_slots_are_published(tmp_path):
    """A spool an earlier trk left (journal and files at its root) is taken over too."""
    uri, spool = str(tmp_path / "cap"), tmp_path / "spool"
    old = CaptureWriter(CaptureConfig(uri, spool_dir=spool))
    for rec, _ in records(50):
        old.add(rec)
    old.sync()
    old.close()
    (old.slot.path / "journal").rename(spool / "journal")  # where writers kept it before
    fresh = CaptureWriter(CaptureConfig(uri, spool_dir=spool))
    assert len(fresh.recovered) == 50 and fresh.drain(timeout_s=10)
    assert read_local(tmp_path / "cap").to_table().num_rows == 50


@pytest.mark.e2e
def test_two_workers_capture_into_one_spool(tmp_path, monkeypatch):
    """trk-serve --workers 2: a shipper child per worker, each in its own slot of the spool."""
    monkeypatch.setenv("TRK_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    tracking = f"sqlite:///{tmp_path / 'trk.db'}"
    register_models(tracking, "wrk", {"champion": 0.2})
    args = ["--model-uri", "models:/wrk@champion", "--tracking-uri", tracking, "--workers", "2"]
    (replica,) = start_replicas([[*args, *local_capture(tmp_path)]], {}, tmp_path)
    x, _ = stream(400, seed=1)
    try:
        answers = send(replica.url, x, threads=8)
    finally:
        replica.stop()
    assert len(list((tmp_path / "spool").glob("writer-*"))) == 2
    ids = read_local(tmp_path / "cap", "model=wrk").to_table().column("request_id").to_pylist()
    assert len(ids) == len(set(ids)) == 400 and set(ids) == {a[0] for a in answers}
