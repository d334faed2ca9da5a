"""Drift as a rollout guard (issue 28): `drift_psi <= 0.2` holds a rollout while shifted
traffic flows and lets it advance when the traffic is back to the reference's.

Real parts: an iris model logged twice with its training frame, served split by trk-serve's
app on 127.0.0.1 (report windows every second, drift folded off the request path), the sqlite
store, `trk rollout start` and the controller's evaluation as `trk rollout step` runs it.
"""

from __future__ import annotations

import httpx
import pandas as pd
import pytest
from ab_serving import serve_split, wait_until
from click.testing import CliRunner
from drift_helpers import COLUMNS, iris_store

from trk.ab.rollout.controller import Controller
from trk.ab.rollout.drift_guard import check_drift
from trk.cli import main
from trk.contracts.rollout_plan import DEFAULT_DRIFT_MIN_ROWS, parse_guard
from trk.tracking.client import Client

STICKY = "X-User-Id"


@pytest.fixture
def served(tmp_path, monkeypatch):
    uri, X = iris_store(tmp_path, monkeypatch)
    server = serve_split(uri, "iris", prediction_log=False)  # a report window every second
    yield uri, X, server
    server.stop()


def send(url: str, rows: pd.DataFrame, start: int) -> None:
    """Ten rows a request, each request sticky to its own key (both variants get rows)."""
    with httpx.Client(base_url=url, timeout=30) as http:
        for i in range(0, len(rows), 10):
            chunk = rows.iloc[i : i + 10]
            r = http.post(
                "/invocations",
                headers={STICKY: f"k{start + i}"},
                json={"dataframe_split": {"columns": COLUMNS, "data": chunk.values.tolist()}},
            )
            assert r.status_code == 200, r.text


def drift_result(controller: Controller):  # noqa: ANN201
    """One evaluation (as `trk rollout step` makes it): the decision and the drift guard."""
    done = controller.step("iris")
    assert done.decision is not None
    return done.decision, done.decision.results[0]


def test_drift_guard_holds_while_shifted_traffic_flows_and_advances_after(served):
    uri, X, server = served
    out = CliRunner().invoke(
        main,
        [
            "rollout",
            "start",
            "iris",
            "--steps",
            "25,50,100",
            "--step-interval",
            "1s",
            "--guard",
            "drift_psi <= 0.2",
            "--tracking-uri",
            uri,
        ],
    )
    assert out.exit_code == 0, out.output
    assert "needs 200 served rows per variant" in out.output
    controller = Controller(Client(uri))
    shifted = X.sample(800, replace=True, random_state=4).reset_index(drop=True)
    shifted["petal_length"] += 3
    send(server.url, shifted, 0)
    # Once the windows hold 200 rows a variant, the guard reads the drift: held, never failed.
    wait_until(lambda: drift_result(controller)[1].value is not None, 30, 0.5)
    decision, guard = drift_result(controller)
    assert decision.action == "hold" and guard.state == "inconclusive", guard
    assert guard.value > 0.25 and "petal_length" in guard.detail and "held" in guard.detail
    rollout = controller.rollouts.get("iris")
    assert (rollout.weight, rollout.failures) == (0.25, 0)
    # The traffic is back to the reference's: the newest 200 rows a variant are plain.
    plain = X.sample(800, replace=True, random_state=5).reset_index(drop=True)
    send(server.url, plain, 10_000)
    wait_until(lambda: drift_result(controller)[0].action == "advance", 30, 0.5)
    rollout = controller.rollouts.get("iris")
    assert (rollout.state, rollout.weight) == ("running", 0.5)
    advanced = next(t for t in reversed(rollout.history) if t.action == "advance")
    (reading,) = advanced.guards
    assert reading["state"] == "pass" and reading["value"] <= 0.2


def test_a_drift_guard_without_data_or_profiles_holds():
    from trk.ab.rollout.drift_guard import DriftEvidence

    guard = parse_guard("drift_psi(petal_length) <= 0.2")
    assert check_drift(guard, None, ("1", "2"), 200).state == "inconclusive"
    none = DriftEvidence({}, {"1": None, "2": None})
    assert "reference profile" in check_drift(guard, none, ("1", "2"), 200).detail


def test_min_rows_default_is_the_drift_report_s():
    from trk.ab.drift import MIN_ROWS

    assert DEFAULT_DRIFT_MIN_ROWS == MIN_ROWS


@pytest.mark.parametrize(
    ("text", "feature", "bound"),
    [("drift_psi <= 0.2", "", 0.2), ("drift_psi(petal_length) < 0.25", "petal_length", 0.25)],
)
def test_drift_guards_parse(text, feature, bound):
    guard = parse_guard(text)
    assert (guard.drift, guard.feature, guard.offset) == (True, feature, bound)


@pytest.mark.parametrize(
    "text",
    ["drift_psi >= 0.2", "drift_psi <= champion", "drift_psi() <= 1", "drift_psi(a(b)) <= 1"],
)
def test_bad_drift_guards_are_refused(text):
    from trk.exceptions import InvalidParameter

    with pytest.raises(InvalidParameter, match="drift_psi <= X"):
        parse_guard(text)
