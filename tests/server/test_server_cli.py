"""`trk db upgrade` and `trk server` configured only through TRK_ variables, with 2 workers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
from click.testing import CliRunner

from trk.server.cli import db_group
from trk.store.migrations import HEAD
from uvicorn_thread import free_port


def test_db_upgrade_migrates_to_head(tmp_path):
    db = tmp_path / "new.db"
    result = CliRunner().invoke(db_group, ["upgrade", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert f"revision {HEAD}" in result.output
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"experiments", "runs", "logged_models", "logged_model_tags"} <= tables


def test_server_from_environment_with_two_workers(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "TRK_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 'env.db'}",
        "TRK_ARTIFACTS_DESTINATION": str(tmp_path / "art"),
        "TRK_PORT": str(port),
        "TRK_WORKERS": "2",
        "TRK_AUTH_TOKEN": "tok-of-at-least-16-chars",
    }
    log = open(tmp_path / "log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "trk.server"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "log"
            ).read_text()
            time.sleep(0.2)
        api = url + "/api/2.0/mlflow/experiments/get?experiment_id=0"
        assert httpx.get(api).status_code == 401
        got = httpx.get(api, headers={"Authorization": "Bearer tok-of-at-least-16-chars"})
        assert got.json()["experiment"]["artifact_location"] == "mlflow-artifacts:/0"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_help_names_every_variable():
    """Containers configure `trk server` by variables: --help must say which."""
    from trk.cli import main

    text = CliRunner().invoke(main, ["server", "--help"], terminal_width=200).output
    for var in (
        "TRK_BACKEND_STORE_URI",
        "TRK_ARTIFACTS_DESTINATION",
        "TRK_HOST",
        "TRK_PORT",
        "TRK_WORKERS",
        "TRK_SERVE_ARTIFACTS",
        "TRK_AUTH_TOKEN_FILE",
        "TRK_MAX_BODY_BYTES",
        "TRK_ALLOWED_HOSTS",
        "TRK_ALLOWED_ARTIFACT_ROOTS",
        "TRK_MAX_ARTIFACT_MB",
    ):
        assert f"env var: {var}" in text, var
    assert "TRK_AUTH_TOKEN" in text.replace("TRK_AUTH_TOKEN_FILE", "")
