"""`trk ab prune --capture-uri`: delete whole partitions older than a cutoff.

A capture partition goes when its hour has ended before the cutoff, a label partition when its
day has; files are never rewritten, so a reader sees a partition whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from trk.capture import layout
from trk.capture.target import open_target


@dataclass(frozen=True)
class Pruned:
    partitions: int
    files: int


def prune(uri: str, before_ms: int, model: str | None = None) -> Pruned:
    """Delete the partitions (captures and labels, of `model` or all) that end before it."""
    target = open_target(uri)
    prefixes = (
        [layout.model_prefix(model), layout.model_prefix(model, labels=True)]
        if model is not None
        else [""]
    )
    doomed: dict[str, list[str]] = {}
    for prefix in prefixes:
        for key in target.keys(prefix):
            where = layout.parse_key(key)
            if where is None or where[0] != (model or where[0]):
                continue
            if not layout.in_window(where[1], where[2], before_ms):
                doomed.setdefault(key.rsplit("/", 1)[0], []).append(key)
    keys = [k for ks in doomed.values() for k in ks]
    target.delete(keys)
    return Pruned(len(doomed), len(keys))
