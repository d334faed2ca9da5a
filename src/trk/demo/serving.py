"""The serving half of `trk demo`: champion and challenger behind one `trk-serve`.

Starts `trk-serve` in shadow mode on a free local port, sends the iris flowers through it,
labels every answer through /feedback, shows both variants in /metrics, promotes the
challenger (the server swaps it in live), stops the server so it logs its last window, and
prints the A/B report of the serving runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx

from trk.exceptions import TrkError
from trk.tracking import promotion

if TYPE_CHECKING:
    from trk.tracking.client import Client

# The series the demo prints: answers per variant, shadow comparisons, labels, swaps.
SHOWN_SERIES = (
    "trk_requests_total{",
    "trk_shadow_requests_total{",
    "trk_shadow_agreement_total{",
    "trk_feedback_labelled_total{",
    "trk_model_reloads_total{",
    "trk_model_info{",
)
READY_TIMEOUT_S = 60.0


class DemoServer:
    """A `trk-serve` subprocess on 127.0.0.1 with its log kept for when something fails."""

    def __init__(self, tracking_uri: str, model: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="trk-serve-", suffix=".log", delete=False)
        args = [
            _trk_serve(),
            "--model-uri",
            f"models:/{model}@champion",
            "--challenger-uri",
            f"models:/{model}@challenger",
            "--mode",
            "shadow",
            "--port",
            str(self.port),
            "--tracking-uri",
            tracking_uri,
            "--reload-interval-s",
            "1",
            "--report-interval-s",
            "1",
        ]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=self.url, timeout=30.0)

    def wait(
        self, what: str, ready: Callable[[], bool], timeout_s: float = READY_TIMEOUT_S
    ) -> None:
        """Poll `ready` until it holds; fail with the server's log if it dies or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail(f"trk-serve exited with {self.proc.returncode} while waiting for {what}")
            try:
                if ready():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.fail(f"timed out after {timeout_s:g} s waiting for {what}")

    def fail(self, message: str) -> None:
        self.stop()
        tail = Path(self.log.name).read_text(errors="replace")[-3000:]
        raise click.ClickException(f"{message}\n--- trk-serve log ---\n{tail}")

    def health(self) -> dict[str, Any]:
        response = self.http.get("/health")
        return response.json() if response.status_code == 200 else {}

    def metric_lines(self) -> list[str]:
        text = self.http.get("/metrics").text
        return [line for line in text.splitlines() if line.startswith(SHOWN_SERIES)]

    def metric_sum(self, prefix: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in self.metric_lines() if line.startswith(prefix)
        )

    def stop(self) -> int | None:
        """SIGTERM, as a container runtime sends it: the server drains and logs its last window."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.http.close()
        return self.proc.returncode


def _trk_serve() -> str:
    """The `trk-serve` script installed beside this interpreter (a venv's bin), else on PATH."""
    beside = Path(sys.executable).with_name("trk-serve")
    found = str(beside) if beside.exists() else shutil.which("trk-serve")
    if not found:
        raise click.ClickException("trk-serve is not installed beside trk (pip install -e .)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _variants(health: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in health.get("variants", [])}


def _both_loaded(server: DemoServer) -> bool:
    variants = _variants(server.health())
    return all(variants.get(n, {}).get("state") == "ready" for n in ("champion", "challenger"))


def send_flowers(server: DemoServer, repeats: int = 2) -> list[tuple[str, int, str]]:
    """Each iris flower `repeats` times, one per request: (request id, true label, version)."""
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    columns = list(iris.data.columns)
    sent = []
    for _ in range(repeats):
        for row, label in zip(iris.data.itertuples(index=False), iris.target, strict=True):
            body = {"dataframe_split": {"columns": columns, "data": [list(row)]}}
            response = server.http.post("/invocations", json=body)
            response.raise_for_status()
            headers = response.headers
            sent.append((headers["X-Request-Id"], int(label), headers["X-Trk-Model-Version"]))
    return sent


def send_labels(server: DemoServer, sent: list[tuple[str, int, str]]) -> dict[str, Any]:
    labels = [{"request_id": rid, "label": label} for rid, label, _ in sent]
    response = server.http.post("/feedback", json=labels)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def serve_and_evaluate(tracking_uri: str, model: str = "iris") -> None:
    """Shadow-serve champion and challenger, label the answers, promote, then report."""
    import trk

    started = time.time()
    client = trk.Client()
    server = DemoServer(tracking_uri, model)
    click.echo(f"\ntrk-serve on {server.url}: champion answers, challenger shadows every request")
    server.wait("both variants to load", lambda: _both_loaded(server))

    sent = send_flowers(server)
    click.echo(f"sent {len(sent)} requests, answered by version {sent[0][2]} (champion)")
    # A label joins the challenger's answer only once the shadow copy has been compared.
    server.wait(
        "the shadow comparisons",
        lambda: server.metric_sum("trk_shadow_requests_total{") >= len(sent),
    )
    result = send_labels(server, sent)
    click.echo(f"feedback: {result['joined']} labels joined, per variant {result['labelled_rows']}")
    click.echo("/metrics:")
    for line in server.metric_lines():
        click.echo(f"  {line}")

    move = promotion.promote(client, model)
    click.echo(f"\n{move.message}")
    new_version = move.champion_after
    server.wait(
        f"the server to load version {new_version}",
        lambda: _variants(server.health())["champion"].get("version") == new_version,
    )
    answered = server.http.post("/invocations", json={"inputs": [[6.7, 3.0, 5.2, 2.3]]})
    click.echo(
        f"the running server swapped without a restart: X-Trk-Model-Version "
        f"{answered.headers['X-Trk-Model-Version']}, predictions {answered.json()['predictions']}"
    )
    for line in server.metric_lines():
        if line.startswith("trk_model_reloads_total{"):
            click.echo(f"  {line}")
    if server.stop() != 0:
        server.fail(f"trk-serve did not stop cleanly (exit {server.proc.returncode})")
    os.unlink(server.log.name)
    _report(client, model, started)


def _report(client: Client, model: str, started: float) -> None:
    from trk.ab.evaluation import evaluate
    from trk.ab.render import render_table

    since = f"{int(time.time() - started) + 1}s"
    try:
        report = evaluate(client, model, since=since)
    except TrkError as exc:
        raise click.ClickException(f"A/B report failed: {exc}") from None
    click.echo(f"\ntrk ab report {model} --since {since}")
    click.echo(render_table(report))
