"""`call`: one REST call, sent through its route-table row (`trk.contracts.api`).

The row gives the method, the path and the fields; the call is checked by the server's own
validator before it is sent, so a bad call fails here with the typed error the server would
answer, and a call cannot name a route the server does not serve.
"""

from __future__ import annotations

from typing import Any

from trk.contracts.api.row import PREFIX, Api
from trk.transport import Transport


def call(transport: Transport, api: Api, **params: Any) -> dict[str, Any]:
    """`api` with `params` (those that are None left out); the server's decoded answer."""
    given = {k: v for k, v in params.items() if v is not None}
    if api.method == "GET":
        given = {k: _as_query(v) for k, v in given.items()}  # as the server will read them
    api.check(given)
    path, rest = api.target(given)
    if api.method == "GET":
        return transport.call("GET", PREFIX + path, params=rest, idempotent=api.resend)
    return transport.call(api.method, PREFIX + path, json=rest, idempotent=api.resend)


def _as_query(value: Any) -> Any:
    """A value as a query string carries it (httpx writes booleans as true / false)."""
    if isinstance(value, list | tuple):
        return [_as_query(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
