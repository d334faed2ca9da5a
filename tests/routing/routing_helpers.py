"""Models for the routing tests: iris champion/challenger and challengers that misbehave.

The misbehaving ones are real custom pyfunc models (cloudpickled by value, so a `trk-serve`
subprocess loads them too) with the iris input signature: one raises on every call, one
sleeps, one answers with the wrong shape, one fails in its loader.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

SLEEP_S = 0.5
_names = itertools.count(1)


class Raises:
    def load_context(self, context: Any) -> None:
        pass

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        raise RuntimeError("challenger broken on purpose")


class Sleeps:
    def load_context(self, context: Any) -> None:
        pass

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        time.sleep(SLEEP_S)
        return np.zeros(len(model_input), dtype=np.int64)


class WrongShape:
    def load_context(self, context: Any) -> None:
        pass

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return np.zeros((len(model_input), 3))


class NoLoad:
    def load_context(self, context: Any) -> None:
        raise RuntimeError("loader crashes on purpose")

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return np.zeros(len(model_input))


class TwoColumns:
    """A tensor-signature model (2 columns): its inputs differ from iris's."""

    def load_context(self, context: Any) -> None:
        pass

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return np.asarray(model_input, dtype=float).sum(axis=1)


FAULTY = {"raises": Raises, "sleeps": Sleeps, "shape": WrongShape, "noload": NoLoad}


@dataclass
class RoutingEnv:
    root: Path
    tracking_uri: str
    env: dict[str, str]
    x: np.ndarray
    lr: Any
    rf: Any
    sources: dict[str, str] = field(default_factory=dict)  # "lr", "rf", faulty names -> source

    def client(self) -> Any:
        from trk.tracking.client import Client

        return Client(self.tracking_uri)

    def new_model(self, *versions: str, aliases: dict[str, int] | None = None) -> str:
        """A fresh registered model whose versions 1..n reuse these sources (cheap)."""
        client = self.client()
        name = f"m{next(_names)}"
        client.create_registered_model(name)
        for key in versions:
            client.create_model_version(name, self.sources[key])
        for alias, version in (aliases or {}).items():
            client.set_registered_model_alias(name, alias, version)
        return name


def _pyfunc(cls: type, example: Any) -> str:
    import trk
    import trk.pyfunc
    from trk.models.flavors.python_function import PythonModel

    model_cls = type(cls.__name__, (PythonModel,), dict(vars(cls)))
    with trk.start_run():
        info = trk.pyfunc.log_model(python_model=model_cls(), name="model", input_example=example)
    return info.model_uri


def register(tracking_uri: str) -> tuple[np.ndarray, Any, Any, dict[str, str]]:
    """Log the models once; returns iris x, the fitted estimators and each model's source."""
    import cloudpickle
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    import trk
    import trk.sklearn
    from trk.tracking import client as client_module
    from trk.tracking import fluent

    iris = load_iris(as_frame=True)
    lr = LogisticRegression(max_iter=300).fit(iris.data, iris.target)
    rf = RandomForestClassifier(n_estimators=10, max_depth=2, random_state=0)
    rf.fit(iris.data, iris.target)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # subprocesses cannot import tests
    trk.set_tracking_uri(tracking_uri)
    client = trk.Client(tracking_uri)
    sources: dict[str, str] = {}
    try:
        for key, est in (("lr", lr), ("rf", rf)):
            with trk.start_run():
                info = trk.sklearn.log_model(
                    est,
                    name="model",
                    registered_model_name="iris",
                    input_example=iris.data.iloc[:2],
                    serialization_format="cloudpickle",
                )
            sources[key] = client.get_model_version("iris", info.registered_model_version).source
        client.set_registered_model_alias("iris", "champion", 1)
        client.set_registered_model_alias("iris", "challenger", 2)
        for key, cls in FAULTY.items():
            sources[key] = _source(client, _pyfunc(cls, iris.data.iloc[:2]))
        sources["two"] = _source(client, _pyfunc(TwoColumns, np.array([[1.0, 2.0]])))
    finally:
        while trk.active_run():
            trk.end_run()
        client_module._tracking_uri = None
        fluent._experiment_id = None
    return iris.data.to_numpy(), lr, rf, sources


def _source(client: Any, runs_uri: str) -> str:
    """The storage URI behind `runs:/ID/model`, usable as a model version's source."""
    from trk.uri import resolve_artifact_uri

    return resolve_artifact_uri(runs_uri, client.store)


def expected(estimator: Any, rows: Any) -> np.ndarray:
    import pandas as pd

    columns = [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]
    return estimator.predict(pd.DataFrame(np.asarray(rows, dtype=float), columns=columns))


def wait_started(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 90) -> None:
    """Poll until every variant settled; fail with the server's log if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"trk-serve exited {proc.returncode}: {log_path.read_text()}")
        if settled(url):
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout}s: {log_path.read_text()}")


def settled(url: str) -> bool:
    """/health is 200 and no variant is still loading (it is 200 once the champion serves)."""
    with contextlib.suppress(httpx.HTTPError):
        r = httpx.get(url + "/health", timeout=2)
        return r.status_code == 200 and all(v["state"] != "loading" for v in r.json()["variants"])
    return False
