"""Labels for the A/B report from the store's join of every replica's predictions and labels.

The serving windows count only labels that reached the replica which answered, while it
still remembered the answer; the store's join counts every label once, whichever replica or
file it came through and however late. Where the store keeps a log for the model, its counts
replace the windows' `labelled` and `correct`; stores without one (an `mlflow server`, or
replicas run with `--no-prediction-log`) leave the windows' counts in place.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from trk.exceptions import NotFound, TrkError
from trk.store.prediction_records import JoinedCounts, PairedCounts

log = logging.getLogger(__name__)


def _log_of(client: Any) -> Any:
    return getattr(getattr(client, "store", None), "predictions", None)


def _since_ms(since_s: float | None) -> int | None:
    return int((time.time() - since_s) * 1000) if since_s else None


def joined_counts(client: Any, model: str, since_s: float | None = None) -> list[JoinedCounts]:
    """Per (variant, version): rows logged and labelled, correct, and regression errors.

    Empty when the store has no log for the model (or no log at all).
    """
    found = _log_of(client)
    if found is None:
        return []
    try:
        counts: list[JoinedCounts] = found.joined(model, _since_ms(since_s))
    except NotFound:  # a server without the endpoints (mlflow server, an older trk server)
        return []
    except TrkError as exc:
        log.warning("the store's prediction log could not be read: %s", exc)
        return []
    return counts


def paired_counts(client: Any, model: str, since_s: float | None = None) -> list[PairedCounts]:
    """Shadow mode: McNemar's table per (champion version, challenger version)."""
    found = _log_of(client)
    if found is None:
        return []
    try:
        pairs: list[PairedCounts] = found.paired(model, _since_ms(since_s))
    except TrkError:
        return []
    return pairs


def label_totals(counts: list[JoinedCounts]) -> dict[str, dict[str, float]]:
    """Per variant (versions summed): the label counts the report's totals take from the join."""
    out: dict[str, dict[str, float]] = {}
    for c in counts:
        t = out.setdefault(c.variant, {"labelled": 0.0, "correct": 0.0})
        t["labelled"] += c.labelled
        t["correct"] += c.correct
    return out
