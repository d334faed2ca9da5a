"""sklearn flavor specifics: predict_proba, cloudpickle, trusted skops types, fast path."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import trk.pyfunc
import trk.sklearn
from trk.exceptions import InvalidParameter

pytestmark = pytest.mark.unit


def test_predict_proba_through_params(tmp_path, iris_frame):
    X, y = iris_frame
    model = LogisticRegression(max_iter=500).fit(X, y)
    trk.sklearn.save_model(model, tmp_path / "m", input_example=X.head(2))
    loaded = trk.pyfunc.load_model(tmp_path / "m")
    proba = loaded.predict(X.head(5), params={"predict_method": "predict_proba"})
    np.testing.assert_array_equal(proba, model.predict_proba(X.head(5)))
    with pytest.raises(InvalidParameter, match="predict_method 'fit'"):
        loaded.predict(X.head(1), params={"predict_method": "fit"})


def test_random_forest_skops_loads_with_only_sklearn_types_trusted(tmp_path, iris_frame):
    X, y = iris_frame
    model = RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y)
    trk.sklearn.save_model(model, tmp_path / "m", input_example=X.head(2))
    conf = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]["sklearn"]
    assert conf["estimator_modules"] == []  # nothing beyond numpy, scipy and scikit-learn
    loaded = trk.pyfunc.load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.output_kind == "classifier"


def test_cloudpickle_regressor(tmp_path, iris_frame):
    X, y = iris_frame
    model = RandomForestRegressor(n_estimators=3, random_state=0).fit(X.to_numpy(), y)
    trk.sklearn.save_model(
        model, tmp_path / "m", serialization_format="cloudpickle", input_example=X.to_numpy()[:2]
    )
    loaded = trk.pyfunc.load_model(tmp_path / "m", allow_pickle=True)
    assert (tmp_path / "m" / "model.pkl").is_file() and loaded.output_kind == "regressor"
    np.testing.assert_array_equal(loaded.predict(X.to_numpy()), model.predict(X.to_numpy()))


def test_fast_path_matches_and_does_not_warn(tmp_path, iris_frame):
    X, y = iris_frame
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    trk.sklearn.save_model(model, tmp_path / "m", input_example=X.head(2))
    loaded = trk.pyfunc.load_model(tmp_path / "m")
    assert not loaded.needs_dataframe
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = loaded.predict_array(X.to_numpy())
    np.testing.assert_array_equal(out, model.predict(X))
    assert hasattr(model, "feature_names_in_")  # the user's estimator is left untouched


def test_column_transformer_by_name_needs_a_dataframe(tmp_path):
    df = pd.DataFrame({"x": [0.1, 0.5, 0.9, 0.3] * 5, "color": ["r", "g", "b", "r"] * 5})
    y = np.array([0, 1, 1, 0] * 5)
    pre = ColumnTransformer([("num", StandardScaler(), ["x"]), ("cat", OneHotEncoder(), ["color"])])
    model = make_pipeline(pre, LogisticRegression()).fit(df, y)
    trk.sklearn.save_model(
        model, tmp_path / "m", input_example=df.head(3), serialization_format="cloudpickle"
    )
    loaded = trk.pyfunc.load_model(tmp_path / "m", allow_pickle=True)
    assert loaded.needs_dataframe
    np.testing.assert_array_equal(loaded.predict(df), model.predict(df))
    np.testing.assert_array_equal(
        loaded.predict([[0.1, "r"], [0.9, "b"]]), model.predict(df.iloc[[0, 2]])
    )
