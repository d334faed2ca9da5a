"""`trk server` and `trk db upgrade` (click commands the main `trk` group attaches)."""

from __future__ import annotations

import os

import click

from trk import settings
from trk.cli_common import fail
from trk.exceptions import InvalidParameter, TrkError
from trk.server.params import DEFAULT_MAX_ARTIFACT_MB, DEFAULT_MAX_BODY_BYTES
from trk.webhooks.targets import AllowList

DEFAULT_BACKEND = "sqlite:///trk.db"
DEFAULT_DESTINATION = "./trk-artifacts"


def absolute_destination(value: str) -> str:
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
@click.option("--auth-token", hidden=True, default=None)  # refused: argv is public
@click.option(
    "--auth-token-file",
    envvar="TRK_AUTH_TOKEN_FILE",
    show_envvar=True,
    default=None,
    type=click.Path(dir_okay=False),
    help="A file holding the token that every route but /health requires "
    "('Authorization: Bearer TOKEN'); or set TRK_AUTH_TOKEN. Never on the command line. "
    "At least 16 characters; placeholders such as change-me are refused.",
)
@click.option(
    "--insecure-no-auth",
    envvar="TRK_INSECURE_NO_AUTH",
    show_envvar=True,
    is_flag=True,
    help="Listen on a non-loopback --host without a token (refused otherwise).",
)
@click.option(
    "--allowed-hosts",
    envvar="TRK_ALLOWED_HOSTS",
    show_envvar=True,
    default=None,
    help="Host headers to answer (comma-separated names or patterns: trk.internal,"
    "*.corp.example; * for any); others get 403. Default: localhost, 127.0.0.1, [::1] and "
    "--host (and private addresses when --host is 0.0.0.0).",
)
@click.option(
    "--cors-allowed-origins",
    envvar="TRK_CORS_ALLOWED_ORIGINS",
    show_envvar=True,
    default=None,
    help="Browser origins besides the server's own that may POST, PUT, PATCH or DELETE "
    "(comma-separated: https://notebooks.corp.example); others get 403.",
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
    "--allowed-artifact-roots",
    envvar="TRK_ALLOWED_ARTIFACT_ROOTS",
    show_envvar=True,
    default=None,
    help="Further roots (comma-separated: /data/models,s3://team-bucket/models) that "
    "experiments may name as their artifact location, besides --artifacts-destination and "
    "mlflow-artifacts: URIs. Everything else is refused when an experiment is created and "
    "never read.",
)
@click.option(
    "--max-artifact-mb",
    envvar="TRK_MAX_ARTIFACT_MB",
    show_envvar=True,
    default=DEFAULT_MAX_ARTIFACT_MB,
    type=click.IntRange(1),
    show_default=True,
    help="Largest file the artifact proxy accepts in one upload (413 past it).",
)
@click.option(
    "--webhook-allow-hosts",
    envvar="TRK_WEBHOOK_ALLOW_HOSTS",
    show_envvar=True,
    default=None,
    help="Endpoints webhooks may call although they are not public, as SCHEME://HOST[:PORT] "
    "(comma-separated: http://127.0.0.1:8080,https://ci.internal,https://10.0.0.0/8:8443); "
    "the port defaults to the scheme's. Other ports and schemes of those hosts stay refused.",
)
@click.option(
    "--max-webhooks",
    envvar="TRK_MAX_WEBHOOKS",
    show_envvar=True,
    default=100,
    type=click.IntRange(0),
    show_default=True,
    help="Most webhooks this server keeps; creating one more is refused (400).",
)
@click.option(
    "--artifacts-sse",
    envvar="TRK_S3_SSE",
    show_envvar=True,
    default=None,
    type=click.Choice(["AES256", "aws:kms"]),
    help="Server-side encryption of every artifact written to an s3:// destination: "
    "AES256 (SSE-S3) or aws:kms (SSE-KMS).",
)
@click.option(
    "--artifacts-sse-kms-key-id",
    envvar="TRK_S3_SSE_KMS_KEY_ID",
    show_envvar=True,
    default=None,
    help="The KMS key for --artifacts-sse aws:kms (default: the bucket's AWS managed key).",
)
@click.option(
    "--app-name",
    envvar="TRK_APP_NAME",
    show_envvar=True,
    type=click.Choice(["basic-auth"]),
    default=None,
    help="basic-auth: MLflow's basic-auth app (users, READ/EDIT/MANAGE per experiment and "
    "registered model, an admin), configured by the ini file MLFLOW_AUTH_CONFIG_PATH names.",
)
@click.option(
    "--protected-alias",
    "protected_aliases",
    envvar="TRK_PROTECTED_ALIASES",
    show_envvar=True,
    multiple=True,
    help="An alias (repeatable: champion) that moves only through a promotion request "
    "approved by a second user with MANAGE on the model. Needs --app-name basic-auth.",
)
@click.option(
    "--pending-label-ttl",
    envvar="TRK_PENDING_LABEL_TTL",
    show_envvar=True,
    default="1h",
    show_default=True,
    help="How long a label for a request id with no logged prediction waits for it (then it "
    "expires, never counted).",
)
@click.option(
    "--max-pending-labels",
    envvar="TRK_MAX_PENDING_LABELS",
    show_envvar=True,
    default=100_000,
    type=click.IntRange(0),
    show_default=True,
    help="Labels that may wait for their prediction, per model (429 beyond).",
)
def server_command(
    backend_store_uri: str,
    artifacts_destination: str,
    host: str,
    port: int,
    workers: int,
    serve_artifacts: bool,
    auth_token: str | None,
    auth_token_file: str | None,
    insecure_no_auth: bool,
    allowed_hosts: str | None,
    cors_allowed_origins: str | None,
    max_body_bytes: int,
    allowed_artifact_roots: str | None,
    max_artifact_mb: int,
    webhook_allow_hosts: str | None,
    max_webhooks: int,
    artifacts_sse: str | None,
    artifacts_sse_kms_key_id: str | None,
    app_name: str | None,
    protected_aliases: tuple[str, ...],
    pending_label_ttl: str,
    max_pending_labels: int,
) -> None:
    """Run the tracking server (MLflow REST API, model registry, artifact proxy)."""
    from trk.server.app import split_list
    from trk.server.serve import run_server
    from trk.store.prediction_labels import parse_ttl

    # Read by every store this process and its workers open.
    if webhook_allow_hosts is not None:
        settings.set_webhook_allow_hosts(webhook_allow_hosts)
    settings.set_max_webhooks(max_webhooks)
    try:
        ttl = parse_ttl(pending_label_ttl)
    except TrkError as exc:
        fail("trk server", exc)
    settings.set_pending_label_limits(f"{ttl:g}", max_pending_labels)

    try:
        AllowList.parse(webhook_allow_hosts)  # a bad entry stops the start, not the first delivery
        if artifacts_sse or artifacts_sse_kms_key_id:
            from trk.artifacts.s3 import sse_args

            sse_args(artifacts_sse, artifacts_sse_kms_key_id)  # a key id without aws:kms: refused
            settings.set_s3_sse(artifacts_sse or "", artifacts_sse_kms_key_id)
        if protected_aliases and app_name is None:
            raise InvalidParameter(
                "--protected-alias needs --app-name basic-auth: four eyes need two signed-in users"
            )
        # Users sign in on a basic-auth server: it needs no shared token to listen off-loopback.
        insecure_no_auth = insecure_no_auth or app_name is not None
        token, hosts = guarded(host, auth_token, auth_token_file, insecure_no_auth, allowed_hosts)
        if app_name is not None and token is not None:
            raise InvalidParameter(
                "--app-name basic-auth signs each user in: unset TRK_AUTH_TOKEN and "
                "--auth-token-file (machines use per-user tokens: trk users token create)"
            )
        run_server(
            backend_store_uri,
            absolute_destination(artifacts_destination),
            host,
            port,
            workers,
            serve_artifacts,
            token,
            max_body_bytes,
            auth_token_file,
            allowed_artifact_roots=tuple(
                map(absolute_destination, split_list(allowed_artifact_roots))
            ),
            max_artifact_mb=max_artifact_mb,
            allowed_hosts=hosts,
            allowed_origins=split_list(cors_allowed_origins),
            app_name=app_name,
            protected_aliases=protected_aliases,
        )
    except TrkError as exc:
        fail("trk server", exc)


def guarded(
    host: str,
    auth_token: str | None,
    auth_token_file: str | None,
    insecure_no_auth: bool,
    allowed_hosts: str | None,
) -> tuple[str | None, tuple[str, ...]]:
    """The checked token and the Host allow-list; refuses a token given in argv, a
    placeholder token, and a non-loopback --host without a token."""
    from trk.server.app import split_list
    from trk.server.hosts import default_allowed_hosts
    from trk.server.tokens import WHERE, check_exposure, load_token

    if auth_token is not None:
        raise InvalidParameter(f"--auth-token would show the token in the process list: {WHERE}")
    token = load_token(auth_token_file)
    check_exposure(host, token, insecure_no_auth)
    return token, split_list(allowed_hosts) or default_allowed_hosts(host)


@click.group("db")
def db_group() -> None:
    """Tracking database maintenance."""


@db_group.command("upgrade")
@click.argument("url", envvar="TRK_BACKEND_STORE_URI", default=DEFAULT_BACKEND)
def db_upgrade(url: str) -> None:
    """Apply schema migrations to the store at URL (sqlite:/// or postgresql://)."""
    from trk.store.migrations import migrate
    from trk.uri import redacted

    try:
        revision = migrate(url)
    except TrkError as exc:
        fail("trk server", exc)
    click.echo(f"{redacted(url)}: schema at revision {revision}")
