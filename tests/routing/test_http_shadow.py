"""Shadow mode over HTTP: agreement counted right; faulty challengers never reach a client."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from routing_helpers import expected
from serving_helpers import IRIS_COLUMNS, metric_value, wait_until


def body(rows) -> dict:
    return {"dataframe_split": {"columns": IRIS_COLUMNS, "data": np.asarray(rows).tolist()}}


def metrics(url: str) -> str:
    return httpx.get(url + "/metrics", timeout=10).text


def shadow_count(url: str, outcome: str) -> float:
    return metric_value(metrics(url), "trk_shadow_requests_total", outcome=outcome)


def send_rows(url: str, rows) -> list:
    """One request per row; every answer comes from the champion."""
    answers = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for row in rows:
            r = http.post("/invocations", json=body([row]))
            assert r.status_code == 200, r.text
            assert r.headers["x-trk-variant"] == "champion"
            answers.append(r.json()["predictions"][0])
    return answers


def test_shadow_agreement_counted_with_two_known_models(serve, routing_env):
    server = serve(challenger_uri="models:/iris@challenger", mode="shadow")
    x = routing_env.x
    champion, challenger = expected(routing_env.lr, x), expected(routing_env.rf, x)
    agree = int((champion == challenger).sum())
    assert 0 < agree < len(x)  # the two models differ on some rows: both counts matter
    assert send_rows(server.url, x) == champion.tolist()
    wait_until(lambda: shadow_count(server.url, "compared") == len(x), timeout=30)
    # one more request of all 150 rows: agreement is counted per row
    r = httpx.post(server.url + "/invocations", json=body(x), timeout=30)
    assert r.json()["predictions"] == champion.tolist()
    wait_until(lambda: shadow_count(server.url, "compared") == len(x) + 1, timeout=30)
    text = metrics(server.url)
    assert metric_value(text, "trk_shadow_agreement_total", result="agree") == 2 * agree
    assert metric_value(text, "trk_shadow_agreement_total", result="disagree") == 2 * (
        len(x) - agree
    )
    for variant, preds in (("champion", champion), ("challenger", challenger)):
        for label in (0, 1, 2):
            got = metric_value(text, "trk_predictions_total", variant=variant, label=str(label))
            assert got == 2 * int((preds == label).sum())
    assert metric_value(text, "trk_shadow_requests_total", outcome="dropped") == 0
    assert server.app.state.serving.shadow.counters()["agreed"] == 2 * agree


@pytest.mark.parametrize(
    "fault, outcomes",
    [
        ("raises", ("error",)),
        ("shape", ("error",)),
        ("sleeps", ("timeout", "dropped")),
    ],
)
def test_faulty_challenger_never_changes_a_champion_answer(serve, routing_env, fault, outcomes):
    name = routing_env.new_model("lr", fault)
    server = serve(
        model_uri=f"models:/{name}/1",
        challenger_uri=f"models:/{name}/2",
        mode="shadow",
        timeout_s=0.2,  # also the shadow deadline: the sleeper (0.5 s) times out
    )
    rows = routing_env.x[::5]
    assert send_rows(server.url, rows) == expected(routing_env.lr, rows).tolist()
    wait_until(lambda: sum(shadow_count(server.url, o) for o in outcomes) == len(rows), timeout=30)
    assert shadow_count(server.url, outcomes[0]) >= 1
    assert shadow_count(server.url, "compared") == 0
    health = httpx.get(server.url + "/health", timeout=10)
    states = {v["name"]: v["state"] for v in health.json()["variants"]}
    assert health.status_code == 200 and states["champion"] == "ready"
    # A sleeper's timeouts may open the challenger's circuit breaker (issue 14): degraded.
    assert states["challenger"] == "ready" or (
        fault == "sleeps" and states["challenger"] == "degraded"
    )


def test_challenger_that_cannot_load_or_resolve(serve, routing_env):
    name = routing_env.new_model("lr", "noload", aliases={"champion": 1})
    server = serve(
        model_uri=f"models:/{name}@champion",
        challenger_uri=f"models:/{name}@challenger",  # no such alias yet
        mode="split",
        challenger_weight=1.0,
        reload_interval_s=0.1,
    )
    rows = routing_env.x[::10]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        health = http.get("/health")
        assert health.status_code == 200
        challenger = health.json()["variants"][1]
        assert challenger["state"] == "failed" and "challenger" in challenger["error"]
        for row in rows:  # weight 1.0, but the challenger is down: the champion answers
            r = http.post("/invocations", json=body([row]))
            assert r.headers["x-trk-variant"] == "champion"
        routing_env.client().set_registered_model_alias(name, "challenger", 2)  # crashes loading
        wait_until(
            lambda: (
                metric_value(
                    http.get("/metrics").text,
                    "trk_model_reloads_total",
                    variant="challenger",
                    result="failure",
                )
                >= 2
            ),
        )
        text = http.get("/metrics").text
        assert metric_value(text, "trk_variant_state", variant="challenger", state="failed") == 1
        answers = [http.post("/invocations", json=body([row])).json() for row in rows]
        assert [a["predictions"][0] for a in answers] == expected(routing_env.lr, rows).tolist()
        error = http.get("/health").json()["variants"][1]["error"]
        assert "loader crashes on purpose" in error
