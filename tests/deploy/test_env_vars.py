"""Every variable the manifests and Dockerfiles set is one that trk-serve or trk server reads.

The readers: the `envvar`s of the click commands (`trk.serving.cli.serve`,
`trk.server.cli.server_command`) plus what `trk.settings` reads; boto3 reads the AWS ones.
Values are checked too, by letting each command parse them.
"""

from __future__ import annotations

import re
from pathlib import Path

import _dockerfile
import _kustomize
import click
import pytest

import trk.settings

# Read by libraries the processes load, not by trk: boto3 (S3), CPython and pip (image build).
THIRD_PARTY = {
    "server": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"},
    "both": {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PIP_DISABLE_PIP_VERSION_CHECK"},
}


def command(which: str) -> click.Command:
    if which == "serve":
        from trk.serving.cli import serve

        return serve
    from trk.server.cli import server_command

    return server_command


def envvars_of(param: click.Parameter) -> list[str]:
    envvar = getattr(param, "envvar", None)
    return [envvar] if isinstance(envvar, str) else list(envvar or [])


def click_envvars(cmd: click.Command) -> set[str]:
    return {name for param in cmd.params for name in envvars_of(param)}


def settings_envvars() -> set[str]:
    source = Path(trk.settings.__file__).read_text()
    return set(re.findall(r"os\.environ\.get\(\s*\"([A-Z0-9_]+)\"", source))


def readable(which: str) -> set[str]:
    extra = THIRD_PARTY["both"] | THIRD_PARTY.get(which, set())
    return click_envvars(command(which)) | settings_envvars() | extra


# Secrets the operator creates (none is shipped): their keys, as docs/deploy.md lists them.
OPERATOR_SECRETS = {
    "trk-server-store": {
        "TRK_BACKEND_STORE_URI": "postgresql://trk@postgres:5432/trk",
        "TRK_ARTIFACTS_DESTINATION": "s3://trk-artifacts/",
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_DEFAULT_REGION": "us-east-1",
    },
}


def container_env(objects: list[dict], deployment: str) -> dict[str, str | None]:
    """Name -> literal value (None when it comes from a secret) for one Deployment."""
    deploy = _kustomize.find(objects, "Deployment", deployment)
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        kind, ref = (
            ("ConfigMap", "configMapRef") if "configMapRef" in source else ("Secret", "secretRef")
        )
        if kind == "Secret":
            env.update(OPERATOR_SECRETS[source[ref]["name"]])
            continue
        obj = _kustomize.find(objects, kind, source[ref]["name"])
        env.update(obj.get("data") or {})
    for item in container.get("env", []):
        env[item["name"]] = item.get("value")
    return env


@pytest.mark.parametrize("overlay", ["base", "shadow"])
@pytest.mark.parametrize("which, deployment", [("serve", "trk-serve"), ("server", "trk-server")])
def test_manifest_env_is_read(rendered, overlay, which, deployment):
    env = container_env(rendered[overlay], deployment)
    unread = sorted(set(env) - readable(which))
    assert not unread, f"{deployment} sets variables {which} never reads: {unread}"


@pytest.mark.parametrize("which", ["serve", "server"])
def test_dockerfile_env_is_read(root, which):
    runtime = _dockerfile.parse(root / f"Dockerfile.{which}")[-1]
    unread = sorted(set(runtime.env()) - readable(which))
    assert not unread, f"Dockerfile.{which} sets variables trk never reads: {unread}"


@pytest.mark.parametrize("overlay", ["base", "shadow"])
@pytest.mark.parametrize("which, deployment", [("serve", "trk-serve"), ("server", "trk-server")])
def test_manifest_values_parse(rendered, overlay, which, deployment, monkeypatch):
    """click converts every value (a bad mode or a non-number fails here, not in the pod)."""
    for name in list(trk.settings.env_snapshot()):
        monkeypatch.delenv(name)
    for name, value in container_env(rendered[overlay], deployment).items():
        monkeypatch.setenv(name, "token" if value is None else value)
    cmd = command(which)
    ctx = cmd.make_context(deployment, [])  # parses and converts; does not start anything
    for name, value in container_env(rendered[overlay], deployment).items():
        param = next((p for p in cmd.params if name in envvars_of(p)), None)
        if param is not None and value is not None:
            assert ctx.params[param.name] is not None, name
