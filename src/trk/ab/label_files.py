"""Bulk and delayed labels from a file: `trk ab label MODEL --file labels.csv|jsonl`.

CSV: a header with `request_id` and `label` (other columns are ignored), one request per line.
JSON Lines: one `{"request_id", "label"}` per line (`label` may be a list for a request of
several rows). The whole file is read and checked before the first label is written, so a bad
line writes nothing; writes are upserts by request id, so running the same file twice counts
each label once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from trk.exceptions import InvalidParameter
from trk.store.prediction_records import LABEL_ROWS_PER_CALL, LABELS_PER_CALL, parse_labels


def read_labels(path: str | Path) -> list[dict[str, Any]]:
    """Every `{"request_id", "label"}` of a .csv or .jsonl file, each line checked."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise InvalidParameter(f"--file {path.name}: use a .csv or .jsonl file")
    try:
        with path.open(encoding="utf-8", newline="") as f:
            items = list(_csv(f) if suffix == ".csv" else _jsonl(f))
    except OSError as exc:
        raise InvalidParameter(f"Cannot read --file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidParameter(f"--file {path} is not UTF-8 text") from None
    if not items:
        raise InvalidParameter(f"--file {path} has no labels")
    return items


def _csv(f: Any) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(f)
    if not reader.fieldnames or not {"request_id", "label"} <= set(reader.fieldnames):
        raise InvalidParameter("The CSV header must name request_id and label columns")
    try:
        for line, row in enumerate(reader, start=2):
            item = {"request_id": row["request_id"], "label": row["label"]}
            _check(item, line)
            yield item
    except csv.Error as exc:
        raise InvalidParameter(f"CSV line {reader.line_num}: {exc}") from None


def _jsonl(f: Any) -> Iterator[dict[str, Any]]:
    for line, text in enumerate(f, start=1):
        if not text.strip():
            continue
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InvalidParameter(f"Line {line} is not JSON") from None
        _check(item, line)
        yield item


def _check(item: Any, line: int) -> None:
    try:
        parse_labels([item], 0, 1)
    except InvalidParameter as exc:
        raise InvalidParameter(f"Line {line}: {exc}") from None


def write_labels(log: Any, model: str, items: list[dict[str, Any]]) -> int:
    """Upsert the labels in chunks the store takes in one call; returns rows written."""
    chunk: list[dict[str, Any]] = []
    written = rows = 0
    for item in items:
        n = len(item["label"]) if isinstance(item["label"], list) else 1
        if chunk and (len(chunk) == LABELS_PER_CALL or rows + n > LABEL_ROWS_PER_CALL):
            written += log.log_labels(model, chunk)
            chunk, rows = [], 0
        chunk.append(item)
        rows += n
    return written + (log.log_labels(model, chunk) if chunk else 0)
