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
from dataclasses import dataclass
from typing import Any

import numpy as np

from trk.ab.arms import Pair, version_of
from trk.ab.looks import PairedLooks, UnpairedLooks
from trk.ab.windows import VariantWindows
from trk.contracts.predictions import JoinedCounts, Outcome, PairedCounts, PairedOutcome
from trk.exceptions import EndpointNotFound, TrkError

log = logging.getLogger(__name__)


def _log_of(client: Any) -> Any:
    """A client's store's prediction log, or a log passed in place of the client (captures)."""
    if hasattr(client, "joined"):
        return client
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
    except EndpointNotFound:  # a server without them (mlflow server, an older trk server)
        return []
    except TrkError as exc:
        log.warning("the store's prediction log could not be read: %s", exc)
        return []
    return counts


def _query(client: Any, what: str, model: str, since_s: float | None) -> list[Any]:
    """`store.predictions.<what>(model, since)`, or nothing where the store cannot answer."""
    found = _log_of(client)
    if found is None:
        return []
    try:
        return list(getattr(found, what)(model, _since_ms(since_s)))
    except TrkError:
        return []


def paired_counts(client: Any, model: str, since_s: float | None = None) -> list[PairedCounts]:
    """Shadow mode: McNemar's table per (champion version, challenger version)."""
    return _query(client, "paired", model, since_s)


def label_totals(counts: list[JoinedCounts]) -> dict[str, dict[str, float]]:
    """Per variant (versions summed): the label counts the report's totals take from the join."""
    out: dict[str, dict[str, float]] = {}
    for c in counts:
        t = out.setdefault(c.variant, {"labelled": 0.0, "correct": 0.0})
        t["labelled"] += c.labelled
        t["correct"] += c.correct
    return out


def outcomes(client: Any, model: str, since_s: float | None = None) -> list[Outcome]:
    """Labelled rows in the order their labels arrived (the looks of the sequential test)."""
    return _query(client, "outcomes", model, since_s)


def inverse_propensity(client: Any, model: str, since_s: float | None = None) -> list[Any]:
    """Per (variant, version) inverse-propensity accuracy from the logged routing odds."""
    from trk.ab.propensity import estimates

    return estimates(_query(client, "propensity", model, since_s))


@dataclass
class StoreLabels:
    """The store's join for one model: label totals per (variant, version), pairs, looks."""

    client: Any
    model: str
    since_s: float | None
    counts: list[JoinedCounts]

    @classmethod
    def read(cls, client: Any, model: str, since_s: float | None) -> StoreLabels:
        return cls(client, model, since_s, joined_counts(client, model, since_s))

    def __bool__(self) -> bool:  # False: no log for the model, the windows count the labels
        return bool(self.counts)

    def apply(self, variants: dict[str, VariantWindows]) -> None:
        """Replace each variant's window label counts with the join's (versions summed)."""
        totals = label_totals(self.counts)
        if totals:
            for name, vw in variants.items():
                vw.joined = totals.get(name, {"labelled": 0.0, "correct": 0.0})

    def apply_per_version(self, arms: dict[str, list[VariantWindows]]) -> None:
        """The same per (variant, version) row of the report."""
        if not self:
            return
        by_key = {(c.variant, c.version): c for c in self.counts}
        for name, rows in arms.items():
            for arm in rows:
                c = by_key.get((name, version_of(arm)))
                arm.joined = {
                    "labelled": float(c.labelled if c else 0),
                    "correct": float(c.correct if c else 0),
                }

    def looks(self, pair: Pair) -> UnpairedLooks | PairedLooks | None:
        """Accuracy looks of the two versions: the shadow pairs, else label by label."""
        a, b = version_of(pair.baseline), version_of(pair.candidate)
        if a != b:
            table = next(
                (
                    p
                    for p in paired_counts(self.client, self.model, self.since_s)
                    if (p.champion_version, p.challenger_version) == (a, b) and p.pairs
                ),
                None,
            )
            if table is not None:
                rows = _query(self.client, "paired_outcomes", self.model, self.since_s)
                return paired_looks(
                    [r for r in rows if (r.champion_version, r.challenger_version) == (a, b)], table
                )
        keys = ((pair.baseline.variant, a), (pair.candidate.variant, b))
        rows = [
            o
            for o in outcomes(self.client, self.model, self.since_s)
            if o.correct is not None and (o.variant, o.version) in keys
        ]
        return outcome_looks(rows, keys, pair)


def paired_looks(rows: list[PairedOutcome], table: PairedCounts) -> PairedLooks:
    """Cumulative pairs, both right, only the champion, only the challenger, per label time."""
    t = np.array([o.labelled_ms for o in rows], dtype=np.int64)
    a = np.array([o.champion_correct for o in rows], dtype=bool)
    b = np.array([o.challenger_correct for o in rows], dtype=bool)
    cells = np.stack([np.ones_like(a), a & b, a & ~b, ~a & b], axis=1).cumsum(axis=0)
    last = np.r_[t[1:] != t[:-1], True] if len(t) else np.zeros(0, dtype=bool)
    times, cum = t[last], [cells[last, i] for i in range(4)]
    totals = [table.pairs, table.both_correct, table.champion_only, table.challenger_only]
    if not len(times) or [int(c[-1]) for c in cum] != totals:
        # The outcome query is capped (or labels came in between): one more look, now.
        cum = [np.r_[c, v] for c, v in zip(cum, totals, strict=True)]
        times = np.r_[times, int(time.time() * 1000)]
    return PairedLooks(times, *cum)


def outcome_looks(
    rows: list[Outcome], keys: tuple[tuple[str, str], ...], pair: Pair
) -> UnpairedLooks | None:
    """Cumulative correct/labelled of both versions at each label's arrival time."""
    if not rows:
        return None
    t = np.array([o.labelled_ms for o in rows], dtype=np.int64)
    is_a = np.array([(o.variant, o.version) == keys[0] for o in rows])
    right = np.array([bool(o.correct) for o in rows])
    table = np.stack([is_a & right, is_a, ~is_a & right, ~is_a], axis=1).cumsum(axis=0)
    last = np.r_[t[1:] != t[:-1], True]  # one look per arrival time
    s_a, n_a, s_b, n_b = (table[last, i] for i in range(4))
    totals = [
        pair.baseline.total("correct"),
        pair.baseline.total("labelled"),
        pair.candidate.total("correct"),
        pair.candidate.total("labelled"),
    ]
    times = t[last]
    if [int(s_a[-1]), int(n_a[-1]), int(s_b[-1]), int(n_b[-1])] != totals:
        # The outcome query is capped: the labels past it make one last look, now.
        s_a, n_a, s_b, n_b = (
            np.r_[x, v] for x, v in zip((s_a, n_a, s_b, n_b), totals, strict=True)
        )
        times = np.r_[times, int(time.time() * 1000)]
    return UnpairedLooks(times, s_a, n_a, s_b, n_b)
