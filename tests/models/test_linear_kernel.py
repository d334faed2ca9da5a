"""The numpy kernel for linear models answers exactly what sklearn's predict answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
)
from sklearn.svm import LinearSVC

import trk.pyfunc
import trk.sklearn
from trk.models.flavors.linear import linear_predict

pytestmark = pytest.mark.unit

X, Y = load_iris(return_X_y=True)
RNG = np.random.default_rng(0)
# Rows around and beyond the training data: ties and extremes are where a kernel would slip.
PROBE = np.vstack([X, RNG.normal(X.mean(0), 3 * X.std(0), size=(2000, 4)), np.zeros((1, 4))])


@pytest.mark.parametrize(
    "estimator, y",
    [
        (LogisticRegression(max_iter=500), Y),
        (LogisticRegression(max_iter=500), (Y == 2).astype(int)),  # binary: one score
        (LogisticRegression(max_iter=500), np.array(["setosa", "versicolor", "virginica"])[Y]),
        (SGDClassifier(random_state=0), Y),
        (LinearSVC(random_state=0), (Y == 1)),
    ],
    ids=["logistic-3", "logistic-binary", "logistic-strings", "sgd", "linear-svc-bool"],
)
def test_classifiers_agree_exactly(estimator, y):
    model = estimator.fit(X, y)
    kernel = linear_predict(model)
    assert kernel is not None
    for rows in (PROBE, PROBE.astype(np.float32), PROBE[:1], np.rint(PROBE).astype(np.int64)):
        got, want = kernel(rows), model.predict(rows)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("estimator", [LinearRegression(), Ridge(), Lasso(0.1), ElasticNet(0.1)])
@pytest.mark.parametrize("targets", [1, 3])
def test_regressors_agree(estimator, targets):
    x, y = make_regression(200, 5, n_targets=targets, random_state=0)
    model = estimator.fit(x, y)
    got, want = linear_predict(model)(x), model.predict(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_only_exact_types_get_the_kernel():
    class Shifted(LogisticRegression):  # a subclass may change predict: sklearn keeps it
        def predict(self, x):
            return super().predict(x) + 1

    assert linear_predict(Shifted(max_iter=500).fit(X, Y)) is None
    assert linear_predict(LogisticRegression()) is None  # not fitted: no coef_


def test_served_model_uses_kernel_and_falls_back(tmp_path):
    model = LogisticRegression(max_iter=500).fit(X, Y)
    trk.sklearn.save_model(model, tmp_path / "m", input_example=X[:3])
    loaded = trk.pyfunc.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_array(PROBE), model.predict(PROBE))
    proba = loaded.predict_array(X[:5], params={"predict_method": "predict_proba"})
    np.testing.assert_allclose(proba, model.predict_proba(X[:5]))  # other methods: sklearn
