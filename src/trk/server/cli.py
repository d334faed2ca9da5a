"""`trk server` and `trk db upgrade` (click commands the main `trk` group attaches)."""

from __future__ import annotations

import os

import click

from trk import settings
from trk.cli_common import fail
from trk.exceptions import TrkError
from trk.server.params import DEFAULT_MAX_BODY_BYTES

DEFAULT_BACKEND = "sqlite:///trk.db"
DEFAULT_DESTINATION = "./trk-artifacts"


def _destination(value: str) -> str:
    """Local destinations become absolute so every worker agrees on them."""
    if "://" in value or value.startswith("file:"):
        return value
    return os.path.abspath(value)


@click.command("server")
@click.option(
    "--backend-store-uri",
    envvar="TRK_BACKEND_STORE_URI",
    show_envvar=True,
    default=DEFAULT_BACKEND,
    show_default=True,
    help="sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB.",
)
@click.option(
    "--artifacts-destination",
    envvar="TRK_ARTIFACTS_DESTINATION",
    show_envvar=True,
    default=DEFAULT_DESTINATION,
    show_default=True,
    help="Where proxied artifacts go: a directory or s3://bucket/prefix.",
)
@click.option("--host", envvar="TRK_HOST", show_envvar=True, default="127.0.0.1", show_default=True)
@click.option(
    "--port", envvar="TRK_PORT", show_envvar=True, default=5000, type=int, show_default=True
)
@click.option(
    "--workers",
    envvar="TRK_WORKERS",
    show_envvar=True,
    default=1,
    type=click.IntRange(1, 64),
    show_default=True,
)
@click.option(
    "--serve-artifacts/--no-serve-artifacts",
    envvar="TRK_SERVE_ARTIFACTS",
    show_envvar=True,
    default=True,
    show_default=True,
    help="Proxy artifacts through /api/2.0/mlflow-artifacts (clients need no S3 keys).",
)
@click.option(
    "--auth-token",
    envvar="TRK_AUTH_TOKEN",
    show_envvar=True,
    default=None,
    help="Require 'Authorization: Bearer TOKEN' on every route but /health.",
)
@click.option(
    "--max-body-bytes",
    envvar="TRK_MAX_BODY_BYTES",
    show_envvar=True,
    default=DEFAULT_MAX_BODY_BYTES,
    type=click.IntRange(1024),
    show_default=True,
    help="Largest JSON request body.",
)
@click.option(
    "--webhook-allow-hosts",
    envvar="TRK_WEBHOOK_ALLOW_HOSTS",
    show_envvar=True,
    default=None,
    help="Hosts or networks (comma-separated: 127.0.0.1,10.0.0.0/8,ci.internal) webhooks may "
    "call although they are not public, over http or https.",
)
def server_command(
    backend_store_uri: str,
    artifacts_destination: str,
    host: str,
    port: int,
    workers: int,
    serve_artifacts: bool,
    auth_token: str | None,
    max_body_bytes: int,
    webhook_allow_hosts: str | None,
) -> None:
    """Run the tracking server (MLflow REST API, model registry, artifact proxy)."""
    from trk.server.serve import run_server

    if webhook_allow_hosts is not None:  # read by every store this process and its workers open
        settings.set_webhook_allow_hosts(webhook_allow_hosts)

    try:
        run_server(
            backend_store_uri,
            _destination(artifacts_destination),
            host,
            port,
            workers,
            serve_artifacts,
            auth_token,
            max_body_bytes,
        )
    except TrkError as exc:
        fail("trk server", exc)


@click.group("db")
def db_group() -> None:
    """Tracking database maintenance."""


@db_group.command("upgrade")
@click.argument("url", envvar="TRK_BACKEND_STORE_URI", default=DEFAULT_BACKEND)
def db_upgrade(url: str) -> None:
    """Apply schema migrations to the store at URL (sqlite:/// or postgresql://)."""
    from trk.store.migrations import migrate

    try:
        revision = migrate(url)
    except TrkError as exc:
        fail("trk server", exc)
    click.echo(f"{url}: schema at revision {revision}")
