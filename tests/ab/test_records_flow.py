"""One record per request, and every reader derived from the records counts exactly what was
sent: the Prometheus series, the report windows, the in-memory feedback join and the shared
prediction log, for both variants, shadow answers included; client errors (4xx) count as
requests and never as a variant's errors. Real parts: uvicorn on a free port, a sqlite
store, the log shipper process, the mlflow-style report runs."""

from __future__ import annotations

import httpx
from ab_serving import ThreadServer, feedback, register_models, send, stream, wait_until
from prometheus_client.parser import text_string_to_metric_families

from trk.serving.config import ServeSettings
from trk.serving.http.app import create_app

N, BAD = 120, 7


def total(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def window_sum(client, model: str, variant: str, key: str) -> float:
    exp = client.get_experiment_by_name(f"serving/{model}")
    runs = [
        r for r in client.search_runs(exp.experiment_id, "") if r.data.params["variant"] == variant
    ]
    return sum(m.value for r in runs for m in client.get_metric_history(r.info.run_id, key))


def start(client, model: str, mode: str) -> ThreadServer:
    settings = ServeSettings(
        model_uri=f"models:/{model}@champion",
        challenger_uri=f"models:/{model}@challenger",
        mode=mode,
        challenger_weight=0.5,
        tracking_uri=client.tracking_uri,
        report_interval_s=3600,
        sticky_header="X-User-Id",
    )
    return ThreadServer(create_app(settings)).start()


def bad_requests(url: str) -> list[int]:
    with httpx.Client(base_url=url, timeout=30) as http:
        return [
            http.post(
                "/invocations",
                content=b'{"inputs": [[1,',
                headers={"content-type": "application/json"},
            ).status_code
            for _ in range(BAD)
        ]


def test_shadow_mode_every_reader_counts_both_answers_exactly(client, tmp_path, monkeypatch):
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    register_models(client.tracking_uri, "flow", {"champion": 0.2, "challenger": 0.05})
    server = start(client, "flow", "shadow")
    serving = server.app.state.serving
    try:
        x, y = stream(N, seed=11)
        answers = send(server.url, x)
        assert {(a[1], a[2]) for a in answers} == {("champion", 200)}
        assert bad_requests(server.url) == [400] * BAD
        wait_until(lambda: serving.shadow.counters()["requests_compared"] == N, timeout=30)
        wait_until(lambda: len(serving.feedback) == N and serving.shipper.written == 2 * N, 30)
        joined = feedback(server.url, [a[0] for a in answers], y.tolist())
        text = httpx.get(server.url + "/metrics").text
    finally:
        server.stop()
    assert sum(j["joined"] for j in joined) == N and sum(j["stored"] for j in joined) == N
    # Prometheus: requests by status, classes of both variants, agreement, labels.
    assert total(text, "trk_requests_total", variant="champion", status="200") == N
    assert total(text, "trk_requests_total", variant="champion", status="400") == BAD
    assert total(text, "trk_requests_total", variant="challenger") == 0  # copies, not requests
    assert total(text, "trk_request_latency_seconds_count", variant="champion") == N + BAD
    assert total(text, "trk_predictions_total", variant="champion") == N
    assert total(text, "trk_predictions_total", variant="challenger") == N
    assert total(text, "trk_shadow_agreement_total") == N
    assert total(text, "trk_feedback_labelled_total", variant="champion") == N
    assert total(text, "trk_feedback_labelled_total", variant="challenger") == N
    assert total(text, "trk_prediction_log_dropped_total") == 0
    # Report windows (the last one closed at shutdown): 4xx are requests, never errors.
    assert window_sum(client, "flow", "champion", "requests") == N + BAD
    assert window_sum(client, "flow", "champion", "errors") == 0
    assert window_sum(client, "flow", "challenger", "shadow_compared") == N
    assert window_sum(client, "flow", "champion", "labelled") == N
    assert window_sum(client, "flow", "challenger", "labelled") == N
    # The shared log: every answer of both variants, joined to every label.
    by = {c.variant: c for c in client.store.predictions.joined("flow")}
    assert (by["champion"].logged, by["challenger"].logged) == (N, N)
    assert (by["champion"].labelled, by["challenger"].labelled) == (N, N)


def test_split_mode_every_reader_counts_what_each_variant_answered(client, tmp_path, monkeypatch):
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    register_models(client.tracking_uri, "split", {"champion": 0.2, "challenger": 0.05})
    server = start(client, "split", "split")
    serving = server.app.state.serving
    try:
        x, y = stream(N, seed=12)
        answers = send(server.url, x)
        sent = {v: sum(1 for a in answers if a[1] == v) for v in ("champion", "challenger")}
        assert all(sent.values()) and sum(sent.values()) == N
        wait_until(lambda: serving.shipper.written == N, timeout=30)
        feedback(server.url, [a[0] for a in answers], y.tolist())
        text = httpx.get(server.url + "/metrics").text
    finally:
        server.stop()
    for variant, n in sent.items():
        assert total(text, "trk_requests_total", variant=variant, status="200") == n
        assert total(text, "trk_predictions_total", variant=variant) == n
        assert total(text, "trk_feedback_labelled_total", variant=variant) == n
        assert window_sum(client, "split", variant, "requests") == n
        assert window_sum(client, "split", variant, "labelled") == n
    by = {c.variant: c for c in client.store.predictions.joined("split")}
    assert {v: c.logged for v, c in by.items()} == sent
    assert {v: c.labelled for v, c in by.items()} == sent
