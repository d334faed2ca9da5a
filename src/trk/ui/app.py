"""The dashboard's routes: server-rendered pages over the tracking server's own store.

Each page builds its data in the thread pool (stores are synchronous) and renders one Jinja
template with autoescaping on. Errors become HTML pages here, in one place: NotFound is a
404 page, other trk errors show their message with their status, anything else is a 500
page that names the exception type only.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from trk.exceptions import TrkError
from trk.http_errors import http_error
from trk.server.endpoint import ServerContext
from trk.tracking.client import Client
from trk.ui import artifacts, models, runs

HERE = Path(__file__).parent


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every name, tag and param a user logged is escaped
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["ms_time"] = _ms_time
    env.filters["num"] = _num
    return Jinja2Templates(env=env)


def _ms_time(ms: int | None) -> str:
    if not ms:
        return "-"
    stamp = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else ("" if value is None else str(value))


class Dashboard:
    """The pages, bound to one server context and one template environment."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.client = Client.for_store(ctx.store)
        self.templates = _templates()

    async def render(
        self, request: Request, template: str, build: Callable[[], dict[str, Any]]
    ) -> Response:
        """`build()` off the event loop, then the template; errors become error pages."""
        try:
            data = await run_in_threadpool(build)
        except Exception as exc:  # a TrkError shows its message; a bug only its type
            answer = http_error(exc, request.url.path)
            return self.error(request, answer.status, answer.message)
        status = 400 if data.get("error") else 200
        return self.templates.TemplateResponse(request, template, data, status_code=status)

    def error(self, request: Request, status: int, message: str) -> Response:
        data = {"status": status, "message": message, "error": message}
        return self.templates.TemplateResponse(request, "error.html", data, status_code=status)

    def readable(self, kind: str, items: list[Any], key: Callable[[Any], str]) -> list[Any]:
        """`items` the signed-in user may read (all of them on a server without users)."""
        can_read = self.ctx.extras.get("can_read")
        return items if can_read is None else [i for i in items if can_read(kind, key(i))]

    async def experiments(self, request: Request) -> Response:
        def build() -> dict[str, Any]:
            found = list(self.client.search_experiments(max_results=1000))
            return {"experiments": self.readable("experiment", found, lambda e: e.experiment_id)}

        return await self.render(request, "experiments.html", build)

    async def runs_table(self, request: Request) -> Response:
        q = request.query_params
        args = (q.get("filter", ""), q.get("order_by", ""), q.get("page_token", ""))
        exp_id = request.path_params["experiment_id"]

        def build() -> dict[str, Any]:
            table = runs.runs_table(self.client, exp_id, *args)
            return {"table": table, "error": table.error}

        return await self.render(request, "runs.html", build)

    async def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]

        def build() -> dict[str, Any]:
            page = runs.run_page(self.client, run_id)
            files = artifacts.artifact_files(artifacts.repository(self.ctx, page.run))
            return {"page": page, "files": files, "charts": page.charts}

        return await self.render(request, "run.html", build)

    async def artifact(self, request: Request) -> Response:
        try:
            run = await run_in_threadpool(self.client.get_run, request.path_params["run_id"])
            repo = artifacts.repository(self.ctx, run)
            return await artifacts.download(repo, request.path_params["path"])
        except TrkError as exc:
            return self.error(request, int(exc.status), exc.message)

    async def compare(self, request: Request) -> Response:
        ids = runs.parse_run_ids(request.query_params.getlist("runs"))

        def build() -> dict[str, Any]:
            page = runs.compare_page(self.client, ids)
            return {"page": page, "charts": page.charts}

        return await self.render(request, "compare.html", build)

    async def models(self, request: Request) -> Response:
        def build() -> dict[str, Any]:
            found = models.registered_models(self.client)
            return {"models": self.readable("registered_model", found, lambda m: m.name)}

        return await self.render(request, "models.html", build)

    async def model(self, request: Request) -> Response:
        name = request.path_params["name"]
        return await self.render(
            request, "model.html", lambda: {"page": models.model_page(self.client, name)}
        )

    async def ab(self, request: Request) -> Response:
        name = request.path_params["name"]
        metric = request.query_params.get("metric", "accuracy")
        since = request.query_params.get("since", "")

        def build() -> dict[str, Any]:
            page = models.ab_page(self.client, name, metric, since)
            return {"page": page, "charts": page.charts}

        return await self.render(request, "ab.html", build)


def routes(ctx: ServerContext) -> list[BaseRoute]:
    """The dashboard's routes; the server mounts them after its API routes."""
    ui = Dashboard(ctx)
    return [
        Route("/", ui.experiments, methods=["GET"]),
        Route("/experiments/{experiment_id}", ui.runs_table, methods=["GET"]),
        Route("/runs/{run_id}", ui.run, methods=["GET"]),
        Route("/runs/{run_id}/artifacts/{path:path}", ui.artifact, methods=["GET"]),
        Route("/compare", ui.compare, methods=["GET"]),
        Route("/models", ui.models, methods=["GET"]),
        # Model names may hold slashes: the A/B page's prefix keeps the two routes apart.
        Route("/ab/{name:path}", ui.ab, methods=["GET"]),
        Route("/models/{name:path}", ui.model, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
