"""`trk ab ...`, `trk models gate` and `trk runs compare`: argument parsing and output only."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from trk.cli_common import client_option, json_option, make_client, reject

F = TypeVar("F", bound=Callable[..., Any])  # a click command function


def _metric_options(func: F) -> F:
    func = click.option(
        "--min-sample",
        type=int,
        default=100,
        show_default=True,
        help="Labels (requests, or shadow pairs) per variant before any verdict.",
    )(func)
    func = click.option(
        "--horizon",
        type=float,
        default=5_000,
        show_default=True,
        help="sequential: labels per variant at which the confidence sequence is tightest.",
    )(func)
    func = click.option(
        "--method",
        type=click.Choice(["sequential", "fixed"]),
        default="sequential",
        show_default=True,
        help="sequential: valid however often the gate is re-run; "
        "fixed: one look at a sample size chosen in advance.",
    )(func)
    func = click.option("--alpha", type=float, default=0.05, show_default=True)(func)
    func = click.option(
        "--metric",
        default="accuracy",
        show_default=True,
        help="accuracy, error_rate, latency_p50_ms, latency_p95_ms, latency_p99_ms, mae or rmse.",
    )(func)
    func = click.option("--since", default=None, help="Only windows this recent, e.g. 1h, 30m.")(
        func
    )
    return click.option(
        "--experiment", default=None, help="Serving experiment [default: serving/MODEL]."
    )(func)


def _capture_option(text: str, required: bool = False) -> Callable[[F], F]:
    return click.option(
        "--capture-uri",
        default=None,
        required=required,
        help=f"s3://bucket/prefix or a directory (trk-serve --capture-uri). {text}",
    )


@click.group("ab")
def ab() -> None:
    """A/B evaluation of champion and challenger from the serving runs."""


@ab.command("report")
@click.argument("model")
@_metric_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "html"]),
    default="table",
    show_default=True,
)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write to a file.")
@click.option(
    "--verdict",
    "verdict_only",
    is_flag=True,
    help="Print only the verdict line; exit 4 unless the challenger is better.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@_capture_option("Report from the captures there (DuckDB) instead of the serving runs.")
@client_option
def report_cmd(
    model: str,
    experiment: str | None,
    since: str | None,
    metric: str,
    alpha: float,
    method: str,
    horizon: float,
    min_sample: int,
    fmt: str,
    output: str | None,
    verdict_only: bool,
    as_json: bool,
    capture_uri: str | None,
    tracking_uri: str | None,
) -> None:
    """Sum the serving runs of every replica per (variant, version) and print the verdict."""
    from trk.ab.evaluation import evaluate
    from trk.ab.render import render_json, render_table, verdict_line
    from trk.ab.report import BETTER, GateMethod

    gate = GateMethod(alpha, method, horizon, min_sample)
    fmt = "json" if as_json else fmt
    if capture_uri:
        from trk.capture.report import capture_report

        report = capture_report(capture_uri, model, since, metric, gate)
    else:
        report = evaluate(make_client(tracking_uri), model, experiment, since, metric, gate=gate)
    if verdict_only:
        if report.verdict.outcome != BETTER:
            reject(verdict_line(report))
        click.echo(verdict_line(report))
        return
    if fmt == "html":
        from trk.ab.html import render_html

        text = render_html(report)
    else:
        text = render_json(report) if fmt == "json" else render_table(report)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


@ab.command("promote")
@click.argument("model")
@click.option(
    "--if",
    "condition",
    type=click.Choice(["better", "not-worse"]),
    required=True,
    help="Promote only when the challenger is better / not significantly worse.",
)
@_metric_options
@client_option
def promote_cmd(
    model: str,
    condition: str,
    experiment: str | None,
    since: str | None,
    metric: str,
    alpha: float,
    method: str,
    horizon: float,
    min_sample: int,
    tracking_uri: str | None,
) -> None:
    """Move champion <- challenger (previous <- old champion) if the verdict allows; else exit 4."""
    from trk.ab.evaluation import evaluate
    from trk.ab.promote import promote_if
    from trk.ab.report import GateMethod

    client = make_client(tracking_uri)
    gate = GateMethod(alpha, method, horizon, min_sample)
    report = evaluate(client, model, experiment, since, metric, gate=gate)
    result = promote_if(client, report, condition)
    if not result.promoted:
        reject(result.reason)
    click.echo(result.reason)


@ab.command("label")
@click.argument("model")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False),
    required=True,
    help="labels.csv (request_id,label columns) or labels.jsonl ({request_id, label} lines).",
)
@click.option(
    "--correct",
    is_flag=True,
    help="Replace labels already stored (each correction is kept, with its time, the "
    "label it replaced and who made it; reports count them).",
)
@_capture_option("Write the labels beside the captures there instead of the store.")
@client_option
def label_cmd(
    model: str, path: str, correct: bool, capture_uri: str | None, tracking_uri: str | None
) -> None:
    """Store labels for logged predictions (any replica's, any time later), once each."""
    from trk.ab import label_files

    items = label_files.read_labels(path)
    if capture_uri:
        from trk.capture.cli import label_capture

        click.echo(label_capture(capture_uri, model, items))
        return
    log = make_client(tracking_uri).store.predictions
    if correct:
        n = label_files.correct_labels(log, model, items)
        click.echo(f"corrected {n} label(s) for {model}")
        return
    done = label_files.write_labels(log, model, items)
    click.echo(
        f"stored {done.written} label(s) for {model}: {done.joined} joined, "
        f"{done.pending} pending (waiting for their prediction)"
    )


@ab.command("prune")
@click.argument("model", required=False)
@click.option(
    "--prediction-retention",
    default="14d",
    show_default=True,
    help="Delete logged predictions and labels older than this (e.g. 14d, 12h).",
)
@_capture_option("Delete whole capture partitions there instead of store rows.")
@click.option("--older-than", default=None, help="With --capture-uri: the age, e.g. 30d.")
@client_option
def prune_cmd(
    model: str | None,
    prediction_retention: str,
    capture_uri: str | None,
    older_than: str | None,
    tracking_uri: str | None,
) -> None:
    """Delete the prediction log's old rows (of MODEL, or of every model)."""
    import time

    from trk.ab.windows import parse_duration

    if capture_uri:
        from trk.capture.cli import prune_capture

        click.echo(prune_capture(capture_uri, model, older_than or prediction_retention))
        return
    seconds = parse_duration(prediction_retention, "--prediction-retention")
    before_ms = int((time.time() - seconds) * 1000)
    deleted = make_client(tracking_uri).store.predictions.prune(before_ms, model)
    click.echo(
        f"deleted {deleted['predictions']} prediction row(s), {deleted['labels']} label row(s)"
    )


@ab.command("export")
@click.argument("model")
@_capture_option("The captures to export.", required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="joined.parquet")
@click.option("--since", default=None, help="Only captures this recent, e.g. 7d.")
@click.option("--labelled-only", is_flag=True, help="Leave out rows without a label.")
def export_cmd(
    model: str, capture_uri: str, out: str, since: str | None, labelled_only: bool
) -> None:
    """Write the captures joined with their labels (inputs, prediction, label) as Parquet."""
    from trk.capture.cli import export_capture

    click.echo(export_capture(capture_uri, model, out, since, labelled_only))


@ab.command("replay")
@click.argument("model")
@click.option("--run", "run_id", required=True, help="Serving run whose samples to replay.")
@click.option("--challenger-uri", required=True, help="Model to replay the samples against.")
@client_option
@json_option
def replay_cmd(
    model: str, run_id: str, challenger_uri: str, tracking_uri: str | None, as_json: bool
) -> None:
    """Show how another model would have answered a serving run's logged samples."""
    from trk.ab.replay import render_replay, replay

    result = replay(make_client(tracking_uri), model, run_id, challenger_uri)
    if as_json:
        click.echo(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(render_replay(result))


@click.command("gate")
@click.argument("name")
@click.argument("version")
@click.option(
    "--require",
    "requirements",
    multiple=True,
    required=True,
    help='A gate such as "accuracy>=0.90"; repeatable, all must pass.',
)
@click.option("--alias", default=None, help="Alias to point at VERSION when every gate passes.")
@click.option(
    "--data",
    "data_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="A dataset (.parquet or .csv) whose drift against VERSION's reference profile the "
    'gates can require, e.g. "drift_psi<=0.2" or "drift_psi(petal_length)<=0.2".',
)
@client_option
def gate_cmd(
    name: str,
    version: str,
    requirements: tuple[str, ...],
    alias: str | None,
    data_path: str | None,
    tracking_uri: str | None,
) -> None:
    """Check a version's run metrics; tag approval_status; move --alias only on a pass."""
    from trk.ab.gate import describe, run_gates

    client = make_client(tracking_uri)
    extra = None
    if data_path:
        from trk.ab.drift_report import dataset_drift

        extra = dataset_drift(client, name, version, data_path)
    outcome = run_gates(client, name, version, requirements, alias, extra)
    for result in outcome.results:
        click.echo(describe(result, outcome.available))
    status = "approved" if outcome.passed else "rejected"
    moved = f"; {name}@{alias} -> version {outcome.version}" if outcome.alias_moved else ""
    verdict = f"{name} version {outcome.version}: {status}{moved}"
    if not outcome.passed:
        reject(verdict)
    click.echo(verdict)


@click.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--only-diff", is_flag=True, help="Show only the rows that differ.")
@client_option
@json_option
def compare_cmd(
    run_ids: tuple[str, ...], only_diff: bool, tracking_uri: str | None, as_json: bool
) -> None:
    """Params and latest metrics of runs side by side, differences marked."""
    from trk.ab.compare import compare_runs, render_comparison

    cmp = compare_runs(make_client(tracking_uri), run_ids)
    if only_diff:
        cmp.rows = cmp.differing()
    if as_json:
        rows = [
            {"kind": r.kind, "key": r.key, "values": r.values, "differs": r.differs}
            for r in cmp.rows
        ]
        body = {"run_ids": cmp.run_ids, "run_names": cmp.run_names, "rows": rows}
        click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(render_comparison(cmp, color=sys.stdout.isatty()), nl=False)
