"""Labels beside the captures: `URI/labels/model=NAME/date=D/part-<uuid>.parquet`.

Evidence is written once: the first label of a request id wins. A writer skips ids already
labelled there (and repeats within its own batch), and readers keep the earliest label of an
id (trk.capture.query), so two writers racing on the same id still agree on one label.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from trk.capture import layout
from trk.capture.target import Target, open_target
from trk.contracts.predictions import LabelsWritten, check_id, label_rows
from trk.exceptions import InvalidParameter

MAX_LABELS = 1_000_000  # labels per write (a file of them)


@dataclass(frozen=True)
class LabelWrite:
    written: int  # labels stored
    refused: int  # ids already labelled (first write wins)


def labelled_ids(target: Target, model: str) -> set[str]:
    """Request ids that already have a label in the capture."""
    keys = target.keys(layout.model_prefix(model, labels=True))
    if not keys:
        return set()
    import pyarrow.parquet as pq

    fs, paths = target.paths(keys)
    table = pq.read_table(
        paths, filesystem=fs, columns=["request_id"], schema=layout.label_schema()
    )
    return set(table.column("request_id").to_pylist())


def write_labels(target: Target, model: str, items: list[dict[str, Any]]) -> LabelWrite:
    """Store `[{"request_id", "label"}]` as one file; ids labelled before are refused."""
    layout.check_model(model)
    if len(items) > MAX_LABELS:
        raise InvalidParameter(f"At most {MAX_LABELS} labels per write, got {len(items)}")
    now = int(time.time() * 1000)
    checked = [_checked(item, now) for item in items]
    seen = labelled_ids(target, model)
    ids, labels = [], []
    for rid, label in checked:
        if rid not in seen:
            seen.add(rid)
            ids.append(rid)
            labels.append(label)
    if ids:
        _publish(target, model, ids, labels, now)
    return LabelWrite(len(ids), len(checked) - len(ids))


class CaptureLabels:
    """`POST /feedback` on a capturing replica: each call's labels as one file beside the
    captures. Ids are not looked up first (that would read every label file per call); the
    reports keep the earliest label of an id, so the first label still wins."""

    def __init__(self, uri: str, model: Callable[[], str]) -> None:
        self.uri, self.model = uri, model
        self._target: Target | None = None

    def write(self, items: list[dict[str, Any]]) -> LabelsWritten:
        now = int(time.time() * 1000)
        checked = [_checked(item, now) for item in items]
        if self._target is None:
            self._target = open_target(self.uri)
        model = layout.check_model(self.model())
        _publish(self._target, model, [c[0] for c in checked], [c[1] for c in checked], now)
        return LabelsWritten(joined=len(checked))  # the reports join them, however late


def _checked(item: Any, at_ms: int) -> tuple[str, str]:
    if not isinstance(item, dict) or "request_id" not in item or "label" not in item:
        raise InvalidParameter('Each label needs "request_id" and "label"')
    rid = check_id("request_id", item["request_id"])
    label_rows(rid, item["label"], at_ms)  # the store's checks: finite, short, no NUL
    return rid, orjson.dumps(item["label"]).decode()


def _publish(target: Target, model: str, ids: list[str], labels: list[str], now: int) -> None:
    import pyarrow.parquet as pq

    pa = layout.pyarrow()
    table = pa.Table.from_pydict(
        {"request_id": ids, "label": labels, "timestamp": [now] * len(ids)},
        schema=layout.label_schema(),
    )
    key = f"{layout.label_dir(model, layout.hour_of(now)[0])}/{layout.part_name()}"
    with tempfile.TemporaryDirectory(prefix="trk-labels-") as tmp:
        path = Path(tmp) / "labels.parquet"
        pq.write_table(table, path, compression="zstd")
        target.put(path, key)
