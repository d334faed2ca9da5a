"""`/graphql`: the request in, `{"data", "errors"}` out, as `mlflow server` answers it.

What is wrong with the HTTP request (not JSON, no query, too large) is a 4xx in MLflow's
error JSON, like any other endpoint's. What is wrong with the query itself (syntax, unknown
fields, its size, a resolver's error) is GraphQL's business: 200 with the messages in
`errors` (plain strings, as MLflow sends them), and `data` as far as it could be resolved.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from trk.exceptions import BadRequest, InvalidParameter
from trk.server.endpoint import ServerContext
from trk.server.json import json_response
from trk.server.params import check_json_content_type, read_body


async def _request(request: Request, max_bytes: int) -> dict[str, Any]:
    """`{query, variables, operationName}` from the JSON body (POST) or the query string."""
    if request.method == "GET":
        raw: dict[str, Any] = dict(request.query_params)
        if isinstance(raw.get("variables"), str):
            raw["variables"] = _json(raw["variables"], "variables")
    else:
        check_json_content_type(request.method, request.headers.get("content-type"))
        raw = _json((await read_body(request, max_bytes)).decode("utf-8", "replace"), "body")
    if not isinstance(raw, dict):
        raise BadRequest("Request body must be a JSON object")
    if not isinstance(raw.get("query"), str) or not raw["query"].strip():
        raise InvalidParameter("Missing value for required parameter 'query'.")
    if not isinstance(raw.get("variables") or {}, dict):
        raise InvalidParameter("'variables' must be a JSON object")
    if not isinstance(raw.get("operationName") or "", str):
        raise InvalidParameter("'operationName' must be a string")
    return raw


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"Malformed JSON in request {what}: {exc}") from None


def execute(ctx: ServerContext, raw: dict[str, Any]) -> dict[str, Any]:
    """Parse, bound, validate and run one query against the store (blocking)."""
    from graphql import ExecutionResult, GraphQLError, execute, parse, validate

    from trk.server.graphql import limits
    from trk.server.graphql.schema import SCHEMA

    try:
        document = parse(raw["query"])
    except GraphQLError as exc:
        return _answer(None, [exc])
    too_big = limits.check(document)
    if too_big is not None:
        return _answer(None, [too_big])
    invalid = validate(SCHEMA.graphql_schema, document)
    if invalid:
        return _answer(None, invalid)
    result = execute(
        SCHEMA.graphql_schema,
        document,
        context_value=ctx,
        variable_values=raw.get("variables") or None,
        operation_name=raw.get("operationName") or None,
    )
    assert isinstance(result, ExecutionResult)  # every resolver is synchronous
    return _answer(result.data, result.errors)


def _answer(data: Any, errors: Any) -> dict[str, Any]:
    return {"data": data, "errors": [e.message for e in errors] if errors else None}


async def graphql(request: Request, ctx: ServerContext) -> Response:
    raw = await _request(request, ctx.max_body_bytes)
    return json_response(await run_in_threadpool(execute, ctx, raw))
