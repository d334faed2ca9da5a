"""`trk-serve`: flags (each also a `TRK_*` variable), an optional YAML config, then run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from trk.cli_common import fail
from trk.exceptions import InvalidParameter, TrkError

_GIVEN = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _opt(flag: str, **kwargs: Any) -> Any:
    """A flag that also reads TRK_<FLAG> and lists that variable in --help."""
    env = "TRK_" + flag.split("/")[0].lstrip("-").replace("-", "_").upper()
    return click.option(flag, envvar=env, show_envvar=True, show_default=True, **kwargs)


F = TypeVar("F", bound=Callable[..., Any])  # a click command function

OPTIONS = [
    _opt(
        "--model-uri",
        default=None,
        help="Model to serve as the champion, e.g. models:/iris@champion.",
    ),
    _opt("--challenger-uri", default=None, help="Second model for --mode shadow|split."),
    _opt(
        "--mode",
        type=click.Choice(["single", "shadow", "split"]),
        default="single",
        help="single: one model; shadow: champion answers, challenger gets copies; split: weighted.",
    ),
    _opt(
        "--challenger-weight",
        type=float,
        default=0.1,
        help="Share of traffic the challenger answers in split mode.",
    ),
    _opt(
        "--shadow-sample",
        type=float,
        default=1.0,
        help="Fraction of requests copied to the challenger in shadow mode.",
    ),
    _opt(
        "--sticky-header",
        default=None,
        help="Header whose value pins a caller to one variant (split mode).",
    ),
    _opt(
        "--allow-forced-variant/--no-allow-forced-variant",
        default=False,
        help="Let a request pick champion or a split-mode challenger with X-Trk-Variant "
        "(never a shadow).",
    ),
    _opt(
        "--reload-interval-s",
        type=float,
        default=10.0,
        help="How often to check where the aliases point.",
    ),
    _opt(
        "--allow-signature-mismatch",
        is_flag=True,
        default=False,
        help="Start even when the challenger's input signature differs from the champion's.",
    ),
    _opt("--host", default="127.0.0.1", help="Address to listen on."),
    _opt("--port", type=int, default=8080, help="Port to listen on."),
    _opt("--workers", type=int, default=1, help="Worker processes (uvicorn multi-process mode)."),
    _opt(
        "--tracking-uri",
        default=None,
        help="Tracking store holding the registry (else MLFLOW_TRACKING_URI, else sqlite:///trk.db).",
    ),
    _opt(
        "--max-body-mb", type=float, default=16.0, help="Largest request body accepted (413 above)."
    ),
    _opt(
        "--timeout-s",
        type=float,
        default=30.0,
        help="Per-request deadline, body read included (504 DEADLINE_EXCEEDED past it).",
    ),
    _opt(
        "--graceful-timeout-s",
        type=float,
        default=30.0,
        help="Longest SIGTERM waits for in-flight requests before cancelling them.",
    ),
    _opt(
        "--breaker-timeouts",
        type=int,
        default=3,
        help="Challenger predicts timing out in a row that open its circuit breaker.",
    ),
    _opt(
        "--breaker-cooldown-s",
        type=float,
        default=30.0,
        help="Seconds an open breaker sends challenger traffic to the champion before a probe.",
    ),
    _opt(
        "--max-batch-size",
        type=int,
        default=None,
        help="Turn adaptive batching on, up to this many rows per predict.",
    ),
    _opt(
        "--max-batch-delay-ms",
        type=float,
        default=2.0,
        help="Longest a request waits for a batch to fill.",
    ),
    _opt(
        "--allow-pickle",
        is_flag=True,
        default=False,
        help="Load formats that run code (pickle) from paths, runs:/ and models:/m-<id> too; "
        "registered versions load them once their digest matches.",
    ),
    _opt(
        "--optimize",
        type=click.Choice(["onnx"]),
        default=None,
        help="Serve sklearn models through onnxruntime.",
    ),
    _opt(
        "--report-interval-s",
        type=float,
        default=30.0,
        help="Seconds per metrics window logged as a tracking run.",
    ),
    _opt(
        "--experiment",
        default=None,
        help="Experiment for serving runs (default serving/<model name>).",
    ),
    _opt(
        "--log-samples",
        type=float,
        default=0.0,
        help="Fraction of requests logged as samples with both answers.",
    ),
    _opt(
        "--feedback-capacity",
        type=int,
        default=100_000,
        help="Recent predictions kept for /feedback joins.",
    ),
    _opt(
        "--prediction-log/--no-prediction-log",
        default=True,
        help="Append every answer to the tracking store's shared prediction log.",
    ),
    _opt(
        "--prediction-retention",
        default="14d",
        help="Delete logged predictions and labels older than this (e.g. 14d, 12h).",
    ),
    _opt(
        "--log-shipper-socket",
        default=None,
        help="Send answers to a `trk log ship --listen PATH` sidecar on this Unix socket "
        "instead of starting a log shipper process.",
    ),
    _opt(
        "--log-max-backlog",
        type=int,
        default=1_000_000,
        help="Prediction rows sent to the log shipper and not yet written; past it answers "
        "are dropped from the log (counted), never waited for.",
    ),
    _opt(
        "--log-degraded-backlog",
        type=int,
        default=10_000,
        help="/health says degraded while more rows than this wait for the log.",
    ),
    _opt(
        "--capture-uri",
        default=None,
        help="Also write every answer (both variants) as Parquet under s3://bucket/prefix or "
        "a directory, through the log shipper (pip install 'trk[capture]').",
    ),
    _opt(
        "--capture-sample",
        type=float,
        default=1.0,
        help="Fraction of requests captured, by a hash of the request id (replicas agree).",
    ),
    _opt(
        "--capture-flush-s",
        type=float,
        default=60.0,
        help="Seconds between capture files (or 200,000 rows, whichever first).",
    ),
    _opt(
        "--capture-columns-drop",
        default=None,
        help="Input columns left out of the capture, comma-separated (PII).",
    ),
    _opt(
        "--capture-inputs/--no-capture-inputs",
        default=True,
        help="Capture the request rows beside the answers.",
    ),
    _opt(
        "--capture-spool-dir",
        default=None,
        help="Local directory where capture files wait to be published (default: a "
        "trk-capture folder in the temporary directory; keep it per replica).",
    ),
    _opt(
        "--capture-spool-mb",
        type=float,
        default=1024.0,
        help="Disk the spool may take while the bucket is unreachable; past it rows are "
        "dropped and counted (trk_capture_dropped_total).",
    ),
    _opt(
        "--feedback-token",
        default=None,
        help="Require 'Authorization: Bearer TOKEN' on /feedback: from the variable only (argv "
        "is visible to every local user; given here, it is refused). Required off-loopback.",
    ),
    click.option(
        "--feedback-token-file",
        type=click.Path(dir_okay=False),
        default=None,
        help="File holding the /feedback token (instead of TRK_FEEDBACK_TOKEN).",
    ),
    _opt(
        "--insecure-open-feedback",
        is_flag=True,
        default=False,
        help="Serve /feedback without a token on a non-loopback --host (anyone who reaches it "
        "can label, and labels decide rollouts).",
    ),
]

EPILOG = """\b
Also read from the environment:
  TRK_MODEL_CACHE     where model files from a remote artifact store are
                      downloaded once and reused (default ~/.cache/trk/models)
  TRK_TRACKING_TOKEN  bearer token for a trk server tracking URI
"""


def _apply(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
    epilog=EPILOG,
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="TRK_CONFIG",
    show_envvar=True,
    default=None,
    help="YAML file of the same settings; flags override it.",
)
@_apply(OPTIONS)
@click.pass_context
def serve(ctx: click.Context, /, config_path: str | None, **values: Any) -> None:
    """Serve a model (and optionally a challenger) over MLflow's scoring protocol."""
    from trk.serving.config import build_settings, load_config_file

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        token = feedback_token(ctx, values)
        file_values = load_config_file(config_path) if config_path else {}
        given = {
            k: v
            for k, v in values.items()
            if not file_values or ctx.get_parameter_source(k) in _GIVEN
        }
        if token is not None:
            given["feedback_token"] = token
        settings = build_settings(file_values, given)
        check_model_uri(settings.model_uri, settings.tracking_uri, settings.allow_pickle)
        check_challenger(settings)
    except TrkError as exc:
        fail("trk-serve", exc)
    from trk.serving.runner import run

    run(settings)


def feedback_token(ctx: click.Context, values: dict[str, Any]) -> str | None:
    """The /feedback token from TRK_FEEDBACK_TOKEN or --feedback-token-file; one in argv is
    refused (every local user can read the process list)."""
    path = values.pop("feedback_token_file", None)
    token = values.get("feedback_token")
    if (
        token is not None
        and ctx.get_parameter_source("feedback_token") == ParameterSource.COMMANDLINE
    ):
        raise InvalidParameter(
            "--feedback-token would show the token in the process list: set TRK_FEEDBACK_TOKEN "
            "or --feedback-token-file"
        )
    if path:
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidParameter(f"Cannot read --feedback-token-file {path}: {exc}") from None
    return token


def check_model_uri(uri: str, tracking_uri: str | None, allow_pickle: bool = False) -> None:
    """Fail fast, in one line, when the champion's files are missing or fail their digest."""
    from trk.models.pyfunc import open_model_dir

    store = None
    if uri.startswith(("models:", "runs:")):
        from trk.tracking.client import Client

        store = Client(tracking_uri).store
    open_model_dir(uri, allow_pickle, store)


def check_challenger(settings: Any) -> None:
    """Refuse, in one line, a challenger whose input signature differs from the champion's."""
    if not settings.challenger_uri:
        return
    from trk.serving.routing.signatures import check_at_start

    store = None
    uris = (settings.model_uri, settings.challenger_uri)
    if any(u.startswith(("models:", "runs:")) for u in uris):
        from trk.tracking.client import Client

        store = Client(settings.tracking_uri).store
    check_at_start(
        settings.model_uri, settings.challenger_uri, store, settings.allow_signature_mismatch
    )
