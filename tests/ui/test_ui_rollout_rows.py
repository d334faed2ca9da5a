"""The A/B page over stored rollouts the state machine would refuse (rows written before it
existed, or by hand in the database): the page answers 200 and says what is wrong."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from trk.contracts.rollouts import Rollout
from trk.server.endpoint import ServerContext
from trk.store.sql import SqlStore
from trk.ui.app import routes


@pytest.fixture
def store(tmp_path):
    s = SqlStore(f"sqlite:///{tmp_path / 'trk.db'}", str(tmp_path / "artifacts"))
    s.create_registered_model("m")
    for _ in range(2):
        s.create_model_version("m", str(tmp_path))
    plan = {"steps": [5, 50, 100], "guards": ["error_rate <= champion"]}
    r = s.rollouts.start(Rollout("m", "1", "2", plan, "running", 0, 0.05, 0, 0, 0, 0, 0))
    s.rollouts.transition(
        "m",
        r.revision,
        {"step": 1, "weight": 0.5},
        "advance",
        "ok",
        [{"guard": "error_rate <= champion", "state": "pass", "value": 0.01, "threshold": 0.02}],
    )
    return s


@pytest.mark.parametrize(
    "table, column, value",
    [
        ("rollouts", "plan", '{"steps": ["x"]}'),
        ("rollouts", "plan", '["not", "an", "object"]'),
        ("rollouts", "step", 99),
        ("rollouts", "weight", 7.5),
        ("rollout_transitions", "guards", '[{"guard": "", "value": "NaN"}, 3]'),
        ("rollout_transitions", "guards", '{"not": "a list"}'),
    ],
)
def test_no_stored_rollout_makes_the_page_fail(store, table, column, value):
    with store._engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = :v"), {"v": value})
    app = Starlette(routes=routes(ServerContext(store, store.default_artifact_root)))
    with TestClient(app, raise_server_exceptions=True) as http:
        page = http.get("/ab/m")
    assert page.status_code == 200, page.text
    assert 'id="rollout-state"' in page.text
    if table == "rollouts":
        assert 'id="rollout-problem"' in page.text
