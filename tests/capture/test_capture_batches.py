"""The capture sink takes a shipper's batch column by column; whatever the batch holds, the
files read back (with pyarrow) exactly as when every answer goes through the writer's checks
one by one, and a journal an earlier trk wrote (a line per row) is still recovered."""

from __future__ import annotations

import orjson
import pytest
from capture_helpers import T0, read_local

from trk.capture.config import CaptureConfig
from trk.capture.sink import CaptureSink, record_of
from trk.capture.writer import CaptureWriter
from trk.serving.online.shipping import Shipped


def _item(i: int, **kw) -> Shipped:
    fields = dict(
        request_id=f"r{i:04d}",
        variant="champion" if i % 3 else "challenger",
        version="1",
        answer=[i % 3],
        probability=0.5,
        at_ms=T0 + i,
        inputs=[[1.0 * i, 2.0]],
        latency_ms=1.5,
    )
    return Shipped(**(fields | kw))


TABLE = {"dataframe_split": {"columns": ["a", "email"], "data": [[1, "x@y.org"], [2, "z@y.org"]]}}
BATCHES = {
    "arrays": [_item(i) for i in range(50)],
    "errors and odd numbers": [_item(0, answer=None, inputs=None, status=500)]
    + [_item(1, probability=1, latency_ms=None), _item(2, answer=[[0.2, 0.8]])],
    "tables": [_item(i, inputs=TABLE) for i in range(5)],
    "records": [_item(0, inputs=[{"a": 1, "email": "x"}])],
    "a dict answer": [_item(0, answer={"label": 1}), _item(1)],
    "an id of the wrong type": [_item(0), _item(1, request_id=7)],
    "text answers": [_item(0, answer=["setosa"]), _item(1, answer="setosa")],
}


def _rows(root, name: str, items: list[Shipped], batched: bool, **config) -> list[dict]:
    spool = root / f"spool-{name}"
    cfg = CaptureConfig(str(root / name), spool_dir=spool, **config)
    if batched:
        sink = CaptureSink(cfg)
        assert sink.write("iris", items)
        writer = sink.writer
    else:
        writer = CaptureWriter(cfg)
        for item in items:
            writer.add(record_of("iris", item))
    assert writer.drain(timeout_s=10)
    return sorted(read_local(root / name).to_table().to_pylist(), key=lambda r: r["request_id"])


@pytest.mark.parametrize("case", BATCHES)
@pytest.mark.parametrize("config", [{}, {"drop_columns": ("email",)}, {"inputs": False}])
def test_a_batch_reads_back_as_answers_added_one_by_one(tmp_path, case, config):
    items = BATCHES[case]
    batched = _rows(tmp_path, "batched", items, True, **config)
    one_by_one = _rows(tmp_path, "one", items, False, **config)
    assert batched == one_by_one and batched
    if "email" in config.get("drop_columns", ()):
        assert all("email" not in (r["inputs"] or "") for r in batched)


def test_a_journal_of_a_row_per_line_is_recovered(tmp_path):
    """Written as trk wrote journals before they took a batch per line."""
    spool = tmp_path / "spool"
    journal = spool / "writer-0" / "journal"
    journal.mkdir(parents=True)
    rows = [
        [f"old{i}", T0 + i, "iris", "champion", "1", 0.5, 200, 1.0, "[1]", "[[1.0]]"]
        for i in range(20)
    ]
    (journal / "0123.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    writer = CaptureWriter(CaptureConfig(str(tmp_path / "cap"), spool_dir=spool))
    assert len(writer.recovered) == 20 and writer.drain(timeout_s=10)
    ids = read_local(tmp_path / "cap").to_table().column("request_id").to_pylist()
    assert sorted(ids) == sorted(r[0] for r in rows)


def test_the_usual_batches_take_the_column_way(tmp_path):
    writer = CaptureWriter(CaptureConfig(str(tmp_path / "cap"), spool_dir=tmp_path / "spool"))
    columns = {"arrays", "errors and odd numbers", "tables", "records"}
    assert {case for case, items in BATCHES.items() if writer.extend("iris", items)} == columns
