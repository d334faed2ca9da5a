"""JSON responses for the tracking server (orjson, MLflow's shapes)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    """orjson-encoded JSON; non-finite floats are already spelled as strings by the codec."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(content: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status)
