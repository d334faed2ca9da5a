"""Errors to MLflow's error JSON `{"error_code", "message"}`, in one place.

A `TrkError` carries its own status; anything else is a bug: logged with its traceback,
answered 500 INTERNAL_ERROR without one.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from trk.exceptions import TrkError
from trk.http_errors import http_error
from trk.server.json import json_response

_HTTP_CODES = {404: "ENDPOINT_NOT_FOUND", 405: "BAD_REQUEST", 413: "BAD_REQUEST"}


def error_response(exc: TrkError) -> Response:
    return internal_error(exc, "")


def internal_error(exc: BaseException, where: str) -> Response:
    """Any exception as MLflow's error JSON (`trk.http_errors` decides status and text)."""
    answer = http_error(exc, where)
    return json_response(answer.to_dict(), answer.status)


async def on_trk_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TrkError)
    return error_response(exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
    message = f"{exc.detail}: {request.method} {request.url.path}"
    return json_response({"error_code": code, "message": message}, exc.status_code)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    return internal_error(exc, f"{request.method} {request.url.path}")


EXCEPTION_HANDLERS = {
    TrkError: on_trk_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
