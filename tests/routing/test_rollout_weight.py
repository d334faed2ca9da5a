"""Split-mode replicas follow the store's rollout weight at their reload interval, without a
restart; `--challenger-weight` holds where no rollout applies. Real parts: two `trk-serve`
processes on one sqlite store; the rollout row is written through the store as the
controller writes it."""

from __future__ import annotations

import httpx
import pytest
from routing_helpers import wait_started
from serving_helpers import IRIS_COLUMNS, metric_value, wait_until

from trk.contracts.rollouts import Rollout
from trk.store.sql import SqlStore

ROW = {"dataframe_split": {"columns": IRIS_COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}}


def weight(url: str) -> float:
    return httpx.get(url + "/health", timeout=5).json()["routing"]["challenger_weight"]


def shadowed(url: str) -> bool:
    """One request answered by the champion and copied to the challenger."""
    httpx.post(url + "/invocations", json=ROW)
    text = httpx.get(url + "/metrics").text
    return metric_value(text, "trk_shadow_requests_total", outcome="compared") > 0


def served(url: str, n: int) -> dict[str, int]:
    counts = {"champion": 0, "challenger": 0}
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(n):
            counts[http.post("/invocations", json=ROW).headers["x-trk-variant"]] += 1
    return counts


@pytest.fixture
def replicas(routing_env, trk_serve):
    name = routing_env.new_model("lr", "rf", aliases={"champion": 1, "challenger": 2})
    args = (
        "--model-uri",
        f"models:/{name}@champion",
        "--challenger-uri",
        f"models:/{name}@challenger",
        "--mode",
        "split",
        "--challenger-weight",
        "0.2",
        "--reload-interval-s",
        "0.5",
        "--no-prediction-log",
    )
    started = [trk_serve(*args, wait=False) for _ in range(2)]
    for proc, url, log in started:
        wait_started(url, proc, log)
    return name, [url for _, url, _ in started]


def test_replicas_follow_the_rollout_weight_and_a_rollback_reaches_zero(routing_env, replicas):
    name, urls = replicas
    assert [weight(u) for u in urls] == [0.2, 0.2]  # no rollout: the flag
    rollouts = SqlStore(routing_env.tracking_uri, str(routing_env.root / "artifacts")).rollouts
    r = rollouts.start(
        Rollout(
            name,
            "1",
            "2",
            {"steps": [25, 100], "shadow_for_s": 60},
            "shadow",
            -1,
            0.0,
            0,
            0,
            0,
            0,
            0,
        )
    )
    wait_until(lambda: all(weight(u) == 0.0 for u in urls), timeout=10)
    # Shadowing first: the champion answers everything, the challenger gets copies.
    wait_until(lambda: all(shadowed(u) for u in urls), timeout=10)
    for url in urls:
        assert served(url, 20) == {"champion": 20, "challenger": 0}
        assert (
            metric_value(
                httpx.get(url + "/metrics").text, "trk_shadow_requests_total", outcome="compared"
            )
            > 0
        )
    r = rollouts.transition(
        name,
        r.revision,
        {"state": "running", "step": 0, "weight": 0.25},
        "advance",
        "shadow guards passed",
    )
    wait_until(lambda: all(weight(u) == 0.25 for u in urls), timeout=10)
    text = httpx.get(urls[0] + "/metrics").text
    assert metric_value(text, "trk_variant_weight", variant="challenger") == 0.25
    variants = httpx.get(urls[0] + "/health").json()["variants"]
    assert {v["name"]: v["weight"] for v in variants} == {"champion": 0.75, "challenger": 0.25}
    rollouts.transition(
        name, r.revision, {"state": "rolled_back", "weight": 0.0}, "rollback", "error_rate failed"
    )
    wait_until(lambda: all(weight(u) == 0.0 for u in urls), timeout=10)
    for url in urls:
        assert served(url, 40) == {"champion": 40, "challenger": 0}
