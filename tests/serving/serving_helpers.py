"""Helpers for the serving tests: iris models in a sqlite store, servers in threads, metrics."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import uvicorn_thread

IRIS_COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
TRK_SERVE = str(Path(sys.executable).parent / "trk-serve")


class ToyModel:
    """Custom pyfunc: the row sums; params {"sleep": s} sleeps first, {"fail": true} raises."""

    def load_context(self, context: Any) -> None:
        pass

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        params = params or {}
        if params.get("sleep"):
            time.sleep(float(params["sleep"]))
        if params.get("fail"):
            raise ValueError("toy model asked to fail")
        return np.asarray(model_input, dtype=float).sum(axis=1)


@dataclass
class IrisEnv:
    root: Path
    tracking_uri: str
    env: dict[str, str]
    x: np.ndarray  # iris features, 150 x 4
    lr: Any  # the fitted estimators, to compute expected predictions
    rf: Any


def register(tracking_uri: str, root: Path) -> tuple[np.ndarray, Any, Any]:
    import cloudpickle
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    import trk
    import trk.pyfunc
    import trk.sklearn
    from trk.models.flavors.python_function import PythonModel

    iris = load_iris(as_frame=True)
    lr = LogisticRegression(max_iter=300).fit(iris.data, iris.target)
    rf = RandomForestClassifier(n_estimators=20, random_state=0).fit(iris.data, iris.target)
    with logging_to(tracking_uri) as client:
        for alias, est in (("champion", lr), ("challenger", rf)):
            with trk.start_run():
                # cloudpickle keeps subprocess cold starts short (skops' import is slow here)
                info = trk.sklearn.log_model(
                    est,
                    name="model",
                    registered_model_name="iris",
                    input_example=iris.data.iloc[:2],
                    serialization_format="cloudpickle",
                )
            client.set_registered_model_alias("iris", alias, info.registered_model_version)
        toy_cls = type("Toy", (PythonModel,), dict(vars(ToyModel)))
        cloudpickle.register_pickle_by_value(
            sys.modules[__name__]
        )  # subprocesses cannot import tests
        with trk.start_run():
            info = trk.pyfunc.log_model(
                python_model=toy_cls(),
                name="model",
                registered_model_name="toy",
                input_example=np.array([[1.0, 2.0]]),
            )
        client.set_registered_model_alias("toy", "champion", info.registered_model_version)
    return iris.data.to_numpy(), lr, rf


@contextlib.contextmanager
def logging_to(tracking_uri: str) -> Iterator[Any]:
    """Log models to `tracking_uri` (yields its Client); the process's globals are reset after."""
    import trk
    from trk.tracking import client as client_module
    from trk.tracking import fluent

    trk.set_tracking_uri(tracking_uri)
    try:
        yield trk.Client(tracking_uri)
    finally:
        while trk.active_run():
            trk.end_run()
        client_module._tracking_uri = None
        fluent._experiment_id = None


def stop_all(procs: list[Any]) -> None:
    """Kill each still-running server process group (started with start_new_session)."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        for pipe in (proc.stdout, proc.stderr):  # else each is a ResourceWarning at exit
            if pipe is not None:
                pipe.close()


class ThreadServer(uvicorn_thread.ThreadServer):
    """uvicorn (uvloop + httptools, as trk-serve runs it) serving an app in a thread."""

    def __init__(self, app: Any) -> None:
        from trk.serving.runner import uvicorn_kwargs

        super().__init__(app, **uvicorn_kwargs(app.state.settings))

    def start(self, ready: bool = True) -> ThreadServer:
        super().start()
        wait_for(self.url, "/health" if ready else "/ping")
        return self


def wait_for(url: str, path: str = "/health", timeout: float = 90.0, proc: Any = None) -> None:
    """Poll until `url + path` answers 200 (fails early if `proc` exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url}{path} not ready after {timeout}s")


def post_json(url: str, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(url + "/invocations", json=body, timeout=30, **kw)


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`, from exposition text."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def wait_until(predicate: Any, timeout: float = 60.0) -> None:
    """Poll `predicate()` until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def expected(estimator: Any, rows: Any, method: str = "predict") -> Any:
    """What the fitted estimator itself answers for these rows (given as a named frame)."""
    import pandas as pd

    frame = pd.DataFrame(np.asarray(rows, dtype=float), columns=IRIS_COLUMNS)
    return getattr(estimator, method)(frame)
