"""Issue 19: dataset inputs, logged-model inputs and outputs, and metrics of logged models
stored and answered as `mlflow server` does (real `mlflow` client against a real `trk server`)."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
import requests
from mlflow.data.pandas_dataset import from_pandas
from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
)
from mlflow.exceptions import MlflowException

CONTEXT = "mlflow.data.context"


def _dataset(name: str = "d1", digest: str = "x1") -> Dataset:
    return Dataset(name=name, digest=digest, source_type="local", source="s3://b/k")


def test_dataset_inputs_stored_and_returned(mlflow_client, run_id):
    tags = [InputTag("tag1", "value1"), InputTag(CONTEXT, "training")]
    mlflow_client.log_inputs(run_id, [DatasetInput(_dataset(), tags)])
    mlflow_client.log_inputs(run_id, [DatasetInput(_dataset(), tags)])  # a repeat: one input
    inputs = mlflow_client.get_run(run_id).inputs
    assert len(inputs.dataset_inputs) == 1
    got = inputs.dataset_inputs[0]
    assert (got.dataset.name, got.dataset.digest) == ("d1", "x1")
    assert (got.dataset.source_type, got.dataset.source) == ("local", "s3://b/k")
    assert {t.key: t.value for t in got.tags} == {"tag1": "value1", CONTEXT: "training"}
    (found,) = mlflow_client.search_runs([mlflow_client.get_run(run_id).info.experiment_id])
    assert found.inputs.dataset_inputs[0].dataset.digest == "x1"


@pytest.mark.filterwarnings("ignore::UserWarning")  # mlflow's own hints on the dataset
def test_log_input_with_the_fluent_api(mlflow_client, server, tmp_path):
    df = pd.DataFrame([[1.0, 2.0], [3.0, 4.0]], columns=["a", "b"])
    dataset = from_pandas(df, source=str(tmp_path / "d.csv"))
    exp_id = mlflow_client.create_experiment("fluent")  # not the one an earlier test left set
    mlflow.set_tracking_uri(server.url)
    try:
        with mlflow.start_run(experiment_id=exp_id) as run:
            mlflow.log_input(dataset, "train", {"foo": "baz"})
    finally:
        mlflow.set_tracking_uri(None)
    (got,) = mlflow_client.get_run(run.info.run_id).inputs.dataset_inputs
    assert got.dataset.digest == dataset.digest
    assert json.loads(got.dataset.profile) == {"num_rows": 2, "num_elements": 4}
    assert "mlflow_colspec" in json.loads(got.dataset.schema)
    assert {t.key: t.value for t in got.tags} == {"foo": "baz", CONTEXT: "train"}


def test_model_inputs_and_outputs_with_their_step(mlflow_client, run_id):
    exp_id = mlflow_client.get_run(run_id).info.experiment_id
    read = mlflow_client.create_logged_model(exp_id)
    made = mlflow_client.create_logged_model(exp_id)
    mlflow_client.log_inputs(run_id, models=[LoggedModelInput(read.model_id)])
    mlflow_client.log_outputs(run_id, [LoggedModelOutput(made.model_id, 3)])
    run = mlflow_client.get_run(run_id)
    assert [m.model_id for m in run.inputs.model_inputs] == [read.model_id]
    assert run.outputs.model_outputs == [LoggedModelOutput(made.model_id, 3)]
    assert mlflow_client.get_logged_model(made.model_id).source_run_id == run_id


def test_search_datasets_reports_each_dataset_with_its_context(mlflow_client, server, run_id):
    exp_id = mlflow_client.get_run(run_id).info.experiment_id
    mlflow_client.log_inputs(
        run_id,
        [
            DatasetInput(_dataset("a", "1"), [InputTag(CONTEXT, "training")]),
            DatasetInput(_dataset("b", "2")),
        ],
    )
    url = f"{server.url}/ajax-api/2.0/mlflow/experiments/search-datasets"
    found = requests.post(url, json={"experiment_ids": [exp_id]}).json()["dataset_summaries"]
    assert found == [
        {"experiment_id": exp_id, "name": "a", "digest": "1", "context": "training"},
        {"experiment_id": exp_id, "name": "b", "digest": "2"},
    ]
    refused = requests.post(url, json={})
    assert refused.status_code == 400 and "at least one experiment_id" in refused.text


def test_metrics_of_a_logged_model_listed_and_searchable_by_dataset(mlflow_client, run_id):
    exp_id = mlflow_client.get_run(run_id).info.experiment_id
    model = mlflow_client.create_logged_model(exp_id)
    other = mlflow_client.create_logged_model(exp_id)
    mlflow_client.log_metric(
        run_id, "acc", 0.5, 1234, 1, dataset_name="ds", dataset_digest="d1", model_id=model.model_id
    )
    assert mlflow_client.get_logged_model(model.model_id).metrics == [
        Metric(
            "acc",
            0.5,
            1234,
            1,
            model_id=model.model_id,
            dataset_name="ds",
            dataset_digest="d1",
            run_id=run_id,
        )
    ]
    assert mlflow_client.get_run(run_id).data.metrics == {"acc": 0.5}
    by_dataset = mlflow_client.search_logged_models(
        experiment_ids=[exp_id], datasets=[{"dataset_name": "ds", "dataset_digest": "d1"}]
    )
    assert [m.model_id for m in by_dataset] == [model.model_id]
    by_name = mlflow_client.search_logged_models([exp_id], datasets=[{"dataset_name": "ds"}])
    assert [m.model_id for m in by_name] == [model.model_id]
    assert {m.model_id for m in mlflow_client.search_logged_models([exp_id])} == {
        model.model_id,
        other.model_id,
    }


def test_bad_inputs_are_4xx_and_store_nothing(mlflow_client, server, run_id):
    url = f"{server.url}/api/2.0/mlflow/runs/log-inputs"
    good = {"dataset": {"name": "d", "digest": "x", "source_type": "t", "source": "s"}}
    bad_bodies = [
        ({"datasets": [good]}, "'run_id'"),
        ({"run_id": run_id, "datasets": [{"dataset": {"name": "d"}}]}, "digest"),
        (
            {
                "run_id": run_id,
                "datasets": [good, {"dataset": {**good["dataset"], "digest": "x" * 37}}],
            },
            "digest",
        ),
        (
            {"run_id": run_id, "datasets": [{**good, "tags": [{"key": "k", "value": "v" * 501}]}]},
            "value",
        ),
        ({"run_id": run_id, "datasets": [{"dataset": {**good["dataset"], "name": 3}}]}, "name"),
        ({"run_id": run_id, "models": [{"model_id": "m-unknown"}]}, "not found"),
        ({"run_id": "nope", "datasets": [good]}, "nope"),
    ]
    for body, needle in bad_bodies:
        answer = requests.post(url, json=body)
        assert 400 <= answer.status_code < 500, (body, answer.text)
        assert needle in answer.json()["message"], (body, answer.text)
    assert mlflow_client.get_run(run_id).inputs.dataset_inputs == []
    with pytest.raises(MlflowException, match="not found"):
        mlflow_client.log_outputs(run_id, [LoggedModelOutput("m-unknown", 1)])


def test_rest_store_logs_and_reads_inputs_and_outputs(mlflow_client, server, run_id):
    from trk.contracts.run_inputs import Dataset as TrkDataset
    from trk.contracts.run_inputs import DatasetInput as TrkDatasetInput
    from trk.contracts.run_inputs import ModelOutput
    from trk.store.rest import RestStore

    store = RestStore(server.url)
    model = mlflow_client.create_logged_model(mlflow_client.get_run(run_id).info.experiment_id)
    dataset = TrkDatasetInput(TrkDataset("d", "x", "local", "s", profile="{}"), {CONTEXT: "eval"})
    store.log_inputs(run_id, [dataset], [model.model_id])
    store.log_outputs(run_id, [ModelOutput(model.model_id, 7)])
    io = store.get_run_io(run_id)
    store.transport.close()
    assert io.dataset_inputs == [dataset]
    assert io.model_inputs == [model.model_id]
    assert io.model_outputs == [ModelOutput(model.model_id, 7)]
