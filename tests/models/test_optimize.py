"""to_onnx: a converted sklearn model predicts the same, or a typed error says why not."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression

import trk.pyfunc
import trk.sklearn
from trk.exceptions import ConversionError
from trk.models.optimize import to_onnx

pytestmark = pytest.mark.unit


def test_classifier_converts_and_agrees(tmp_path, iris_frame):
    X, y = iris_frame
    clf = LogisticRegression(max_iter=500).fit(X, y)
    trk.sklearn.save_model(clf, tmp_path / "m", input_example=X.head(20))
    onnx_dir, report = to_onnx(trk.pyfunc.load_model(tmp_path / "m"), n_check=500)
    assert report["rows_checked"] == 500 and report["label_agreement"] >= 0.999
    assert report["max_score_diff"] <= 1e-4
    converted = trk.pyfunc.load_model(onnx_dir)
    assert converted.metadata.flavor == "onnx" and converted.output_kind == "classifier"
    np.testing.assert_array_equal(converted.predict(X), clf.predict(X))
    np.testing.assert_allclose(
        converted.predict(X, params={"predict_method": "predict_proba"}),
        clf.predict_proba(X),
        atol=1e-5,
    )


def test_regressor_converts(tmp_path, iris_frame):
    X, y = iris_frame
    reg = RandomForestRegressor(n_estimators=3, random_state=0).fit(X.to_numpy(), y)
    trk.sklearn.save_model(reg, tmp_path / "m", input_example=X.to_numpy()[:10])
    onnx_dir, report = to_onnx(trk.pyfunc.load_model(tmp_path / "m"), n_check=200)
    assert report["max_score_diff"] <= 1e-4
    got = trk.pyfunc.load_model(onnx_dir).predict(X.to_numpy()).ravel()
    np.testing.assert_allclose(got, reg.predict(X.to_numpy()), rtol=1e-4, atol=1e-4)


def test_unsupported_model_is_a_typed_error(tmp_path):
    class Custom(trk.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    trk.pyfunc.save_model(tmp_path / "m", python_model=Custom(), input_example=np.ones((2, 2)))
    with pytest.raises(ConversionError, match="Only sklearn"):
        to_onnx(trk.pyfunc.load_model(tmp_path / "m", allow_pickle=True))


@pytest.mark.parametrize(
    ("report", "on_example", "match"),
    [
        ({"label_agreement": 0.998}, {}, "99.9%"),
        ({"label_agreement": 1.0}, {"label_agreement": 0.9}, "input example"),
        ({"max_score_diff": 2e-4}, {}, "scores differ"),
    ],
)
def test_disagreement_is_refused(report, on_example, match):
    from trk.models.optimize import _check

    with pytest.raises(ConversionError, match=match):
        _check(report, on_example)


class _Doubler(trk.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return np.asarray(model_input) * 2


def test_models_optimize_registers_a_checked_onnx_version(tracking, iris_frame):
    """`trk models optimize`: a new version with its own run, tags and alias; same answers."""
    from click.testing import CliRunner

    from trk.cli import main

    X, y = iris_frame
    clf = LogisticRegression(max_iter=500).fit(X, y)
    with trk.start_run():
        trk.sklearn.log_model(clf, name="model", registered_model_name="opt", input_example=X[:5])
    out = CliRunner().invoke(
        main,
        ["models", "optimize", "opt", "1", "--alias", "challenger", "--tracking-uri", tracking],
    )
    assert out.exit_code == 0, out.output
    assert "opt v2: ONNX of v1" in out.output
    client = trk.Client(tracking)
    v2 = client.get_model_version_by_alias("opt", "challenger")
    assert v2.version == "2"
    assert v2.tags == {"trk.optimized_from": "1", "trk.optimization": "onnx"}
    run = client.get_run(v2.run_id)
    assert run.data.params["source_model_uri"] == "models:/opt/1"
    assert run.data.metrics["label_agreement"] >= 0.999
    served = trk.pyfunc.load_model("models:/opt@challenger")
    assert served.metadata.flavor == "onnx"
    np.testing.assert_array_equal(served.predict(X), clf.predict(X))


def test_models_optimize_refuses_what_does_not_convert(tracking):
    from click.testing import CliRunner

    from trk.cli import main

    with trk.start_run():
        trk.pyfunc.log_model(name="model", python_model=_Doubler(), registered_model_name="dbl")
    out = CliRunner().invoke(main, ["models", "optimize", "dbl", "1", "--tracking-uri", tracking])
    assert out.exit_code == 1
    assert out.output.startswith("trk: error: Only sklearn models") and out.output.count("\n") == 1
    versions = trk.Client(tracking).search_model_versions("name = 'dbl'")
    assert [v.version for v in versions] == ["1"]  # nothing registered
