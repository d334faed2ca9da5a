"""Drift per variant from served traffic: an iris model logged with its training frame, served
split over real HTTP, PSI checked in the gauge, the serving runs and `trk ab drift --json`
against PSI computed here from the same rows and the profile's edges."""

from __future__ import annotations

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from ab_serving import serve_split
from click.testing import CliRunner
from drift_helpers import COLUMNS, iris_store
from prometheus_client.parser import text_string_to_metric_families

import trk
from trk.cli import main
from trk.models.profile import build_profile

STICKY = "X-User-Id"


def _psi(values: np.ndarray, edges, fractions) -> float:
    """PSI from scratch: right-closed bins on the profile's edges, 1e-4 added, renormalised."""
    bins = [-np.inf, *edges, np.inf]
    p = np.array(
        [np.sum((values > lo) & (values <= hi)) for lo, hi in zip(bins, bins[1:], strict=False)],
        float,
    )
    p, q = p / p.sum() + 1e-4, np.asarray(fractions) + 1e-4
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum((p - q) * np.log(p / q)))


@pytest.fixture
def iris_served(tmp_path, monkeypatch):
    uri, X = iris_store(tmp_path, monkeypatch)
    server = serve_split(uri, "iris", report_interval_s=3600.0, prediction_log=False)
    yield uri, X, server


def _send(url: str, rows: pd.DataFrame, offset: int) -> dict[str, list[int]]:
    """One row a request, sticky by row number; the row indices each variant answered."""
    served: dict[str, list[int]] = {"champion": [], "challenger": []}
    with httpx.Client(base_url=url, timeout=30) as http:
        for i, row in enumerate(rows.itertuples(index=False)):
            r = http.post(
                "/invocations",
                json={"dataframe_split": {"columns": COLUMNS, "data": [list(row)]}},
                headers={STICKY: f"u{offset + i}"},
            )
            assert r.status_code == 200, r.text
            served[r.headers["x-trk-variant"]].append(i)
    return served


def _gauges(url: str) -> dict[tuple[str, str], float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    return {
        (s.labels["variant"], s.labels["feature"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "trk_feature_drift"
        for s in family.samples
    }


def test_psi_per_variant_in_the_gauge_the_runs_and_trk_ab_drift(iris_served):
    uri, X, server = iris_served
    profile = build_profile(X)
    plain = X.sample(600, replace=True, random_state=3).reset_index(drop=True)
    shifted = X.sample(600, replace=True, random_state=4).reset_index(drop=True)
    shifted["petal_length"] += 3
    first = _send(server.url, plain, 0)
    assert min(len(v) for v in first.values()) > 200  # both variants served
    served = {v: [plain.iloc[first[v]]] for v in first}

    def expected(variant: str, feature: str) -> float:
        values = pd.concat(served[variant])[feature].to_numpy()
        bins = profile.feature(feature)
        return _psi(values, bins.edges, bins.fractions)

    gauges = _gauges(server.url)
    for variant in served:
        for f in COLUMNS:
            assert expected(variant, f) < 0.1
            assert gauges[(variant, f)] == pytest.approx(expected(variant, f), abs=0.02)

    second = _send(server.url, shifted, 600)
    for v in second:
        served[v].append(shifted.iloc[second[v]])
    gauges = _gauges(server.url)
    for variant in served:
        assert expected(variant, "petal_length") > 0.25
        for f in COLUMNS:
            assert gauges[(variant, f)] == pytest.approx(expected(variant, f), abs=0.02)
    server.stop()  # the last window is logged at shutdown

    client = trk.Client(uri)
    exp = client.get_experiment_by_name("serving/iris")
    runs = client.search_runs([exp.experiment_id])
    for run in runs:
        variant = run.data.params["variant"]
        for f in COLUMNS:
            assert run.data.metrics[f"drift_psi_{f}"] == pytest.approx(
                expected(variant, f), abs=0.02
            )
            assert run.data.metrics[f"drift_rows_{f}"] == sum(len(p) for p in served[variant])
    out = CliRunner().invoke(main, ["ab", "drift", "iris", "--json", "--tracking-uri", uri])
    assert out.exit_code == 0, out.output
    report = orjson.loads(out.output)
    for entry in report["variants"]:
        for row in entry["features"]:
            want = expected(entry["variant"], row["feature"])
            assert row["psi"] == pytest.approx(want, abs=0.02), (entry["variant"], row)
            assert row["enough_data"] and row["rows"] == sum(
                len(p) for p in served[entry["variant"]]
            )
    assert {e["variant"] for e in report["variants"]} == {"champion", "challenger"}

    # the dashboard's A/B page: one chart per feature, a series per variant and the two bands
    from trk.ui.models import ab_page

    charts = {c["title"]: c for c in ab_page(client, "iris", "accuracy", "").charts}
    spec = charts["drift: PSI of petal_length"]
    assert spec["labels"] == ["challenger", "champion", "watch (0.1)", "act (0.25)"]
    for label, values in zip(spec["labels"][:2], spec["data"][1:3], strict=True):
        assert values[-1] == pytest.approx(expected(label, "petal_length"), abs=0.02)
    assert spec["data"][3][-1] == 0.1 and spec["data"][4][-1] == 0.25
