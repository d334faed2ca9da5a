"""Bearer-token auth as a pure ASGI middleware: every route but `/health` needs the token."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from trk.exceptions import Unauthenticated
from trk.server.errors import error_response

OPEN_PATHS = frozenset({"/health"})


class BearerAuth:
    """401 UNAUTHENTICATED (MLflow's error JSON) unless `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        # Constant-time compare: the token must not leak through response timing.
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        why = "Missing" if not given else "Invalid"
        response = error_response(Unauthenticated(f"{why} bearer token for {scope['path']}"))
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)
