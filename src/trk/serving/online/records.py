"""The one compact record a request leaves behind, and the contract of what folds them.

The request path builds one `Record` and appends it to the process's `RecordBuffer`
(`online/fold.py`); everything else (Prometheus series, report windows, the feedback join,
shadow agreement, samples, the prediction log, capture, drift) reads batches of records off
the request path as a `FoldConsumer`.

Adding a consumer: write a class with `fold(self, records: Batch) -> None` (called on the
event loop every fold interval with the records appended since the last call, in order; it
must not block: hand slow work to a thread or the log shipper) and pass it to `Folder` in
`serving/compose.py`. A consumer that needs the request rows reads `record.inputs`
(the decoded model input: a 2-D numpy array on the fast path, else a DataFrame or dict).
Count per `records.runs`, not per record: a batch is one run of alike records or a few, and
a run's columns are read in C (`map(ANSWER, run.records)`); a Python step per record costs
the fold about twice live what it costs in a benchmark (cold caches between folds).
"""

from __future__ import annotations

import time
from collections import Counter
from functools import cached_property
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple, Protocol

import numpy as np

SMALL_BATCH = 64  # predictions counted one by one below this size (np.unique costs ~30 us)
MAX_COUNTED = 10_000  # larger answers are not counted per class
UNROUTED = ""  # the variant of a request refused before routing (Prometheus says "none")


class Record(NamedTuple):
    """One answered (or refused) request, or one shadow answer; built once, never changed.

    A tuple: building one costs the request well under a microsecond and takes no lock.
    """

    request_id: str
    at: float  # time.perf_counter() at arrival; wall-clock seconds: Batch.time_of(record)
    variant: str  # "champion", "challenger", or UNROUTED
    version: str
    model: str  # the registered model name of the variant ("" when unrouted)
    probability: float  # the chance the router sends a request to this variant
    status: int  # the HTTP status answered (shadow answers: 200, or 500 when they failed)
    latency_s: float | None  # body read to answer ready; None when no model was reached
    answer: Any = None  # the predictions (None for errors)
    inputs: Any = None  # the decoded request rows (ModelInput.data)
    params: dict[str, Any] | None = None
    predict_s: float | None = None  # the model call alone (None when batched or not reached)
    rows: int = 0
    shadow: bool = False  # a challenger's copy, not an answer anyone received
    agreed: int | None = None  # shadow: rows that agreed with the champion's answer

    @property
    def ok(self) -> bool:
        """Not a server error: 4xx are the client's and never count against a variant."""
        return self.status < 500

    @property
    def labels(self) -> tuple[str, str, str]:
        """(variant, model, version), "none" for unrouted requests, as Prometheus shows them."""
        if not self.variant:
            return ("none", "none", "none")
        return (self.variant, self.model, self.version)


def column(*names: str) -> itemgetter[Any]:
    """A getter of records' fields by name, mapped over a run's records in C."""
    return itemgetter(*map(Record._fields.index, names))


_RUN_KEY = column("variant", "version", "model", "status", "shadow")
REQUEST_ID, AT, PROBABILITY = column("request_id"), column("at"), column("probability")
LATENCY, ANSWER, INPUTS = column("latency_s"), column("answer"), column("inputs")
_DTYPE, _NDIM = attrgetter("dtype"), attrgetter("ndim")


class Run:
    """Consecutive records of one batch that share variant, version, model, status and
    shadow: what a fold consumer counts once per run instead of once per record.

    A batch is a few runs (one in single mode; shadow copies arrive in runs of their own),
    and grouping, like the columns below, runs in C (`itertools.groupby`, `map`), so a
    consumer's Python work is per run and per distinct value, not per record."""

    def __init__(self, key: tuple[str, str, str, int, bool], records: list[Record]) -> None:
        self.variant, self.version, self.model, self.status, self.shadow = key
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def latencies(self) -> list[float]:
        """The latencies the run's records carry (None: no model was reached)."""
        return [s for s in map(LATENCY, self.records) if s is not None]

    @cached_property
    def dtypes(self) -> set[np.dtype[Any]] | None:
        """The dtypes of the run's answers when every one is a numpy array; else None."""
        answers = list(map(ANSWER, self.records))
        if set(map(type, answers)) != {np.ndarray}:  # lists, DataFrames, dicts, None
            return None
        return set(map(_DTYPE, answers))

    @cached_property
    def ndims(self) -> set[int]:
        """The dimensions of the run's answers (read only where `dtypes` found arrays)."""
        return set(map(_NDIM, map(ANSWER, self.records)))

    @cached_property
    def scalars(self) -> list[object] | None:
        """Each record's answer as its one plain value (`kept` by the feedback join), when
        every answer is a one-value array of numbers or strings (the usual one-row answer)."""
        dtypes = self.dtypes
        if dtypes is None or any(d.kind not in "biufUS" for d in dtypes):
            return None
        if max(self.ndims) > 2:
            return None
        try:
            return [a.item() for a in map(ANSWER, self.records)]
        except ValueError:  # an answer of several values
            return None

    @cached_property
    def counted(self) -> list[list[tuple[str, int]] | None]:
        """Per record, its answer's (class label, count) pairs (None: nothing to count)."""
        if self.status != 200:
            return [None] * len(self.records)
        return [None if r.answer is None else count_classes(r.answer) for r in self.records]

    @cached_property
    def classes(self) -> list[tuple[str, int]] | None:
        """The (class label, count) pairs of all the run's answers, in first-seen order, as
        `count_classes` counts them; None when an answer has nothing to count (a regressor's
        floats, an error, an output numpy cannot hold): then read `counted`."""
        if self.status != 200:
            return None
        scalars, dtypes = self.scalars, self.dtypes
        if scalars is not None and dtypes and all(d.kind in "iubU" for d in dtypes):
            if len(dtypes) == 1:  # one dtype: values are equal exactly when their labels are
                return [(str(value), n) for value, n in Counter(scalars).items()]
            return list(Counter(map(str, scalars)).items())
        if any(c is None for c in self.counted):
            return None
        return summed(self.counted)


def summed(counted: list[list[tuple[str, int]] | None]) -> list[tuple[str, int]]:
    """(label, count) pairs summed over answers (None: nothing counted), first seen first."""
    totals: dict[str, int] = {}
    for pairs in counted:
        for label, n in pairs or ():
            totals[label] = totals.get(label, 0) + n
    return list(totals.items())


class Batch(list[Record]):
    """The records of one fold, with what several consumers need computed once."""

    @cached_property
    def runs(self) -> list[Run]:
        """The batch as consecutive runs of records alike (see `Run`), in order."""
        return [Run(key, list(group)) for key, group in groupby(self, _RUN_KEY)]

    @cached_property
    def wall_offset(self) -> float:
        """time.time() - time.perf_counter(), read once per fold (the request read one clock)."""
        return time.time() - time.perf_counter()

    def time_of(self, record: Record) -> float:
        """A record's arrival as wall-clock seconds since the epoch."""
        return record.at + self.wall_offset


class FoldConsumer(Protocol):
    def fold(self, records: Batch) -> None:
        """Take a batch of records, on the event loop: cheap per record, never blocking."""


def count_classes(predictions: Any) -> list[tuple[str, int]] | None:
    """(label, count) of predicted classes; None for floats (regressors), outputs numpy
    cannot hold as one array, and batches too large to count per request."""
    try:
        arr = np.asarray(predictions)
    except Exception:  # ragged or dict outputs: nothing to count
        return None
    if arr.dtype.kind not in "iubUSO" or arr.size > MAX_COUNTED:
        return None
    if arr.size == 1 and arr.dtype.kind in "iubU":  # a one-row answer: its one class
        return [(str(arr.item()), 1)]
    if arr.size <= SMALL_BATCH and arr.dtype.kind in "iubU":
        counts: dict[str, int] = {}
        for value in arr.ravel().tolist():
            key = str(value)
            counts[key] = counts.get(key, 0) + 1
        return list(counts.items())
    values, n = np.unique(arr.ravel().astype(str), return_counts=True)
    return list(zip(values.tolist(), n.tolist(), strict=True))
