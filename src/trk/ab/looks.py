"""Cumulative counts at each look: what a gate run at that moment would have seen.

A look is a report window's end time. Split mode: each arm's successes and trials summed
over its windows up to the look. Shadow mode: the pairs the challenger's windows counted
(both variants answered the same labelled request) in windows where the champion served the
baseline version (same serving process, same window number).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trk.ab.arms import Pair, version_of
from trk.ab.windows import VariantWindows, Window
from trk.serving_contract import PAIRED_KEYS

Ints = NDArray[np.int64]


@dataclass(frozen=True)
class UnpairedLooks:
    times: Ints  # ms since the epoch, one per look
    s_a: Ints
    n_a: Ints
    s_b: Ints
    n_b: Ints


@dataclass(frozen=True)
class PairedLooks:
    times: Ints
    pairs: Ints
    both: Ints  # both variants right
    champion_only: Ints
    challenger_only: Ints


def _cumulative(rows: dict[int, list[float]], width: int) -> tuple[Ints, list[Ints]]:
    times = np.array(sorted(rows), dtype=np.int64)
    table = np.array([rows[t] for t in sorted(rows)], dtype=float).reshape(-1, width)
    cum = np.rint(table.cumsum(axis=0)).astype(np.int64)
    return times, [cum[:, i] for i in range(width)]


def unpaired_looks(
    baseline: VariantWindows, candidate: VariantWindows, success: str, trials: str
) -> UnpairedLooks:
    """Successes and trials of both arms (only windows that report `success`), by look."""
    rows: dict[int, list[float]] = defaultdict(lambda: [0.0] * 4)
    for offset, arm in ((0, baseline), (2, candidate)):
        for w in arm.windows:
            if success in w.values:
                rows[w.timestamp][offset] += w.get(success)
                rows[w.timestamp][offset + 1] += w.get(trials)
    times, (s_a, n_a, s_b, n_b) = _cumulative(rows, 4)
    return UnpairedLooks(times, s_a, n_a, s_b, n_b)


def paired_looks(pair: Pair) -> PairedLooks | None:
    """The shadow pairs of the two versions, by look; None when no window counted pairs."""
    base = {(w.process, w.step) for w in pair.baseline.windows}
    rows: dict[int, list[float]] = defaultdict(lambda: [0.0] * 4)
    for w in pair.candidate.windows:
        if _has_pairs(w) and (w.process, w.step) in base:
            for i, key in enumerate(PAIRED_KEYS):
                rows[w.timestamp][i] += w.get(key)
    if not rows or version_of(pair.baseline) == version_of(pair.candidate):
        return None
    times, (pairs, both, champion_only, challenger_only) = _cumulative(rows, 4)
    return PairedLooks(times, pairs, both, champion_only, challenger_only)


def _has_pairs(w: Window) -> bool:
    return w.get(PAIRED_KEYS[0]) > 0
