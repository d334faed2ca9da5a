"""Request parameters: read a JSON body or query string, check it against the route's fields.

The fields and their check are the route table's (`trk.contracts.api`), shared with the REST
client; what is here is the HTTP side: the body under its size limit, the query string, the
content type a write must declare.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request

from trk.contracts.api.fields import check_fields
from trk.exceptions import BadRequest, InvalidParameter, PayloadTooLarge

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ARTIFACT_MB = 2048
DEFAULT_MAX_ARTIFACT_BYTES = DEFAULT_MAX_ARTIFACT_MB * 1024 * 1024
JSON_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refusing it (413) as soon as it passes `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"Request body of {declared} bytes exceeds the {max_bytes} limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"Request body exceeds the {max_bytes} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def request_params(
    request: Request, fields: Mapping[str, str], max_bytes: int
) -> dict[str, Any]:
    """Parameters from the query (GET) or JSON body (others), plus path parameters, checked."""
    raw: dict[str, Any]
    if request.method == "GET":
        raw = _from_query(request, fields)
    else:
        check_json_content_type(request.method, request.headers.get("content-type"))
        body = await read_body(request, max_bytes)
        raw = _from_json(body) if body.strip() else _from_query(request, fields)
    raw.update(request.path_params)
    return check_fields(raw, fields)


def check_json_content_type(method: str, content_type: str | None) -> None:
    """A write must say it is JSON, as `mlflow server` requires: a browser form cannot send
    that type cross-site without a CORS preflight, which this server never grants."""
    if method not in JSON_METHODS:
        return
    if not content_type:
        raise InvalidParameter("Bad Request. Content-Type header is missing.")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise InvalidParameter("Bad Request. Content-Type must be one of ['application/json'].")


def _from_json(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON in request body: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("Request body must be a JSON object")
    return value


def _from_query(request: Request, fields: Mapping[str, str]) -> dict[str, Any]:
    query = request.query_params
    out: dict[str, Any] = {}
    for key in query.keys():
        kind = fields.get(key, "").rstrip("!")
        out[key] = query.getlist(key) if kind.endswith("[]") else query[key]
    return out
