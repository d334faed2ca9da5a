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
"""

from __future__ import annotations

import time
from functools import cached_property
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


class Batch(list[Record]):
    """The records of one fold, with what several consumers need computed once."""

    @cached_property
    def wall_offset(self) -> float:
        """time.time() - time.perf_counter(), read once per fold (the request read one clock)."""
        return time.time() - time.perf_counter()

    def time_of(self, record: Record) -> float:
        """A record's arrival as wall-clock seconds since the epoch."""
        return record.at + self.wall_offset

    @cached_property
    def classes(self) -> list[list[tuple[str, int]] | None]:
        """Per record, its answer's (class label, count) pairs (None: nothing to count)."""
        return [
            count_classes(r.answer) if r.status == 200 and r.answer is not None else None
            for r in self
        ]


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
