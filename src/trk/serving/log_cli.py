"""`trk log ship`: the log shipper of trk-serve, run on its own (a sidecar, or by hand)."""

from __future__ import annotations

import logging

import click

from trk.cli_common import client_option


@click.group("log")
def log_group() -> None:
    """The prediction log that trk-serve writes through its log shipper."""


@log_group.command("ship")
@click.option(
    "--listen",
    "socket_path",
    default=None,
    help="Unix socket to take trk-serve connections on (trk-serve --log-shipper-socket); "
    "without it, frames are read on stdin and acks written on stdout, as trk-serve's child.",
)
@click.option(
    "--retention",
    default=None,
    help="Delete logged predictions and labels older than this (e.g. 14d), hourly.",
)
@click.option(
    "--capture-spool-dir",
    "spool_dir",
    default=None,
    help="With --listen: where the capture's files wait to be published, for every serving "
    "process that connects with --capture-uri (default: a trk-capture folder in the "
    "temporary directory). The capture's other settings come from trk-serve's flags.",
)
@client_option
def ship(
    socket_path: str | None, retention: str | None, spool_dir: str | None, tracking_uri: str | None
) -> None:
    """Write answered requests from trk-serve to the store's prediction log, in batches, and
    to the capture on object storage where trk-serve runs with --capture-uri."""
    from trk.ab.windows import parse_duration
    from trk.serving.online.shipper import serve_pipe, serve_socket

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    retention_s = parse_duration(retention, "--retention") if retention else None
    if socket_path:
        serve_socket(socket_path, tracking_uri, retention_s, spool_dir)
    else:
        serve_pipe(tracking_uri, retention_s)
