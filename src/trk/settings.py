"""The one place that reads the process environment.

CLI flags fall back to `TRK_*` variables through click's `envvar=`; everything else that a
library call needs from the environment is read here, so tests can see every knob in one file.
"""

from __future__ import annotations

import os
import sys

DEFAULT_TRACKING_URI = "sqlite:///trk.db"

_announced = False


def tracking_uri_from_env() -> str | None:
    """`TRK_TRACKING_URI`, else `MLFLOW_TRACKING_URI`, else None."""
    return os.environ.get("TRK_TRACKING_URI") or os.environ.get("MLFLOW_TRACKING_URI") or None


def default_tracking_uri() -> str:
    """The tracking URI from the environment, else the embedded default (said once)."""
    global _announced
    uri = tracking_uri_from_env()
    if uri:
        return uri
    if not _announced:
        _announced = True
        where = os.path.join(os.getcwd(), "trk.db")
        print(f"trk: using the embedded tracking store at {where}", file=sys.stderr)
    return DEFAULT_TRACKING_URI


def tracking_token() -> str | None:
    """Bearer token a client sends to `trk server`."""
    return os.environ.get("TRK_TRACKING_TOKEN") or os.environ.get("MLFLOW_TRACKING_TOKEN") or None


def tracking_credentials() -> tuple[str, str] | None:
    """(username, password) a client signs in with: `TRK_TRACKING_USERNAME` / `_PASSWORD`,
    else MLflow's `MLFLOW_TRACKING_USERNAME` / `_PASSWORD`; None unless both are set."""
    for prefix in ("TRK", "MLFLOW"):
        user = os.environ.get(f"{prefix}_TRACKING_USERNAME")
        password = os.environ.get(f"{prefix}_TRACKING_PASSWORD")
        if user and password:
            return user, password
    return None


def auth_config_path() -> str | None:
    """`MLFLOW_AUTH_CONFIG_PATH`: the basic-auth app's ini file (MLflow's variable)."""
    return os.environ.get("MLFLOW_AUTH_CONFIG_PATH") or None


def auth_admin_credentials() -> tuple[str | None, str | None]:
    """`MLFLOW_AUTH_ADMIN_USERNAME` / `MLFLOW_AUTH_ADMIN_PASSWORD` (None when unset)."""
    env = os.environ
    return env.get("MLFLOW_AUTH_ADMIN_USERNAME"), env.get("MLFLOW_AUTH_ADMIN_PASSWORD")


def server_auth_token() -> str | None:
    """`TRK_AUTH_TOKEN`: the token `trk server` requires (None when unset, "" when empty)."""
    return os.environ.get("TRK_AUTH_TOKEN")


def s3_endpoint_url() -> str | None:
    return os.environ.get("TRK_S3_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None


# -- S3 server-side encryption (issue 30) ---------------------------------------------------
S3_SSE_ENV = "TRK_S3_SSE"
S3_SSE_KMS_KEY_ID_ENV = "TRK_S3_SSE_KMS_KEY_ID"


def s3_sse() -> tuple[str | None, str | None]:
    """`TRK_S3_SSE` (AES256 or aws:kms) and `TRK_S3_SSE_KMS_KEY_ID`: what every S3 write sets."""
    mode = os.environ.get("TRK_S3_SSE") or None
    return mode, os.environ.get("TRK_S3_SSE_KMS_KEY_ID") or None


def set_s3_sse(mode: str, kms_key_id: str | None) -> None:
    """`trk server --artifacts-sse`: every S3 repository this process and its workers open
    reads the encryption from here."""
    os.environ[S3_SSE_ENV] = mode
    if kms_key_id:
        os.environ[S3_SSE_KMS_KEY_ID_ENV] = kms_key_id


def artifact_root_from_env() -> str | None:
    """Where the embedded store puts artifacts (default: `./trk-artifacts`)."""
    return os.environ.get("TRK_ARTIFACT_ROOT") or None


def allow_pickle() -> bool:
    """TRK_ALLOW_PICKLE=1: load formats that run code from sources nothing vouches for."""
    return os.environ.get("TRK_ALLOW_PICKLE", "").strip().lower() in ("1", "true", "yes")


def model_cache_dir() -> str:
    """Where `models:/` downloads are cached, keyed by model version."""
    return os.environ.get("TRK_MODEL_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "trk", "models"
    )


def user_name() -> str:
    return (
        os.environ.get("TRK_USER")
        or os.environ.get("USER")
        or os.environ.get("LOGNAME")
        or "unknown"
    )


def env_snapshot(prefix: str = "TRK_") -> dict[str, str]:
    """Every variable with `prefix`, for diagnostics and tests."""
    return {k: v for k, v in os.environ.items() if k.startswith(prefix)}


# `trk-serve --workers N` hands its validated settings to the worker processes through this
# variable (uvicorn's workers re-import the app factory in fresh processes).
SERVE_SETTINGS_ENV = "TRK_SERVE_SETTINGS_JSON"


def serve_settings_json() -> str | None:
    """The serialized ServeSettings a `trk-serve` worker process was started with."""
    return os.environ.get(SERVE_SETTINGS_ENV) or None


# -- labels (issue 25) ---------------------------------------------------------------------
PENDING_LABEL_TTL_ENV = "TRK_PENDING_LABEL_TTL"
MAX_PENDING_LABELS_ENV = "TRK_MAX_PENDING_LABELS"


def pending_label_limits() -> tuple[str | None, str | None]:
    """`TRK_PENDING_LABEL_TTL` (a duration) and `TRK_MAX_PENDING_LABELS`, as set (or None)."""
    return os.environ.get(PENDING_LABEL_TTL_ENV), os.environ.get(MAX_PENDING_LABELS_ENV)


def set_pending_label_limits(ttl: str | None, max_pending: int | None) -> None:
    """`trk server --pending-label-ttl/--max-pending-labels`: read by every store this
    process (and its workers) opens."""
    if ttl is not None:
        os.environ[PENDING_LABEL_TTL_ENV] = ttl
    if max_pending is not None:
        os.environ[MAX_PENDING_LABELS_ENV] = str(max_pending)


# -- webhooks (issue 16) -------------------------------------------------------------------
WEBHOOK_ALLOW_HOSTS_ENV = "TRK_WEBHOOK_ALLOW_HOSTS"


def webhook_allow_hosts() -> str:
    """Hosts / networks webhooks may call although they are not public (comma-separated)."""
    return os.environ.get(WEBHOOK_ALLOW_HOSTS_ENV, "")


def set_webhook_allow_hosts(value: str) -> None:
    """`trk server --webhook-allow-hosts`: every store this process (and its workers) opens
    reads the allow-list from here."""
    os.environ[WEBHOOK_ALLOW_HOSTS_ENV] = value


MAX_WEBHOOKS_ENV = "TRK_MAX_WEBHOOKS"


def set_max_webhooks(value: int) -> None:
    """`trk server --max-webhooks`: read by every store this process (and its workers) opens."""
    os.environ[MAX_WEBHOOKS_ENV] = str(value)


def webhook_number(variable: str, default: float) -> float:
    """A `TRK_WEBHOOK_*` number (timeout, attempts, backoff, flush) or `TRK_MAX_WEBHOOKS`,
    else `default`."""
    raw = os.environ.get(variable)
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


# -- MLflow compatibility (issue 19) -------------------------------------------------------
def model_version_source_regex() -> str | None:
    """MLflow's `MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX`: sources must match it."""
    return os.environ.get("MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX") or None


# -- distributed training and async logging (issue 30) -------------------------------------
def distributed_rank() -> int | None:
    """This process's rank in distributed training: `RANK` (torchrun, Horovod, DeepSpeed set
    it), else `LOCAL_RANK`; None when neither is set or readable."""
    for name in ("RANK", "LOCAL_RANK"):
        raw = os.environ.get(name)
        if raw is not None and raw.strip():
            try:
                return int(raw)
            except ValueError:
                return None
    return None


def log_all_ranks() -> bool:
    """`TRK_LOG_ALL_RANKS=1`: every rank logs its own run, not only rank 0."""
    return os.environ.get("TRK_LOG_ALL_RANKS", "").strip().lower() in ("1", "true", "yes")


def async_logging_from_env() -> bool:
    """`TRK_ENABLE_ASYNC_LOGGING` (or MLflow's `MLFLOW_ENABLE_ASYNC_LOGGING`) set to true."""
    raw = os.environ.get("TRK_ENABLE_ASYNC_LOGGING") or os.environ.get(
        "MLFLOW_ENABLE_ASYNC_LOGGING", ""
    )
    return raw.strip().lower() in ("1", "true", "yes")


# -- trk server's /metrics ------------------------------------------------------------------
PROMETHEUS_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prometheus_multiproc_dir() -> str | None:
    """prometheus_client's multiprocess directory (it reads the variable itself at import)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def set_prometheus_multiproc_dir(path: str) -> None:
    """`trk server --workers N`: set before the workers start, so each writes its series there."""
    os.environ[PROMETHEUS_MULTIPROC_ENV] = path
