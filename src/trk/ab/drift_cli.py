"""`trk ab drift` and `trk models profile`: argument parsing and output only."""

from __future__ import annotations

import click
import orjson

from trk.cli_common import client_option, json_option, make_client


@click.command("drift")
@click.argument("model")
@click.option("--since", default=None, help="Only windows this recent, e.g. 1h, 30m.")
@click.option(
    "--min-rows",
    type=int,
    default=200,
    show_default=True,
    help="Served rows a feature needs before its PSI counts (fewer: not enough data).",
)
@click.option("--experiment", default=None, help="Serving experiment [default: serving/MODEL].")
@client_option
@json_option
def drift_cmd(
    model: str,
    since: str | None,
    min_rows: int,
    experiment: str | None,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """PSI per variant and feature of the served inputs against each version's profile."""
    from trk.ab.drift_report import drift_report, render
    from trk.ab.windows import parse_duration

    since_s = parse_duration(since, "--since") if since else None
    report = drift_report(make_client(tracking_uri), model, experiment, since_s, min_rows)
    if as_json:
        click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(render(report))


@click.command("profile")
@click.argument("model_version", metavar="NAME/VERSION")
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The reference data (.parquet or .csv), usually the training inputs.",
)
@client_option
@json_option
def profile_cmd(
    model_version: str, data_path: str, tracking_uri: str | None, as_json: bool
) -> None:
    """Register NAME's next version: VERSION's files plus a reference profile of --data."""
    import trk
    from trk.exceptions import InvalidParameter
    from trk.models.profile_version import profile_version

    name, _, version = model_version.rpartition("/")
    if not name or not version:
        raise InvalidParameter(f"Give NAME/VERSION, e.g. iris/3, not {model_version!r}")
    if tracking_uri:
        trk.set_tracking_uri(tracking_uri)
    new, profile = profile_version(name, version, data_path)
    body = {
        "name": name,
        "version": new,
        "profiled_from": version,
        "rows": profile.rows,
        "features": [f.name for f in profile.features],
    }
    if as_json:
        click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(
            f"{name} v{new}: v{version} with a reference profile of {profile.rows} rows "
            f"({len(profile.features)} features)"
        )
