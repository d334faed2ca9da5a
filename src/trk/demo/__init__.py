"""`trk demo`: the Quickstart's main job on the embedded store.

Trains two iris classifiers, logs and registers them, points `champion` and `challenger` at
them, loads `models:/iris@champion` back and predicts, then serves both, promotes the
challenger live and ends with the A/B report (see `trk.demo.serving`).
"""

from __future__ import annotations

from typing import Any

import click

import trk
from trk.uri import redacted


def train_and_register(name: str = "iris") -> dict[str, str]:
    """Log two iris models as runs, register both, and set the champion/challenger aliases."""
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    import trk.sklearn

    iris = load_iris(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.3, random_state=0, stratify=iris.target
    )
    trk.set_experiment("iris")
    candidates = {
        "champion": LogisticRegression(max_iter=200),
        "challenger": RandomForestClassifier(n_estimators=50, random_state=0),
    }
    versions: dict[str, str] = {}
    for alias, estimator in candidates.items():
        with trk.start_run(run_name=f"iris-{type(estimator).__name__}") as run:
            estimator.fit(x_train, y_train)
            accuracy = float((estimator.predict(x_test) == y_test).mean())
            trk.log_params({k: v for k, v in estimator.get_params().items() if v is not None})
            trk.log_metric("accuracy", accuracy)
            info = trk.sklearn.log_model(
                estimator,
                name="model",
                registered_model_name=name,
                input_example=pd.DataFrame(x_train.iloc[:2]),
            )
            versions[alias] = str(info.registered_model_version)
            click.echo(
                f"run {run.info.run_id}: {type(estimator).__name__} accuracy={accuracy:.3f} "
                f"-> {name} version {versions[alias]}"
            )
    client = trk.Client()
    for alias, version in versions.items():
        client.set_registered_model_alias(name, alias, version)
        click.echo(f"alias {name}@{alias} -> version {version}")
    return versions


def predict_champion(name: str = "iris") -> list[Any]:
    """Load `models:/NAME@champion` and predict on two flowers."""
    model = trk.pyfunc.load_model(f"models:/{name}@champion")
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    preds = [int(p) for p in model.predict(rows)]
    click.echo(f"models:/{name}@champion predicts {preds} for {rows}")
    return preds


def run_demo() -> None:
    click.echo(f"tracking store: {redacted(trk.get_tracking_uri())}")
    train_and_register()
    predict_champion()
    from trk.demo.serving import serve_and_evaluate

    serve_and_evaluate(trk.get_tracking_uri())
