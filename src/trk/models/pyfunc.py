"""PyFuncModel: any flavor behind one predict(), with the signature enforced first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trk.exceptions import ModelError, ModelInputError, PredictError, TrkError
from trk.models import schema_enforcement as enforcement
from trk.models.flavors.base import FlavorModel
from trk.models.flavors.python_function import (  # noqa: F401  (re-exported)
    PythonModel,
    PythonModelContext,
    log_model,
    save_model,
)
from trk.models.input_errors import raised_reading_input
from trk.models.loaders import get_loader
from trk.models.mlmodel import PYFUNC, Model, ModelMetadata

if TYPE_CHECKING:
    from trk.contracts.store import Store


class PyFuncModel:
    """A loaded model: `predict(data, params)` for any input, `predict_array` for serving."""

    def __init__(self, metadata: ModelMetadata, impl: FlavorModel) -> None:
        self._metadata = metadata
        self._impl = impl
        sig = metadata.signature
        self._inputs = sig.inputs if sig is not None and sig.inputs.inputs else None
        self._n_cols, self._dtype, self._array_ok = enforcement.array_plan(self._inputs)

    @property
    def metadata(self) -> ModelMetadata:
        return self._metadata

    @property
    def needs_dataframe(self) -> bool:
        """True when the model must get a DataFrame (named or non-numeric columns)."""
        return self._impl.needs_dataframe or not self._array_ok

    @property
    def output_kind(self) -> str:
        return self._impl.output_kind

    @property
    def raw_model(self) -> Any:
        return self._impl.raw_model

    def input_example(self) -> Any:
        """The input example saved with the model, or None."""
        md = self._metadata
        from trk.models.input_example import load_input_example  # pandas: only when asked

        return load_input_example(md.model_dir or Path("."), md.saved_input_example_info)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Enforce the signature on `data`, then predict with the wrapped model."""
        if self._inputs is not None:
            data = enforcement.enforce(self._inputs, data)
        elif isinstance(data, list):
            data = np.asarray(data)
        return self._call(self._impl.predict, data, params)

    def predict_array(self, x: np.ndarray, params: dict[str, Any] | None = None) -> Any:
        """Fast path: a 2-D numeric array with columns in the signature's input order."""
        if self.needs_dataframe and self._inputs is not None:
            import pandas as pd

            return self.predict(pd.DataFrame(x, columns=self._inputs.input_names()), params)
        x = enforcement.check_array(x, self._n_cols, self._dtype)
        return self._call(self._impl.predict_array, x, params)

    @property
    def array_dtype(self) -> np.dtype | None:
        """The dtype `predict_array` casts its input to (None: any numeric dtype is kept)."""
        return self._dtype

    def predict_checked(self, x: np.ndarray, params: dict[str, Any] | None = None) -> Any:
        """`predict_array` for an array its caller has already checked: 2-D, as wide as the
        signature, of `array_dtype`, and only when `needs_dataframe` is false. Serving's
        decoder checks each request once (`serving/core/inputs.py`); checking it again here
        was a second schema check per request."""
        return self._call(self._impl.predict_array, x, params)

    def _call(self, fn: Any, data: Any, params: dict[str, Any] | None) -> Any:
        try:
            return fn(data, params)
        except TrkError:
            raise
        except Exception as e:
            if raised_reading_input(e):  # the request's data, not the model: a 400
                first = (str(e).strip().splitlines() or [""])[0]
                raise ModelInputError(
                    f"The {self._metadata.flavor} model could not read the input: "
                    f"{type(e).__name__}: {first}"[:500]
                ) from e
            # the model's own failure, reported with its type
            raise PredictError(
                f"{self._metadata.flavor} model failed to predict: {type(e).__name__}: {e}"
            ) from e

    def __repr__(self) -> str:
        md = self._metadata
        return f"PyFuncModel(flavor={md.flavor!r}, run_id={md.run_id!r}, dir={md.model_dir})"


def open_model_dir(
    model_uri: str | Path, allow_pickle: bool | None = None, store: Store | None = None
) -> tuple[Path, Model]:
    """The files `model_uri` names and their MLmodel, checked before anything is deserialized.

    A registered version's files must match the digest pinned at registration; then, or with
    `allow_pickle` (default: TRK_ALLOW_PICKLE), formats that run code on load may load.
    """
    from trk import settings
    from trk.uri import fetch_model

    files = fetch_model(str(model_uri), store)
    mlmodel = Model.load(files.path)
    if PYFUNC not in mlmodel.flavors:
        raise ModelError(
            f"MLmodel in {files.path} has no python_function flavor "
            f"(flavors: {sorted(mlmodel.flavors)}); it cannot be loaded as a pyfunc model"
        )
    opted_in = settings.allow_pickle() if allow_pickle is None else allow_pickle
    mlmodel.code_trusted = files.pinned or opted_in
    return files.path, mlmodel


def load_model(
    model_uri: str | Path,
    model_config: dict[str, Any] | None = None,
    allow_pickle: bool | None = None,
    store: Store | None = None,
) -> PyFuncModel:
    """Load any model trk or MLflow 3 wrote, from any URI trk resolves, as a PyFuncModel.

    `model_config` goes to the flavor: e.g. {"device": "cuda"} for torch,
    {"intra_op_num_threads": 2} for onnx. `allow_pickle=True` lets a source nothing vouches
    for (a path, runs:/, models:/m-<id>) load formats that run code; see models/integrity.py.
    """
    model_dir, mlmodel = open_model_dir(model_uri, allow_pickle, store)
    loader = get_loader(mlmodel.loader_module)
    impl = loader(model_dir, mlmodel, dict(model_config or {}))
    return PyFuncModel(mlmodel, impl)


def load_flavor_dir(
    model_uri: str | Path, flavor: str, allow_pickle: bool | None = None
) -> tuple[Path, Model]:
    """Local dir + MLmodel for a flavor's own load_model; refuses another flavor's model."""
    model_dir, mlmodel = open_model_dir(model_uri, allow_pickle)
    if flavor not in mlmodel.flavors:
        raise ModelError(
            f"Model at {model_uri} was written by flavor {mlmodel.flavor!r} "
            f"(flavors: {sorted(mlmodel.flavors)}), not {flavor!r}"
        )
    return model_dir, mlmodel
