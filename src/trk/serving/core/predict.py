"""One predict call with the model's own failure turned into a typed error."""

from __future__ import annotations

import logging
from typing import Any

from trk.exceptions import PredictError, TrkError

log = logging.getLogger("trk.serving")


def call_model(
    model: Any, data: Any, params: dict[str, Any] | None = None, fast: bool = False
) -> Any:
    """Predict; a model that raises becomes a PredictError naming the exception."""
    try:
        if fast:
            return model.predict_array(data, params) if params else model.predict_array(data)
        return model.predict(data, params) if params else model.predict(data)
    except TrkError:
        raise
    except Exception as exc:
        log.exception("model predict failed")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise PredictError(f"Model predict failed: {type(exc).__name__}: {first}"[:500]) from None
