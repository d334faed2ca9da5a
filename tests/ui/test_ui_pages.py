"""The dashboard in headless Chromium against a real, seeded `trk server`: every page, the
runs table's filter and sort, compare, charts drawn with data, escaping and 404 pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page
from ui_browser import charts, shot, take_screenshots
from ui_seed import (
    MODEL,
    ROLLOUT,
    ROLLOUT_GUARDS,
    RUNS,
    SCRIPT_NAME,
    SCRIPT_PARAM,
    STEPS,
    client_for,
)

from trk.ab.evaluation import evaluate
from trk.exceptions import InvalidParameter


def run_names(page: Page) -> list[str]:
    return page.locator("#runs tr.run a.run-name").all_inner_texts()


def test_experiments_page_links_to_the_runs_table(page: Page, ui_server, tmp_path: Path) -> None:
    page.goto("/")
    link = page.get_by_role("link", name="training <&>")
    assert link.is_visible()
    shot(page, tmp_path / "experiments.png")
    link.click()
    page.wait_for_url(f"**/experiments/{ui_server.seeded.experiment_id}")
    assert sorted(run_names(page)) == sorted(RUNS)


def test_runs_table_has_params_and_latest_metrics_as_columns(page: Page, ui_server) -> None:
    page.goto(f"/experiments/{ui_server.seeded.experiment_id}")
    headers = page.locator("#runs th").all_inner_texts()
    for column in ("Run", "Status", "Params", "Metrics (latest)", "max_depth", "accuracy", "loss"):
        assert any(h.strip().startswith(column) for h in headers), (column, headers)
    row = page.locator("#runs tr.run", has_text="forest")
    assert "0.97" in row.inner_text() and "FINISHED" in row.inner_text()


def test_filter_with_the_search_runs_syntax(page: Page, ui_server, tmp_path: Path) -> None:
    page.goto(f"/experiments/{ui_server.seeded.experiment_id}")
    page.fill("#filter", "params.model = 'tree' and metrics.accuracy > 0.92")
    page.click("button:text('Filter')")
    page.wait_for_url("**filter=*")
    assert run_names(page) == ["tree-big"]
    shot(page, tmp_path / "runs-filtered.png")


def test_sorting_by_a_metric_column(page: Page, ui_server) -> None:
    page.goto(f"/experiments/{ui_server.seeded.experiment_id}?filter=params.lr+!%3D+'0.2'")
    page.locator("#runs th.metric a", has_text="accuracy").click()
    page.wait_for_url("**order_by=*DESC*")
    assert run_names(page) == ["forest", "tree-big", "tree-small"]
    page.locator("#runs th.metric a", has_text="accuracy").click()
    page.wait_for_url("**order_by=*ASC*")
    assert run_names(page) == ["tree-small", "tree-big", "forest"]
    assert "lr != '0.2'" in page.input_value("#filter")  # the filter survives sorting


def test_malformed_filter_shows_the_parser_message(page: Page, ui_server) -> None:
    bad = "metrics.accuracy >> 0.9"
    with pytest.raises(InvalidParameter) as parsed:
        client_for(ui_server.seeded).search_runs([ui_server.seeded.experiment_id], bad)
    page.goto(f"/experiments/{ui_server.seeded.experiment_id}")
    page.fill("#filter", bad)
    page.click("button:text('Filter')")
    page.wait_for_url("**filter=*")
    assert page.inner_text("#filter-error") == parsed.value.message
    assert page.input_value("#filter") == bad and run_names(page) == []


def test_run_page_params_tags_charts_and_artifact_download(
    page: Page, ui_server, tmp_path: Path
) -> None:
    seeded = ui_server.seeded
    page.goto(f"/runs/{seeded.run_ids['forest']}")
    assert "0.05" in page.inner_text("#params") and "<b>ml</b>" in page.inner_text("#tags")
    drawn = {c["title"]: c for c in charts(page)}
    assert set(drawn) == {"accuracy", "loss"}
    for chart in drawn.values():
        assert chart["points"] == [STEPS] and chart["inked"][0] > 50, chart
    assert page.locator("canvas").count() == 2
    shot(page, tmp_path / "run.png")
    link = page.get_by_role("link", name=seeded.artifact)
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "downloaded.txt"
    download.value.save_as(saved)
    assert saved.read_text() == seeded.artifact_text


def test_compare_selected_runs_highlights_differences_and_overlays_metrics(
    page: Page, ui_server, tmp_path: Path
) -> None:
    page.goto(f"/experiments/{ui_server.seeded.experiment_id}")
    for name in ("tree-small", "forest"):
        page.locator("#runs tr.run", has_text=name).locator("input[type=checkbox]").check()
    page.click("#compare")
    page.wait_for_url("**/compare?runs=*")
    differing = page.locator("#comparison tr.differs td:first-child").all_inner_texts()
    assert {"params.model", "params.max_depth", "params.lr", "metrics.accuracy"} <= set(differing)
    same = page.locator("#comparison tr:not(.differs) td:first-child").all_inner_texts()
    assert same == []  # every param and metric differs between these two runs
    for chart in charts(page):
        assert chart["points"] == [STEPS, STEPS] and min(chart["inked"]) > 50, chart
    shot(page, tmp_path / "compare.png")


def test_compare_by_comma_separated_ids(page: Page, ui_server) -> None:
    ids = ui_server.seeded.run_ids
    page.goto(f"/compare?runs={ids['tree-small']},{ids['tree-big']}")
    first_cells = "#comparison tr{} td:first-child"
    assert page.locator(first_cells.format(".differs")).all_inner_texts() == [
        "params.max_depth",
        "metrics.accuracy",
        "metrics.loss",
    ]
    same = page.locator(first_cells.format(":not(.differs)")).all_inner_texts()
    assert same == ["params.lr", "params.model"]


def test_script_tags_in_names_and_params_are_shown_as_text(page: Page, ui_server) -> None:
    rid = ui_server.seeded.run_ids[SCRIPT_NAME]
    page.goto(f"/experiments/{ui_server.seeded.experiment_id}")
    assert SCRIPT_NAME in run_names(page)
    assert page.locator("#runs td", has_text=SCRIPT_PARAM).count() == 1
    page.goto(f"/runs/{rid}")
    assert page.inner_text("h1").startswith(f"Run {SCRIPT_NAME}")
    assert SCRIPT_PARAM in page.inner_text("#params")
    assert any(SCRIPT_NAME in label for c in charts(page) for label in c["labels"])
    page.goto(f"/compare?runs={rid},{ui_server.seeded.run_ids['forest']}")
    assert SCRIPT_NAME in page.inner_text("#comparison")
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0


def test_models_page_shows_versions_and_where_aliases_point(
    page: Page, ui_server, tmp_path: Path
) -> None:
    page.goto("/models")
    row = page.locator("#models tr", has_text=MODEL)
    assert "@champion \u2192 v1" in row.inner_text() and "@challenger \u2192 v2" in row.inner_text()
    shot(page, tmp_path / "models.png")
    row.get_by_role("link", name=MODEL).click()
    page.wait_for_url(f"**/models/{MODEL}")
    versions = page.locator("#versions tr").all_inner_texts()[1:]
    assert versions[0].startswith("2") and "@challenger" in versions[0]
    assert versions[1].startswith("1") and "@champion" in versions[1]
    shot(page, tmp_path / "model.png")


def test_ab_page_has_the_verdict_of_trk_ab_report(page: Page, ui_server, tmp_path: Path) -> None:
    report = evaluate(client_for(ui_server.seeded), MODEL)
    page.goto(f"/ab/{MODEL}")
    assert page.inner_text("#verdict") == f"Verdict on accuracy: {report.verdict.message}"
    variants = page.locator("#variants tr").all_inner_texts()[1:]
    assert [v.split()[0] for v in variants] == ["champion", "challenger"]
    assert str(report.variant("champion").requests) in variants[0]
    drawn = {c["title"]: c for c in charts(page)}
    for title in ("requests", "error rate", "latency p50", "latency p99", "accuracy"):
        chart = next(c for t, c in drawn.items() if t.startswith(title))
        assert chart["labels"] == ["champion", "challenger"]
        assert chart["points"] == [6, 6] and min(chart["inked"]) > 20, chart
    sequence = drawn["confidence sequence: accuracy, challenger - champion (95%)"]
    assert sequence["labels"] == ["estimate", "low", "high"] and min(sequence["inked"]) > 20
    points = sequence["points"]  # one per distinct sample size past the minimum sample
    assert len(set(points)) == 1 and points[0] >= 2, points
    shot(page, tmp_path / "ab.png")


def test_ab_page_shows_the_rollout(page: Page, ui_server) -> None:
    page.goto(f"/ab/{MODEL}")
    state = page.inner_text("#rollout-state")
    assert "running" in state and "challenger weight 25%" in state and "failures 0/2" in state
    steps = page.inner_text("#rollout-steps")
    assert "[25%]" in steps and "5%" in steps and "100%" in steps
    guards = page.locator("#rollout-guards tr").all_inner_texts()[1:]
    assert [g.split("\t")[0] for g in guards] == list(ROLLOUT_GUARDS)
    assert all("pass" in g for g in guards)
    drawn = {c["title"]: c for c in charts(page)}
    weight = drawn["rollout: challenger weight (%)"]
    assert weight["points"] == [len(ROLLOUT) + 1] and min(weight["inked"]) > 20
    for guard in ROLLOUT_GUARDS:
        chart = drawn[f"rollout guard: {guard}"]
        assert chart["labels"] == ["value", "bound"] and chart["points"] == [5, 5]
    page.get_by_text("History").click()
    history = page.locator("#rollout-history tr").all_inner_texts()[1:]
    assert [h.split("\t")[2] for h in history] == ["start"] + [a for _, a, _, _ in ROLLOUT]


def test_ab_page_other_metric_and_a_model_without_serving_runs(page: Page) -> None:
    page.goto(f"/ab/{MODEL}?metric=latency_p50_ms")
    assert page.inner_text("#verdict").startswith("Verdict on latency_p50_ms: challenger is better")
    page.goto("/ab/no-traffic-yet")
    assert "No serving runs for model 'no-traffic-yet'" in page.inner_text("#ab-message")


@pytest.mark.parametrize(
    "path",
    ["/runs/0123456789abcdef", "/experiments/999999", "/models/nope", "/ab/nope"],
)
def test_unknown_ids_give_a_404_page(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 404
    assert page.inner_text("h1") == "Not found"
    assert page.inner_text("#error")


def test_missing_artifact_is_a_404_and_traversal_is_refused(page: Page, ui_server) -> None:
    rid = ui_server.seeded.run_ids["forest"]
    assert page.request.get(f"/runs/{rid}/artifacts/model/absent.txt").status == 404
    assert page.request.get(f"/runs/{rid}/artifacts/model/..%2F..%2Fx").status == 400


def test_screenshots_for_the_docs(browser, ui_server, tmp_path: Path) -> None:
    """`scripts/screenshots.py` makes docs/img/*.png with this same function."""
    made = take_screenshots(browser, ui_server.url, ui_server.seeded.experiment_id, tmp_path)
    assert [p.name for p in made] == ["runs-table.png", "ab-page.png"]
