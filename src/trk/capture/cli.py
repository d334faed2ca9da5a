"""What `trk ab label|prune|export --capture-uri` do, as one line of output each."""

from __future__ import annotations

import time
from typing import Any

from trk.ab.windows import parse_duration
from trk.capture.export import export
from trk.capture.labels import write_labels
from trk.capture.prune import prune
from trk.capture.target import open_target


def _ago_ms(duration: str, flag: str) -> int:
    return int((time.time() - parse_duration(duration, flag)) * 1000)


def label_capture(uri: str, model: str, items: list[dict[str, Any]]) -> str:
    done = write_labels(open_target(uri), model, items)
    refused = f"; {done.refused} already labelled (first label wins)" if done.refused else ""
    return f"stored {done.written} label(s) for {model} in {uri}{refused}"


def prune_capture(uri: str, model: str | None, older_than: str) -> str:
    done = prune(uri, _ago_ms(older_than, "--older-than"), model)
    return f"deleted {done.partitions} partition(s) ({done.files} file(s)) older than {older_than}"


def export_capture(uri: str, model: str, out: str, since: str | None, labelled_only: bool) -> str:
    since_ms = _ago_ms(since, "--since") if since else None
    rows = export(uri, model, out, since_ms, labelled_only)
    return f"wrote {rows} row(s) to {out}"
