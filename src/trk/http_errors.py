"""Exceptions to HTTP, in one place for every trk web app (trk-serve, trk server, dashboard).

A `TrkError` carries its own status and MLflow error code; anything else is a bug: logged
with its traceback where it happened, answered 500 INTERNAL_ERROR naming only its type.
Each app renders the result its own way (JSON, or the dashboard's HTML page).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from trk.exceptions import TrkError

log = logging.getLogger("trk.http")


@dataclass(frozen=True)
class HttpError:
    status: int
    error_code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


def http_error(exc: BaseException, where: str) -> HttpError:
    """The status, error code and message an exception is answered with."""
    if isinstance(exc, TrkError):
        return HttpError(int(exc.status), exc.error_code, exc.message)
    log.error("Unhandled error in %s", where, exc_info=exc)
    return HttpError(500, "INTERNAL_ERROR", f"Internal error in {where}: {type(exc).__name__}")
