"""The infer routes as plain ASGI: the request's bytes to the DataPlane and its answer back.

An infer request is the server's whole job, and Starlette's layers around an endpoint (two
error middlewares wrapping `send`, the router, a Request and a Response object) cost more
than trk's own steps: 8.1 us a request against 1.0 us for the same constant answer sent
from plain ASGI (`loadtest/profile_infer.py`, its first two rows). So `POST /invocations`
and V2 infer are matched on the raw path by `ServingApp` (`app.py`) and answered here from
the ASGI scope; Starlette's route table names the same handlers, for the methods it refuses
and any path spelling the shortcut does not take.

Every exception on these routes is answered here, once: MLflow's error JSON on
`/invocations`, the V2 spec's `{"error": ...}` on V2 paths. `mlflow_error` and `v2_error`
build those answers for the Starlette routes too (`trk.http_errors` for status and message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from trk.exceptions import BadRequest, Unauthenticated, Unavailable
from trk.http_errors import http_error
from trk.serving.core import codecs, request_ids, v2_models
from trk.serving.core.codecs import Codec
from trk.serving.core.plane import DataPlane, InferResult
from trk.serving.core.v2 import V2Codec, error_body
from trk.serving.http.body import BodyReader

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
V2_PREFIX, V2_SUFFIX = "/v2/models/", "/infer"
V2_PATHS_KEPT = 64
_JSON = (b"content-type", b"application/json")


def scope_headers(scope: Scope) -> dict[str, str]:
    """An infer request's headers by (lower-case) name, read once from the ASGI scope.

    The first of a repeated name wins, as with Starlette's `Headers.get`, which scans and
    re-encodes the header list on every call: an infer request asks for four or five names.
    """
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


def v2_path(path: str) -> tuple[str, str | None] | None:
    """(model, version or None) of `/v2/models/{name}[/versions/{version}]/infer`, else None;
    each part one or more characters other than `/`, as Starlette's `{name}` matches."""
    if not (path.startswith(V2_PREFIX) and path.endswith(V2_SUFFIX)):
        return None
    parts = path[len(V2_PREFIX) : -len(V2_SUFFIX)].split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
        return parts[0], parts[2]
    return None


class InferRoutes:
    """`/invocations` and V2 infer over one DataPlane, with bounded body reads."""

    def __init__(self, plane: DataPlane, bodies: BodyReader, timeout_s: float) -> None:
        self.plane = plane
        self.bodies = bodies
        self.timeout_s = timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._v2_paths: dict[str, tuple[str, str | None]] = {}  # read once (0.27 us a parse)

    def start(self) -> None:
        # Looked up once: on Python 3.11 each `asyncio.get_running_loop()` is a getpid()
        # system call (its fork check), and a request needs the loop twice.
        self._loop = asyncio.get_running_loop()

    def match(self, scope: Scope) -> Handler | None:
        """The handler of a POST to this path (filling `path_params` for V2), else None."""
        path = scope["path"]
        if path == "/invocations":
            return self.invocations
        found = self._v2_paths.get(path)
        if found is None:
            found = v2_path(path)
            if found is None:
                return None
            if len(self._v2_paths) < V2_PATHS_KEPT:  # clients choose paths: keep a few
                self._v2_paths[path] = found
        scope["path_params"] = {"name": found[0], "version": found[1]}
        return self.v2_infer

    async def invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        """MLflow's scoring protocol."""
        headers = scope_headers(scope)
        try:
            result = await self._infer(scope, receive, headers, codecs.MLFLOW, None)
        except ClientDisconnect:
            return  # nobody is left to answer
        except (Exception, asyncio.CancelledError) as exc:
            where, given = f"POST {scope['path']}", headers.get("x-request-id")
            status, extra, body = mlflow_error(_answerable(exc), where, given)
            raw = [_JSON, *((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())]
            await _send(send, status, raw, body)
            return
        await _send(send, result.status, _answer_headers(result), result.body)

    async def v2_infer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The Open Inference Protocol's infer, for a model name and optional version."""
        params = scope["path_params"]
        headers = scope_headers(scope)
        try:
            force = v2_models.forced_variant(self.plane, params["name"], params.get("version"))
            codec = V2Codec(headers.get("inference-header-content-length"))
            result = await self._infer(scope, receive, headers, codec, force)
        except ClientDisconnect:
            return
        except (Exception, asyncio.CancelledError) as exc:
            status, body = v2_error(_answerable(exc), f"POST {scope['path']}")
            await _send(send, status, [_JSON], body)
            return
        await _send(send, result.status, _answer_headers(result), result.body)

    async def _infer(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        codec: Codec,
        force: str | None,
    ) -> InferResult:
        """Read the body and answer it in `codec`'s protocol; one deadline for both."""
        loop = self._loop or asyncio.get_running_loop()
        until = loop.time() + self.timeout_s
        try:
            body = await self.bodies.read(receive, until, headers.get("content-length"), loop)
        except BadRequest as exc:  # too large (413) or too slow (408): counted as refused
            given = request_ids.request_id(headers.get("x-request-id"))
            self.plane.refused(given, int(exc.status))
            raise
        return await self.plane.infer(
            body, headers.get("content-type"), headers, codec, force, deadline=until
        )


def mlflow_error(
    exc: BaseException, where: str, given_id: str | None
) -> tuple[int, dict[str, str], bytes]:
    """Any exception as MLflow's error JSON (`trk.http_errors`): the status, the headers (the
    request id, and a Bearer challenge with a 401) and the body. Every trk-serve route's."""
    answer = http_error(exc, where)
    headers = {"x-request-id": request_ids.request_id(given_id)}
    if isinstance(exc, Unauthenticated):
        headers["www-authenticate"] = "Bearer"
    return answer.status, headers, codecs.dumps(answer.to_dict())


def v2_error(exc: BaseException, where: str) -> tuple[int, bytes]:
    """Any exception as the V2 spec's `{"error": ...}`: the status and the body. Every V2
    route's (a bug is logged by `http_error` and is a 500)."""
    answer = http_error(exc, where)
    return answer.status, error_body(answer.message)


def _answerable(exc: BaseException) -> BaseException:
    """uvicorn cancels what outlives --graceful-timeout-s (it would answer a bare text 500):
    say what happened, as a retryable 503."""
    if isinstance(exc, asyncio.CancelledError):
        return Unavailable(
            "The server shut down before this request finished (--graceful-timeout-s)"
        )
    return exc


def _answer_headers(r: InferResult) -> list[tuple[bytes, bytes]]:
    """trk's headers encoded directly (Starlette's generic encoding was a tenth of a
    one-row request's time on the server)."""
    if not r.variant:  # a request refused before routing names no variant
        return [_JSON, (b"x-request-id", r.request_id.encode("latin-1"))]
    return [
        _JSON,
        (b"x-trk-variant", r.variant.encode("latin-1")),
        (b"x-trk-model-version", r.version.encode("latin-1")),
        (b"x-request-id", r.request_id.encode("latin-1")),
    ]


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AsgiEndpoint:
    """A handler as a Starlette route's ASGI app (Starlette would wrap a function or a bound
    method as a Request handler)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)
