"""`POST /feedback` labels to the store's label table, where reports join every replica's log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from trk.exceptions import TrkError, Unavailable
from trk.store.prediction_labels import LabelsWritten


class LabelWriter(Protocol):
    def write(self, items: list[Any]) -> LabelsWritten: ...


class AllLabels:
    """Labels to several places (the store, and beside the captures); the first's row count."""

    def __init__(self, writers: list[LabelWriter]) -> None:
        self.writers = writers

    def write(self, items: list[Any]) -> LabelsWritten:
        return [w.write(items) for w in self.writers][0]


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
