"""scikit-learn flavor: skops by default (types trusted by sha256), cloudpickle on request."""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from trk.exceptions import InvalidParameter, MissingDependency, ModelError, TrkError
from trk.models.flavors.base import FlavorModel
from trk.models.flavors.linear import linear_predict
from trk.models.integrity import confined, own_modules, require_code_trust, skops_trusted
from trk.models.mlmodel import Model, ModelInfo
from trk.models.signature import ModelSignature, infer_signature
from trk.models.writer import log_model_dir, pinned, save_model_dir

FLAVOR = "sklearn"
LOADER_MODULE = "trk.sklearn"
FORMATS = ("skops", "cloudpickle")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


def _sklearn() -> Any:
    try:
        import sklearn
    except ImportError:
        raise MissingDependency(
            "The sklearn flavor needs scikit-learn: pip install 'trk[sklearn]'"
        ) from None
    return sklearn


def _skops_io() -> Any:
    try:
        import skops.io
    except ImportError:
        raise MissingDependency(
            "skops serialization needs skops: pip install 'trk[sklearn]'"
        ) from None
    return skops.io


def _write(model: Any, fmt: str) -> Any:
    def write_data(tmp: Path) -> dict[str, Any]:
        conf: dict[str, Any] = {"sklearn_version": _sklearn().__version__}
        if fmt == "skops":
            sio = _skops_io()
            data = sio.dumps(model)
            (tmp / "model.skops").write_bytes(data)
            # The model's own code (a custom estimator's module): trusted at load only when
            # the registry vouches for the files, never for builtins, os, subprocess, ...
            conf["estimator_modules"] = own_modules(sio.get_untrusted_types(data=data))
            conf["pickled_model"] = "model.skops"
        else:
            import cloudpickle

            with open(tmp / "model.pkl", "wb") as f:
                cloudpickle.dump(model, f)
            conf["pickled_model"] = "model.pkl"
        conf["serialization_format"] = fmt
        return conf

    return write_data


def _requirements(fmt: str) -> list[str]:
    import cloudpickle

    reqs = [pinned("scikit-learn", _sklearn().__version__)]
    if fmt == "skops":
        from importlib.metadata import version

        _skops_io()  # one line naming the extra, not a PackageNotFoundError
        return [*reqs, pinned("skops", version("skops"))]
    return [*reqs, pinned("cloudpickle", cloudpickle.__version__)]


def save_model(
    sk_model: Any,
    path: str | Path,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    serialization_format: str = "skops",
    pyfunc_predict_fn: str = "predict",
    *,
    reference_data: Any = None,
) -> Model:
    """Save a fitted estimator or pipeline as a model directory at `path`."""
    if serialization_format not in FORMATS:
        raise InvalidParameter(f"serialization_format must be one of {FORMATS}")
    if pyfunc_predict_fn not in PREDICT_METHODS:
        raise InvalidParameter(f"pyfunc_predict_fn must be one of {PREDICT_METHODS}")
    if signature is None and input_example is not None:
        from trk.models.input_example import as_example_data

        example = as_example_data(input_example)
        signature = infer_signature(example, getattr(sk_model, pyfunc_predict_fn)(example))
    return save_model_dir(
        path,
        flavor=FLAVOR,
        loader_module=LOADER_MODULE,
        write_data=_write(sk_model, serialization_format),
        signature=signature,
        input_example=input_example,
        requirements=_requirements(serialization_format),
        pyfunc_conf={"predict_fn": pyfunc_predict_fn},
        reference_data=reference_data,
    )


def log_model(
    sk_model: Any,
    name: str = "model",
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    serialization_format: str = "skops",
    pyfunc_predict_fn: str = "predict",
    *,
    reference_data: Any = None,
) -> ModelInfo:
    """Save into the active run's artifacts under `name` (and register it when asked)."""
    return log_model_dir(
        lambda p: save_model(
            sk_model,
            p,
            signature,
            input_example,
            serialization_format,
            pyfunc_predict_fn,
            reference_data=reference_data,
        ),
        name,
        registered_model_name,
    )


def read_estimator(file: Path, fmt: str, mlmodel: Model) -> Any:
    """Deserialize an estimator file under the loading policy; failures name the file."""
    if not file.is_file():
        raise ModelError(f"Model file {file} is missing")
    _sklearn()
    if fmt != "skops":
        require_code_trust(mlmodel, file, f"a {fmt} pickle")
    try:
        if fmt == "skops":
            sio = _skops_io()
            trusted = skops_trusted(sio.get_untrusted_types(file=file), mlmodel, file)
            return sio.load(file, trusted=trusted)
        import cloudpickle

        with open(file, "rb") as f:
            return cloudpickle.load(f)
    except TrkError:
        raise
    except Exception as e:  # a truncated or foreign file fails in many ways
        raise ModelError(f"Cannot read model file {file}: {type(e).__name__}: {e}") from None


def _load_trk(model_dir: Path, mlmodel: Model) -> Any:
    conf = mlmodel.flavors[FLAVOR]
    fmt = conf.get("serialization_format", "skops")
    if fmt not in FORMATS:
        raise ModelError(f"MLmodel in {model_dir}: unknown serialization_format {fmt!r}")
    file = confined(model_dir, conf.get("pickled_model"), "pickled_model")
    return read_estimator(file, fmt, mlmodel)


def load_model(model_uri: str | Path, allow_pickle: bool | None = None) -> Any:
    """The fitted estimator saved at `model_uri`."""
    from trk.models.pyfunc import load_flavor_dir

    model_dir, mlmodel = load_flavor_dir(model_uri, FLAVOR, allow_pickle)
    return _load_trk(model_dir, mlmodel)


def load_pyfunc(model_dir: Path, mlmodel: Model, config: dict[str, Any]) -> SklearnModel:
    """PyFuncModel loader for directories trk wrote."""
    predict_fn = mlmodel.flavors["python_function"].get("predict_fn", "predict")
    return SklearnModel(_load_trk(model_dir, mlmodel), predict_fn)


class SklearnModel(FlavorModel):
    """A fitted estimator behind the pyfunc interface."""

    def __init__(self, model: Any, predict_fn: str = "predict") -> None:
        sk = _sklearn()
        self._model = model
        self._predict_fn = predict_fn
        self.needs_dataframe = _selects_by_name(model)
        self._has_names = hasattr(model, "feature_names_in_")
        self._array_model, self._clean = _without_feature_names(model)
        self._linear = linear_predict(model) if predict_fn == "predict" else None
        self._width = getattr(model, "n_features_in_", None)
        self.output_kind = (
            "classifier"
            if sk.base.is_classifier(model)
            else "regressor"
            if sk.base.is_regressor(model)
            else "unknown"
        )

    @property
    def raw_model(self) -> Any:
        return self._model

    def _method(self, model: Any, params: dict[str, Any] | None) -> Any:
        name = (params or {}).get("predict_method", self._predict_fn)
        if name not in PREDICT_METHODS or not hasattr(model, name):
            raise InvalidParameter(
                f"predict_method {name!r} is not available; use one of "
                f"{[m for m in PREDICT_METHODS if hasattr(model, m)]}"
            )
        return getattr(model, name)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        if isinstance(data, pd.DataFrame) and not self._has_names and not self.needs_dataframe:
            data = data.to_numpy()  # fitted on an array: names would only trigger a warning
        return self._method(self._model, params)(data)

    def predict_array(self, x: np.ndarray, params: dict[str, Any] | None = None) -> Any:
        if self._linear is not None and not params and _fits(x, self._width):
            return self._linear(x)
        method = self._method(self._array_model, params)
        with _fast_config(), _quiet(not self._clean):
            return method(x)


def _fits(x: np.ndarray, width: int | None) -> bool:
    """A 2-D numeric array as wide as the model was fitted: what the numpy kernel accepts."""
    return x.ndim == 2 and x.shape[1] == width and x.dtype.kind in "fiub"


@contextlib.contextmanager
def _fast_config() -> Iterator[None]:
    """sklearn's config_context(assume_finite, skip_parameter_validation), minus its overhead.

    The input was checked against the signature already; config_context itself costs
    ~25 us per call, so the thread-local dict is set directly when sklearn exposes it.
    """
    try:
        from sklearn._config import _get_threadlocal_config

        cfg = _get_threadlocal_config()
    except ImportError:  # private API gone: fall back to the public context manager
        import sklearn

        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            yield
        return
    old = cfg.get("assume_finite"), cfg.get("skip_parameter_validation")
    cfg["assume_finite"], cfg["skip_parameter_validation"] = True, True
    try:
        yield
    finally:
        cfg["assume_finite"], cfg["skip_parameter_validation"] = old


@contextlib.contextmanager
def _quiet(active: bool) -> Iterator[None]:
    if not active:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*feature names.*")
        yield


def _selects_by_name(model: Any) -> bool:
    """True if a ColumnTransformer inside picks columns by name (so it needs a DataFrame)."""
    for est in _walk(model):
        for _, _, cols in getattr(est, "transformers", None) or []:
            if isinstance(cols, str) or (
                isinstance(cols, list | tuple) and any(isinstance(c, str) for c in cols)
            ):
                return True
            if callable(cols):
                return True
    return False


def _walk(model: Any, depth: int = 0) -> Iterator[Any]:
    yield model
    if depth > 5:
        return
    for step in getattr(model, "steps", None) or []:
        yield from _walk(step[1], depth + 1)
    for tr in getattr(model, "transformers_", None) or getattr(model, "transformers", None) or []:
        yield from _walk(tr[1], depth + 1)


def _without_feature_names(model: Any) -> tuple[Any, bool]:
    """A shallow copy that takes plain arrays silently; clean=False if inner names remain."""
    if not hasattr(model, "feature_names_in_"):
        return model, True
    steps = getattr(model, "steps", None)
    if steps:
        first, clean = _without_feature_names(steps[0][1])
        stripped = copy.copy(model)
        stripped.steps = [(steps[0][0], first), *steps[1:]]
        return stripped, clean
    stripped = copy.copy(model)
    if "feature_names_in_" in vars(stripped):
        del stripped.feature_names_in_
    clean = not any(
        hasattr(v, "feature_names_in_")
        for k, v in vars(model).items()
        if k.endswith("_") and k != "feature_names_in_"
    )
    return stripped, clean
