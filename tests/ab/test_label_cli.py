"""`trk ab label` and `trk ab prune` against a real sqlite store: bulk labels join the logged
predictions exactly once (a file sent again is refused and changes nothing; `--correct`
replaces on purpose and the report counts it), a bad line writes nothing, prune deletes by
age."""

from __future__ import annotations

import time

import orjson
import pytest
from click.testing import CliRunner

from trk.cli import main
from trk.contracts.predictions import PredictionRecord

pytestmark = pytest.mark.unit


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def logged(client):
    """40 logged predictions of model m by champion version 1 (class i % 2)."""
    now = int(time.time() * 1000)
    records = [
        PredictionRecord(f"r{i}", 0, "champion", "1", str(i % 2), None, 1.0, now) for i in range(40)
    ]
    client.store.predictions.log_predictions("m", records)
    return client


def counts(client):
    ((c,),) = [client.store.predictions.joined("m")]
    return c.labelled, c.correct


def test_csv_and_jsonl_labels_join_once_and_a_resend_changes_nothing(logged, tmp_path):
    uri = logged.tracking_uri
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("request_id,label,note\n" + "".join(f"r{i},1,x\n" for i in range(20)))
    jsonl = tmp_path / "late.jsonl"
    jsonl.write_bytes(
        b"\n".join(orjson.dumps({"request_id": f"r{i}", "label": 0}) for i in range(20, 40))
    )
    out = run("ab", "label", "m", "--file", str(csv_file), "--tracking-uri", uri)
    assert out.exit_code == 0 and "stored 20 label(s) for m: 20 joined" in out.output, out.output
    assert run("ab", "label", "m", "--file", str(jsonl), "--tracking-uri", uri).exit_code == 0
    flipped = tmp_path / "flipped.csv"  # the same ids, other labels: refused, nothing changes
    flipped.write_text("request_id,label\n" + "".join(f"r{i},0\n" for i in range(20)))
    for path in (csv_file, flipped):
        out = run("ab", "label", "m", "--file", str(path), "--tracking-uri", uri)
        assert out.exit_code == 1 and "written once" in out.output, out.output
    assert counts(logged) == (40, 20)  # odd ids right in the CSV half, even ids in the JSONL half


def test_a_correction_is_explicit_and_the_report_counts_it(logged, tmp_path):
    uri = logged.tracking_uri
    first = tmp_path / "first.csv"
    first.write_text("request_id,label\n" + "".join(f"r{i},0\n" for i in range(10)))
    assert run("ab", "label", "m", "--file", str(first), "--tracking-uri", uri).exit_code == 0
    fixed = tmp_path / "fixed.csv"
    fixed.write_text("request_id,label\nr1,1\nr3,1\n")
    out = run("ab", "label", "m", "--file", str(fixed), "--correct", "--tracking-uri", uri)
    assert out.exit_code == 0 and "corrected 2 label(s)" in out.output, out.output
    assert counts(logged) == (10, 7)
    (c,) = logged.store.predictions.joined("m")
    assert c.corrected == 2
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("request_id,label\nr30,1\n")
    out = run("ab", "label", "m", "--file", str(unknown), "--correct", "--tracking-uri", uri)
    assert out.exit_code == 1 and "label them first" in out.output, out.output


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("l.csv", "request_id,label\nr1,1\nr2,\n", "Label for r2"),
        ("l.csv", "id,label\nr1,1\n", "header must name request_id and label"),
        ("l.jsonl", '{"request_id": "r1", "label": 1}\n{"request_id": "r2"}\n', "Line 2"),
        ("l.jsonl", '{"request_id": "r1", "label": 1}\nnot json\n', "Line 2 is not JSON"),
        ("l.txt", "r1,1\n", "use a .csv or .jsonl file"),
        ("l.csv", "", "header must name"),
    ],
)
def test_a_bad_file_writes_nothing(logged, tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    out = run("ab", "label", "m", "--file", str(path), "--tracking-uri", logged.tracking_uri)
    assert out.exit_code == 1 and message in out.output, out.output
    assert counts(logged) == (0, 0)


def test_prune_keeps_what_is_recent(logged):
    old = int((time.time() - 3 * 86400) * 1000)
    logged.store.predictions.log_predictions(
        "m", [PredictionRecord("old", 0, "champion", "1", "1", None, 1.0, old)]
    )
    uri = logged.tracking_uri
    out = run("ab", "prune", "m", "--prediction-retention", "2d", "--tracking-uri", uri)
    assert out.exit_code == 0 and "deleted 1 prediction row(s), 0 label row(s)" in out.output
    assert logged.store.predictions.joined("m")[0].logged == 40
    out = run("ab", "prune", "--prediction-retention", "soon", "--tracking-uri", uri)
    assert out.exit_code == 1 and "Bad --prediction-retention 'soon'" in out.output, out.output


def test_large_files_go_in_chunks_the_store_takes(client, monkeypatch):
    """Chunks close on labels per call and on rows per call (multi-row labels)."""
    from trk.ab import label_files

    monkeypatch.setattr(label_files, "LABELS_PER_CALL", 3)
    monkeypatch.setattr(label_files, "LABEL_ROWS_PER_CALL", 5)
    calls = []

    class Counting:  # the real store's log, counting the calls it gets
        def log_labels(self, model, items):
            calls.append(len(items))
            return client.store.predictions.log_labels(model, items)

    items = [{"request_id": f"r{i}", "label": [1, 0] if i % 2 else 1} for i in range(8)]
    assert label_files.write_labels(Counting(), "m", items).pending == 8
    assert calls == [3, 3, 2]  # 1+2+1 rows | 2+1+2 | 1+2: never over 3 labels or 5 rows
    assert len(client.store.predictions.outcomes("m")) == 0  # labels only; nothing logged
    with client.store._engine.connect() as conn:
        from sqlalchemy import func, select

        from trk.store import schema

        rows = conn.execute(select(func.count()).select_from(schema.pending_labels)).scalar()
    assert rows == 12
