"""`trk.sklearn.autolog()`: log params, training metrics and the model on every `fit`."""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

_originals: dict[tuple[type, str], Callable[..., Any]] = {}
_config: dict[str, Any] = {}
_busy = threading.local()  # set while a patched call runs: nested fits do not log again


def autolog(
    disable: bool = False,
    log_models: bool = True,
    log_input_examples: bool = True,
    registered_model_name: str | None = None,
) -> None:
    """Patch scikit-learn so that `fit` and `cross_val_score` log to the active (or a new) run.

    `cross_val_score` is patched in `sklearn.model_selection`: import it after calling this.
    """
    _unpatch()
    if disable:
        return
    _config.update(
        log_models=log_models,
        log_input_examples=log_input_examples,
        registered_model_name=registered_model_name,
    )
    from sklearn.utils import all_estimators

    for _, cls in all_estimators():
        if "fit" in vars(cls):
            _patch(cls, "fit", _fit_wrapper)
    import sklearn.model_selection as ms
    import sklearn.model_selection._validation as validation

    _patch(ms, "cross_val_score", _cv_wrapper)
    validation.cross_val_score = ms.cross_val_score


def _patch(owner: Any, name: str, make: Callable[[Callable[..., Any]], Any]) -> None:
    original = vars(owner)[name]
    _originals[(owner, name)] = original
    setattr(owner, name, functools.wraps(original)(make(original)))


def _unpatch() -> None:
    for (owner, name), original in _originals.items():
        setattr(owner, name, original)
        if name == "cross_val_score":
            import sklearn.model_selection._validation as validation

            validation.cross_val_score = original
    _originals.clear()


def _outermost(fn: Callable[..., Any], log: Callable[..., None], *args: Any, **kw: Any) -> Any:
    """Call fn; only the outermost patched call (not a pipeline's steps) runs `log`."""
    if getattr(_busy, "on", False):
        return fn(*args, **kw)
    import trk

    _busy.on = True
    started = trk.active_run() is None
    try:
        run = trk.active_run() or trk.start_run()
        result = fn(*args, **kw)
        try:
            if not run.muted:  # a rank that logs nothing skips the work of logging too
                log(result, *args, **kw)
        except Exception as e:  # logging must never break training
            warnings.warn(f"trk autolog could not log run {run.info.run_id}: {e}", stacklevel=3)
        return result
    except BaseException:
        if started:
            trk.end_run("FAILED")
            started = False
        raise
    finally:
        _busy.on = False
        if started:
            trk.end_run()


def _fit_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _outermost(original, _log_fit, self, *args, **kwargs)

    return fit


def _cv_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def cross_val_score(estimator: Any, X: Any, y: Any = None, **kwargs: Any) -> Any:
        return _outermost(original, _log_cv, estimator, X, y, **kwargs)

    return cross_val_score


def _xy(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    return X, y


def _log_fit(result: Any, est: Any, *args: Any, **kwargs: Any) -> None:
    import trk

    X, y = _xy(args, kwargs)
    params = {k: str(v)[:500] for k, v in est.get_params(deep=True).items()}
    trk.log_params(params)
    trk.set_tags(
        {
            "estimator_name": type(est).__name__,
            "estimator_class": f"{type(est).__module__}.{type(est).__qualname__}",
        }
    )
    if y is not None and hasattr(est, "predict"):
        trk.log_metrics(_training_metrics(est, X, y))
    if _config.get("log_models"):
        _log_model(est, X)


def _training_metrics(est: Any, X: Any, y: Any) -> dict[str, float]:
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    pred = est.predict(X)
    out = {"training_score": float(est.score(X, y))} if hasattr(est, "score") else {}
    if is_classifier(est):
        avg = {"average": "weighted", "zero_division": 0}
        out.update(
            training_accuracy_score=metrics.accuracy_score(y, pred),
            training_precision_score=metrics.precision_score(y, pred, **avg),
            training_recall_score=metrics.recall_score(y, pred, **avg),
            training_f1_score=metrics.f1_score(y, pred, **avg),
        )
    elif is_regressor(est):
        mse = metrics.mean_squared_error(y, pred)
        out.update(
            training_mean_squared_error=mse,
            training_root_mean_squared_error=float(np.sqrt(mse)),
            training_mean_absolute_error=metrics.mean_absolute_error(y, pred),
            training_r2_score=metrics.r2_score(y, pred),
        )
    return {k: float(v) for k, v in out.items()}


def _log_model(est: Any, X: Any) -> None:
    from trk.models.flavors import sklearn as flavor
    from trk.models.signature import infer_signature

    example = X[:5] if X is not None and hasattr(X, "__getitem__") else None
    signature = None
    if example is not None:
        method = getattr(est, "predict", None) or getattr(est, "transform", None)
        signature = infer_signature(example, method(example) if method else None)
    flavor.log_model(
        est,
        "model",
        registered_model_name=_config.get("registered_model_name"),
        signature=signature,
        input_example=example if _config.get("log_input_examples") else None,
    )


def _log_cv(scores: Any, est: Any, X: Any, y: Any = None, **kwargs: Any) -> None:
    import trk

    scoring = kwargs.get("scoring")
    key = f"cv_{scoring if isinstance(scoring, str) else 'score'}"
    for i, s in enumerate(np.asarray(scores)):
        trk.log_metric(key, float(s), step=i)
    trk.log_metrics({f"{key}_mean": float(np.mean(scores)), f"{key}_std": float(np.std(scores))})
    trk.set_tag("cv_estimator", type(est).__name__)
