"""Pieces every `trk` subcommand shares: error mapping, output, common options."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
import orjson

from trk.exceptions import TrkError


class TrkGroup(click.Group):
    """Maps trk's typed errors to one line on stderr and a non-zero exit, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrkError as exc:
            click.echo(f"trk: error: {exc.message}", err=True)
            sys.exit(exit_code(exc))


def exit_code(exc: TrkError) -> int:
    """1 for a failure trk diagnosed; 2 is click's for usage errors."""
    return 1


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(obj).items() if k != "metric_objs"}
    if isinstance(obj, list | tuple):
        return [_jsonable(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj


def emit(rows: Sequence[dict[str, Any]], as_json: bool, raw: Any = None) -> None:
    """A table for people, JSON for scripts."""
    if as_json:
        click.echo(
            orjson.dumps(
                _jsonable(raw if raw is not None else list(rows)), option=orjson.OPT_INDENT_2
            ).decode()
        )
        return
    if not rows:
        click.echo("(none)")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    cols = list(rows[0].keys())
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in cols))
    Console(width=200).print(table)


def client_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--tracking-uri",
        envvar="TRK_TRACKING_URI",
        default=None,
        help="Tracking store (env TRK_TRACKING_URI, else MLFLOW_TRACKING_URI, else sqlite:///trk.db).",
    )(func)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def make_client(tracking_uri: str | None):  # noqa: ANN201
    from trk.tracking.client import Client

    return Client(tracking_uri)
