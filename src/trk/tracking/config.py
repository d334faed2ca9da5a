"""`trk.config`: process-wide tracking switches, with MLflow's names (`mlflow.config`)."""

from __future__ import annotations

from trk import settings
from trk.tracking.client import get_tracking_uri, set_tracking_uri

_async_logging = settings.async_logging_from_env()


def enable_async_logging(enable: bool = True) -> None:
    """Log metrics, params and tags in the background: the calls return at once, and
    `end_run`, `flush_async_logging` and process exit send what is queued (raising the first
    error there). Turning it off sends what is queued first."""
    global _async_logging
    if not enable and _async_logging:
        flush_async_logging()
    _async_logging = bool(enable)


def is_async_logging_enabled() -> bool:
    return _async_logging


def flush_async_logging() -> None:
    """Waits until everything logged so far is stored; raises the first error a send met."""
    from trk.tracking import async_logging

    async_logging.logger().flush()


__all__ = [
    "enable_async_logging",
    "flush_async_logging",
    "get_tracking_uri",
    "is_async_logging_enabled",
    "set_tracking_uri",
]
