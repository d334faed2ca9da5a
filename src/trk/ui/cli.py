"""`trk ui`: the dashboard over the embedded store in one command (`trk server` underneath)."""

from __future__ import annotations

import os

import click

from trk import settings
from trk.cli_common import fail
from trk.exceptions import TrkError
from trk.server.cli import DEFAULT_DESTINATION, guarded, server_command

# The same Option objects as `trk server` (name, env variable, default, help): one definition.
_SHARED = (
    "backend_store_uri",
    "host",
    "port",
    "auth_token",
    "auth_token_file",
    "insecure_no_auth",
    "allowed_hosts",
    "allowed_artifact_roots",
)


def _server_options() -> list[click.Parameter]:
    by_name = {p.name: p for p in server_command.params}
    return [by_name[name] for name in _SHARED]


def _run_ui(
    backend_store_uri: str,
    host: str,
    port: int,
    auth_token: str | None,
    auth_token_file: str | None,
    insecure_no_auth: bool,
    allowed_hosts: str | None,
    allowed_artifact_roots: str | None,
) -> None:
    """Run the tracking server with its dashboard on the embedded store (artifacts read in place)."""
    from trk.server.app import split_list
    from trk.server.serve import run_server
    from trk.uri import redacted

    # The embedded store's own artifact root, so new runs land where `trk` scripts put them.
    destination = settings.artifact_root_from_env() or os.path.abspath(DEFAULT_DESTINATION)
    try:
        token, hosts = guarded(host, auth_token, auth_token_file, insecure_no_auth, allowed_hosts)
        click.echo(f"trk ui: http://{host}:{port}/ on {redacted(backend_store_uri)}", err=True)
        run_server(
            backend_store_uri,
            destination,
            host,
            port,
            serve_artifacts=False,
            auth_token=token,
            auth_token_file=auth_token_file,
            allowed_hosts=hosts,
            allowed_artifact_roots=split_list(allowed_artifact_roots),
        )
    except TrkError as exc:
        fail("trk ui", exc)


ui_command = click.Command(
    "ui",
    callback=_run_ui,
    params=_server_options(),
    help="Browse experiments, runs, models and A/B results in a web browser.",
    short_help="Run the web dashboard on a tracking store.",
)
