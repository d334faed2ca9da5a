"""`trk ui`: the dashboard over the embedded store in one command (`trk server` underneath)."""

from __future__ import annotations

import os

import click

from trk import settings
from trk.server.cli import DEFAULT_DESTINATION, server_command

# The same Option objects as `trk server` (name, env variable, default, help): one definition.
_SHARED = ("backend_store_uri", "host", "port")


def _server_options() -> list[click.Parameter]:
    by_name = {p.name: p for p in server_command.params}
    return [by_name[name] for name in _SHARED]


def _run_ui(backend_store_uri: str, host: str, port: int) -> None:
    """Run the tracking server with its dashboard on the embedded store (artifacts read in place)."""
    from trk.server.serve import run_server

    # The embedded store's own artifact root, so new runs land where `trk` scripts put them.
    destination = settings.artifact_root_from_env() or os.path.abspath(DEFAULT_DESTINATION)
    click.echo(f"trk ui: http://{host}:{port}/ on {backend_store_uri}", err=True)
    run_server(backend_store_uri, destination, host, port, serve_artifacts=False)


ui_command = click.Command(
    "ui",
    callback=_run_ui,
    params=_server_options(),
    help="Browse experiments, runs, models and A/B results in a web browser.",
    short_help="Run the web dashboard on a tracking store.",
)
