"""trk.sklearn.autolog against a real sqlite store: one run and one model per outer fit."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import trk
import trk.pyfunc
import trk.sklearn

pytestmark = pytest.mark.unit


@pytest.fixture
def autologging(tracking):
    trk.sklearn.autolog()
    yield trk.Client()
    trk.sklearn.autolog(disable=True)


def _runs():
    return trk.search_runs(output_format="list")


def test_pipeline_fit_logs_one_run_params_metrics_and_model(autologging, iris_frame):
    X, y = iris_frame
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    (run,) = _runs()
    assert run.info.status == "FINISHED"
    assert run.data.params["logisticregression__max_iter"] == "300"
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(pipe.score(X, y))
    logged, _ = autologging.search_logged_models([run.info.experiment_id])
    # One logged model: the scaler and the classifier inside did not log models of their own.
    assert [(m.name, m.source_run_id) for m in logged] == [("model", run.info.run_id)]
    model = trk.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert (model.predict(X) == pipe.predict(X)).all()
    assert model.metadata.signature.inputs.input_names() == list(X.columns)


def test_cross_val_score_logs_folds_inside_active_run(autologging, iris_frame):
    from sklearn.model_selection import cross_val_score

    X, y = iris_frame
    with trk.start_run() as run:
        scores = cross_val_score(LogisticRegression(max_iter=300), X, y, cv=3)
    (logged,) = _runs()
    assert logged.info.run_id == run.info.run_id
    assert logged.data.metrics["cv_score_mean"] == pytest.approx(scores.mean())
    assert len(autologging.get_metric_history(run.info.run_id, "cv_score")) == 3
    assert autologging.list_artifacts(run.info.run_id) == []  # fold fits log nothing


def test_disable_restores_plain_fit(tracking, iris_frame):
    X, y = iris_frame
    trk.sklearn.autolog()
    trk.sklearn.autolog(disable=True)
    LogisticRegression(max_iter=300).fit(X, y)
    assert _runs() == []
