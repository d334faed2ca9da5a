"""Ground truth: recent predictions kept per request id, joined to labels sent to /feedback.

In memory and per process: a label must reach the replica (and worker) that answered, ids
older than `ttl_s` or pushed out by `capacity` newer requests are counted as expired, and a
restart forgets everything. Counters are cumulative; the reporter turns them into windows.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, cast

import numpy as np

from trk.exceptions import BadRequest
from trk.serving.online.records import ANSWER, REQUEST_ID, Batch
from trk.serving_contract import CHALLENGER, CHAMPION, PAIRED_KEYS

CLASSIFIER, REGRESSOR = "classifier", "regressor"
_PAIRS = "\0pairs"  # plan key of the shadow pair counts (never a variant name)
COUNTER_KEYS = ("labelled", "correct", "abs_error_sum", "sq_error_sum", "regression_labelled")


# One kept request: (when it was folded, the champion's answer), or, when another variant
# answered too (a shadow's copy) or alone (split mode), (when, variant, its answer, variant,
# its answer). One flat tuple, the champion's answer bare: an entry object and its dict were
# ~240 of the ~760 bytes each of the 100,000 kept requests held (tracemalloc), and the
# collector stops tracking a tuple of plain values at its next pass, while a dict per
# shadowed request put 100,000 objects in every full collection (shadow mode's p99 at 8
# connections was 40 ms, 3 ms with the collector off).
Entry = tuple[object, ...]


def kept(answer: object) -> object:
    """An answer as kept until its label: a one-value array as its plain value (the same rows,
    class and task for the join; a small int class is then no object of its own)."""
    if (
        type(answer) is np.ndarray
        and answer.size == 1
        and answer.ndim <= 2
        and answer.dtype.kind in "biufUS"
    ):
        return answer.item()
    return answer


def answers_of(entry: Entry) -> dict[str, object]:
    """Each variant's answer of a kept request."""
    if len(entry) == 2:
        return {CHAMPION: entry[1]}
    return {str(variant): answer for variant, answer in zip(entry[1::2], entry[2::2], strict=True)}


def _adding(entry: Entry | None, now: float, variant: str, answer: object) -> Entry:
    """The entry once `variant`'s answer is kept too (its time: the first answer's)."""
    if entry is None:
        return (now, answer) if variant == CHAMPION else (now, variant, answer)
    if len(entry) == 2 and variant != CHAMPION:  # the usual: a shadow's after its champion's
        return (entry[0], CHAMPION, entry[1], variant, answer)
    answers = answers_of(entry)
    answers[variant] = answer
    if len(answers) == 1 and CHAMPION in answers:
        return (entry[0], answer)
    return (entry[0], *(x for pair in answers.items() for x in pair))


@dataclass
class FeedbackResult:
    """What one /feedback call did."""

    joined: int = 0
    unknown: int = 0
    expired: int = 0
    duplicate: int = 0
    labelled: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "joined": self.joined,
            "unknown": self.unknown,
            "expired": self.expired,
            "duplicate": self.duplicate,
            "labelled_rows": self.labelled,
        }


def task_of(predictions: Any) -> str:
    """Floats are a regressor's answers; ints, bools and strings a classifier's."""
    arr = np.asarray(predictions)
    return REGRESSOR if arr.dtype.kind in "fc" else CLASSIFIER


def as_rows(predictions: Any) -> list[Any]:
    """Predictions as one plain value per row (a single output column is flattened)."""
    if hasattr(predictions, "to_numpy"):  # pandas Series / DataFrame
        predictions = predictions.to_numpy()
    arr = np.asarray(predictions)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise BadRequest(
            f"Feedback joins one label per row; this model answers {arr.ndim}-D predictions "
            f"of shape {list(arr.shape)}"
        )
    rows: list[Any] = arr.tolist()
    return rows


class FeedbackStore:
    """Bounded request_id -> predictions store (LRU by insertion, TTL) with per-variant counters."""

    def __init__(
        self,
        capacity: int = 100_000,
        ttl_s: float = 3600.0,
        max_batch: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        on_result: Callable[[FeedbackResult, dict[str, dict[str, float]]], None] | None = None,
    ) -> None:
        self.capacity, self.ttl_s, self.max_batch = capacity, ttl_s, max_batch
        self.clock = clock
        self.on_result = on_result
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        # Ids that left the store, so a late label counts as expired/duplicate, not unknown.
        self._gone: OrderedDict[str, str] = OrderedDict()
        self._counters: dict[str, dict[str, float]] = {}
        self._totals = {"joined": 0, "unknown": 0, "expired": 0, "duplicate": 0}
        self._lock = threading.Lock()

    # -- recording (folded records: O(1) each) ----------------------------------------------
    def fold(self, records: Batch) -> None:
        """Fold consumer: remember each answer (a shadow answer adds to its request's)."""
        now = self.clock()
        entries = self._entries
        with self._lock:
            for run in records.runs:
                if run.status != 200 or not run.variant:
                    continue
                rids = list(map(REQUEST_ID, run.records))
                scalars = run.scalars  # one-value answers: their values, read in one pass
                answers = map(kept, map(ANSWER, run.records)) if scalars is None else scalars
                if run.variant == CHAMPION and entries.keys().isdisjoint(rids):  # the usual
                    kept_now = zip(repeat(now), answers, strict=False)
                    entries.update(zip(rids, kept_now, strict=True))
                    continue
                get, variant = entries.get, run.variant
                for rid, answer in zip(rids, answers, strict=True):
                    entries[rid] = _adding(get(rid), now, variant, answer)
            self._evict(now)  # once per batch: the bound holds again before the lock opens

    def record(self, request_id: str, variant: str, predictions: Any) -> None:
        """Remember what `variant` answered for `request_id` (a shadow answer adds to it)."""
        with self._lock:
            self._remember(request_id, variant, predictions, self.clock())

    def _remember(self, request_id: str, variant: str, predictions: Any, now: float) -> None:
        entry = self._entries.get(request_id)
        self._entries[request_id] = _adding(entry, now, variant, kept(predictions))
        if entry is None:
            self._evict(now)

    def _evict(self, now: float) -> None:
        """Forget the oldest ids past the capacity, then those older than the TTL."""
        entries, pop = self._entries, self._entries.popitem
        self._forget_all([pop(last=False)[0] for _ in range(len(entries) - self.capacity)])
        while entries and now - cast(float, next(iter(entries.values()))[0]) > self.ttl_s:
            self._forget(pop(last=False)[0], "expired")
        self._trim_gone()

    def _forget(self, rid: str, why: str) -> None:
        self._gone[rid] = why
        self._gone.move_to_end(rid)

    def _forget_all(self, rids: list[str]) -> None:
        """`_forget(rid, "expired")` for each, in one update where none left before."""
        if self._gone.keys().isdisjoint(rids):
            self._gone.update(zip(rids, repeat("expired")))
            return
        for rid in rids:  # an id that left before (a client's reused id) moves to the end
            self._forget(rid, "expired")

    def _trim_gone(self) -> None:
        """The ids that left are bounded like those kept (after each fold and label call)."""
        gone = self._gone
        for _ in range(len(gone) - self.capacity):
            gone.popitem(last=False)

    # -- labels -----------------------------------------------------------------------------
    def submit(self, payload: Any) -> FeedbackResult:
        """Join `{"request_id", "label"}` or a list of them; all checked before any is counted."""
        items = payload if isinstance(payload, list) else [payload]
        if not items:
            raise BadRequest('Feedback is empty: send {"request_id": ..., "label": ...}')
        if len(items) > self.max_batch:
            raise BadRequest(
                f"Feedback batch of {len(items)} is over the limit of {self.max_batch} per call"
            )
        parsed = [_parse_item(i, n) for n, i in enumerate(items)]
        with self._lock:
            self._evict(self.clock())
            plans = [self._plan(rid, label) for rid, label in parsed]
            result = FeedbackResult()
            for rid, plan in zip((p[0] for p in parsed), plans, strict=True):
                self._apply(rid, plan, result)
            self._trim_gone()
            for key in self._totals:
                self._totals[key] += getattr(result, key)
        if self.on_result is not None:
            self.on_result(result, self.counters())
        return result

    def _plan(self, rid: str, label: Any) -> str | dict[str, tuple[float, ...]]:
        """Validate one label against what was predicted; the counts it adds, or why not."""
        entry = self._entries.get(rid)
        if entry is None:
            return (
                "duplicate"
                if self._gone.get(rid) == "labelled"
                else ("expired" if rid in self._gone else "unknown")
            )
        answers = answers_of(entry)
        plan = {variant: score(rid, preds, label) for variant, preds in answers.items()}
        if CHAMPION in plan and CHALLENGER in plan:  # shadow: one request, both answers
            pairs = paired_score(rid, answers[CHAMPION], answers[CHALLENGER], label)
            if pairs is not None:
                plan[_PAIRS] = pairs
        return plan

    def _apply(self, rid: str, plan: Any, result: FeedbackResult) -> None:
        if isinstance(plan, str) or rid not in self._entries:  # not there, or twice in one call
            why = plan if isinstance(plan, str) else "duplicate"
            setattr(result, why, getattr(result, why) + 1)
            return
        del self._entries[rid]
        self._forget(rid, "labelled")
        result.joined += 1
        pairs = plan.pop(_PAIRS, None)
        if pairs is not None:  # kept with the challenger's counters: its windows log them
            counters = self._counters.setdefault(CHALLENGER, dict.fromkeys(COUNTER_KEYS, 0.0))
            for key, value in zip(PAIRED_KEYS, pairs, strict=True):
                counters[key] = counters.get(key, 0.0) + value
        for variant, added in plan.items():
            counters = self._counters.setdefault(variant, dict.fromkeys(COUNTER_KEYS, 0.0))
            for key, value in zip(COUNTER_KEYS, added, strict=True):
                counters[key] += value
            result.labelled[variant] = result.labelled.get(variant, 0) + int(added[0])

    # -- reading ----------------------------------------------------------------------------
    def counters(self) -> dict[str, dict[str, float]]:
        """Per variant, the cumulative labelled, correct, abs_error_sum, sq_error_sum and
        regression_labelled."""
        with self._lock:
            return {v: dict(c) for v, c in self._counters.items()}

    def totals(self) -> dict[str, int]:
        """Cumulative joined/unknown/expired/duplicate label counts."""
        with self._lock:
            return dict(self._totals)

    def __len__(self) -> int:
        return len(self._entries)


def _parse_item(item: Any, index: int) -> tuple[str, Any]:
    if not isinstance(item, dict) or "request_id" not in item or "label" not in item:
        raise BadRequest(f"Feedback item {index} must be an object with request_id and label")
    rid = item["request_id"]
    if not isinstance(rid, str) or not rid:
        raise BadRequest(f"Feedback item {index}: request_id must be a non-empty string")
    return rid, item["label"]


def score(rid: str, predictions: Any, label: Any) -> tuple[float, ...]:
    """(rows, correct rows, sum |error|, sum error^2, regression rows) for one request."""
    rows = as_rows(predictions)
    labels = label if isinstance(label, list) else [label]
    if len(labels) != len(rows):
        raise BadRequest(
            f"Feedback for {rid}: {len(labels)} label(s) for a request of {len(rows)} row(s)"
        )
    if task_of(predictions) == REGRESSOR:
        errors = [float(p) - _number(rid, y) for p, y in zip(rows, labels, strict=True)]
        return len(rows), 0.0, sum(abs(e) for e in errors), sum(e * e for e in errors), len(rows)
    kind = _label_kind(rows[0]) if rows else "number"
    correct = sum(p == _class(rid, y, kind) for p, y in zip(rows, labels, strict=True))
    return len(rows), float(correct), 0.0, 0.0, 0.0


def paired_score(rid: str, champion: Any, challenger: Any, label: Any) -> tuple[float, ...] | None:
    """(rows, both right, only the champion right, only the challenger right); None for a
    regressor (the paired test is for classes)."""
    if task_of(champion) == REGRESSOR or task_of(challenger) == REGRESSOR:
        return None
    rows_a, rows_b = as_rows(champion), as_rows(challenger)
    labels = label if isinstance(label, list) else [label]
    if not rows_a or len(rows_a) != len(rows_b) or len(labels) != len(rows_a):
        return None
    truth = [_class(rid, y, _label_kind(rows_a[0])) for y in labels]
    right_a = [p == y for p, y in zip(rows_a, truth, strict=True)]
    right_b = [p == y for p, y in zip(rows_b, truth, strict=True)]
    both = sum(a and b for a, b in zip(right_a, right_b, strict=True))
    return float(len(truth)), float(both), float(sum(right_a) - both), float(sum(right_b) - both)


def _label_kind(prediction: Any) -> str:
    return "string" if isinstance(prediction, str) else "number"


def _number(rid: str, y: Any) -> float:
    if isinstance(y, bool) or not isinstance(y, int | float) or not math.isfinite(y):
        raise BadRequest(
            f"Feedback for {rid}: a regressor's label must be a finite number, got {y!r}"
        )
    return float(y)


def _class(rid: str, y: Any, kind: str) -> Any:
    if kind == "string" and isinstance(y, str):
        return y
    if kind == "number" and isinstance(y, int | float) and not isinstance(y, str):
        if isinstance(y, float) and not y.is_integer():
            raise BadRequest(f"Feedback for {rid}: class label {y!r} is not a whole number")
        return int(y)
    want = "a string" if kind == "string" else "an integer"
    raise BadRequest(f"Feedback for {rid}: label must be {want} like the predictions, got {y!r}")
