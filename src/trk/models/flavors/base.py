"""The small interface every flavor's pyfunc wrapper implements."""

from __future__ import annotations

from typing import Any

import numpy as np


class FlavorModel:
    """A loaded model as a flavor hands it to PyFuncModel; input is already enforced."""

    needs_dataframe: bool = False
    output_kind: str = "unknown"  # "classifier" | "regressor" | "unknown"

    @property
    def raw_model(self) -> Any:
        """The flavor's own model object (estimator, nn.Module, InferenceSession, ...)."""
        raise NotImplementedError

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def predict_array(self, x: np.ndarray, params: dict[str, Any] | None = None) -> Any:
        """Predict on a 2-D array already checked against the signature."""
        return self.predict(x, params)


def output_kind_of_dtype(dtype: Any) -> str:
    """'classifier' for integer outputs, else 'unknown' (torch and onnx cannot tell more)."""
    try:
        return "classifier" if np.dtype(dtype).kind in "iub" else "unknown"
    except TypeError:
        return "unknown"
