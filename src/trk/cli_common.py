"""Pieces every `trk` subcommand shares: error mapping, output, common options."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click
import orjson

from trk.exceptions import DeadlineExceeded, TrkError, Unavailable

if TYPE_CHECKING:
    from trk.tracking.client import Client

# Exit codes of `trk`, `trk-serve` and `trk server` (docs/tracking.md's table):
EXIT_OK = 0  # done; a gate or promotion condition was met
EXIT_ERROR = 1  # a typed trk error (bad input, not found, model refused, ...): one line says which
EXIT_USAGE = 2  # click: an unknown flag or a bad argument
EXIT_BIND = 3  # a server could not bind its port (uvicorn logged why)
EXIT_REJECTED = 4  # the check ran and said no: a gate failed, `ab promote --if` did not hold
EXIT_UNAVAILABLE = 5  # the store or server did not answer in time: retrying later may work


def exit_code(exc: TrkError) -> int:
    """The exit code for a typed error: temporary failures differ from the rest."""
    return EXIT_UNAVAILABLE if isinstance(exc, Unavailable | DeadlineExceeded) else EXIT_ERROR


def fail(prog: str, exc: TrkError) -> NoReturn:
    """One line on stderr naming what failed, and the error's exit code: the one CLI mapper."""
    click.echo(f"{prog}: error: {exc.message}", err=True)
    sys.exit(exit_code(exc))


def reject(message: str) -> NoReturn:
    """A check that ran and said no: not an error, but not a success either."""
    click.echo(message)
    sys.exit(EXIT_REJECTED)


class TrkGroup(click.Group):
    """Every `trk` subcommand's typed errors go through `fail`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrkError as exc:
            fail("trk", exc)


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


def make_client(tracking_uri: str | None) -> Client:
    from trk.tracking.client import Client

    return Client(tracking_uri)
