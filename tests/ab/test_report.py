"""The A/B report over serving runs of several replicas in a real sqlite store."""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest
from ab_helpers import log_serving_run, simulate, window
from scipy import stats as sst

from trk.ab.evaluation import evaluate
from trk.ab.render import render_json, render_table
from trk.ab.report import GateMethod
from trk.ab.windows import parse_duration
from trk.exceptions import InvalidParameter, NotFound

pytestmark = pytest.mark.unit


def test_sums_replicas_exactly_and_finds_the_better_challenger(client):
    truth = simulate(client, "iris", {"champion": 0.90, "challenger": 0.95})
    report = evaluate(client, "iris")
    champ, chal = report.variant("champion"), report.variant("challenger")
    assert (champ.correct, champ.labelled) == truth["champion"]
    assert (chal.correct, chal.labelled) == truth["challenger"]
    assert champ.replicas == 3 and champ.windows == 12
    assert champ.requests == 12 * 160 and champ.errors == 12
    assert champ.accuracy == pytest.approx(0.90, abs=0.03)
    assert chal.accuracy == pytest.approx(0.95, abs=0.03)
    lo, hi = chal.accuracy_ci
    assert lo < chal.accuracy < hi
    fixed = evaluate(client, "iris", gate=GateMethod(method="fixed"))
    acc = next(c for c in fixed.comparisons if c.metric == "accuracy")
    table = [
        [truth["champion"][0], 1800 - truth["champion"][0]],
        [truth["challenger"][0], 1800 - truth["challenger"][0]],
    ]
    assert acc.p_value == pytest.approx(sst.chi2_contingency(table, correction=False)[1])
    assert "Newcombe" in render_table(fixed)
    # The default, sequential: valid at every look, so more cautious than one fixed look.
    seq = next(c for c in report.comparisons if c.metric == "accuracy")
    assert report.method == "sequential" and seq.p_value > acc.p_value
    assert seq.ci_low < acc.ci_low and seq.ci_high > acc.ci_high
    # One look per window end time (the replicas' windows end at different times), and a
    # sequence that only narrows: a later look never forgets what an earlier one showed.
    assert len(seq.sequence) >= 4 and seq.sequence[-1]["n"] == 1800
    lows, highs = [p["low"] for p in seq.sequence], [p["high"] for p in seq.sequence]
    assert lows == sorted(lows) and highs == sorted(highs, reverse=True)
    assert report.verdict.outcome == "better"
    assert report.verdict.needed_per_variant and report.verdict.more_needed == 0
    text = render_table(report)
    assert "verdict [+] on accuracy: challenger is better at alpha 0.05" in text
    assert "champion" in text and "confidence sequence" in text


def test_equal_models_no_difference_with_sample_size(client):
    simulate(client, "iris", {"champion": 0.92, "challenger": 0.92}, seed=1)
    report = evaluate(client, "iris")
    assert report.verdict.outcome == "no significant difference"
    needed = report.verdict.needed_per_variant
    assert needed is not None and needed > 1800
    assert report.verdict.more_needed == needed - 1800
    assert f"needs about {needed} labelled requests per variant" in report.verdict.message


def test_worse_challenger_on_latency_uses_the_bootstrap(client):
    simulate(
        client,
        "iris",
        {"champion": 0.9, "challenger": 0.9},
        p50={"champion": 5.0, "challenger": 9.0},
    )
    report = evaluate(client, "iris", metric="latency_p50_ms")
    cmp = next(c for c in report.comparisons if c.metric == "latency_p50_ms")
    assert cmp.difference == pytest.approx(4.0, abs=0.3)
    assert "bootstrap" in cmp.method and cmp.ci_low > 0
    assert report.verdict.outcome == "worse"


def test_json_is_the_whole_report(client):
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.95}, replicas=2, windows=3)
    data = orjson.loads(render_json(evaluate(client, "iris", alpha=0.01)))
    assert data["alpha"] == 0.01 and data["metric"] == "accuracy"
    assert [v["variant"] for v in data["variants"]] == ["champion", "challenger"]
    assert len(data["timeline"]["champion"]) == 3  # window numbers, summed over replicas
    assert data["timeline"]["champion"][0]["labelled"] == 300


def test_since_drops_old_windows(client):
    old = int(time.time() * 1000) - 3 * 3600_000
    log_serving_run(client, "m", "champion", "1", [window(100, 100, 10)] * 2, start_ms=old)
    log_serving_run(client, "m", "champion", "1", [window(100, 100, 90)], host="new")
    assert evaluate(client, "m").variant("champion").labelled == 300
    recent = evaluate(client, "m", since="1h").variant("champion")
    assert (recent.labelled, recent.correct) == (100, 90)
    with pytest.raises(NotFound, match="no report windows"):
        evaluate(client, "m", since="1s")


def test_champion_alone_is_insufficient_data(client):
    log_serving_run(client, "solo", "champion", "1", [window(100, 50, 45)])
    report = evaluate(client, "solo")
    assert report.verdict.outcome == "insufficient data"
    assert "no challenger" in report.verdict.message


def test_bad_inputs_have_clear_messages(client):
    with pytest.raises(NotFound, match="No serving runs for model 'ghost'"):
        evaluate(client, "ghost")
    simulate(client, "iris", {"champion": 0.9, "challenger": 0.9}, replicas=1, windows=1)
    with pytest.raises(InvalidParameter, match="Unknown metric 'f1'"):
        evaluate(client, "iris", metric="f1")
    with pytest.raises(InvalidParameter, match="No serving run of 'iris' has mae"):
        evaluate(client, "iris", metric="mae")
    with pytest.raises(InvalidParameter, match="alpha"):
        evaluate(client, "iris", alpha=1.5)
    with pytest.raises(InvalidParameter, match="Bad duration"):
        evaluate(client, "iris", since="yesterday")


def test_accuracy_without_feedback_says_how_to_get_it(client):
    log_serving_run(client, "nolabels", "champion", "1", [window(100, 0, 0)])
    with pytest.raises(InvalidParameter, match="POST /feedback"):
        evaluate(client, "nolabels")


def test_regressor_metrics_combine_exactly(client):
    log_serving_run(
        client,
        "reg",
        "champion",
        "1",
        [window(10, 10, 0, mae=1.0, rmse=2.0), window(30, 30, 0, mae=3.0, rmse=4.0)],
    )
    log_serving_run(client, "reg", "challenger", "2", [window(10, 10, 0, mae=0.5, rmse=1.0)] * 3)
    report = evaluate(client, "reg", metric="rmse")
    champ = report.variant("champion")
    assert champ.mae == pytest.approx((10 * 1 + 30 * 3) / 40)
    assert champ.rmse == pytest.approx(((10 * 4 + 30 * 16) / 40) ** 0.5)
    assert report.verdict.metric == "rmse"


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_versions_come_from_windows_and_replicas_from_processes(client):
    wins = [window(10, 10, 9, model_version=1), window(10, 10, 9, model_version=2)]
    log_serving_run(client, "swap", "champion", "1", wins, host="a")
    log_serving_run(client, "swap", "champion", "1", [window(10, 10, 9)], host="b")
    report = evaluate(client, "swap")
    rows = [(v.variant, v.versions, v.replicas, v.requests) for v in report.variants]
    assert rows == [("champion", ["1"], 2, 20), ("champion", ["2"], 1, 10)]
    assert report.variant("champion").versions == ["2"]  # the latest version's row


def test_after_a_promotion_the_verdict_compares_versions_1_and_2(client):
    # Champion served v1 for 3 windows, then v2 (promoted); the challenger served v2 all along.
    champ = [window(300, 300, 255, model_version=1)] * 3 + [window(300, 300, 280, model_version=2)]
    log_serving_run(client, "promo", "champion", "1", champ)
    log_serving_run(client, "promo", "challenger", "2", [window(300, 300, 282)] * 4)
    report = evaluate(client, "promo")
    rows = [(v.variant, v.versions, v.labelled, v.correct) for v in report.variants]
    assert rows == [
        ("champion", ["1"], 900, 765),
        ("champion", ["2"], 300, 280),
        ("challenger", ["2"], 1200, 1128),
    ]
    assert (report.baseline_version, report.candidate_version) == ("1", "2")
    acc = next(c for c in report.comparisons if c.metric == "accuracy")
    assert (acc.champion, acc.challenger) == (765 / 900, 1128 / 1200)  # v1 vs v2, not roles
    assert report.verdict.outcome == "better"


def test_shadow_windows_with_pairs_get_the_paired_test(client):
    # Same process, same window numbers: the challenger's windows carry the paired table.
    pairs = {
        "paired_labelled": 400,
        "paired_both": 340,
        "paired_champion_only": 2,
        "paired_challenger_only": 14,
    }
    log_serving_run(client, "sh", "champion", "1", [window(400, 400, 342)] * 3)
    log_serving_run(client, "sh", "challenger", "2", [window(400, 400, 354, **pairs)] * 3)
    report = evaluate(client, "sh")
    acc = next(c for c in report.comparisons if c.metric == "accuracy")
    assert acc.design == "paired" and acc.sample == 1200
    assert acc.difference == pytest.approx(36 / 1200) and len(acc.sequence) == 3
    assert report.verdict.outcome == "better", report.verdict.message
    fixed = evaluate(client, "sh", gate=GateMethod(method="fixed"))
    acc_f = next(c for c in fixed.comparisons if c.metric == "accuracy")
    assert "McNemar" in acc_f.method and acc_f.p_value == pytest.approx(
        sst.binomtest(6, 48, 0.5).pvalue - sst.binom.pmf(6, 48, 0.5)
    )


def test_inverse_propensity_accuracy_per_version_from_the_logged_routing_odds(client):
    # Split 80/20: the store's log holds each answer with the probability its variant had.
    from trk.contracts.predictions import PredictionRecord

    simulate(client, "iris", {"champion": 0.9, "challenger": 0.9})
    rng = np.random.default_rng(5)
    now = int(time.time() * 1000)
    records, labels = [], []
    for i in range(4000):
        variant, version, p, acc = (
            ("challenger", "2", 0.2, 0.95) if rng.random() < 0.2 else ("champion", "1", 0.8, 0.7)
        )
        right = rng.random() < acc
        records.append(
            PredictionRecord(f"r{i}", 0, variant, version, "1" if right else "0", None, p, now)
        )
        labels.append({"request_id": f"r{i}", "label": 1})
    client.store.predictions.log_predictions("iris", records)
    client.store.predictions.log_labels("iris", labels)
    report = evaluate(client, "iris")
    rows = {(r["variant"], r["version"]): r for r in report.inverse_propensity}
    assert set(rows) == {("champion", "1"), ("challenger", "2")}
    # Horvitz-Thompson: sum(correct / p) over all labelled requests recovers each accuracy.
    assert rows[("champion", "1")]["ips_accuracy"] == pytest.approx(0.7, abs=0.04)
    assert rows[("challenger", "2")]["ips_accuracy"] == pytest.approx(0.95, abs=0.06)
    assert rows[("challenger", "2")]["snips_accuracy"] == pytest.approx(0.95, abs=0.03)
    assert "inverse-propensity accuracy: champion v1 0.7" in render_table(report)
    assert orjson.loads(render_json(report))["inverse_propensity"]
    assert report.corrected_labels == 0 and "(0 corrected)" in render_table(report)
    # A correction is explicit, and the report says how many of its labels were corrected.
    client.store.predictions.correct_labels(
        "iris", [{"request_id": f"r{i}", "label": 0} for i in range(3)]
    )
    corrected = evaluate(client, "iris")
    assert corrected.corrected_labels == 3 and "(3 corrected)" in render_table(corrected)
    assert orjson.loads(render_json(corrected))["corrected_labels"] == 3
    from trk.ab.html import render_html

    assert "inverse-propensity accuracy: champion v1 0.7" in render_html(report)
