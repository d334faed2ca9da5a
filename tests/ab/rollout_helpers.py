"""Real parts for the rollout tests: model versions of known behaviour, `trk-serve` replicas,
`trk rollout` subprocesses, and a traffic driver that also sends every answer's label."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from trk.models.flavors.python_function import PythonModel
from uvicorn_thread import free_port

BIN = Path(sys.executable).parent
STICKY = "X-User-Id"


class Flaky(PythonModel):
    """Right like x0 > 0.5, but fails (a 500) on the rows where x1 > 1 - fail."""

    def __init__(self, fail: float) -> None:
        self.fail = fail

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        x = np.asarray(model_input, dtype=float)
        if (x[:, 1] > 1 - self.fail).any():
            raise RuntimeError("flaky on purpose")
        return (x[:, 0] > 0.5).astype(np.int64)


def register(tracking_uri: str, name: str, models: list[PythonModel]) -> None:
    """Versions 1..n of `name`, in order."""
    import cloudpickle

    import trk
    import trk.pyfunc
    from trk.tracking import client as client_module
    from trk.tracking import fluent

    for model in models:  # subprocesses cannot import the tests
        cloudpickle.register_pickle_by_value(sys.modules[type(model).__module__])
    trk.set_tracking_uri(tracking_uri)
    try:
        for model in models:
            with trk.start_run():
                trk.pyfunc.log_model(
                    python_model=model,
                    name="model",
                    registered_model_name=name,
                    input_example=np.array([[0.2, 0.7]]),
                )
    finally:
        while trk.active_run():
            trk.end_run()
        client_module._tracking_uri = None
        fluent._experiment_id = None


class Processes:
    """Subprocesses started by a test, logging to files, killed by pid at the end."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env, self.procs = root, env, []

    def start(self, *argv: str) -> subprocess.Popen:
        log = self.root / f"{Path(argv[0]).name}-{len(self.procs)}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                argv,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc.log = log  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def replica(self, model: str, reload_s: float = 0.5) -> str:
        port = free_port()
        self.start(
            str(BIN / "trk-serve"),
            "--port",
            str(port),
            "--model-uri",
            f"models:/{model}@champion",
            "--challenger-uri",
            f"models:/{model}@challenger",
            "--mode",
            "split",
            "--challenger-weight",
            "0",
            "--sticky-header",
            STICKY,
            "--reload-interval-s",
            str(reload_s),
            "--report-interval-s",
            "0.5",
        )
        return f"http://127.0.0.1:{port}"

    def trk(self, *args: str) -> subprocess.Popen:
        return self.start(str(BIN / "trk"), *args)

    def run_trk(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "trk"), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout + done.stderr

    def kill(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)


def health(url: str) -> dict[str, Any]:
    with contextlib.suppress(httpx.HTTPError):
        r = httpx.get(url + "/health", timeout=5)
        if r.status_code == 200:
            return r.json()
    return {}


def serving(url: str) -> dict[str, str]:
    """variant -> version this replica serves now."""
    return {
        v["name"]: str(v.get("version"))
        for v in health(url).get("variants", [])
        if v.get("state") == "ready"
    }


def weight(url: str) -> float | None:
    return health(url).get("routing", {}).get("challenger_weight")


class Traffic:
    """Requests round-robin over replicas (random rows, random users), labels right after."""

    def __init__(self, urls: list[str], seed: int) -> None:
        self.urls, self.rng = urls, np.random.default_rng(seed)
        self.stop = threading.Event()
        self.sent: dict[tuple[str, str, int], int] = {}  # (replica, variant, status) -> count
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(30)

    def _run(self) -> None:
        clients = [httpx.Client(base_url=u, timeout=30) for u in self.urls]
        labels: list[dict[str, Any]] = []
        n = 0
        while not self.stop.is_set():
            k = n % len(clients)
            x = self.rng.uniform(size=2)
            try:
                r = clients[k].post(
                    "/invocations",
                    json={"inputs": [x.tolist()]},
                    headers={STICKY: f"u{self.rng.integers(10**9)}"},
                )
            except httpx.HTTPError:
                continue
            key = (self.urls[k], r.headers.get("x-trk-variant", ""), r.status_code)
            self.sent[key] = self.sent.get(key, 0) + 1
            if r.status_code == 200:
                labels.append({"request_id": r.headers["x-request-id"], "label": int(x[0] > 0.5)})
            if len(labels) >= 25:  # to any replica: the store joins them
                with contextlib.suppress(httpx.HTTPError):
                    random.choice(clients).post("/feedback", json=labels)
                labels = []
            n += 1
        for c in clients:
            c.close()

    def count(self, variant: str, since: dict[tuple[str, str, int], int] | None = None) -> int:
        since = since or {}
        return sum(v - since.get(k, 0) for k, v in self.sent.items() if k[1] == variant)


def wait_for(predicate: Any, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(
        f"{what}: not within {timeout}s" + (f"\n{log.read_text()[-3000:]}" if log else "")
    )
