"""Bulk and delayed labels from a file: `trk ab label MODEL --file labels.csv|jsonl`.

CSV: a header with `request_id` and `label` (other columns are ignored), one request per line.
JSON Lines: one `{"request_id", "label"}` per line (`label` may be a list for a request of
several rows). The whole file is read and checked before the first label is written, so a bad
line writes nothing. Labels are written once: running the same file again is refused (409)
and changes nothing; `--correct` replaces stored labels, each correction kept (audited).
Files past one call's limit go in chunks, each a transaction of its own.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from trk.contracts.predictions import (
    LABEL_ROWS_PER_CALL,
    LABELS_PER_CALL,
    LabelsWritten,
    parse_labels,
)
from trk.exceptions import InvalidParameter, TrkError


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


def _chunks(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The labels in chunks the store takes in one call."""
    chunk: list[dict[str, Any]] = []
    rows = 0
    for item in items:
        n = len(item["label"]) if isinstance(item["label"], list) else 1
        if chunk and (len(chunk) == LABELS_PER_CALL or rows + n > LABEL_ROWS_PER_CALL):
            yield chunk
            chunk, rows = [], 0
        chunk.append(item)
        rows += n
    if chunk:
        yield chunk


def write_labels(log: Any, model: str, items: list[dict[str, Any]]) -> LabelsWritten:
    """Write the labels once each, chunk by chunk; returns what was joined and pending."""
    joined = pending = expired = 0
    for chunk in _chunks(items):
        try:
            done = log.log_labels(model, chunk)
        except TrkError as exc:
            if not joined + pending:
                raise
            # Earlier chunks committed: the refusal says so.
            stored = f"{exc.message} ({joined + pending} label(s) before it were stored)"
            raise type(exc)(stored) from exc
        joined, pending = joined + done.joined, pending + done.pending
        expired += done.expired
    return LabelsWritten(joined, pending, expired)


def correct_labels(log: Any, model: str, items: list[dict[str, Any]]) -> int:
    """Replace stored labels by the file's, chunk by chunk; returns the labels corrected."""
    return sum(log.correct_labels(model, chunk) for chunk in _chunks(items))
