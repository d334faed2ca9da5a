"""`trk ui`: one command serves the dashboard over an embedded sqlite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from uvicorn_thread import free_port


def test_help_names_the_options_and_their_environment_variables() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trk.cli", "ui", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for text in ("--backend-store-uri", "TRK_BACKEND_STORE_URI", "sqlite:///trk.db"):
        assert text in done.stdout
    assert "TRK_HOST" in done.stdout and "TRK_PORT" in done.stdout


def _wait_for(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"trk ui did not start: {log.read_text()[-2000:]}")


def test_trk_ui_serves_the_dashboard_and_artifacts(ui_server, tmp_path: Path) -> None:
    seeded, port = ui_server.seeded, free_port()
    log = tmp_path / "ui.log"
    env = {**os.environ, "TRK_BACKEND_STORE_URI": seeded.backend, "TRK_PORT": str(port)}
    # The embedded store's artifact root (where the seed logged): the one root `trk ui` reads.
    env["TRK_ARTIFACT_ROOT"] = str(
        Path(seeded.backend.removeprefix("sqlite:///")).parent / "artifacts"
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trk.cli", "ui"], stdout=out, stderr=out, env=env, cwd=tmp_path
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(f"{url}/health", proc, log)
        home = httpx.get(f"{url}/")
        assert home.status_code == 200 and "training &lt;&amp;&gt;" in home.text
        rid = seeded.run_ids["forest"]
        assert httpx.get(f"{url}/runs/{rid}/artifacts/{seeded.artifact}").text == (
            seeded.artifact_text
        )
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert f"trk ui: http://127.0.0.1:{port}/" in log.read_text()
