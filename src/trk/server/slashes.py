"""Repeated slashes in a request path count as one, as in `mlflow server` (Flask merges them),
so `//model-versions/get-artifact` reaches its route. Only literal slashes are merged: an
encoded one (`%2F`) stays as sent, for the path checks behind to judge. Pure ASGI, outermost."""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

_RUNS = re.compile(rb"/{2,}")


class MergeSlashes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or b""
        if scope["type"] == "http" and b"//" in raw:
            merged = _RUNS.sub(b"/", raw)
            scope = {**scope, "raw_path": merged, "path": unquote(merged.decode("ascii"))}
        await self.app(scope, receive, send)
