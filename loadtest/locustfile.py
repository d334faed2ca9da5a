"""Aim Locust at a trk-serve deployment (not used by the tests or the benchmark).

    pip install locust
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8080
    # TRK_LOCUST_ROWS=32 sends 32-row bodies; TRK_LOCUST_FORM=split sends dataframe_split

Each simulated user posts iris rows to /invocations, checks the answer, and now and then
reads /health and /metrics, as a dashboard and a load balancer would.
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5], [6.3, 2.9, 5.6, 1.8]]


def _body(n: int, form: str) -> dict:
    rows = [random.choice(ROWS) for _ in range(n)]
    if form == "split":
        return {"dataframe_split": {"columns": COLUMNS, "data": rows}}
    return {"inputs": rows}


class ScoringUser(HttpUser):
    wait_time = between(0.0, 0.01)
    rows = int(os.environ.get("TRK_LOCUST_ROWS", "1"))
    form = os.environ.get("TRK_LOCUST_FORM", "inputs")

    @task(50)
    def invocations(self) -> None:
        with self.client.post(
            "/invocations", json=_body(self.rows, self.form), catch_response=True
        ) as resp:
            if resp.status_code != 200 or len(resp.json().get("predictions", [])) != self.rows:
                resp.failure(f"{resp.status_code}: {resp.text[:200]}")

    @task(1)
    def health(self) -> None:
        self.client.get("/health")

    @task(1)
    def metrics(self) -> None:
        self.client.get("/metrics")
