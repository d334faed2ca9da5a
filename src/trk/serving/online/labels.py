"""`POST /feedback` labels to the store's label table, where reports join every replica's log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from trk.contracts.predictions import LabelsWritten
from trk.exceptions import TooManyRequests, TrkError, Unavailable, WrittenOnce


class LabelWriter(Protocol):
    def write(self, items: list[Any]) -> LabelsWritten: ...


class AllLabels:
    """Labels to several places (the store, and beside the captures); the first's row count."""

    def __init__(self, writers: list[LabelWriter]) -> None:
        self.writers = writers

    def write(self, items: list[Any]) -> LabelsWritten:
        return [w.write(items) for w in self.writers][0]


# trk_feedback_labels_total's outcomes: what the store did with each label of a /feedback call
JOINED, PENDING, DUPLICATE, EXPIRED, REFUSED = (
    "joined",
    "pending",
    "duplicate",
    "expired",
    "refused",
)
OUTCOMES = (JOINED, PENDING, DUPLICATE, EXPIRED, REFUSED)


class CountedLabels:
    """A label writer whose every outcome is counted: joined and pending labels, the pending
    ones the call's sweep expired, and whole calls refused as duplicates (409, nothing written)
    or because the model's pending labels are full (429)."""

    def __init__(self, writer: LabelWriter, count: Callable[[str, int], None]) -> None:
        self.writer, self.count = writer, count

    def write(self, items: list[Any]) -> LabelsWritten:
        try:
            written = self.writer.write(items)
        except WrittenOnce:
            self.count(DUPLICATE, len(items))
            raise
        except TooManyRequests:
            self.count(REFUSED, len(items))
            raise
        for outcome, n in (
            (JOINED, written.joined),
            (PENDING, written.pending),
            (EXPIRED, written.expired),
        ):
            if n:
                self.count(outcome, n)
        return written


class StoreLabels:
    """Writes labels once in the store now (the feedback endpoint runs it off the event loop):
    joined or pending; WrittenOnce (409) or TooManyRequests (429) as the store refuses."""

    def __init__(self, log_factory: Callable[[], Any], model: Callable[[], str]) -> None:
        self.log_factory, self.model = log_factory, model
        self._store: Any = None
        self._lock = threading.Lock()  # feedback calls run on several pool threads

    def write(self, items: list[Any]) -> LabelsWritten:
        """What the store did; Unavailable when the store cannot take them now."""
        try:
            written: LabelsWritten = self._log().log_labels(self.model(), items)
        except TrkError:
            raise
        except Exception as exc:
            with self._lock:
                self._store = None  # opened again on the next call
            raise Unavailable(
                f"Labels not stored (tracking store unavailable: {exc}); send them again"
            ) from exc
        return written

    def _log(self) -> Any:
        with self._lock:
            if self._store is None:
                self._store = self.log_factory()
            return self._store
