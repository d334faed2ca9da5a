"""`trk models profile`, `trk models gate --data` and `trk ab drift` through the real CLI."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import trk
import trk.sklearn
from trk.ab.drift import bin_metric, psi
from trk.cli import main
from trk.cli_common import EXIT_REJECTED
from trk.models.profile import build_profile
from trk.tracking import client as client_module
from trk.tracking import fluent

pytestmark = pytest.mark.unit

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def iris(client):
    data = load_iris()
    X = pd.DataFrame(data.data, columns=COLUMNS)
    trk.set_tracking_uri(client.tracking_uri)
    with trk.start_run():
        trk.sklearn.log_model(
            LogisticRegression(max_iter=500).fit(X, data.target),
            "model",
            registered_model_name="iris",
            input_example=X.head(2),
        )
    yield X
    while trk.active_run():
        trk.end_run()
    client_module._tracking_uri = None
    fluent._experiment_id = None


@pytest.fixture
def cli(client):
    def invoke(*args: str):
        return CliRunner().invoke(main, [*args, "--tracking-uri", client.tracking_uri])

    return invoke


def test_profile_registers_a_new_version_and_gates_read_drift_of_a_dataset(
    cli, client, iris, tmp_path
):
    train, shifted = tmp_path / "train.csv", tmp_path / "shifted.parquet"
    iris.to_csv(train, index=False)
    iris.assign(petal_length=iris.petal_length + 3).to_parquet(shifted)
    out = cli("models", "gate", "iris", "1", "--require", "drift_psi<=0.2", "--data", str(train))
    assert out.exit_code != 0 and "has no reference profile" in out.output
    out = cli("models", "profile", "iris/1", "--data", str(train), "--json")
    assert out.exit_code == 0, out.output
    assert orjson.loads(out.output) == {
        "name": "iris",
        "version": "2",
        "profiled_from": "1",
        "rows": 150,
        "features": COLUMNS,
    }
    assert client.get_model_version("iris", "2").tags["trk.profiled_from"] == "1"
    out = cli("models", "gate", "iris", "2", "--require", "drift_psi<=0.2", "--data", str(train))
    assert out.exit_code == 0, out.output
    out = cli(
        "models",
        "gate",
        "iris",
        "2",
        "--data",
        str(shifted),
        "--require",
        "drift_psi(sepal_width)<=0.1",
        "--require",
        "drift_psi(petal_length)<=0.25",
    )
    assert out.exit_code == EXIT_REJECTED, out.output
    assert "PASS  drift_psi(sepal_width)<=0.1" in out.output
    assert "FAIL  drift_psi(petal_length)<=0.25" in out.output


def test_profile_refuses_data_without_the_model_columns(cli, iris, tmp_path):
    bad = tmp_path / "bad.csv"
    iris.drop(columns=["petal_width"]).to_csv(bad, index=False)
    out = cli("models", "profile", "iris/1", "--data", str(bad))
    assert out.exit_code != 0 and "lacks the model's input columns ['petal_width']" in out.output
    out = cli("models", "profile", "iris/1", "--data", str(tmp_path / "x.txt"))
    assert out.exit_code != 0 and ".parquet or .csv" in out.output


def test_ab_drift_sums_windows_and_replicas_per_version(cli, client, iris, tmp_path):
    iris.to_csv(tmp_path / "train.csv", index=False)
    assert cli("models", "profile", "iris/1", "--data", str(tmp_path / "train.csv")).exit_code == 0
    profile = build_profile(iris)
    rng = np.random.default_rng(0)
    served = iris.sample(600, replace=True, random_state=1).assign(
        petal_length=lambda d: d.petal_length + 3 * (rng.random(len(d)) < 0.5)
    )
    exp = client.create_experiment("serving/iris")
    for part in (served.iloc[:300], served.iloc[300:]):
        run = client.create_run(exp, tags={"trk.serving": "true"})
        rid = run.info.run_id
        client.log_param(rid, "variant", "challenger")
        client.log_param(rid, "model_version", "2")
        for step, window in enumerate(part.iloc[i : i + 100] for i in (0, 100, 200)):
            client.log_metric(rid, "requests", len(window), step=step)
            for f in profile.features:
                for i, c in enumerate(f.counts(window[f.name].to_numpy())):
                    client.log_metric(rid, bin_metric(f.name, i), float(c), step=step)
    out = cli("ab", "drift", "iris", "--json")
    assert out.exit_code == 0, out.output
    (entry,) = orjson.loads(out.output)["variants"]
    got = {row["feature"]: row for row in entry["features"]}
    for f in profile.features:
        expected = psi(f.counts(served[f.name].to_numpy()), f.fractions)
        assert got[f.name]["rows"] == 600 and got[f.name]["psi"] == pytest.approx(expected)
    assert got["petal_length"]["level"] == "act" and got["sepal_width"]["level"] == "stable"
    out = cli("ab", "drift", "iris", "--min-rows", "1000")
    assert out.exit_code == 0 and "not enough data" in out.output
