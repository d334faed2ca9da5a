"""One report window of one variant: counts, a bounded latency reservoir, predicted classes."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import mul
from typing import Any

from trk.serving.online.buckets import bucket_counts
from trk.serving.online.records import count_classes
from trk.serving_contract import (
    LATENCY_BUCKET_LOW,
    LATENCY_EDGES_MS,
    LATENCY_HIST_PREFIX,
    PAIRED_KEYS,
    PRED_PREFIX,
)

RESERVOIR = 2048  # latencies kept per variant per window; percentiles of a uniform sample
MAX_CLASSES = 50  # predicted classes counted per window; the rest are lumped as "other"
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass
class VariantInfo:
    """What a serving run records about the variant: its params."""

    name: str
    model_uri: str
    model_version: str
    mode: str
    weight: float


@dataclass
class WindowStats:
    """Accumulates one window; every method is O(1) per request (amortised)."""

    requests: int = 0
    errors: int = 0
    seen: int = 0
    latencies: list[float] = field(default_factory=list)
    classes: dict[str, int] = field(default_factory=dict)
    hist: dict[int, int] = field(default_factory=dict)  # every latency, by log bucket
    rng: random.Random = field(default_factory=random.Random, repr=False)
    # Algorithm L (Li 1994): the `seen` count of the next latency to keep, and its weight.
    _next: int = field(default=0, repr=False)
    _w: float = field(default=1.0, repr=False)

    def observe(self, seconds: float | None, ok: bool) -> None:
        self.observe_many([] if seconds is None else [seconds], 1, 0 if ok else 1)

    def observe_many(self, latencies: Sequence[float], requests: int, errors: int) -> None:
        """Count `requests` (of them `errors` server errors) and the latencies they carry:
        the same sample, drawn with the same random numbers, as observing them one by one,
        with one draw per latency kept instead of one per latency seen."""
        self.requests += requests
        self.errors += errors
        if not latencies:
            return
        hist = self.hist  # latency_bucket(ms) of each, counted in one pass
        ms = list(map(partial(mul, 1000.0), latencies))
        for i, n in bucket_counts(ms, LATENCY_EDGES_MS, right=True).items():
            k = LATENCY_BUCKET_LOW + i
            hist[k] = hist.get(k, 0) + n
        first = self.seen  # latencies[i] is the (first + i + 1)-th seen
        self.seen += len(latencies)
        kept = self.latencies
        if len(kept) < RESERVOIR:
            room = RESERVOIR - len(kept)
            kept.extend(latencies[:room])
            if len(kept) < RESERVOIR:
                return
            self._skip(first + room)
        while self._next <= self.seen:  # kept: it replaces a random one of the sample
            kept[self.rng.randrange(RESERVOIR)] = latencies[self._next - first - 1]
            self._skip(self._next)

    def _skip(self, seen: int) -> None:
        """Draw how many latencies pass after the `seen`-th before the next one is kept: the
        sample stays uniform over all seen (as Algorithm R's draw per latency, ~0.6 us each,
        kept it), with a draw only per kept latency."""
        rng = self.rng
        self._w *= math.exp(math.log(rng.random() or 1e-300) / RESERVOIR)
        gap = math.log(rng.random() or 1e-300) / math.log1p(-self._w) if self._w < 1.0 else 0.0
        self._next = seen + int(gap) + 1

    def observe_classes(self, predictions: Any) -> None:
        self.add_classes(count_classes(predictions))

    def add_classes(self, counted: list[tuple[str, int]] | None) -> None:
        """Add (label, count) pairs counted once per request (None: nothing to count)."""
        for value, count in counted or ():
            self._count(value, count)

    def _count(self, value: str, count: int) -> None:
        key = value if value in self.classes or len(self.classes) < MAX_CLASSES else "other"
        self.classes[key] = self.classes.get(key, 0) + count


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (0..100) of sorted values."""
    pos = q / 100 * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def class_key(label: str) -> str:
    """`pred.<label>` with characters a metric key cannot hold replaced."""
    return PRED_PREFIX + _KEY_CHARS.sub("_", label)[:200]


def window_metrics(
    stats: WindowStats, seconds: float, counters: dict[str, float], version: str
) -> dict[str, float]:
    """The metric values of one closed window (DESIGN's 'Serving runs' names)."""
    m: dict[str, float] = {
        "requests": stats.requests,
        "errors": stats.errors,
        "error_rate": stats.errors / stats.requests if stats.requests else 0.0,
        "throughput_rps": stats.requests / seconds if seconds > 0 else 0.0,
    }
    if stats.latencies:
        lat = sorted(stats.latencies)
        for q in (50, 95, 99):
            m[f"latency_p{q}_ms"] = percentile(lat, q) * 1000
    for k, count in stats.hist.items():
        m[f"{LATENCY_HIST_PREFIX}{k}"] = count
    if version.isdigit():
        m["model_version"] = float(version)
    if "shadow_compared" in counters:
        compared, agreed = counters["shadow_compared"], counters.get("shadow_agreed", 0.0)
        m["shadow_compared"], m["shadow_agreed"] = compared, agreed
        if compared:
            m["shadow_agreement"] = agreed / compared
    m.update(_label_metrics(counters))
    m.update({k: counters[k] for k in PAIRED_KEYS if k in counters})
    for label, count in stats.classes.items():
        m[class_key(label)] = count
    return m


def _label_metrics(c: dict[str, float]) -> dict[str, float]:
    labelled = c.get("labelled", 0.0)
    reg = c.get("regression_labelled", 0.0)
    m = {"labelled": labelled}
    if labelled - reg > 0 or not reg:  # a classifier (or nothing labelled yet)
        m["correct"] = c.get("correct", 0.0)
        if labelled - reg > 0:
            m["accuracy"] = m["correct"] / (labelled - reg)
    if reg:
        m["mae"] = c.get("abs_error_sum", 0.0) / reg
        m["rmse"] = math.sqrt(c.get("sq_error_sum", 0.0) / reg)
    return m
