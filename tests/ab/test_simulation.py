"""The A/B loop end to end: serve two models in split mode, label the answers, report, promote.

Real parts: uvicorn on a free port, the sqlite store in tmp_path, the reporter's threads,
`POST /feedback`, and the `trk ab` CLI.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from ab_serving import (
    feedback,
    register_models,
    send,
    serve_split,
    stream,
    wait_until,
)
from click.testing import CliRunner

from trk.ab.evaluation import evaluate
from trk.ab.looks import UnpairedLooks
from trk.ab.proportions import compare_looks
from trk.ab.report import METRICS, GateMethod
from trk.cli import main
from trk.cli_common import EXIT_REJECTED


def logged(client, model: str) -> tuple[int, int]:
    """(labels, requests) the report counts: labels from the store's join, requests from the
    windows, which the reporter logs later than the labels reach the store."""
    try:
        rows = evaluate(client, model).variants
    except Exception:  # no experiment or windows yet
        return 0, 0
    return sum(v.labelled for v in rows), sum(v.requests for v in rows)


@pytest.fixture
def env(client, tmp_path, monkeypatch):
    monkeypatch.setenv("TRK_MODEL_CACHE", str(tmp_path / "cache"))
    return client


def run_traffic(env, model: str, n: int, seed: int):
    """Serve, send n labelled requests with feedback, wait until every label is logged."""
    server = serve_split(env.tracking_uri, model, allow_forced_variant=True)  # off by default
    x, y = stream(n, seed)
    answers = send(server.url, x)
    assert all(a[2] == 200 for a in answers), {a[2] for a in answers}
    fb = feedback(server.url, [a[0] for a in answers], y.tolist())
    assert sum(f["joined"] for f in fb) == n
    wait_until(lambda: logged(env, model) == (n, n), timeout=30, interval=0.5)
    return server, answers, y


def truth(answers, y, variant: str) -> tuple[int, int]:
    idx = [i for i, a in enumerate(answers) if a[1] == variant]
    return int(sum(answers[i][3] == y[i] for i in idx)), len(idx)


def test_better_challenger_is_found_and_promoted(env):
    register_models(env.tracking_uri, "sim", {"champion": 0.10, "challenger": 0.05})
    server, answers, y = run_traffic(env, "sim", 4000, seed=1)
    try:
        report = evaluate(env, "sim")
        for variant, true_acc in (("champion", 0.90), ("challenger", 0.95)):
            v = report.variant(variant)
            assert (v.correct, v.labelled) == truth(answers, y, variant)  # exact, not averaged
            assert v.accuracy == pytest.approx(true_acc, abs=0.025)
            assert v.requests == sum(a[1] == variant for a in answers) and v.errors == 0
            assert v.latency_p50_ms and v.latency_p50_ms > 0
        assert report.verdict.outcome == "better", report.verdict.message
        # Looks are the arrival times of the labels in the store's join.
        acc = next(c for c in report.comparisons if c.metric == "accuracy")
        assert report.labels == "store" and len(acc.sequence) > 1
        assert acc.sequence[-1]["n"] == min(
            truth(answers, y, v)[1] for v in ("champion", "challenger")
        )
        out = CliRunner().invoke(
            main, ["ab", "promote", "sim", "--if", "better", "--tracking-uri", env.tracking_uri]
        )
        assert out.exit_code == 0, out.output
        assert env.get_model_version_by_alias("sim", "champion").version == "2"
        assert env.get_model_version_by_alias("sim", "previous").version == "1"
        plane = server.app.state.dataplane  # every server reloads: the promotion serves
        wait_until(lambda: plane.slots["champion"].current.version == "2", timeout=30)
        r = httpx.post(
            server.url + "/invocations",
            json={"inputs": [[0.9, 0.01]]},
            headers={"X-Trk-Variant": "champion"},
        )
        assert r.headers["x-trk-model-version"] == "2"
    finally:
        server.stop()
    runs = env.search_runs(env.get_experiment_by_name("serving/sim").experiment_id, "")
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert {r.data.params["variant"] for r in runs} == {"champion", "challenger"}


def test_equal_models_no_difference_and_promote_refuses(env):
    register_models(env.tracking_uri, "same", {"champion": 0.10, "challenger": 0.10})
    server, _, _ = run_traffic(env, "same", 1500, seed=2)
    server.stop()
    report = evaluate(env, "same")
    assert report.verdict.outcome == "no significant difference", report.verdict.message
    assert report.verdict.more_needed is None or report.verdict.more_needed > 0
    out = CliRunner().invoke(
        main, ["ab", "promote", "same", "--if", "better", "--tracking-uri", env.tracking_uri]
    )
    assert out.exit_code == EXIT_REJECTED and "not promoted" in out.output
    assert env.get_model_version_by_alias("same", "champion").version == "1"


def test_feedback_errors_over_http(env):
    register_models(env.tracking_uri, "fb", {"champion": 0.10, "challenger": 0.05})
    server = serve_split(env.tracking_uri, "fb")
    try:
        ((rid, _, status, _),) = send(server.url, np.array([[0.7, 0.5]]), threads=1)
        post = lambda body: httpx.post(server.url + "/feedback", json=body)  # noqa: E731
        r = post({"request_id": rid, "label": "yes"})
        assert r.status_code == 400 and r.json()["error_code"] == "BAD_REQUEST"
        assert "must be an integer" in r.json()["message"]
        r = post([{"request_id": "x", "label": 1}] * 1001)
        assert r.status_code == 400 and "over the limit of 1000" in r.json()["message"]
        r = httpx.post(server.url + "/feedback", content=b"{not json")
        assert r.status_code == 400
        r = post([{"request_id": "never-seen", "label": 1}, {"request_id": rid, "label": 1}])
        assert r.status_code == 200 and r.json()["unknown"] == 1 and r.json()["joined"] == 1
        metrics = httpx.get(server.url + "/metrics").text
        assert 'trk_feedback_total{result="unknown"} 1.0' in metrics
    finally:
        server.stop()


def paired_sample(client, model: str) -> int:
    try:
        acc = [c for c in evaluate(client, model).comparisons if c.metric == "accuracy"]
    except Exception:  # no experiment or windows yet
        return 0
    return acc[0].sample if acc and acc[0].design == "paired" else 0


def test_shadow_mode_pairs_the_requests_and_detects_with_fewer_labels(env):
    # Champion wrong where x1 < 0.10, challenger where x1 < 0.07: 3 points, strongly paired.
    register_models(env.tracking_uri, "pair", {"champion": 0.10, "challenger": 0.07})
    server = serve_split(env.tracking_uri, "pair", mode="shadow")
    try:
        x, y = stream(1000, seed=4)
        answers = send(server.url, x)
        assert {a[1] for a in answers} == {"champion"} and all(a[2] == 200 for a in answers)
        fb = feedback(server.url, [a[0] for a in answers], y.tolist())
        assert sum(f["joined"] for f in fb) == 1000
        wait_until(lambda: paired_sample(env, "pair") == 1000, timeout=30, interval=0.5)
    finally:
        server.stop()
    report = evaluate(env, "pair")
    acc = next(c for c in report.comparisons if c.metric == "accuracy")
    only_challenger = int(((x[:, 1] >= 0.07) & (x[:, 1] < 0.10)).sum())  # b = 0 by design
    assert report.labels == "store" and acc.design == "paired"
    assert acc.difference == pytest.approx(only_challenger / 1000)
    assert report.verdict.outcome == "better", report.verdict.message
    assert (report.baseline_version, report.candidate_version) == ("1", "2")
    # The same labels tested as two independent samples cannot tell yet.
    champ, chal = report.variant("champion"), report.variant("challenger")
    one_look = UnpairedLooks(*(np.array([v]) for v in (0, champ.correct, 1000, chal.correct, 1000)))
    unpaired = compare_looks(one_look, METRICS["accuracy"], GateMethod())
    assert unpaired is not None and unpaired.p_value > 0.05 and unpaired.ci_low < 0
    assert unpaired.needed is not None and acc.needed is not None
    assert acc.needed * 3 < unpaired.needed
