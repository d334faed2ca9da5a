"""`predict` of fitted scikit-learn linear models in plain numpy, for the serving fast path.

On one row, a linear model's `predict` is ~100 us of sklearn input checking around ~4 us of
arithmetic. trk has already checked the input against the signature, so for the exact types
below it runs the same arithmetic sklearn runs (`X @ coef_.T + intercept_`, then the sign or
argmax into `classes_`) and nothing else. Subclasses and sparse coefficients keep sklearn's
own predict: they may change either step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

CLASSIFIERS = frozenset(
    {
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.svm._classes.LinearSVC",
    }
)
REGRESSORS = frozenset(
    {
        "sklearn.linear_model._base.LinearRegression",
        "sklearn.linear_model._ridge.Ridge",
        "sklearn.linear_model._coordinate_descent.Lasso",
        "sklearn.linear_model._coordinate_descent.ElasticNet",
    }
)


def _qualname(model: Any) -> str:
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"


def linear_predict(model: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """A numpy `predict` equal to `model.predict` on 2-D numeric arrays of the fitted width,
    or None for any other model."""
    kind = _qualname(model)
    coef = getattr(model, "coef_", None)
    if not isinstance(coef, np.ndarray) or kind not in CLASSIFIERS | REGRESSORS:
        return None
    intercept = np.asarray(model.intercept_)
    weights = np.ascontiguousarray(coef.T)
    if kind in REGRESSORS:
        return lambda x: x @ weights + intercept
    classes = model.classes_
    if weights.shape[1] == 1:  # binary: the sign of one score picks the class

        def predict_binary(x: np.ndarray) -> np.ndarray:
            picked: np.ndarray = classes[((x @ weights + intercept).ravel() > 0).astype(np.intp)]
            return picked

        return predict_binary
    # The array's own argmax: `np.argmax` passes through numpy's Python wrapper first
    # (1.7 against 0.5 us a one-row call here, a third of this kernel's time).
    return lambda x: classes[(x @ weights + intercept).argmax(axis=1)]
