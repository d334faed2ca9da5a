"""MLflow's GraphQL API at `/graphql` (graphene, from the `server` extra).

`types` holds MLflow's schema shape, `schema` answers each root field with a REST handler,
`limits` bounds a query's size, `endpoint` is the HTTP side. Without graphene installed,
`/graphql` answers 501 naming the extra, and nothing else changes.
"""

from __future__ import annotations

import importlib.util

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trk.exceptions import NotImplementedHere
from trk.server.artifacts import file_endpoint
from trk.server.endpoint import ServerContext


async def _missing(_request: Request, _ctx: ServerContext) -> Response:
    raise NotImplementedHere("GraphQL needs graphene: pip install 'trk[server]'")


def routes(ctx: ServerContext) -> list[Route]:
    """`/graphql` (GET and POST), bound to `ctx`."""
    if importlib.util.find_spec("graphene") is None:
        endpoint = file_endpoint(_missing, ctx)
    else:
        from trk.server.graphql.endpoint import graphql

        endpoint = file_endpoint(graphql, ctx)
    return [Route("/graphql", endpoint, methods=["GET", "POST"])]
