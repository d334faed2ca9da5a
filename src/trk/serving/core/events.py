"""What the plane tells its observers: one answered prediction, and one finished request.

Observers (routing metrics, feedback joins, report windows, samples) and request listeners
(report windows) are handed to the DataPlane when it is built; each gets every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from trk.serving.core.inputs import ModelInput
from trk.serving.core.variant import Variant

SMALL_BATCH = 64  # predictions counted one by one below this size (np.unique costs ~30 us)
MAX_COUNTED = 10_000  # larger batches are not counted per class


@dataclass
class Prediction:
    """One answered request: who answered, with what input, and what it said."""

    request_id: str
    variant: Variant
    model_input: ModelInput
    predictions: Any

    @cached_property
    def classes(self) -> list[tuple[str, int]] | None:
        """Predicted classes, counted once for every observer (see `count_classes`)."""
        return count_classes(self.predictions)


def count_classes(predictions: Any) -> list[tuple[str, int]] | None:
    """(label, count) of predicted classes; None for floats (regressors), outputs numpy
    cannot hold as one array, and batches too large to count per request."""
    try:
        arr = np.asarray(predictions)
    except Exception:  # ragged or dict outputs: nothing to count
        return None
    if arr.dtype.kind not in "iubUSO" or arr.size > MAX_COUNTED:
        return None
    if arr.size <= SMALL_BATCH and arr.dtype.kind in "iubU":
        counts: dict[str, int] = {}
        for value in arr.ravel().tolist():
            key = str(value)
            counts[key] = counts.get(key, 0) + 1
        return list(counts.items())
    values, n = np.unique(arr.ravel().astype(str), return_counts=True)
    return list(zip(values.tolist(), n.tolist(), strict=True))


class PredictionObserver(Protocol):
    def on_prediction(self, event: Prediction) -> None:
        """Called on the request path after a 200: must be cheap and never raise."""


class RequestListener(Protocol):
    def on_request(self, variant: Variant, seconds: float | None, ok: bool) -> None:
        """Every routed request, failed ones too (ok: answered without a server error)."""
