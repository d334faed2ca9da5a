"""One route table for both sides of the wire (issue 29): the server serves every row of
`trk.contracts.api`, the REST client sends only through those rows, and what it sends resolves
to a route of the running Starlette app."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from starlette.routing import Match, Route

import trk.contracts.api
from trk.contracts.api.row import PREFIX, PREFIXES, Api
from trk.contracts.predictions import PredictionRecord
from trk.contracts.rollouts import Rollout
from trk.contracts.run_inputs import ModelOutput
from trk.entities import Metric, Param, RunTag
from trk.exceptions import InvalidParameter, NotFound
from trk.server import app as server_app
from trk.server.basic_auth import app as basic_auth
from trk.server.basic_auth import cli as access_cli
from trk.store import rest, rest_predictions, rest_rollouts, rest_webhooks
from trk.store.engine import dispose_engine
from trk.store.rest import RestStore
from uvicorn_thread import ThreadServer

CLIENTS = (rest, rest_predictions, rest_rollouts, rest_webhooks, access_cli)


def _contract_modules() -> list[ModuleType]:
    package = trk.contracts.api
    names = [m.name for m in pkgutil.iter_modules(package.__path__)]
    return [importlib.import_module(f"{package.__name__}.{name}") for name in names]


def _declared() -> set[Api]:
    """Every row declared in the route table (rows grouped in tuples included)."""
    found: set[Api] = set()
    for module in _contract_modules():
        for value in vars(module).values():
            if isinstance(value, Api):
                found.add(value)
            elif isinstance(value, tuple):
                found.update(v for v in value if isinstance(v, Api))
    return found


def _used_by(module: ModuleType) -> set[Api]:
    """The rows a client module names (`experiments.CREATE`, `api.GET`, ...)."""
    found: set[Api] = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = vars(module).get(node.value.id)
            if isinstance(owner, ModuleType) and owner.__name__.startswith("trk.contracts.api."):
                row = getattr(owner, node.attr)
                if isinstance(row, Api):
                    found.add(row)
    return found


def _served() -> list[Api]:
    return [e.api for e in (*server_app.ENDPOINTS, *basic_auth.ENDPOINTS)]


@pytest.fixture
def basic_auth_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The server's app with every route (the basic-auth app's included)."""
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "route-table-check")
    uri = f"sqlite:///{tmp_path / 'r.db'}"
    store = server_app.store_for_server(uri, str(tmp_path / "a"), True)
    yield server_app.create_app(store, str(tmp_path / "a"), app_name="basic-auth")
    dispose_engine(uri)


def test_every_declared_row_is_served_once() -> None:
    served = _served()
    assert len(served) == len(set(served)), "a row bound to two handlers"
    assert set(served) == _declared()
    # Two rows may not claim one (method, path): the server would answer only the first.
    assert len({(a.method, a.path) for a in served}) == len(served)


def test_every_row_is_a_route_of_the_app_under_every_prefix(basic_auth_app: Any) -> None:
    routes = {
        (method, route.path)
        for route in basic_auth_app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
    }
    missing = [
        f"{api.method} {prefix}{api.path}"
        for api in _declared()
        for prefix in PREFIXES
        if (api.method, prefix + api.path) not in routes
    ]
    assert missing == []


def test_every_row_a_client_names_is_declared_and_served() -> None:
    used = set().union(*(_used_by(m) for m in CLIENTS))
    assert len(used) > 60  # the walk finds the store's calls, not nothing
    assert used <= set(_served())


def test_no_client_writes_a_call_by_hand() -> None:
    """Clients reach the API only through `rest_call.call(transport, row, ...)`."""
    for module in CLIENTS:
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr != "call", f"{module.__name__}: {ast.unparse(node)}"


class _Recorder:
    """ASGI wrapper that notes each request's method and path before the app answers it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[_Recorder, RestStore, Any]]:
    """A live server whose requests are recorded, its app, and a RestStore on it."""
    uri = f"sqlite:///{tmp_path / 'calls.db'}"
    root = str(tmp_path / "a")
    app = server_app.create_app(server_app.store_for_server(uri, root, True), root)
    recorder = _Recorder(app)
    with ThreadServer(recorder) as server:
        store = RestStore(server.url)
        yield recorder, store, app
        store.transport.close()
    dispose_engine(uri)


def _route_of(app: Any, method: str, path: str) -> Route:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    full = [r for r in app.routes if isinstance(r, Route) and r.matches(scope)[0] == Match.FULL]
    assert full, f"{method} {path} is no route of the server"
    return full[0]


def _exercise(store: RestStore) -> None:
    """Every call the REST store makes, once."""
    now = int(time.time() * 1000)
    exp = store.create_experiment("calls", tags={"a": "b"})
    store.get_experiment(exp)
    assert store.get_experiment_by_name("calls") is not None
    store.search_experiments()
    store.set_experiment_tag(exp, "k", "v")
    store.delete_experiment_tag(exp, "k")
    store.rename_experiment(exp, "calls2")
    run_id = store.create_run(exp, run_name="r", start_time=now).info.run_id
    store.log_batch(run_id, [Metric("m", 1.0, now, 0)], [Param("p", "1")], [RunTag("t", "1")])
    store.log_metric(run_id, Metric("m", 2.0, now, 1))
    store.log_param(run_id, Param("q", "2"))
    store.set_tag(run_id, RunTag("u", "1"))
    store.delete_tag(run_id, "u")
    assert len(store.get_metric_history(run_id, "m")) == 2
    store.search_runs([exp], "metrics.m > 0", order_by=["metrics.m DESC"])
    model = store.create_logged_model(exp, name="lm", source_run_id=run_id)
    store.get_logged_model(model.model_id)
    store.finalize_logged_model(model.model_id, "LOGGED_MODEL_READY")
    store.search_logged_models([exp])
    store.log_inputs(run_id, models=[model.model_id])
    store.log_outputs(run_id, [ModelOutput(model.model_id, 0)])
    store.get_run_io(run_id)
    store.update_run_info(run_id, "FINISHED", now)
    store.delete_run(run_id)
    store.restore_run(run_id)
    store.get_run(run_id)

    store.create_registered_model("calls-model", tags={"k": "v"}, description="d")
    store.get_registered_model("calls-model")
    store.search_registered_models("name = 'calls-model'", order_by=["name"])
    store.update_registered_model("calls-model", "d2")
    store.set_registered_model_tag("calls-model", "x", "y")
    store.delete_registered_model_tag("calls-model", "x")
    store.create_model_version("calls-model", "s3://bucket/m1", run_id, tags={"k": "v"})
    store.create_model_version("calls-model", "s3://bucket/m2")
    store.get_model_version("calls-model", 1)
    store.update_model_version("calls-model", 1, "v1")
    store.set_model_version_tag("calls-model", 1, "x", "y")
    store.delete_model_version_tag("calls-model", 1, "x")
    store.search_model_versions("name = 'calls-model'", order_by=["version_number DESC"])
    store.get_model_version_download_uri("calls-model", 1)
    store.set_registered_model_alias("calls-model", "champion", 1)
    store.get_model_version_by_alias("calls-model", "champion")
    store.delete_registered_model_alias("calls-model", "champion")
    store.transition_model_version_stage("calls-model", 2, "Staging")
    store.get_latest_versions("calls-model", ["Staging"])

    log = store.predictions
    log.log_predictions(
        "calls-model", [PredictionRecord("r1", 0, "champion", "1", "1", None, 1, 5)]
    )
    log.log_labels("calls-model", [{"request_id": "r1", "label": 1}])
    log.correct_labels("calls-model", [{"request_id": "r1", "label": 0}], actor="test")
    log.joined("calls-model", since_ms=1)
    log.paired("calls-model")
    log.outcomes("calls-model", limit=10)
    log.paired_outcomes("calls-model", limit=10)
    log.propensity("calls-model")
    log.prune(1, "calls-model")

    rollouts = store.rollouts
    plan = {"steps": [5, 50, 100]}
    new = Rollout("calls-model", "1", "2", plan, "running", 0, 0.05, 0, 0, 0, 0, 0)
    started = rollouts.start(new)
    changes = {"weight": 0.5, "step": 1}
    rollouts.transition("calls-model", started.revision, changes, "advance", "ok")
    rollouts.get("calls-model")
    rollouts.search(active_only=False)
    assert rollouts.lease("calls-model", "me", 1000)
    rollouts.release("calls-model", "me")

    hooks = store.webhooks  # a public address: the target check resolves nothing
    hook = hooks.create("h", "https://93.184.216.34/hook", ["registered_model.created"], secret="s")
    hooks.get(hook.webhook_id)
    hooks.page(max_results=10)
    hooks.update(hook.webhook_id, description="d")
    hooks.deliveries(hook.webhook_id)
    hooks.delete(hook.webhook_id)
    with pytest.raises(NotFound):  # sent and answered, and nothing is delivered anywhere
        hooks.test(hook.webhook_id)

    store.rename_registered_model("calls-model", "calls-model2")
    store.delete_model_version("calls-model2", 1)
    store.delete_registered_model("calls-model2")
    store.delete_experiment(exp)
    store.restore_experiment(exp)


def test_what_the_client_sends_resolves_to_the_rows_it_names(recorded: Any) -> None:
    recorder, store, app = recorded
    _exercise(store)
    rows = {(a.method, PREFIX + a.path): a for a in _served()}
    hit = {rows[(method, _route_of(app, method, path).path)] for method, path in recorder.seen}
    used = set().union(
        *(_used_by(m) for m in (rest, rest_predictions, rest_rollouts, rest_webhooks))
    )
    assert used - hit == set(), "a call of the store that _exercise does not make"


def test_a_bad_call_fails_before_it_is_sent_with_the_server_s_error(recorded: Any) -> None:
    recorder, store, _app = recorded
    url = str(store.transport.client.base_url) + PREFIX + "experiments/get"
    answer = httpx.get(url, params={"experiment_id": ""})
    assert answer.status_code == 400
    sent = len(recorder.seen)
    with pytest.raises(InvalidParameter) as caught:
        store.get_experiment("")
    assert len(recorder.seen) == sent  # refused here, nothing sent
    assert caught.value.message == answer.json()["message"]
    assert caught.value.error_code == answer.json()["error_code"]
