"""Serving helpers for the A/B tests: two models of known accuracy, a server in a thread."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import uvicorn_thread
from trk.models.flavors.python_function import PythonModel
from uvicorn_thread import free_port


class NoisyThreshold(PythonModel):
    """Predicts x0 > 0.5, flipped where x1 < flip: accuracy 1 - flip on uniform inputs."""

    def __init__(self, flip: float) -> None:
        self.flip = flip

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        x = np.asarray(model_input, dtype=float)
        pred = (x[:, 0] > 0.5).astype(np.int64)
        return np.where(x[:, 1] < self.flip, 1 - pred, pred)


def register_models(tracking_uri: str, name: str, flips: dict[str, float]) -> dict[str, str]:
    """One version per alias (in order), each a NoisyThreshold; alias -> version."""
    import cloudpickle

    import trk
    import trk.pyfunc
    from trk.tracking import client as client_module
    from trk.tracking import fluent

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # tests are not importable
    trk.set_tracking_uri(tracking_uri)
    client = trk.Client(tracking_uri)
    versions = {}
    try:
        for alias, flip in flips.items():
            with trk.start_run():
                trk.log_metric("accuracy", 1 - flip)
                info = trk.pyfunc.log_model(
                    python_model=NoisyThreshold(flip),
                    name="model",
                    registered_model_name=name,
                    input_example=np.array([[0.2, 0.7]]),
                )
            versions[alias] = str(info.registered_model_version)
            client.set_registered_model_alias(name, alias, versions[alias])
    finally:
        while trk.active_run():
            trk.end_run()
        client_module._tracking_uri = None
        fluent._experiment_id = None
    return versions


def stream(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n uniform rows of 2 features and their true labels (x0 > 0.5)."""
    x = np.random.default_rng(seed).uniform(size=(n, 2))
    return x, (x[:, 0] > 0.5).astype(int)


class ThreadServer(uvicorn_thread.ThreadServer):
    """The shared thread server, started only once the models answer /health."""

    def start(self, timeout: float = 90.0) -> ThreadServer:
        super().start(timeout)
        wait_until(lambda: _ok(self.url + "/health"), timeout=timeout)
        return self


def _ok(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=2).status_code == 200
    return False


def wait_until(predicate: Any, timeout: float = 60.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")


STICKY_HEADER = "X-User-Id"


def serve_split(tracking_uri: str, model: str, mode: str = "split", **kw: Any) -> ThreadServer:
    """Champion and challenger of `model` in split mode (50/50, sticky) in a thread."""
    from trk.serving.config import ServeSettings
    from trk.serving.http.app import create_app

    options: dict[str, Any] = {"report_interval_s": 1.0, "reload_interval_s": 1.0, **kw}
    settings = ServeSettings(
        model_uri=f"models:/{model}@champion",
        challenger_uri=f"models:/{model}@challenger",
        mode=mode,
        challenger_weight=0.5,
        tracking_uri=tracking_uri,
        sticky_header=STICKY_HEADER,
        **options,
    )
    return ThreadServer(create_app(settings)).start()


def send(url: str, x: np.ndarray, threads: int = 4) -> list[tuple[str, str, int, int]]:
    """One request per row over keep-alive connections: (request_id, variant, status, pred)."""
    out: list[Any] = [None] * len(x)

    def worker(k: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for i in range(k, len(x), threads):
                # A sticky header routes row i the same way on every run: no flaky verdicts.
                r = http.post(
                    "/invocations",
                    json={"inputs": [x[i].tolist()]},
                    headers={STICKY_HEADER: f"row-{i}"},
                )
                pred = r.json()["predictions"][0] if r.status_code == 200 else -1
                out[i] = (
                    r.headers.get("x-request-id"),
                    r.headers.get("x-trk-variant"),
                    r.status_code,
                    pred,
                )

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return out


def feedback(url: str, ids: list[str], labels: list[int], batch: int = 1000) -> list[dict]:
    answers = []
    for i in range(0, len(ids), batch):
        body = [
            {"request_id": r, "label": int(y)}
            for r, y in zip(ids[i : i + batch], labels[i : i + batch], strict=True)
        ]
        resp = httpx.post(url + "/feedback", json=body, timeout=30)
        assert resp.status_code == 200, resp.text
        answers.append(resp.json())
    return answers


@dataclass
class Replica:
    """A real `trk-serve` process; stopped by its pid."""

    proc: subprocess.Popen
    url: str
    log: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: the graceful shutdown that flushes report windows and the prediction log."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=60)


def start_replicas(args: list[list[str]], env: dict[str, str], logs: Path) -> list[Replica]:
    """One `trk-serve` per argument list, started together; returned once all are ready."""
    replicas = []
    for n, extra in enumerate(args):
        port = free_port()
        log = logs / f"replica-{n}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "trk-serve"), "--port", str(port), *extra],
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        replicas.append(Replica(proc, f"http://127.0.0.1:{port}", log))
    for r in replicas:
        try:
            wait_until(lambda r=r: r.proc.poll() is not None or _ok(r.url + "/health"), 90)
        except AssertionError:
            r.proc.poll()
        if r.proc.poll() is not None or not _ok(r.url + "/health"):
            for other in replicas:
                other.stop(signal.SIGKILL)
            raise AssertionError(f"trk-serve did not start: {r.log.read_text()[-3000:]}")
    return replicas
