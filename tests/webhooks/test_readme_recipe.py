"""The CI recipe of docs/webhooks.md, run as written: its receiver (the verification snippet
included) deploys when `champion` moves on a real `trk server`, and only then."""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from uvicorn_thread import ThreadServer

PAGE = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def _recipe_receiver() -> str:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    return next(b for b in blocks if "def verify_mlflow_signature" in b)


def test_readme_recipe_deploys_when_champion_moves(
    start_trk_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    deploy = tmp_path / "deploy.sh"
    deploy.write_text(f'#!/bin/sh\necho "$1" >> {tmp_path / "deployed.txt"}\n')
    deploy.chmod(deploy.stat().st_mode | stat.S_IEXEC)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEPLOY_WEBHOOK_SECRET", "recipe-secret")
    namespace: dict = {}
    exec(compile(_recipe_receiver(), "docs/webhooks.md", "exec"), namespace)

    with ThreadServer(namespace["app"]) as receiver:
        hook_server = start_trk_server("--webhook-allow-hosts", receiver.url)
        client = MlflowClient(hook_server.url)
        hook = client.create_webhook(
            name="deploy-champion",
            url=f"{receiver.url}/hooks/trk",
            events=["model_version_alias.created"],
            secret="recipe-secret",
        )
        assert client.test_webhook(hook.webhook_id).success  # signature accepted (else 401)
        forged = client.create_webhook(
            "forged", f"{receiver.url}/hooks/trk", ["model_version_alias.created"], secret="guess"
        )
        assert client.test_webhook(forged.webhook_id).response_status == 401
        client.delete_webhook(forged.webhook_id)
        client.create_registered_model("iris")
        for n in (1, 2):
            client.create_model_version("iris", f"s3://bucket/iris/{n}")
        client.set_registered_model_alias("iris", "challenger", "2")  # not a deploy
        client.set_registered_model_alias("iris", "champion", "2")

        deployed = tmp_path / "deployed.txt"
        deadline = time.monotonic() + 20
        while not deployed.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert deployed.read_text().splitlines() == ["models:/iris/2"]
        records = client.get_webhook(hook.webhook_id)  # still there, secret not shown
        assert "recipe-secret" not in repr(records.__dict__)
