"""Bad requests get the right 4xx with MLflow's error JSON, write nothing, and never kill the
server; a bug in a handler is a 500 without a traceback."""

from __future__ import annotations

import json
import signal
import sqlite3

import httpx
import pytest
from server_helpers import start_server

from trk.server.app import create_app
from trk.store.engine import display_uri, dispose_engine, engine_for
from trk.store.sql import SqlStore
from uvicorn_thread import ThreadServer, free_port

API = "/api/2.0/mlflow/"


def _rows(db_path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """One server (2 KiB body cap) for the module, holding an experiment, a run, a version."""
    tmp = tmp_path_factory.mktemp("bad-input")
    db = tmp / "server.db"
    server = start_server(
        f"sqlite:///{db}", str(tmp / "artifacts"), tmp / "log", "--max-body-bytes", "2048"
    )
    http = httpx.Client(base_url=server.url + API, timeout=30)
    try:
        exp = http.post("experiments/create", json={"name": "e"}).json()["experiment_id"]
        run = http.post("runs/create", json={"experiment_id": exp}).json()["run"]["info"]
        http.post("model-versions/create", json={"name": "m", "source": "s3://b/k"})
        yield server, http, db, run["run_id"]
    finally:
        http.close()
        server.kill(signal.SIGTERM)


CASES = [
    # (method, path, body or raw bytes, status, error_code)
    ("POST", "experiments/create", b"{not json", 400, "BAD_REQUEST"),
    ("POST", "experiments/create", b"[1, 2]", 400, "BAD_REQUEST"),
    ("POST", "experiments/create", {"name": "x", "colour": "red"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/create", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/create", {"name": 5}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/create", {"name": "e"}, 400, "RESOURCE_ALREADY_EXISTS"),
    ("POST", "experiments/create", {"name": "x" * 3000}, 413, "BAD_REQUEST"),
    ("POST", "experiments/search", {"max_results": "many"}, 400, "INVALID_PARAMETER_VALUE"),
    # Integers are int64 of ASCII digits: str.isdigit() passes '²', int() then failed (a 500)
    ("POST", "experiments/search", {"max_results": "\u00b2"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/search", {"max_results": "--5"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/search", {"max_results": 2**63}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/search", {"max_results": "9" * 30}, 400, "INVALID_PARAMETER_VALUE"),
    (
        "GET",
        "metrics/get-history?run_id=r&metric_key=m&max_results=%C2%B2",
        None,
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "GET",
        "trk/predictions/joined?model=m&since_ms=9223372036854775808",
        None,
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    ("POST", "experiments/search", {"view_type": "SOME"}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "experiments/get?experiment_id=987", None, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "runs/get?run_id=" + "f" * 32, None, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("POST", "runs/create", {"experiment_id": "987"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    (
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": "k", "value": "x", "timestamp": 1},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": "k", "value": 1.0},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-batch",
        {
            "run_id": "{run}",
            "metrics": [
                {"key": "ok", "value": 1.0, "timestamp": 1, "step": 0},
                {"key": "bad", "value": 1.0, "timestamp": "yesterday", "step": 0},
            ],
        },
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-batch",
        {"run_id": "{run}", "params": [{"key": "p", "value": "1"}, {"key": "p", "value": "2"}]},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    ("POST", "runs/update", {"run_id": "{run}", "status": "DONE"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "registered-models/create", {"name": "m"}, 400, "RESOURCE_ALREADY_EXISTS"),
    (
        "POST",
        "registered-models/alias",
        {"name": "m", "alias": "no spaces", "version": "1"},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "registered-models/alias",
        {"name": "m", "alias": "ok", "version": "7"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    ),
    ("GET", "registered-models/alias?name=m&alias=nope", None, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "model-versions/get?name=m&version=x", None, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "logged-models", {"experiment_id": "987"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "no/such/endpoint", None, 404, "ENDPOINT_NOT_FOUND"),
]


@pytest.mark.parametrize(
    "method,path,body,status,code", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES]
)
def test_bad_request_is_refused_and_writes_nothing(seeded, method, path, body, status, code):
    server, http, db, run = seeded
    before = _rows(db)
    kwargs = {}
    if isinstance(body, bytes):  # declared JSON (writes must be), but not JSON
        kwargs["content"] = body
        kwargs["headers"] = {"Content-Type": "application/json"}
    elif body is not None:
        kwargs["json"] = json.loads(json.dumps(body).replace("{run}", run))
    response = http.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code
    assert response.json()["message"]
    assert _rows(db) == before
    assert httpx.get(server.url + "/health").status_code == 200


class _BuggyStore(SqlStore):
    """A real SqlStore with one method turned into a bug (the only stand-in in this file)."""

    def get_experiment(self, experiment_id: str):
        raise RuntimeError("secret internal detail")


def test_unexpected_error_is_a_500_without_traceback(tmp_path, caplog):
    uri = f"sqlite:///{tmp_path / 'bug.db'}"
    app = create_app(_BuggyStore(uri, str(tmp_path / "a")), str(tmp_path / "a"))
    try:
        with ThreadServer(app) as server:
            url = server.url + API + "experiments/get"
            response = httpx.get(url, params={"experiment_id": "0"})
            assert response.status_code == 500
            body = response.json()
            assert body["error_code"] == "INTERNAL_ERROR"
            assert "secret internal detail" not in body["message"]
            assert "Traceback" not in response.text
            assert httpx.get(server.url + "/health").status_code == 200  # still serving
        assert "secret internal detail" in caplog.text  # logged for the operator
    finally:
        dispose_engine(uri)


def test_health_is_503_when_the_store_is_down(tmp_path):
    uri = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    # A store whose database went away: built without opening it (opening would fail).
    store = SqlStore.__new__(SqlStore)
    store.uri, store._engine = uri, engine_for(uri)
    store.display_uri = display_uri(store._engine)
    try:
        with ThreadServer(create_app(store, str(tmp_path))) as server:
            response = httpx.get(server.url + "/health")
        assert response.status_code == 503
        assert response.text == "not ok"  # no driver text to whoever probes (issue 14)
    finally:
        dispose_engine(uri)
